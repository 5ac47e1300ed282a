// The status use case: every environment of the config and every other alias route of the deployment
// (pull requests' previews), the version each points at, how traffic is split, and its last recorded
// move. One list call; environments without a route yet are listed as serving nothing.
import type { SlipwayConfig } from "../config/types.js";
import { ANNOTATION_BACKENDS, ANNOTATION_TARGET_VERSION } from "../deploy/index.js";
import type { KubeClient, KubeObject } from "../kube/index.js";
import type { HistoryEntry } from "../route/alias-history.js";
import { aliasRouteFacts, type DeploymentScope, scopeSelector } from "./deployment-state.js";
import { historyOf } from "./promote.js";

export interface BackendWeight {
  version: string;
  weight: number;
}

export interface AliasStatus {
  alias: string;
  kind: "environment" | "preview" | "alias";
  pullRequest?: number;
  /** The version most traffic goes to; undefined when the alias has no route yet. */
  version?: string;
  weights: BackendWeight[];
  /** The newest entry of the route's history, if it has one that could be read. */
  last?: HistoryEntry;
}

export interface DeploymentStatus {
  deployment: string;
  namespace: string;
  aliases: AliasStatus[];
  /** Annotations that could not be read. */
  warnings: string[];
}

/** `v1=90,v2=10` (ANNOTATION_BACKENDS) as weights; entries that are not `version=integer` are skipped. */
export function parseBackends(annotation: string | undefined): BackendWeight[] {
  return (annotation ?? "").split(",").flatMap((entry) => {
    const match = /^\s*([^=\s]+)=(\d{1,7})\s*$/.exec(entry);
    return match?.[1] !== undefined && match[2] !== undefined
      ? [{ version: match[1], weight: Number(match[2]) }]
      : [];
  });
}

function statusOf(route: KubeObject, kind: AliasStatus["kind"], warnings: string[]): AliasStatus | undefined {
  const facts = aliasRouteFacts(route);
  if (!facts) return undefined;
  const annotations = route.metadata?.annotations ?? {};
  const weights = parseBackends(annotations[ANNOTATION_BACKENDS]);
  const target = facts.target ?? annotations[ANNOTATION_TARGET_VERSION];
  const { history, warning } = historyOf(route);
  if (warning) warnings.push(`${facts.alias}: ${warning}`);
  const last = history[history.length - 1];
  return {
    alias: facts.alias,
    kind: facts.pullRequest !== undefined ? "preview" : kind,
    ...(facts.pullRequest !== undefined ? { pullRequest: facts.pullRequest } : {}),
    ...(target !== undefined ? { version: target } : {}),
    weights: weights.length > 0 || target === undefined ? weights : [{ version: target, weight: 100 }],
    ...(last ? { last } : {}),
  };
}

export async function status(
  request: { scope: DeploymentScope; config: SlipwayConfig },
  deps: { kube: Pick<KubeClient, "list"> },
): Promise<DeploymentStatus> {
  const { scope, config } = request;
  const routes = await deps.kube.list(
    { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
    scope.namespace,
    { labelSelector: scopeSelector(scope, { "app.kubernetes.io/component": "alias" }) },
  );
  const warnings: string[] = [];
  const byAlias = new Map(
    routes.items.flatMap((r) => {
      const name = r.metadata?.labels?.["slipway.dev/alias"];
      return name === undefined ? [] : [[name, r] as const];
    }),
  );
  const environments = config.deployment.environments.map((e): AliasStatus => {
    const route = byAlias.get(e.name);
    return (
      (route && statusOf(route, "environment", warnings)) ?? {
        alias: e.name,
        kind: "environment",
        weights: [],
      }
    );
  });
  const names = new Set(config.deployment.environments.map((e) => e.name));
  const others = [...byAlias]
    .filter(([name]) => !names.has(name))
    .sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }))
    .flatMap(([, route]) => statusOf(route, "alias", warnings) ?? []);
  return {
    deployment: scope.deployment,
    namespace: scope.namespace,
    aliases: [...environments, ...others],
    warnings,
  };
}

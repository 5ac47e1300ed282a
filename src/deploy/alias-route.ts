// An alias's Gateway API HTTPRoute (`pr-42`, `staging`, `production`): the alias path rewritten onto
// a version's, and traffic split between versions by weight, which is what a canary moves. Pure.
//
// - Each rule sets X-Forwarded-Prefix to the alias path the request came in under; the app still
//   sees the version path and its SCRIPT_NAME (or `/` with strip-prefix).
// - A rule with one rewrite target (one version, or every version stripping) rewrites at rule level
//   (Extended support). Versions with different paths get the rewrite on each backendRef, which the
//   Gateway API leaves implementation-specific: canaries between unstripped versions need a Gateway
//   that supports backendRef filters.
// - An alias route is owned by no version record: it outlives the versions it points at, and moving
//   it means applying this one object again.

import type { SlipwayConfig } from "../config/types.js";
import { deploymentLabels, type PlannedAlias, projectPath } from "../plan/plan.js";
import { ManifestError } from "./errors.js";
import { type AliasOwner, aliasLabels, aliasRouteName } from "./labels.js";
import type { EndpointTarget, VersionTarget } from "./record.js";
import {
  type BackendRef,
  checkRuleCount,
  forwardedPrefix,
  gatewayDuration,
  MAX_BACKENDS,
  MAX_WEIGHT,
  parentRefs,
  type Rule,
  rewrite,
} from "./routes.js";
import type { IHTTPRoute } from "./types.js";

export const ANNOTATION_TARGET_VERSION = "slipway.dev/target-version";
export const ANNOTATION_BACKENDS = "slipway.dev/backends";

function rewriteTarget(target: EndpointTarget): string {
  return target.stripPrefix ? "/" : target.path;
}

export interface AliasBackend {
  /** A version's targets: from its plan (`versionTarget`) or read back from its record (`targetFromRecord`). */
  target: VersionTarget;
  /** Share of traffic relative to the other backends (Gateway API weight, 0–1000000). */
  weight: number;
}

export interface AliasRouteInput {
  /** A plan, or `aliasOwner(scope)` when a version is only pointed at (promotion, rollback). */
  plan: AliasOwner;
  config: SlipwayConfig;
  /** The alias, e.g. a PlannedAlias: its name and path `/<owner>/<project>/<deployment>/<alias>`. */
  alias: Pick<PlannedAlias, "name" | "path"> & Partial<Pick<PlannedAlias, "kind">>;
  /** One backend at weight 100 moves the alias at once; several split traffic (a canary). */
  backends: readonly AliasBackend[];
  /** The route stage's own state (history, ramp) kept on the alias object. */
  annotations?: Readonly<Record<string, string>>;
}

function checkBackends(alias: string, backends: readonly AliasBackend[]): void {
  if (backends.length === 0) throw new ManifestError(`alias ${alias} needs at least one version to point at`);
  if (backends.length > MAX_BACKENDS) {
    throw new ManifestError(
      `alias ${alias} splits between ${backends.length} versions; at most ${MAX_BACKENDS}`,
    );
  }
  const versions = new Set(backends.map((b) => b.target.version));
  if (versions.size !== backends.length) throw new ManifestError(`alias ${alias} lists a version twice`);
  for (const b of backends) {
    if (!Number.isInteger(b.weight) || b.weight < 0 || b.weight > MAX_WEIGHT) {
      throw new ManifestError(
        `alias ${alias}: weight ${b.weight} of ${b.target.version} is not an integer 0–${MAX_WEIGHT}`,
      );
    }
  }
  if (backends.every((b) => b.weight === 0)) throw new ManifestError(`alias ${alias}: every weight is 0`);
}

function aliasRule(prefix: string, served: ReadonlyArray<{ target: EndpointTarget; weight: number }>): Rule {
  const targets = new Set(served.map((s) => rewriteTarget(s.target)));
  const shared = targets.size === 1 ? [...targets][0] : undefined;
  const backendRefs: BackendRef[] = served.map((s) => ({
    name: s.target.service,
    port: s.target.port,
    weight: s.weight,
    ...(shared === undefined ? { filters: [rewrite(rewriteTarget(s.target))] } : {}),
  }));
  const timeout = Math.max(...served.map((s) => s.target.requestTimeoutSeconds));
  return {
    matches: [{ path: { type: "PathPrefix", value: prefix } }],
    filters: [forwardedPrefix(prefix), ...(shared === undefined ? [] : [rewrite(shared)])],
    backendRefs,
    timeouts: { request: gatewayDuration(timeout) },
  };
}

/**
 * The alias's route. An endpoint only some of the versions have is served by those alone (a canary
 * that adds an endpoint sends it all of that endpoint's traffic).
 */
export function aliasRoute(input: AliasRouteInput): IHTTPRoute {
  const { plan, alias, backends } = input;
  checkBackends(alias.name, backends);
  const names = [...new Set(backends.flatMap((b) => b.target.endpoints.map((e) => e.endpoint)))];
  checkRuleCount(names.length, `alias ${alias.name}`);
  const rules = names.map((name) =>
    aliasRule(
      `${alias.path}/${name}`,
      backends.flatMap((b) => {
        const target = b.target.endpoints.find((e) => e.endpoint === name);
        return target ? [{ target, weight: b.weight }] : [];
      }),
    ),
  );
  const heaviest = backends.reduce((a, b) => (b.weight > a.weight ? b : a));
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: {
      name: aliasRouteName(plan, alias),
      namespace: plan.namespace,
      labels: aliasLabels(plan, alias),
      annotations: {
        ...input.annotations,
        [ANNOTATION_TARGET_VERSION]: heaviest.target.version,
        [ANNOTATION_BACKENDS]: backends.map((b) => `${b.target.version}=${b.weight}`).join(","),
      },
    },
    spec: { parentRefs: parentRefs(input.config), rules },
  };
}

/** Where a deployment lives, without a version: what promotion and rollback know of it. */
export interface AliasScope {
  namespace: string;
  owner: string;
  project: string;
  deployment: string;
}

/** The facts a plan gives an alias route, from the scope alone (no version, no pull request). */
export function aliasOwner(scope: AliasScope): AliasOwner {
  return {
    namespace: scope.namespace,
    deployment: scope.deployment,
    labels: deploymentLabels(scope.owner, scope.project, scope.deployment),
  };
}

/** An alias as a plan names it, from the scope: `/<owner>/<project>/<deployment>/<alias>`. */
export function scopedAlias(
  scope: AliasScope,
  name: string,
  kind: PlannedAlias["kind"],
): Pick<PlannedAlias, "name" | "path" | "kind"> {
  return { name, kind, path: `${projectPath(scope.owner, scope.project, scope.deployment)}/${name}` };
}

// The versions use cases: a deployment's versions as the cluster holds them (one list call per kind:
// version records, Deployments, alias routes), each with its state and the aliases pointing at it; and
// retiring a version, refused while an alias points at it unless forced. Deleting the version record
// deletes everything it owns, through Kubernetes' garbage collector.
import { ANNOTATION_TARGET_VERSION } from "../deploy/index.js";
import type { KubeClient, KubeObject } from "../kube/index.js";
import { labelValue } from "../plan/names.js";
import { isRecord } from "../util/record.js";
import { ANNOTATION_FAILURE } from "./deploy.js";
import { scopeSelector } from "./deployment-state.js";

export type VersionState =
  | { kind: "ready" }
  | { kind: "progressing"; message: string }
  | { kind: "failed"; reason: string }
  | { kind: "scaled-to-zero" };

export interface VersionInfo {
  version: string;
  commit: string;
  deployedAt: string;
  deployedBy: string;
  record: string;
  state: VersionState;
  aliases: string[];
}

export interface VersionsRequest {
  namespace: string;
  /** The `slipway.dev/deployment` label value of the deployment. */
  deployment: string;
  /** `slipway.dev/owner` and `slipway.dev/project`, so two repositories' deployments of one name stay apart. */
  owner: string;
  project: string;
}

function stateOf(record: KubeObject, deployments: readonly KubeObject[]): VersionState {
  const failure = record.metadata?.annotations?.[ANNOTATION_FAILURE];
  if (failure !== undefined) return { kind: "failed", reason: failure };
  if (deployments.length === 0) return { kind: "progressing", message: "no Deployment yet" };
  const specs = deployments.map((d) => (isRecord(d.spec) ? d.spec : {}));
  if (specs.every((s) => s.replicas === 0)) return { kind: "scaled-to-zero" };
  const waiting = deployments.filter((d) => {
    const status = isRecord(d.status) ? d.status : {};
    const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isRecord) : [];
    return !conditions.some((c) => c.type === "Available" && c.status === "True");
  });
  if (waiting.length === 0) return { kind: "ready" };
  return { kind: "progressing", message: `${waiting.map((d) => d.metadata?.name).join(", ")} not available` };
}

export async function listVersions(
  request: VersionsRequest,
  kube: Pick<KubeClient, "list">,
): Promise<VersionInfo[]> {
  const [records, deployments, routes] = await Promise.all([
    kube.list({ apiVersion: "v1", kind: "ConfigMap" }, request.namespace, {
      labelSelector: scopeSelector(request, { "app.kubernetes.io/component": "version-record" }),
    }),
    kube.list({ apiVersion: "apps/v1", kind: "Deployment" }, request.namespace, {
      labelSelector: scopeSelector(request),
    }),
    kube.list({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" }, request.namespace, {
      labelSelector: scopeSelector(request, { "app.kubernetes.io/component": "alias" }),
    }),
  ]);
  const aliasesOf = new Map<string, string[]>();
  for (const route of routes.items) {
    const target = route.metadata?.annotations?.[ANNOTATION_TARGET_VERSION];
    const alias = route.metadata?.labels?.["slipway.dev/alias"];
    if (target === undefined || alias === undefined) continue;
    for (const version of target.split(","))
      aliasesOf.set(version, [...(aliasesOf.get(version) ?? []), alias]);
  }
  const versions = records.items.map((record): VersionInfo => {
    const data = (isRecord(record.data) ? record.data : {}) as Record<string, string>;
    const version = data.version ?? record.metadata?.labels?.["slipway.dev/version"] ?? "";
    const own = deployments.items.filter(
      (d) => d.metadata?.labels?.["slipway.dev/version"] === labelValue(version),
    );
    return {
      version,
      commit: data.commit ?? "",
      deployedAt: data["deployed-at"] ?? "",
      deployedBy: data["deployed-by"] ?? "",
      record: record.metadata?.name ?? "",
      state: stateOf(record, own),
      aliases: (aliasesOf.get(version) ?? []).sort(),
    };
  });
  // Newest first, as people read a history.
  return versions.sort(
    (a, b) => b.deployedAt.localeCompare(a.deployedAt) || a.version.localeCompare(b.version),
  );
}

export class VersionInUse extends Error {
  override readonly name = "VersionInUse";
}

export interface RetireResult {
  version: string;
  deleted: boolean;
  /** Aliases that pointed at it (retired anyway with force). */
  aliases: string[];
}

export async function retireVersion(
  request: VersionsRequest & { version: string; force?: boolean },
  kube: Pick<KubeClient, "list" | "delete">,
): Promise<RetireResult> {
  const versions = await listVersions(request, kube);
  const found = versions.find((v) => v.version === request.version);
  if (!found) {
    const known = versions.map((v) => v.version);
    throw new Error(
      `version ${request.version} of ${request.deployment} is not in namespace ${request.namespace}${known.length > 0 ? `: its versions are ${known.join(", ")}` : ""}`,
    );
  }
  if (found.aliases.length > 0 && !request.force) {
    throw new VersionInUse(
      `version ${request.version} is what ${found.aliases.join(", ")} point${found.aliases.length === 1 ? "s" : ""} at: point ${found.aliases.length === 1 ? "it" : "them"} at another version first, or retire it with --force`,
    );
  }
  const deleted = await kube.delete(
    { apiVersion: "v1", kind: "ConfigMap", name: found.record, namespace: request.namespace },
    { propagationPolicy: "Background" },
  );
  return { version: request.version, deleted, aliases: found.aliases };
}

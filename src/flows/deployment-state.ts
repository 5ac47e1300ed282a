// What teardown, superseded-version retirement and housekeeping read of a deployment: its alias routes
// and its version records, each list one call by label selector (never one call per pull request),
// narrowed to plain facts (which versions an alias points at, whose preview it is, when a version was
// deployed). The label selectors always name the repository (owner, project) and the deployment, so
// nothing of another repository's or deployment's is ever read, let alone deleted.
import { ANNOTATION_BACKENDS, ANNOTATION_TARGET_VERSION } from "../deploy/index.js";
import { LABEL_PULL_REQUEST } from "../deploy/labels.js";
import type { KubeClient, KubeObject } from "../kube/index.js";
import { labelValue } from "../plan/names.js";
import type { Plan } from "../plan/plan.js";
import { isRecord } from "../util/record.js";
import { ANNOTATION_DEPLOYING_UNTIL, ANNOTATION_FAILURE } from "./deploy.js";

/** Whether a run is still deploying the version (its mark has not expired). */
export function inFlight(record: Pick<VersionRecordFacts, "inFlightUntil">, now: number): boolean {
  return record.inFlightUntil !== undefined && record.inFlightUntil > now;
}

/** The pull request comment that shows a preview, kept on its alias route by the caller. */
export const ANNOTATION_COMMENT_ID = "slipway.dev/comment-id";

export interface DeploymentScope {
  namespace: string;
  owner: string;
  project: string;
  /** The `slipway.dev/deployment` label value of the deployment. */
  deployment: string;
}

export interface AliasRouteFacts {
  /** The HTTPRoute's name. */
  route: string;
  alias: string;
  /** Set on a pull request's preview alias. */
  pullRequest?: number;
  /** The version most traffic goes to (ANNOTATION_TARGET_VERSION). */
  target?: string;
  /** Every version the route sends any traffic to, the target included (ANNOTATION_BACKENDS). */
  versions: string[];
  commentId?: string;
}

export interface VersionRecordFacts {
  /** The ConfigMap's name. */
  record: string;
  version: string;
  deployment: string;
  /** Set on a version deployed for a pull request's preview. */
  pullRequest?: number;
  /** `data["deployed-at"]` as milliseconds since the epoch; undefined when missing or unreadable. */
  deployedAt?: number;
  failed: boolean;
  /** A run is deploying it until this time (ms since the epoch): nothing retires it before then. */
  inFlightUntil?: number;
  /** The version's images by digest, `<repository>@sha256:…`, per its record's endpoints. */
  images: string[];
}

/** The deployment a plan belongs to: what every clean-up and promotion selects by. */
export function scopeOf(plan: Pick<Plan, "namespace" | "owner" | "project" | "deployment">): DeploymentScope {
  return { namespace: plan.namespace, owner: plan.owner, project: plan.project, deployment: plan.deployment };
}

/** `key=value,…` of Slipway's labels for the repository and, unless undefined, the deployment. */
export function scopeSelector(
  scope: Omit<DeploymentScope, "namespace" | "deployment"> & { deployment?: string },
  extra: Readonly<Record<string, string>> = {},
): string {
  const labels: Record<string, string> = {
    "app.kubernetes.io/managed-by": "slipway",
    "slipway.dev/owner": labelValue(scope.owner.toLowerCase()),
    "slipway.dev/project": labelValue(scope.project.toLowerCase()),
    ...(scope.deployment === undefined ? {} : { "slipway.dev/deployment": labelValue(scope.deployment) }),
    ...extra,
  };
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

function pullRequestOf(object: KubeObject): number | undefined {
  const value = object.metadata?.labels?.[LABEL_PULL_REQUEST];
  if (value === undefined || !/^[1-9][0-9]*$/.test(value)) return undefined;
  return Number(value);
}

/** The versions of `slipway.dev/backends` (`v1=90,v2=10`), else of the target annotation. */
function backendVersions(annotations: Readonly<Record<string, string>>): string[] {
  const backends = annotations[ANNOTATION_BACKENDS];
  const target = annotations[ANNOTATION_TARGET_VERSION];
  const versions = new Set<string>();
  for (const entry of backends?.split(",") ?? []) {
    const version = entry.split("=")[0]?.trim();
    if (version) versions.add(version);
  }
  for (const version of target?.split(",") ?? []) if (version.trim()) versions.add(version.trim());
  return [...versions].sort();
}

export function aliasRouteFacts(route: KubeObject): AliasRouteFacts | undefined {
  const name = route.metadata?.name;
  const alias = route.metadata?.labels?.["slipway.dev/alias"];
  if (name === undefined || alias === undefined) return undefined;
  const annotations = route.metadata?.annotations ?? {};
  const facts: AliasRouteFacts = { route: name, alias, versions: backendVersions(annotations) };
  const pullRequest = pullRequestOf(route);
  if (pullRequest !== undefined) facts.pullRequest = pullRequest;
  const target = annotations[ANNOTATION_TARGET_VERSION]?.split(",")[0]?.trim();
  if (target) facts.target = target;
  const commentId = annotations[ANNOTATION_COMMENT_ID];
  if (commentId !== undefined) facts.commentId = commentId;
  return facts;
}

function imagesOf(endpoints: unknown): string[] {
  if (typeof endpoints !== "string") return [];
  try {
    const parsed: unknown = JSON.parse(endpoints);
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((e) => (isRecord(e) && typeof e.image === "string" ? [e.image] : []));
  } catch {
    return [];
  }
}

export function versionRecordFacts(record: KubeObject): VersionRecordFacts | undefined {
  const name = record.metadata?.name;
  const data = isRecord(record.data) ? record.data : {};
  const version =
    typeof data.version === "string" ? data.version : record.metadata?.labels?.["slipway.dev/version"];
  const deployment = record.metadata?.labels?.["slipway.dev/deployment"];
  if (name === undefined || version === undefined || deployment === undefined) return undefined;
  const facts: VersionRecordFacts = {
    record: name,
    version,
    deployment,
    failed: record.metadata?.annotations?.[ANNOTATION_FAILURE] !== undefined,
    images: imagesOf(data.endpoints),
  };
  const pullRequest = pullRequestOf(record);
  if (pullRequest !== undefined) facts.pullRequest = pullRequest;
  const until = Date.parse(record.metadata?.annotations?.[ANNOTATION_DEPLOYING_UNTIL] ?? "");
  if (!Number.isNaN(until)) facts.inFlightUntil = until;
  const at = typeof data["deployed-at"] === "string" ? Date.parse(data["deployed-at"]) : Number.NaN;
  if (!Number.isNaN(at)) facts.deployedAt = at;
  return facts;
}

export interface DeploymentState {
  aliases: AliasRouteFacts[];
  records: VersionRecordFacts[];
}

/**
 * The deployment's alias routes and version records: one list call each. `records` narrows the
 * records listed: to one pull request's, or widens them to every deployment of the repository.
 */
export async function readDeploymentState(
  scope: DeploymentScope,
  kube: Pick<KubeClient, "list">,
  records: { pullRequest: number } | { wholeRepository: true } | Record<string, never> = {},
  signal?: AbortSignal,
): Promise<DeploymentState> {
  const recordSelector =
    "wholeRepository" in records
      ? scopeSelector(
          { owner: scope.owner, project: scope.project },
          { "app.kubernetes.io/component": "version-record" },
        )
      : scopeSelector(scope, {
          "app.kubernetes.io/component": "version-record",
          ...("pullRequest" in records ? { [LABEL_PULL_REQUEST]: String(records.pullRequest) } : {}),
        });
  const options = signal ? { signal } : {};
  const [routeList, recordList] = await Promise.all([
    kube.list({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" }, scope.namespace, {
      labelSelector: scopeSelector(scope, { "app.kubernetes.io/component": "alias" }),
      ...options,
    }),
    kube.list({ apiVersion: "v1", kind: "ConfigMap" }, scope.namespace, {
      labelSelector: recordSelector,
      ...options,
    }),
  ]);
  return {
    aliases: routeList.items.flatMap((r) => aliasRouteFacts(r) ?? []),
    records: recordList.items.flatMap((r) => versionRecordFacts(r) ?? []),
  };
}

/** Alias names per version, over the given routes. */
export function aliasesByVersion(routes: readonly AliasRouteFacts[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const route of routes)
    for (const version of route.versions) out.set(version, [...(out.get(version) ?? []), route.alias].sort());
  return out;
}

export async function deleteAliasRoute(
  kube: Pick<KubeClient, "delete">,
  namespace: string,
  route: string,
): Promise<boolean> {
  return kube.delete({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    name: route,
    namespace,
  });
}

/** Deleting the record deletes everything the version owns (ownerReferences, garbage collector). */
export async function deleteVersionRecord(
  kube: Pick<KubeClient, "delete">,
  namespace: string,
  record: string,
): Promise<boolean> {
  return kube.delete(
    { apiVersion: "v1", kind: "ConfigMap", name: record, namespace },
    { propagationPolicy: "Background" },
  );
}

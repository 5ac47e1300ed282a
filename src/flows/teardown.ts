// Ending a pull request's preview, on the cluster's side (its comment is the caller's): the preview's
// alias route deleted, then every version deployed for the pull request that no remaining alias points
// at (deleting a version's record deletes what it owns). A version another alias also points at (say
// `staging`) is kept and reported. And, after a preview moved to a new version, retiring the pull
// request's older versions nothing points at any more. One list call per kind; running either again
// deletes nothing more.
import type { KubeClient } from "../kube/index.js";
import {
  aliasesByVersion,
  type DeploymentScope,
  deleteAliasRoute,
  deleteVersionRecord,
  inFlight,
  readDeploymentState,
} from "./deployment-state.js";

export { ANNOTATION_COMMENT_ID } from "./deployment-state.js";

export interface TeardownRequest extends DeploymentScope {
  pullRequest: number;
  signal?: AbortSignal;
}

export interface TeardownResult {
  /** Alias names whose routes this call deleted. */
  aliases: string[];
  /** Versions whose records this call deleted. */
  versions: string[];
  /** The pull request's versions left because other aliases point at them. */
  kept: { version: string; aliases: string[] }[];
  /** The `slipway.dev/comment-id` of the deleted preview route, so the caller can update that comment. */
  commentId?: string;
}

export async function teardownPreview(
  request: TeardownRequest,
  clients: { kube: Pick<KubeClient, "list" | "delete"> },
): Promise<TeardownResult> {
  const { kube } = clients;
  const { namespace, pullRequest } = request;
  const state = await readDeploymentState(request, kube, { pullRequest }, request.signal);
  const preview = state.aliases.filter((a) => a.pullRequest === pullRequest);
  const remaining = state.aliases.filter((a) => a.pullRequest !== pullRequest);
  const result: TeardownResult = { aliases: [], versions: [], kept: [] };
  for (const route of preview) {
    if (await deleteAliasRoute(kube, namespace, route.route)) result.aliases.push(route.alias);
    if (route.commentId !== undefined && result.commentId === undefined) result.commentId = route.commentId;
  }
  const pointed = aliasesByVersion(remaining);
  for (const record of state.records) {
    // The selector already asked for this pull request's records; the check keeps it so whatever a server sends.
    if (record.pullRequest !== pullRequest || record.deployment !== request.deployment) continue;
    const aliases = pointed.get(record.version);
    if (aliases !== undefined) {
      result.kept.push({ version: record.version, aliases });
      continue;
    }
    if (await deleteVersionRecord(kube, namespace, record.record)) result.versions.push(record.version);
  }
  result.aliases.sort();
  result.versions.sort();
  result.kept.sort((a, b) => a.version.localeCompare(b.version));
  return result;
}

export interface RetireSupersededRequest extends DeploymentScope {
  pullRequest: number;
  /** The version the preview now points at (or was just deployed, failed: kept for inspection). */
  version: string;
  signal?: AbortSignal;
}

/**
 * The pull request's versions other than `version` that no alias points at, deleted; returns them.
 * A version the preview still points at (its deploy of `version` failed, so the alias stayed) is kept.
 */
export async function retireSuperseded(
  request: RetireSupersededRequest,
  clients: { kube: Pick<KubeClient, "list" | "delete"> },
): Promise<string[]> {
  const { kube } = clients;
  const state = await readDeploymentState(
    request,
    kube,
    { pullRequest: request.pullRequest },
    request.signal,
  );
  const pointed = aliasesByVersion(state.aliases);
  const retired: string[] = [];
  for (const record of state.records) {
    if (record.pullRequest !== request.pullRequest || record.deployment !== request.deployment) continue;
    if (record.version === request.version || pointed.has(record.version)) continue;
    // Another run is still deploying it (a newer push, perhaps): that run decides what becomes of it.
    if (inFlight(record, Date.now())) continue;
    if (await deleteVersionRecord(kube, request.namespace, record.record)) retired.push(record.version);
  }
  return retired.sort();
}

// Housekeeping for one deployment, as a scheduled run does it: previews of closed pull requests, and
// those whose version is older than the preview TTL, removed; then the versions no alias points at any
// more — a pull request's whose preview is gone, and beyond the newest K of the rest — deleted (their
// records, and so everything they own). With a registry client, the version images' tags that no live
// version has any more are deleted too, by digest, unless a live tag shares that digest. The decision
// is a pure function of what one list call per kind read (`housekeepingDecision`); this module's I/O
// carries it out.
import { DEFAULT_KEEP_VERSIONS } from "../config/defaults.js";
import type { KubeClient } from "../kube/index.js";
import { parseImageName, RegistryError } from "../registry/index.js";
import type { RegistryClient } from "../registry/types.js";
import {
  type AliasRouteFacts,
  type DeploymentScope,
  deleteAliasRoute,
  deleteVersionRecord,
  inFlight,
  readDeploymentState,
  scopeOf,
  type VersionRecordFacts,
} from "./deployment-state.js";
import type { PlannedVersion } from "./plan.js";

export interface HousekeepingOptions {
  /** Pull requests still open: the previews of any other pull request are removed. */
  openPullRequests: ReadonlySet<number>;
  /** A preview whose version was deployed longer ago than this is removed. */
  previewTtlSeconds: number;
  /** Versions no alias points at kept per deployment, newest by deployed-at first. */
  keepVersions: number;
  now: Date;
}

export interface HousekeepingDecision {
  previewsRemoved: { pullRequest: number; alias: string; route: string; why: "closed" | "expired" }[];
  versionsRetired: { version: string; record: string; why: "preview-gone" | "beyond-keep" }[];
}

/**
 * What to remove, given one deployment's alias routes and version records. A version any remaining
 * alias points at (any backend, even at weight 0) is never retired; one whose deploy time cannot be
 * read is kept and not counted, since its age is unknown.
 */
export function housekeepingDecision(
  routes: readonly AliasRouteFacts[],
  records: readonly VersionRecordFacts[],
  options: HousekeepingOptions,
): HousekeepingDecision {
  const now = options.now.getTime();
  const deployedAt = new Map(records.map((r) => [r.version, r.deployedAt]));
  const previewsRemoved: HousekeepingDecision["previewsRemoved"] = [];
  const remaining: AliasRouteFacts[] = [];
  for (const route of routes) {
    const pullRequest = route.pullRequest;
    if (pullRequest === undefined) {
      remaining.push(route);
      continue;
    }
    const at = route.target === undefined ? undefined : deployedAt.get(route.target);
    const why = !options.openPullRequests.has(pullRequest)
      ? "closed"
      : at !== undefined && now - at > options.previewTtlSeconds * 1000
        ? "expired"
        : undefined;
    if (why === undefined) remaining.push(route);
    else previewsRemoved.push({ pullRequest, alias: route.alias, route: route.route, why });
  }
  const pointed = new Set(remaining.flatMap((r) => r.versions));
  const previews = new Set(remaining.flatMap((r) => (r.pullRequest === undefined ? [] : [r.pullRequest])));
  const versionsRetired: HousekeepingDecision["versionsRetired"] = [];
  const candidates: (VersionRecordFacts & { deployedAt: number })[] = [];
  for (const record of records) {
    if (pointed.has(record.version) || inFlight(record, now)) continue;
    // An open pull request's version without an alias yet (its first deploy failed, or is starting)
    // counts like any unused version; a closed one's preview is gone.
    const previewGone =
      record.pullRequest !== undefined &&
      !previews.has(record.pullRequest) &&
      !options.openPullRequests.has(record.pullRequest);
    const removedNow =
      record.pullRequest !== undefined && previewsRemoved.some((p) => p.pullRequest === record.pullRequest);
    if (previewGone || removedNow) {
      versionsRetired.push({ version: record.version, record: record.record, why: "preview-gone" });
    } else if (record.deployedAt !== undefined) {
      candidates.push({ ...record, deployedAt: record.deployedAt });
    }
  }
  candidates.sort((a, b) => b.deployedAt - a.deployedAt || a.version.localeCompare(b.version));
  for (const record of candidates.slice(Math.max(0, options.keepVersions)))
    versionsRetired.push({ version: record.version, record: record.record, why: "beyond-keep" });
  return { previewsRemoved, versionsRetired };
}

export interface HousekeepingRequest extends DeploymentScope {
  openPullRequests: ReadonlySet<number>;
  previewTtlSeconds: number;
  /** Default DEFAULT_KEEP_VERSIONS. */
  keepVersions?: number;
  now: Date;
  /**
   * The endpoints' image repositories (`plan.endpoints[i].imageRepository`), whose tags are checked;
   * those named by the version records read are checked as well.
   */
  imageRepositories?: readonly string[];
  /**
   * Image repositories the registry client may be sent to (with the workflow's credentials): records
   * and configs can name others, which are left alone.
   */
  repositoryAllowed?: (repository: string) => boolean;
  signal?: AbortSignal;
}

/** The housekeeping request for a planned deployment: its scope, its preview TTL, its endpoints' images. */
export function housekeepingRequest(
  planned: Pick<PlannedVersion, "plan" | "config">,
  options: Pick<HousekeepingRequest, "openPullRequests" | "now" | "keepVersions" | "repositoryAllowed">,
): HousekeepingRequest {
  const { plan, config } = planned;
  return {
    ...scopeOf(plan),
    previewTtlSeconds: config.deployment.preview.ttlSeconds,
    imageRepositories: plan.endpoints.map((e) => e.imageRepository),
    ...options,
  };
}

export interface TagOutcome {
  /** `<registry>/<repository>` */
  repository: string;
  tag: string;
  digest?: string;
  deleted: boolean;
  /** Why an orphaned tag's manifest is still there, or how it went. */
  reason?: string;
}

export interface HousekeepingReport {
  previewsRemoved: { pullRequest: number; alias: string; why: "closed" | "expired" }[];
  /** Every version deleted: those of gone previews and those beyond the kept number. */
  versionsRetired: string[];
  /** Tags of the image repositories that no live version has (empty without a registry client). */
  tags: TagOutcome[];
}

export async function housekeeping(
  request: HousekeepingRequest,
  clients: {
    kube: Pick<KubeClient, "list" | "delete">;
    registry?: Pick<RegistryClient, "listTags" | "getManifest" | "deleteManifest">;
  },
): Promise<HousekeepingReport> {
  const { kube, registry } = clients;
  // The repository's records of every deployment: their tags are live whichever deployment they are.
  const state = await readDeploymentState(request, kube, { wholeRepository: true }, request.signal);
  const own = state.records.filter((r) => r.deployment === request.deployment);
  const decision = housekeepingDecision(state.aliases, own, {
    openPullRequests: request.openPullRequests,
    previewTtlSeconds: request.previewTtlSeconds,
    keepVersions: request.keepVersions ?? DEFAULT_KEEP_VERSIONS,
    now: request.now,
  });
  const report: HousekeepingReport = { previewsRemoved: [], versionsRetired: [], tags: [] };
  for (const preview of decision.previewsRemoved) {
    await deleteAliasRoute(kube, request.namespace, preview.route);
    report.previewsRemoved.push({ pullRequest: preview.pullRequest, alias: preview.alias, why: preview.why });
  }
  const retired = new Set<string>();
  for (const version of decision.versionsRetired) {
    await deleteVersionRecord(kube, request.namespace, version.record);
    retired.add(version.record);
    report.versionsRetired.push(version.version);
  }
  report.versionsRetired.sort();
  if (registry) {
    const live = state.records.filter((r) => !retired.has(r.record));
    const repositories = new Set([
      ...(request.imageRepositories ?? []),
      ...state.records.flatMap((r) => r.images.map((i) => i.split("@")[0] ?? "")),
    ]);
    repositories.delete("");
    for (const repository of repositories)
      if (request.repositoryAllowed && !request.repositoryAllowed(repository))
        repositories.delete(repository);
    for (const repository of [...repositories].sort())
      report.tags.push(...(await orphanTags(registry, repository, live, new Set(report.versionsRetired))));
  }
  return report;
}

/**
 * The repository's tags no live version has. Only the tags of versions this run retired are deleted
 * (by digest, unless a live version's image has that digest: images are content-addressed, two
 * versions built from the same content share one); the others are listed: the same repository may
 * hold versions another namespace runs, which this one cannot see.
 */
async function orphanTags(
  registry: Pick<RegistryClient, "listTags" | "getManifest" | "deleteManifest">,
  repository: string,
  live: readonly VersionRecordFacts[],
  retiredNow: ReadonlySet<string>,
): Promise<TagOutcome[]> {
  const name = parseImageName(repository);
  const where = { registry: name.registry, repository: name.repository };
  const liveVersions = new Set(live.map((r) => r.version));
  const liveDigests = new Map<string, string>();
  for (const record of live) {
    for (const image of record.images) {
      const [at, digest] = image.split("@");
      if (at === repository && digest !== undefined) liveDigests.set(digest, record.version);
    }
  }
  const tags = await registry.listTags(where);
  const digestOf = async (tag: string): Promise<string | undefined> => {
    try {
      return (await registry.getManifest({ ...where, tag })).digest;
    } catch (error) {
      // Gone between the listing and now (another run's delete): nothing left to decide.
      if (error instanceof RegistryError && error.status === 404) return undefined;
      throw error;
    }
  };
  // A live tag may point at another digest than its record says (pushed again): protect both.
  for (const tag of tags.filter((t) => liveVersions.has(t))) {
    const digest = await digestOf(tag);
    if (digest !== undefined && !liveDigests.has(digest)) liveDigests.set(digest, tag);
  }
  const out: TagOutcome[] = [];
  const deletedWith = new Map<string, string>();
  for (const tag of tags.filter((t) => !liveVersions.has(t))) {
    const entry: TagOutcome = { repository, tag, deleted: false };
    out.push(entry);
    if (!retiredNow.has(tag)) {
      entry.reason = "listed only: no version this run retired has this tag";
      continue;
    }
    const digest = await digestOf(tag);
    if (digest === undefined) {
      entry.reason = "absent: the tag went away before its manifest was read";
      continue;
    }
    entry.digest = digest;
    const sharer = liveDigests.get(digest);
    if (sharer !== undefined) {
      entry.reason = `kept: live version ${sharer} has the same image (${digest})`;
      continue;
    }
    const earlier = deletedWith.get(digest);
    if (earlier !== undefined) {
      entry.deleted = true;
      entry.reason = `deleted with ${earlier}, which had the same manifest`;
      continue;
    }
    const result = await registry.deleteManifest(where, digest);
    if (result.deleted) {
      entry.deleted = true;
      deletedWith.set(digest, tag);
    } else {
      entry.reason =
        result.reason === "not-allowed"
          ? `the registry does not allow deleting manifests (${result.message})`
          : `absent (${result.message})`;
    }
  }
  return out;
}

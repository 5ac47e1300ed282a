// Promotion and rollback without a canary: an environment's alias moved at once to a version already
// deployed (no build: the route's targets are read back from the version's record), under the
// environment's promotion lock, in one apply of the alias route that also carries its history. A
// promotion is refused, with a reason a user can act on, when the environment is not in the config,
// the version is not deployed or not ready, an environment it `requires` does not serve it, or another
// run holds the lock; a rollback when the history names no earlier version or its record is gone.
import { randomUUID } from "node:crypto";
import type { SlipwayConfig } from "../config/types.js";
import {
  ANNOTATION_TARGET_VERSION,
  aliasOwner,
  aliasRoute,
  aliasRouteName,
  scopedAlias,
  targetFromRecord,
  type VersionTarget,
} from "../deploy/index.js";
import { acquireLock, isStaleWrite, type KubeClient, type KubeObject } from "../kube/index.js";
import { dnsLabel, labelValue } from "../plan/names.js";
import {
  type AliasHistory,
  ANNOTATION_HISTORY,
  decodeHistory,
  encodeHistory,
  type MoveReason,
  previousVersion,
  recordMove,
} from "../route/alias-history.js";
import { ANNOTATION_COMMENT_ID, type DeploymentScope } from "./deployment-state.js";
import { listVersions, type VersionInfo } from "./versions.js";

/** How long a promotion holds its lock at most, if the run dies before releasing it. */
export const PROMOTION_LOCK_SECONDS = 60;
/** Stale-object conflicts retried at most this many times: another writer (a push's deploy) just wrote. */
const MAX_CONFLICTS = 5;

export type RefusalReason =
  | "unknown-environment"
  | "no-version"
  | "not-ready"
  | "requires"
  | "locked"
  | "no-previous";

/** An expected refusal: nothing was moved; the message says what to do instead. */
export class PromotionRefused extends Error {
  override readonly name = "PromotionRefused";
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

interface MoveRequest {
  scope: DeploymentScope;
  config: SlipwayConfig;
  environment: string;
  /** Who asks: a GitHub login or the CLI's user; with `runId`, the lock's holder. */
  by: string;
  /** Unique per run, so a second run of the same person is another holder (default: random). */
  runId?: string;
  now: Date;
  signal?: AbortSignal;
}

export interface PromoteRequest extends MoveRequest {
  /** The version to promote; or `fromAlias`: the version that alias serves (e.g. `pr-42`). */
  version?: string;
  fromAlias?: string;
  why: MoveReason;
}

export interface PromoteResult {
  environment: string;
  /** The version the environment served before, if any. */
  from?: string;
  to: string;
  /** False when the environment already served only `to`: nothing was applied. */
  changed: boolean;
  /** E.g. a history annotation that could not be read and was started again. */
  warnings: string[];
}

/** The lock needs the whole client (create, update, get); the rest get, list and apply. */
type Kube = KubeClient;

function environmentOf(config: SlipwayConfig, name: string) {
  const environment = config.deployment.environments.find((e) => e.name === name);
  if (environment) return environment;
  const known = config.deployment.environments.map((e) => e.name);
  throw new PromotionRefused(
    "unknown-environment",
    `environment '${name}' is not in ${config.file}${known.length > 0 ? `: its environments are ${known.join(", ")}` : ": it defines none"}`,
  );
}

function routeRef(scope: DeploymentScope, alias: string) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    name: aliasRouteName(scope, { name: alias }),
    namespace: scope.namespace,
  };
}

/** The version `alias` sends most traffic to, read from its route; undefined without one. */
function targetOf(route: KubeObject | undefined): string | undefined {
  return route?.metadata?.annotations?.[ANNOTATION_TARGET_VERSION]?.split(",")[0]?.trim() || undefined;
}

/** The route's history; an unreadable one is started again, and says so. */
export function historyOf(route: KubeObject | undefined): { history: AliasHistory; warning?: string } {
  const text = route?.metadata?.annotations?.[ANNOTATION_HISTORY];
  if (text === undefined) return { history: [] };
  const decoded = decodeHistory(text);
  if (decoded.ok) return { history: decoded.value };
  return { history: [], warning: `${decoded.reason}; its history starts again with this move` };
}

/** Runs `use` under the environment's promotion lock, released at the end whatever happens. */
async function underLock<T>(kube: Kube, request: MoveRequest, use: () => Promise<T>): Promise<T> {
  const { scope, environment } = request;
  const result = await acquireLock(kube, {
    namespace: scope.namespace,
    name: dnsLabel(scope.deployment, "promote", environment),
    labels: {
      "app.kubernetes.io/managed-by": "slipway",
      "slipway.dev/owner": labelValue(scope.owner.toLowerCase()),
      "slipway.dev/project": labelValue(scope.project.toLowerCase()),
      "slipway.dev/deployment": labelValue(scope.deployment),
      "slipway.dev/environment": labelValue(environment),
    },
    holder: `${request.by} via run ${request.runId ?? randomUUID()}`,
    durationSeconds: PROMOTION_LOCK_SECONDS,
    ...(request.signal ? { signal: request.signal } : {}),
  });
  if (!result.acquired) {
    throw new PromotionRefused(
      "locked",
      `${result.holder} is moving ${environment} now (its lock lasts until ${result.expiresAt.toISOString()} unless renewed): try again when it is done`,
    );
  }
  try {
    return await use();
  } finally {
    await result.lock.release();
  }
}

function findVersion(versions: readonly VersionInfo[], version: string, scope: DeploymentScope): VersionInfo {
  const found = versions.find((v) => v.version === version);
  if (found) return found;
  const known = versions.map((v) => v.version);
  throw new PromotionRefused(
    "no-version",
    `version ${version} of ${scope.deployment} is not in namespace ${scope.namespace}${known.length > 0 ? `: its versions are ${known.join(", ")}` : ""}; deploy it first`,
  );
}

function checkReady(found: VersionInfo): void {
  const { state } = found;
  if (state.kind === "ready") return;
  const why =
    state.kind === "failed"
      ? `it failed: ${state.reason}`
      : state.kind === "progressing"
        ? `it is not ready yet: ${state.message}`
        : "it is scaled to zero: deploy it again first";
  throw new PromotionRefused("not-ready", `version ${found.version} cannot serve yet: ${why}`);
}

/** The record's targets; a record gone since it was listed is a refusal like a missing version. */
async function targetOfRecord(
  kube: Kube,
  scope: DeploymentScope,
  found: VersionInfo,
): Promise<VersionTarget> {
  const record = await kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    name: found.record,
    namespace: scope.namespace,
  });
  if (record === undefined)
    throw new PromotionRefused("no-version", `version ${found.version}'s record ${found.record} is gone`);
  return targetFromRecord(record as Parameters<typeof targetFromRecord>[0]);
}

/** Points the environment's alias at `target` alone, its history carrying the move: one apply. */
async function pointAlias(
  kube: Kube,
  request: MoveRequest & { why: MoveReason },
  target: VersionTarget,
): Promise<PromoteResult> {
  const { scope, environment } = request;
  const signal = request.signal ? { signal: request.signal } : {};
  for (let attempt = 1; ; attempt++) {
    const live = await kube.get(routeRef(scope, environment), signal);
    const from = targetOf(live);
    const only = live?.metadata?.annotations?.["slipway.dev/backends"] === `${target.version}=100`;
    if (from === target.version && only)
      return { environment, from, to: target.version, changed: false, warnings: [] };
    const { history, warning } = historyOf(live);
    const moved = recordMove(history, {
      version: target.version,
      at: request.now,
      by: request.by,
      why: request.why,
    });
    const comment = live?.metadata?.annotations?.[ANNOTATION_COMMENT_ID];
    const manifest = aliasRoute({
      plan: aliasOwner(scope),
      config: request.config,
      alias: scopedAlias(scope, environment, "environment"),
      backends: [{ target, weight: 100 }],
      annotations: {
        [ANNOTATION_HISTORY]: encodeHistory(moved),
        ...(comment ? { [ANNOTATION_COMMENT_ID]: comment } : {}),
      },
    }) as unknown as KubeObject;
    const rv = live?.metadata?.resourceVersion;
    const object: KubeObject =
      rv === undefined ? manifest : { ...manifest, metadata: { ...manifest.metadata, resourceVersion: rv } };
    try {
      await kube.apply(object, { ...signal, ...(rv !== undefined ? { previousResourceVersion: rv } : {}) });
      return {
        environment,
        ...(from !== undefined ? { from } : {}),
        to: target.version,
        changed: true,
        warnings: warning ? [warning] : [],
      };
    } catch (error) {
      if (!isStaleWrite(error) || attempt >= MAX_CONFLICTS) throw error;
    }
  }
}

/** The version `alias` serves, as the listed versions say. */
function servedBy(versions: readonly VersionInfo[], alias: string): string {
  const found = versions.find((v) => v.aliases.includes(alias));
  if (!found)
    throw new PromotionRefused(
      "no-version",
      `alias ${alias} points at no version: nothing to promote from it`,
    );
  return found.version;
}

export async function promote(request: PromoteRequest, deps: { kube: Kube }): Promise<PromoteResult> {
  const { kube } = deps;
  const { scope, config } = request;
  const environment = environmentOf(config, request.environment);
  if ((request.version === undefined) === (request.fromAlias === undefined))
    throw new PromotionRefused(
      "no-version",
      `promoting to ${environment.name} needs a version or an alias to take it from, not both`,
    );
  return underLock(kube, request, async () => {
    const versions = await listVersions(scope, kube);
    const version = request.version ?? servedBy(versions, request.fromAlias ?? "");
    const found = findVersion(versions, version, scope);
    checkReady(found);
    const missing = environment.requires.filter((r) => !found.aliases.includes(r));
    if (missing.length > 0) {
      throw new PromotionRefused(
        "requires",
        `version ${version} is not live on ${missing.join(", ")}: a version must be live on ${missing.join(" and ")} before ${environment.name}; promote it there first`,
      );
    }
    return pointAlias(kube, request, await targetOfRecord(kube, scope, found));
  });
}

export type RollbackRequest = MoveRequest;

/** Back to the version the environment served before its last move, as its history says. */
export async function rollback(request: RollbackRequest, deps: { kube: Kube }): Promise<PromoteResult> {
  const { kube } = deps;
  const { scope, config } = request;
  environmentOf(config, request.environment);
  return underLock(kube, request, async () => {
    const live = await kube.get(routeRef(scope, request.environment));
    const { history, warning } = historyOf(live);
    const previous = previousVersion(history, targetOf(live));
    if (previous === undefined) {
      throw new PromotionRefused(
        "no-previous",
        `${request.environment} has no earlier version to roll back to${warning ? ` (${warning})` : ""}: promote a version instead`,
      );
    }
    const versions = await listVersions(scope, kube);
    const found = versions.find((v) => v.version === previous);
    if (!found) {
      throw new PromotionRefused(
        "no-version",
        `${request.environment} was on version ${previous} before, but that version was retired: promote a version instead`,
      );
    }
    checkReady(found);
    return pointAlias(kube, { ...request, why: "rollback" }, await targetOfRecord(kube, scope, found));
  });
}

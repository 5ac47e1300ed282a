// The deploy use case, as both edges run it: a built version's objects applied to the cluster with
// server-side apply (the version record first, everything else owned by it), the rollout watched to
// ready or to a certain reason, the version's route accepted by the Gateway, and only then its
// aliases pointed at it. A version that fails is scaled to zero and its reason recorded on its record;
// no alias ever moves to it. A new version whose deploy stops partway (a refused apply, a watch the
// API server ends) is treated the same, and the error says what was applied. A re-run with the same
// inputs changes nothing in the cluster.
import type { SlipwayConfig } from "../config/types.js";
import {
  type KubeObject as Manifest,
  startupBudgetSeconds,
  type VersionInput,
  versionManifests,
  versionObjectName,
  versionRecordFor,
  versionTarget,
} from "../deploy/index.js";
import { type PullCredential, pullSecret, pullSecretName } from "../deploy/pull-secret.js";
import { DeployStopped } from "../errors.js";
import {
  type KubeClient,
  KubeError,
  type KubeObject,
  type NamespaceResult,
  RolloutFailed,
  type RolloutResult,
  waitForRollout,
} from "../kube/index.js";
import { dnsLabel } from "../plan/names.js";
import type { Plan } from "../plan/plan.js";
import { isRecord } from "../util/record.js";
import { ANSWER_WAIT_SECONDS, awaitAnswers } from "./answer-check.js";
import { type AliasGuard, moveAlias } from "./move-alias.js";
import type { PlannedVersion } from "./plan.js";
import { awaitRouteAccepted } from "./route-status.js";

/** Beyond the longest startup budget: pulling a large image and scheduling take time too. */
export const DEPLOY_WAIT_MARGIN_SECONDS = 5 * 60;
/** How long the Gateway gets to accept the version's route once the pods are ready. */
export const ROUTE_ACCEPT_SECONDS = 60;
/** The field manager of the state Slipway records on a version (failure reason), apart from its content. */
export const STATE_FIELD_MANAGER = "slipway-state";
export const ANNOTATION_FAILURE = "slipway.dev/failure";
/**
 * Set on a version's record while a run that may race others (a pull request's preview) deploys it,
 * until the run's deadline: a newer run retiring the pull request's unused versions leaves it alone.
 * Cleared when the run ends either way; a killed run's mark expires with its deadline.
 */
export const ANNOTATION_DEPLOYING_UNTIL = "slipway.dev/deploying-until";

export type PullSource = { secret: string } | PullCredential;

export interface DeployRequest {
  planned: PlannedVersion;
  /** Per endpoint name, the pushed image by digest: `<repository>@sha256:…`. */
  images: Readonly<Record<string, string>>;
  /** Who deployed: a GitHub login, or the CLI's user. */
  deployedBy: string;
  now?: Date;
  /** How long to wait for every endpoint to be ready; default the longest startup budget plus a margin. */
  timeoutSeconds?: number;
  /** Workflow-passed values for the endpoints' environment, kept in a Secret the version owns. */
  secretValues?: Readonly<Record<string, string>>;
  /** How the cluster pulls the version images: an existing Secret, or a credential to keep as one. */
  pull?: PullSource;
  /**
   * Decides, just before each alias moves, whether this run may still move it (runs for one pull
   * request race); the move is then conditional on the route not changing meanwhile (move-alias.ts).
   */
  aliasGuard?: AliasGuard;
  /** Kept on every alias route this run moves (e.g. which pull request comment shows it). */
  aliasAnnotations?: Readonly<Record<string, string>>;
  /** Marks the version as being deployed until the deadline (ANNOTATION_DEPLOYING_UNTIL). */
  markInFlight?: boolean;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface DeployClients {
  kube: KubeClient;
}

export interface DeployedEndpoint {
  name: string;
  path: string;
  url?: string;
  /** The URL was seen answering through the router (false: not seen, or no URL). */
  answered: boolean;
  image: string;
  aliases: { name: string; path: string; url?: string; answered: boolean }[];
}

export interface DeployResult {
  version: string;
  namespace: string;
  namespaceState: NamespaceResult;
  endpoints: DeployedEndpoint[];
  /** Object applies: how many, how many changed or created something, and which (`Kind/name`). */
  applies: { total: number; changed: number; changedObjects: string[] };
  rollout: RolloutResult;
  /** Aliases this run pointed at the version, and those it left because its guard said so. */
  aliases: { moved: string[]; skipped: { name: string; reason: string }[] };
}

/**
 * Manifests are typed by the Kubernetes and Gateway API schemas, the kube client's objects loosely (it
 * reads back whatever the server sends): the one place one becomes the other.
 */
function asKube(manifest: Manifest | Record<string, unknown>): KubeObject {
  return manifest as unknown as KubeObject;
}

function ref(object: KubeObject): { apiVersion: string; kind: string; name: string; namespace?: string } {
  return {
    apiVersion: object.apiVersion ?? "",
    kind: object.kind ?? "",
    name: object.metadata?.name ?? "",
    ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
  };
}

/** The name of the Secret a version's workflow-passed values live in. */
export function envSecretName(plan: Plan): string {
  return dnsLabel(plan.deployment, plan.version, "env");
}

/** What the manifests of this run are made from; `recordUid` once the record exists. */
export function versionInput(
  request: Pick<DeployRequest, "planned" | "images" | "secretValues" | "pull" | "deployedBy">,
  deployedAt: Date,
): VersionInput {
  const { plan, config } = request.planned;
  const input: VersionInput = {
    plan,
    config,
    images: request.images,
    deployedBy: request.deployedBy,
    deployedAt,
  };
  if (request.secretValues && Object.keys(request.secretValues).length > 0) {
    input.envSecret = { name: envSecretName(plan), values: request.secretValues };
  }
  if (request.pull)
    input.imagePullSecret = "secret" in request.pull ? request.pull.secret : pullSecretName(plan);
  return input;
}

const KINDS = [
  { apiVersion: "v1", kind: "Secret" },
  { apiVersion: "v1", kind: "Service" },
  { apiVersion: "apps/v1", kind: "Deployment" },
  { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
];

async function readDeploymentObjects(kube: KubeClient, plan: Plan): Promise<void> {
  const selector = ["owner", "project", "deployment"]
    .map((k) => `slipway.dev/${k}=${plan.labels[`slipway.dev/${k}`]}`)
    .join(",");
  await Promise.all(KINDS.map((type) => kube.list(type, plan.namespace, { labelSelector: selector })));
}

/** What a re-run keeps of the version's record, so the same inputs change nothing. */
export interface ExistingRecord {
  uid?: string;
  deployedAt?: Date;
  deployedBy?: string;
  failure?: string;
}

export async function existingRecord(
  kube: Pick<KubeClient, "get">,
  plan: Plan,
): Promise<ExistingRecord | undefined> {
  const record = await kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    name: versionObjectName(plan),
    namespace: plan.namespace,
  });
  if (!record) return undefined;
  const data = (isRecord(record.data) ? record.data : {}) as Record<string, unknown>;
  const out: ExistingRecord = {};
  if (record.metadata?.uid) out.uid = record.metadata.uid;
  if (typeof data["deployed-at"] === "string" && !Number.isNaN(Date.parse(data["deployed-at"])))
    out.deployedAt = new Date(data["deployed-at"]);
  if (typeof data["deployed-by"] === "string") out.deployedBy = data["deployed-by"];
  const failure = record.metadata?.annotations?.[ANNOTATION_FAILURE];
  if (failure !== undefined) out.failure = failure;
  return out;
}

/** The longest startup budget of the version's endpoints plus the margin, in seconds. */
export function defaultTimeoutSeconds(config: SlipwayConfig): number {
  const budgets = config.endpoints.map((e) =>
    startupBudgetSeconds(config.deployment.endpointRuntime[e.name] ?? config.deployment.runtime),
  );
  return Math.max(0, ...budgets) + DEPLOY_WAIT_MARGIN_SECONDS;
}

export async function deployVersion(request: DeployRequest, clients: DeployClients): Promise<DeployResult> {
  const { kube } = clients;
  const { plan, config } = request.planned;
  if (request.planned.run.placeholder) {
    throw new Error(`nothing can be deployed from stand-in names: ${request.planned.run.placeholder}`);
  }
  for (const endpoint of plan.endpoints) {
    if (request.images[endpoint.name] === undefined)
      throw new Error(`no image was built for endpoint ${endpoint.name}`);
  }
  const timeoutSeconds = request.timeoutSeconds ?? defaultTimeoutSeconds(config);
  const deadline = Date.now() + timeoutSeconds * 1000;
  const signalOption = request.signal ? { signal: request.signal } : {};
  const applies = { total: 0, changed: 0, changedObjects: [] as string[] };
  /** `Kind/name` of every object this run applied, for the message if it stops partway. */
  const applied: string[] = [];
  const apply = async <T extends KubeObject>(
    manifest: Manifest | Record<string, unknown>,
    fieldManager?: string,
  ) => {
    const result = await kube.apply<T>(asKube(manifest), {
      ...signalOption,
      ...(fieldManager ? { fieldManager } : {}),
    });
    applies.total++;
    applied.push(`${result.object.kind}/${result.object.metadata?.name}`);
    if (result.created || result.changed !== false) {
      applies.changed++;
      applies.changedObjects.push(`${result.object.kind}/${result.object.metadata?.name}`);
    }
    return result.object;
  };

  const namespaceState = await kube.ensureNamespace(plan.namespace);
  const existing = await existingRecord(kube, plan).catch((error: unknown) => {
    throw namespaceState === "unverified" ? namespaceUnusable(plan.namespace, error) : error;
  });
  // What the deployment already has, read once per kind, so each apply can tell whether it changed anything.
  if (existing) await readDeploymentObjects(kube, plan);
  const input = versionInput(
    { ...request, deployedBy: existing?.deployedBy ?? request.deployedBy },
    existing?.deployedAt ?? request.now ?? new Date(),
  );
  const recordName = versionObjectName(plan);
  // Until the version is ready and routed, a stop leaves nothing of a new (or already failed) version
  // running; a version deployed before this run keeps running, since aliases may point at it.
  const progress: Progress = {
    input,
    applied,
    fresh: existing === undefined || existing.failure !== undefined,
  };
  const stopped = (error: unknown) => stopVersion(kube, progress, error);

  let owned: Manifest[];
  let uid: string;
  try {
    const record = await apply(versionRecordFor(input));
    if (!record.metadata?.uid)
      throw new Error(`the API server returned version record ${recordName} without a uid`);
    uid = record.metadata.uid;
    progress.uid = uid;
    if (request.markInFlight) {
      await kube.apply(stateOf(plan, { [ANNOTATION_DEPLOYING_UNTIL]: new Date(deadline).toISOString() }), {
        ...signalOption,
        fieldManager: STATE_FIELD_MANAGER,
      });
    }
    if (request.pull && !("secret" in request.pull)) await apply(pullSecret(plan, request.pull));
    owned = versionManifests({ ...input, recordUid: uid }).filter((o) => o.kind !== "ConfigMap");
    for (const object of owned) await apply(object);
  } catch (error) {
    throw await stopped(error);
  }
  request.log(
    `Applied version ${plan.version} to ${plan.namespace}: ${applies.changed} of ${applies.total} objects changed.`,
  );

  const deployments = owned.filter((o) => o.kind === "Deployment");
  const targets = deployments.map((d) => ({
    deployment: d.metadata?.name ?? "",
    endpoint: d.metadata?.labels?.["slipway.dev/endpoint"] ?? "",
  }));
  let rollout: RolloutResult;
  try {
    rollout = await waitForRollout(kube, plan.namespace, targets, {
      deadline,
      labelSelector: `slipway.dev/deployment=${plan.labels["slipway.dev/deployment"]},slipway.dev/version=${plan.labels["slipway.dev/version"]}`,
      ...signalOption,
      onProgress: (target, diagnosis) =>
        request.log(
          `${target.endpoint ?? target.deployment}: ${diagnosis.state}${"message" in diagnosis && diagnosis.message ? ` (${diagnosis.message})` : ""}`,
        ),
    });
  } catch (error) {
    if (!(error instanceof RolloutFailed)) throw await stopped(error);
    const latency = reportLatency(error);
    if (latency) request.log(latency);
    await retireFailed(kube, input, uid, error, request.log);
    throw error;
  }
  const route = owned.find((o) => o.kind === "HTTPRoute");
  if (route) {
    await awaitRouteAccepted(
      kube,
      ref(asKube(route)),
      Math.min(deadline, Date.now() + ROUTE_ACCEPT_SECONDS * 1000),
      request.signal,
    ).catch(async (error: unknown) => {
      throw await stopped(error);
    });
  }

  const answered = await checkAnswers(
    plan.endpoints.map((e) => e.url),
    request,
    deadline,
  );

  // Only now, with every endpoint ready and routed, do aliases move: one apply each.
  const target = versionTarget({ plan, config, images: request.images });
  const aliases: DeployResult["aliases"] = { moved: [], skipped: [] };
  for (const alias of plan.aliases) {
    const moved = await moveAlias(kube, {
      plan,
      config,
      alias,
      target,
      ...(request.aliasGuard ? { guard: request.aliasGuard } : {}),
      ...(request.aliasAnnotations ? { annotations: request.aliasAnnotations } : {}),
      ...signalOption,
    });
    applies.total++;
    if (!moved.moved) {
      aliases.skipped.push({ name: alias.name, reason: moved.reason });
      request.log(`Alias ${alias.name} left as it is: ${moved.reason}.`);
      continue;
    }
    aliases.moved.push(alias.name);
    if (moved.changed) {
      applies.changed++;
      applies.changedObjects.push(`HTTPRoute/${moved.route.metadata?.name}`);
    }
  }
  const movedSet = new Set(aliases.moved);
  for (const url of await checkAnswers(
    plan.endpoints.flatMap((e) => e.aliases.filter((a) => movedSet.has(a.name)).map((a) => a.url)),
    request,
    deadline,
  ))
    answered.add(url);
  if (existing?.failure !== undefined || request.markInFlight) {
    // The version came up: a failure before is history, and it is no longer in flight.
    await apply(stateOf(plan, {}), STATE_FIELD_MANAGER);
  }
  return {
    version: plan.version,
    namespace: plan.namespace,
    namespaceState,
    endpoints: plan.endpoints.map((e) => ({
      name: e.name,
      path: e.path,
      ...(e.url !== undefined ? { url: e.url } : {}),
      answered: e.url !== undefined && answered.has(e.url),
      image: request.images[e.name] ?? "",
      aliases: e.aliases
        .filter((a) => movedSet.has(a.name))
        .map((a) => ({
          name: a.name,
          path: a.path,
          ...(a.url !== undefined ? { url: a.url } : {}),
          answered: a.url !== undefined && answered.has(a.url),
        })),
    })),
    applies,
    rollout,
    aliases,
  };
}

/**
 * Waits until the router answers at each URL (with a base-url); a URL it never answers is a warning.
 * Returns the URLs seen answering.
 */
async function checkAnswers(
  urls: readonly (string | undefined)[],
  request: DeployRequest,
  deadline: number,
): Promise<Set<string>> {
  const known = urls.filter((u): u is string => u !== undefined);
  const answered = new Set<string>();
  if (known.length === 0) return answered;
  const checks = await awaitAnswers(
    known,
    Math.min(deadline, Date.now() + ANSWER_WAIT_SECONDS * 1000),
    request.signal,
  );
  for (const check of checks) {
    if ("problem" in check)
      request.log(
        `warning: ${check.url} ${check.problem}; the version is deployed, but this URL was not seen answering`,
      );
    else answered.add(check.url);
  }
  return answered;
}

const KNEW_FROM: Record<RolloutFailed["timing"]["clusterKnewFrom"], string> = {
  condition: "by the condition's time",
  event: "by the event's time",
  "container-status": "by the container's exit time",
  "watch-arrival": "when the watch delivered it",
  deadline: "at the deadline",
};

/**
 * How late a failure is reported: from the cluster's own time for the deciding fact to Slipway's
 * decision (whole seconds on real clusters, so up to a second of it is rounding). None for a timeout,
 * which is no fact of the cluster's.
 */
export function reportLatency(failure: RolloutFailed): string | undefined {
  const { timing } = failure;
  if (failure.reason === "Timeout" || timing.clusterKnewFrom === "deadline") return undefined;
  const ms = Math.max(0, timing.noticedAt.getTime() - timing.clusterKnewAt.getTime());
  return `${failure.endpoint ?? failure.deployment}: ${failure.reason} noticed ${(ms / 1000).toFixed(1)}s after the cluster reported it (${KNEW_FROM[timing.clusterKnewFrom]})`;
}

/**
 * A version that did not become ready keeps its objects for inspection but runs no pods, and says why
 * on its record (written by its own field manager, so re-applying the record's content leaves it).
 * `only`: the Deployments to scale (those that exist), all of the version's by default.
 */
async function markFailed(
  kube: KubeClient,
  input: VersionInput,
  uid: string,
  reason: string,
  only?: ReadonlySet<string>,
): Promise<void> {
  const { plan } = input;
  // A record retired meanwhile (a newer preview's run) stays retired: nothing here may bring it back.
  const record = await kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    name: versionObjectName(plan),
    namespace: plan.namespace,
  });
  if (record?.metadata?.uid !== uid) return;
  for (const object of versionManifests({ ...input, recordUid: uid, replicas: 0 })) {
    if (object.kind === "Deployment" && (!only || only.has(`Deployment/${object.metadata?.name}`)))
      await kube.apply(asKube(object));
  }
  await kube.apply(stateOf(plan, { [ANNOTATION_FAILURE]: reason.slice(0, 1024) }), {
    fieldManager: STATE_FIELD_MANAGER,
  });
}

/** The record's state as its own field manager applies it: the annotations given, and none it set before. */
function stateOf(plan: Plan, annotations: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: versionObjectName(plan), namespace: plan.namespace, annotations },
  };
}

async function retireFailed(
  kube: KubeClient,
  input: VersionInput,
  uid: string,
  failure: RolloutFailed,
  log: (line: string) => void,
): Promise<void> {
  const { plan } = input;
  try {
    await markFailed(kube, input, uid, `${failure.reason}: ${failure.detail}`);
    log(`Version ${plan.version} failed and was scaled to zero, left for inspection; no alias points at it.`);
  } catch (error) {
    // The failure itself is what the user needs to see; the clean-up's trouble is secondary.
    log(`Version ${plan.version} failed, and scaling it to zero failed too: ${(error as Error).message}`);
  }
}

/** How far a deploy got: what a stop must undo, and whether it may. */
interface Progress {
  input: VersionInput;
  /** The record's uid, once it is applied. */
  uid?: string;
  applied: string[];
  /** The version did not exist before this run, or had failed: nothing relies on it. */
  fresh: boolean;
}

/**
 * The error for a deploy that stopped before its version was ready and routed: the cause's message,
 * what was applied, and what became of it. A fresh version is scaled to zero and marked failed
 * (reason `Incomplete`), as a failed rollout is, so nothing of it runs as if deployed.
 */
async function stopVersion(kube: KubeClient, progress: Progress, error: unknown): Promise<DeployStopped> {
  const { input, uid, applied, fresh } = progress;
  const cause = error instanceof Error ? error.message : String(error);
  const lines = [
    cause,
    applied.length > 0
      ? `Applied before it stopped: ${[...new Set(applied)].join(", ")}.`
      : "Nothing was applied.",
  ];
  if (uid !== undefined && fresh) {
    const deployments = new Set(applied.filter((a) => a.startsWith("Deployment/")));
    try {
      await markFailed(kube, input, uid, `Incomplete: ${cause}`, deployments);
      lines.push(
        `Version ${input.plan.version} was marked failed${deployments.size > 0 ? " and scaled to zero" : ""}; no alias points at it.`,
      );
    } catch (cleanup) {
      lines.push(
        `Marking version ${input.plan.version} failed and scaling it to zero failed too: ${(cleanup as Error).message}; no alias points at it.`,
      );
    }
  } else if (uid !== undefined) {
    lines.push(
      `Version ${input.plan.version} was deployed before this run and keeps running; no alias moved.`,
    );
  } else {
    lines.push("No alias moved.");
  }
  return new DeployStopped(lines.join("\n"), applied, error);
}

/**
 * The first namespaced request refused, when whether the namespace exists could not be checked: say
 * that it may be missing, and what to grant or create.
 */
function namespaceUnusable(namespace: string, error: unknown): unknown {
  if (!(error instanceof KubeError) || error.status !== 403) return error;
  return new KubeError(
    `namespace "${namespace}" may not exist, and these credentials may neither read nor create namespaces, nor work in it: ${error.message}. ` +
      `Create the namespace and bind docs/rbac.yaml's Role in it to these credentials (its optional ClusterRole lets Slipway create a missing namespace).`,
    {
      operation: error.operation,
      server: error.server,
      status: 403,
      ...(error.reason !== undefined ? { reason: error.reason } : {}),
    },
  );
}

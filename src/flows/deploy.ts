// The deploy use case, as both edges run it: a built version's objects applied to the cluster with
// server-side apply (the version record first, everything else owned by it), the rollout watched to
// ready or to a certain reason, the version's route accepted by the Gateway, and only then its
// aliases pointed at it. A version that fails is scaled to zero and its reason recorded on its record;
// no alias ever moves to it. A re-run with the same inputs changes nothing in the cluster.
import type { SlipwayConfig } from "../config/types.js";
import {
  aliasRoute,
  type KubeObject as Manifest,
  startupBudgetSeconds,
  type VersionInput,
  versionManifests,
  versionObjectName,
  versionRecordFor,
  versionTarget,
} from "../deploy/index.js";
import { type PullCredential, pullSecret, pullSecretName } from "../deploy/pull-secret.js";
import {
  type KubeClient,
  type KubeObject,
  type NamespaceResult,
  RolloutFailed,
  type RolloutResult,
  waitForRollout,
} from "../kube/index.js";
import { dnsLabel } from "../plan/names.js";
import type { Plan } from "../plan/plan.js";
import { isRecord } from "../util/record.js";
import type { PlannedVersion } from "./plan.js";
import { awaitRouteAccepted } from "./route-status.js";

/** Beyond the longest startup budget: pulling a large image and scheduling take time too. */
export const DEPLOY_WAIT_MARGIN_SECONDS = 5 * 60;
/** How long the Gateway gets to accept the version's route once the pods are ready. */
export const ROUTE_ACCEPT_SECONDS = 60;
/** The field manager of the state Slipway records on a version (failure reason), apart from its content. */
export const STATE_FIELD_MANAGER = "slipway-state";
export const ANNOTATION_FAILURE = "slipway.dev/failure";

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
  image: string;
  aliases: { name: string; path: string; url?: string }[];
}

export interface DeployResult {
  version: string;
  namespace: string;
  namespaceState: NamespaceResult;
  endpoints: DeployedEndpoint[];
  /** Object applies: how many, how many changed or created something, and which (`Kind/name`). */
  applies: { total: number; changed: number; changedObjects: string[] };
  rollout: RolloutResult;
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
  const apply = async <T extends KubeObject>(
    manifest: Manifest | Record<string, unknown>,
    fieldManager?: string,
  ) => {
    const result = await kube.apply<T>(asKube(manifest), {
      ...signalOption,
      ...(fieldManager ? { fieldManager } : {}),
    });
    applies.total++;
    if (result.created || result.changed !== false) {
      applies.changed++;
      applies.changedObjects.push(`${result.object.kind}/${result.object.metadata?.name}`);
    }
    return result.object;
  };

  const namespaceState = await kube.ensureNamespace(plan.namespace);
  const existing = await existingRecord(kube, plan);
  // What the deployment already has, read once per kind, so each apply can tell whether it changed anything.
  if (existing) await readDeploymentObjects(kube, plan);
  const input = versionInput(
    { ...request, deployedBy: existing?.deployedBy ?? request.deployedBy },
    existing?.deployedAt ?? request.now ?? new Date(),
  );
  const recordName = versionObjectName(plan);

  const record = await apply(versionRecordFor(input));
  const uid = record.metadata?.uid;
  if (!uid) throw new Error(`the API server returned version record ${recordName} without a uid`);
  if (request.pull && !("secret" in request.pull)) await apply(pullSecret(plan, request.pull));
  const owned = versionManifests({ ...input, recordUid: uid }).filter((o) => o.kind !== "ConfigMap");
  for (const object of owned) await apply(object);
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
    if (error instanceof RolloutFailed) {
      const latency = reportLatency(error);
      if (latency) request.log(latency);
      await retireFailed(kube, input, uid, error, request.log);
    }
    throw error;
  }
  const route = owned.find((o) => o.kind === "HTTPRoute");
  if (route)
    await awaitRouteAccepted(
      kube,
      ref(asKube(route)),
      Math.min(deadline, Date.now() + ROUTE_ACCEPT_SECONDS * 1000),
      request.signal,
    );

  // Only now, with every endpoint ready and routed, do aliases move: one apply each.
  const target = versionTarget({ plan, config, images: request.images });
  for (const alias of plan.aliases) {
    await apply(aliasRoute({ plan, config, alias, backends: [{ target, weight: 100 }] }));
  }
  if (existing?.failure !== undefined) {
    // The version was scaled to zero after a failure and now came up: its failure is history.
    await apply(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: recordName, namespace: plan.namespace } },
      STATE_FIELD_MANAGER,
    );
  }
  return {
    version: plan.version,
    namespace: plan.namespace,
    namespaceState,
    endpoints: plan.endpoints.map((e) => ({
      name: e.name,
      path: e.path,
      ...(e.url !== undefined ? { url: e.url } : {}),
      image: request.images[e.name] ?? "",
      aliases: e.aliases.map((a) => ({
        name: a.name,
        path: a.path,
        ...(a.url !== undefined ? { url: a.url } : {}),
      })),
    })),
    applies,
    rollout,
  };
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
 */
async function retireFailed(
  kube: KubeClient,
  input: VersionInput,
  uid: string,
  failure: RolloutFailed,
  log: (line: string) => void,
): Promise<void> {
  const { plan } = input;
  try {
    for (const object of versionManifests({ ...input, recordUid: uid, replicas: 0 })) {
      if (object.kind === "Deployment") await kube.apply(asKube(object));
    }
    const reason = `${failure.reason}: ${failure.detail}`.slice(0, 1024);
    await kube.apply(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: versionObjectName(plan),
          namespace: plan.namespace,
          annotations: { [ANNOTATION_FAILURE]: reason },
        },
      },
      { fieldManager: STATE_FIELD_MANAGER },
    );
    log(`Version ${plan.version} failed and was scaled to zero, left for inspection; no alias points at it.`);
  } catch (error) {
    // The failure itself is what the user needs to see; the clean-up's trouble is secondary.
    log(`Version ${plan.version} failed, and scaling it to zero failed too: ${(error as Error).message}`);
  }
}

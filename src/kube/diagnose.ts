// Whether a Deployment's rollout is done, still going, or certain to fail — a pure function of the
// Deployment, the Pods of its newest ReplicaSet, and their Events. "Done" is what `kubectl rollout
// status` decides (kubectl/pkg/polymorphichelpers/rollout_status.go). "Certain to fail" is decided
// only on facts that will not heal by waiting: CrashLoopBackOff; ImagePullBackOff, or ErrImagePull
// reported twice (one failed pull can be a registry hiccup the next attempt survives); an image name
// that cannot be pulled at all; Unschedulable with no cluster autoscaler scaling up for the pod; and
// the Deployment's own ProgressDeadlineExceeded. Everything else is Pending, with the words a person
// needs if the wait runs out.

import type { FailureReason } from "./errors.js";
import type {
  ContainerStatus,
  Deployment,
  DeploymentCondition,
  KubeEvent,
  Pod,
  PodCondition,
} from "./types.js";

export type Diagnosis =
  | { readonly state: "Ready"; readonly message: string; readonly since?: string }
  | { readonly state: "Pending"; readonly reason: string; readonly message: string }
  | {
      readonly state: "Failed";
      readonly reason: Exclude<FailureReason, "Timeout">;
      readonly message: string;
      readonly pod?: string;
      readonly container?: string;
      readonly image?: string;
      /** The cluster's timestamp for the fact, and what it came from. */
      readonly since?: string;
      readonly sinceFrom?: "condition" | "event" | "container-status";
    };

type Failed = Extract<Diagnosis, { state: "Failed" }>;
type SinceFrom = "condition" | "event" | "container-status";

export function diagnose(
  deployment: Deployment | undefined,
  pods: readonly Pod[],
  events: readonly KubeEvent[],
): Diagnosis {
  if (deployment === undefined) {
    return { state: "Pending", reason: "NotFound", message: "the Deployment does not exist yet" };
  }
  const name = deployment.metadata?.name ?? "";
  const status = deployment.status ?? {};
  if ((deployment.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return {
      state: "Pending",
      reason: "SpecNotObserved",
      message: "Waiting for deployment spec update to be observed",
    };
  }
  const progressing = condition(status.conditions, "Progressing");
  const timedOut = progressing?.reason === "ProgressDeadlineExceeded";
  const wanted = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const current = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  let waiting: string | undefined;
  if (updated < wanted) waiting = `${updated} out of ${wanted} new replicas have been updated`;
  else if (current > updated) waiting = `${current - updated} old replicas are pending termination`;
  else if (available < updated) waiting = `${available} of ${updated} updated replicas are available`;

  if (!timedOut && waiting === undefined) {
    const since = readySince(status.conditions);
    return {
      state: "Ready",
      message: `deployment "${name}" successfully rolled out`,
      ...(since !== undefined ? { since } : {}),
    };
  }

  const live = [...pods]
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  const details: string[] = [];
  for (const pod of live) {
    const own = eventsOf(pod, events);
    const verdict = podVerdict(pod, own);
    if (verdict.failed) return verdict.failed;
    if (verdict.detail) details.push(`pod ${pod.metadata?.name ?? "?"}: ${verdict.detail}`);
  }
  const detail = details.length > 0 ? ` (${details.slice(0, 3).join("; ")})` : "";

  if (timedOut) {
    return {
      state: "Failed",
      reason: "ProgressDeadlineExceeded",
      message: `${progressing?.message ?? `deployment "${name}" exceeded its progress deadline`}${detail}`,
      ...sinceOf(progressing?.lastUpdateTime ?? progressing?.lastTransitionTime, "condition"),
    };
  }
  return {
    state: "Pending",
    reason: live.length === 0 ? "NoPods" : "Progressing",
    message: `Waiting for deployment "${name}" rollout to finish: ${waiting}${detail}`,
  };
}

/** When the cluster recorded the rollout complete: the later of Available=True and NewReplicaSetAvailable. */
function readySince(conditions: readonly DeploymentCondition[] | undefined): string | undefined {
  const times: string[] = [];
  const available = condition(conditions, "Available");
  if (available?.status === "True" && available.lastTransitionTime) times.push(available.lastTransitionTime);
  const progressing = condition(conditions, "Progressing");
  if (progressing?.reason === "NewReplicaSetAvailable" && progressing.lastUpdateTime) {
    times.push(progressing.lastUpdateTime);
  }
  return latest(times);
}

interface PodVerdict {
  readonly failed?: Failed;
  readonly detail?: string;
}

function podVerdict(pod: Pod, events: readonly KubeEvent[]): PodVerdict {
  const podName = pod.metadata?.name ?? "";
  const scheduled = podCondition(pod, "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    const scaleUp = events.find((e) => e.reason === "TriggeredScaleUp");
    if (scaleUp)
      return { detail: `unschedulable, the cluster autoscaler is adding a node: ${scaleUp.message ?? ""}` };
    return {
      failed: {
        state: "Failed",
        reason: "Unschedulable",
        message: scheduled.message ?? "the scheduler found no node for the pod",
        pod: podName,
        ...sinceOf(scheduled.lastTransitionTime, "condition"),
      },
    };
  }

  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  let detail: string | undefined;
  for (const cs of statuses) {
    const verdict = containerVerdict(pod, cs, events);
    if (verdict.failed) return verdict;
    detail ??= verdict.detail;
  }
  if (detail) return { detail };
  if (scheduled?.status === "False")
    return { detail: `not scheduled: ${scheduled.message ?? scheduled.reason ?? ""}` };
  const warning = newest(events.filter((e) => e.type === "Warning"));
  if (warning) return { detail: `${warning.reason ?? "Warning"}: ${warning.message ?? ""}` };
  return { detail: pod.status?.phase ?? "Pending" };
}

/** Image names the runtime refuses outright: no retry will change them. */
const UNPULLABLE = new Set(["InvalidImageName", "ErrImageNeverPull"]);

function containerVerdict(pod: Pod, cs: ContainerStatus, events: readonly KubeEvent[]): PodVerdict {
  const podName = pod.metadata?.name ?? "";
  const container = cs.name ?? "";
  const image = cs.image ?? specImage(pod, container) ?? "";
  const waiting = cs.state?.waiting;
  const reason = waiting?.reason;
  const failed = (
    r: Failed["reason"],
    message: string,
    since?: string,
    from?: Failed["sinceFrom"],
  ): PodVerdict => ({
    failed: {
      state: "Failed",
      reason: r,
      message,
      pod: podName,
      container,
      ...(r !== "CrashLoopBackOff" && image ? { image } : {}),
      ...(since && from ? sinceOf(since, from) : {}),
    },
  });

  if (reason === "CrashLoopBackOff") {
    const last = cs.lastState?.terminated;
    const exit = last
      ? `last exit code ${last.exitCode ?? "?"}${last.reason ? ` (${last.reason})` : ""}`
      : "it keeps exiting";
    const restarts = cs.restartCount
      ? `, restarted ${cs.restartCount} time${cs.restartCount === 1 ? "" : "s"}`
      : "";
    const backOff = newest(
      events.filter((e) => e.reason === "BackOff" && /restarting failed container/i.test(e.message ?? "")),
    );
    return failed(
      "CrashLoopBackOff",
      `container "${container}" keeps crashing: ${exit}${restarts}`,
      eventTime(backOff) ?? last?.finishedAt,
      backOff ? "event" : "container-status",
    );
  }
  if (reason && UNPULLABLE.has(reason)) {
    return failed(reason as Failed["reason"], `${waiting?.message ?? reason} (image "${image}")`);
  }
  if (reason === "ImagePullBackOff" || reason === "ErrImagePull") {
    const pullFailures = events.filter(
      (e) => e.reason === "Failed" && (e.message ?? "").startsWith("Failed to pull image"),
    );
    // kubelet names the image as the spec writes it; failing that, the event about this container.
    const exact = pullFailures.filter((e) => (e.message ?? "").startsWith(`Failed to pull image "${image}"`));
    const pulls =
      exact.length > 0
        ? exact
        : pullFailures.filter((e) => e.involvedObject?.fieldPath?.endsWith(`{${container}}`) ?? false);
    const failures = pulls.reduce((n, e) => n + (e.series?.count ?? e.count ?? 1), 0);
    const lastPull = newest(pulls);
    const registrySays = lastPull?.message ?? waiting?.message ?? reason;
    if (reason === "ImagePullBackOff" || failures >= 2) {
      return failed(reason, registrySays, eventTime(lastPull), "event");
    }
    return {
      detail: `container "${container}": ${reason} (first failure, kubelet retries): ${registrySays}`,
    };
  }
  if (waiting) {
    return {
      detail: `container "${container}" waiting: ${reason ?? "?"}${waiting.message ? ` (${waiting.message})` : ""}`,
    };
  }
  const terminated = cs.state?.terminated;
  if (terminated) {
    return {
      detail: `container "${container}" exited with code ${terminated.exitCode ?? "?"}${terminated.reason ? ` (${terminated.reason})` : ""}`,
    };
  }
  if (cs.state?.running && !cs.ready) {
    const probe = newest(events.filter((e) => e.reason === "Unhealthy"));
    return {
      detail: `container "${container}" running, not ready${probe?.message ? `: ${probe.message}` : ""}`,
    };
  }
  return {};
}

function specImage(pod: Pod, container: string): string | undefined {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all.find((c) => c.name === container)?.image;
}

function condition(conditions: readonly DeploymentCondition[] | undefined, type: string) {
  return conditions?.find((c) => c.type === type);
}

function podCondition(pod: Pod, type: string): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

/** Events about this pod (by uid; by name when an event carries no uid). */
export function eventsOf(pod: Pod, events: readonly KubeEvent[]): KubeEvent[] {
  const uid = pod.metadata?.uid;
  const name = pod.metadata?.name;
  return events.filter((e) => {
    const o = e.involvedObject;
    if (o?.kind !== undefined && o.kind !== "Pod") return false;
    return o?.uid ? o.uid === uid : o?.name === name;
  });
}

/** When an event last happened, in either of its forms (old: lastTimestamp; new: series/eventTime). */
export function eventTime(e: KubeEvent | undefined): string | undefined {
  if (!e) return undefined;
  return (
    e.lastTimestamp ??
    e.series?.lastObservedTime ??
    e.eventTime ??
    e.firstTimestamp ??
    e.metadata?.creationTimestamp ??
    undefined
  );
}

function newest(events: readonly KubeEvent[]): KubeEvent | undefined {
  let best: KubeEvent | undefined;
  let bestAt = Number.NEGATIVE_INFINITY;
  for (const e of events) {
    const at = Date.parse(eventTime(e) ?? "");
    const t = Number.isNaN(at) ? Number.NEGATIVE_INFINITY : at;
    if (best === undefined || t >= bestAt) {
      best = e;
      bestAt = t;
    }
  }
  return best;
}

function latest(times: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const t of times) if (best === undefined || Date.parse(t) > Date.parse(best)) best = t;
  return best;
}

function sinceOf(
  time: string | undefined,
  from: SinceFrom,
): { since: string; sinceFrom: SinceFrom } | Record<string, never> {
  return time ? { since: time, sinceFrom: from } : {};
}

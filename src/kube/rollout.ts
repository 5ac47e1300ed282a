// Waiting for a version's Deployments to roll out: four watches (Deployments, their ReplicaSets,
// Pods, and Pod Events) keep a picture of the version up to date, and after every change each
// Deployment is diagnosed (diagnose.ts). Resolves when all are ready as `kubectl rollout status`
// decides; rejects with RolloutFailed as soon as one is certain to fail (with the crashing container's
// last log lines), or at the deadline with the last state seen. Records when the cluster knew and when
// Slipway noticed, so the report can say how late it is.

import type { KubeClient } from "./client.js";
import { type Diagnosis, diagnose, eventsOf } from "./diagnose.js";
import { type FailureReason, RolloutFailed, type RolloutTiming } from "./errors.js";
import type { Deployment, KubeEvent, KubeObject, Pod, ReplicaSet } from "./types.js";
import type { WatchEvent } from "./watch.js";

export interface RolloutTarget {
  readonly deployment: string;
  /** The endpoint it serves, for messages. */
  readonly endpoint?: string;
}

export interface RolloutOptions {
  /** Ends the wait with RolloutFailed (reason Timeout); ms since the epoch. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
  /**
   * Selects the version's Deployments, ReplicaSets and Pods (its labels are on the pod template too),
   * e.g. `slipway.dev/version=3f2a…`. Without it the whole namespace is watched and filtered here.
   */
  readonly labelSelector?: string;
  /** Called whenever a Deployment's diagnosis changes. */
  readonly onProgress?: (target: RolloutTarget, diagnosis: Diagnosis) => void;
  /** Log lines kept from a crashing container (default 20). */
  readonly logLines?: number;
}

export interface RolloutResult {
  readonly deployments: readonly { readonly target: RolloutTarget; readonly message: string }[];
  readonly timing: RolloutTiming;
}

const REVISION = "deployment.kubernetes.io/revision";
const MAX_LOG_BYTES = 16 * 1024;
const MAX_LOG_LINE = 500;

/**
 * The Pods of the Deployment's newest ReplicaSet: the one it controls whose revision annotation equals
 * the Deployment's (the controller keeps them equal). Older ReplicaSets' pods are on their way out and
 * say nothing about the new template.
 */
export function podsOfNewReplicaSet(
  deployment: Deployment | undefined,
  replicaSets: Iterable<ReplicaSet>,
  pods: Iterable<Pod>,
): Pod[] {
  const uid = deployment?.metadata?.uid;
  const revision = deployment?.metadata?.annotations?.[REVISION];
  if (!uid || revision === undefined) return [];
  const controlledBy = (o: KubeObject, owner: string | undefined) =>
    owner !== undefined &&
    (o.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.uid === owner);
  let newest: ReplicaSet | undefined;
  for (const rs of replicaSets) {
    if (controlledBy(rs, uid) && rs.metadata?.annotations?.[REVISION] === revision) newest = rs;
  }
  if (!newest) return [];
  const rsUid = newest.metadata?.uid;
  return [...pods].filter((p) => controlledBy(p, rsUid));
}

export async function waitForRollout(
  client: Pick<KubeClient, "watch" | "logs">,
  namespace: string,
  targets: readonly RolloutTarget[],
  options: RolloutOptions,
): Promise<RolloutResult> {
  const startedAt = Date.now();
  const stop = new AbortController();
  const deployments = new Map<string, Deployment>();
  const replicaSets = new Map<string, ReplicaSet>();
  const pods = new Map<string, Pod>();
  const events = new Map<string, KubeEvent>();
  const last = new Map<string, Diagnosis>();
  const wanted = new Set(targets.map((t) => t.deployment));
  const logLines = options.logLines ?? 20;
  const selector = options.labelSelector ? { labelSelector: options.labelSelector } : {};

  return new Promise<RolloutResult>((resolve, reject) => {
    let settled = false;
    let deciding = false;
    let deadlineTimer: NodeJS.Timeout | undefined;
    const finish = (outcome: { ok: RolloutResult } | { err: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadlineTimer);
      options.signal?.removeEventListener("abort", onAbort);
      stop.abort();
      if ("ok" in outcome) resolve(outcome.ok);
      else reject(outcome.err);
    };
    const onAbort = () => finish({ err: options.signal?.reason });
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });

    const diagnoseAll = () =>
      targets.map((target) => {
        const d = deployments.get(target.deployment);
        const own = podsOfNewReplicaSet(d, replicaSets.values(), pods.values());
        const ownEvents = own.flatMap((p) => eventsOf(p, [...events.values()]));
        return { target, diagnosis: diagnose(d, own, ownEvents), pods: own };
      });

    const evaluate = (receivedAt: number) => {
      if (settled || deciding) return;
      const all = diagnoseAll();
      for (const { target, diagnosis } of all) {
        const before = last.get(target.deployment);
        if (before?.state !== diagnosis.state || before.message !== diagnosis.message) {
          last.set(target.deployment, diagnosis);
          options.onProgress?.(target, diagnosis);
        }
      }
      const failed = all.find((a) => a.diagnosis.state === "Failed");
      if (failed && failed.diagnosis.state === "Failed") {
        deciding = true;
        const d = failed.diagnosis;
        void crashLogs(d).then((logs) => {
          const noticedAt = Date.now();
          finish({
            err: new RolloutFailed({
              namespace,
              deployment: failed.target.deployment,
              ...(failed.target.endpoint !== undefined ? { endpoint: failed.target.endpoint } : {}),
              reason: d.reason,
              detail: d.message,
              ...(d.pod !== undefined ? { pod: d.pod } : {}),
              ...(d.container !== undefined ? { container: d.container } : {}),
              ...(d.image !== undefined ? { image: d.image } : {}),
              ...(logs.length > 0 ? { logs } : {}),
              timing: timing(startedAt, d.since, d.sinceFrom, receivedAt, noticedAt),
            }),
          });
        });
        return;
      }
      if (all.every((a) => a.diagnosis.state === "Ready")) {
        const since = all
          .map((a) => (a.diagnosis.state === "Ready" ? a.diagnosis.since : undefined))
          .filter((s): s is string => s !== undefined)
          .sort((a, b) => Date.parse(a) - Date.parse(b))
          .at(-1);
        finish({
          ok: {
            deployments: all.map((a) => ({ target: a.target, message: a.diagnosis.message })),
            timing: timing(startedAt, since, "condition", receivedAt, Date.now()),
          },
        });
      }
    };

    /** The crashing container's last lines: its previous instance if there is one, else the current. */
    const crashLogs = async (d: Extract<Diagnosis, { state: "Failed" }>): Promise<string[]> => {
      if (d.reason !== "CrashLoopBackOff" || d.pod === undefined) return [];
      const base = {
        tailLines: logLines,
        limitBytes: MAX_LOG_BYTES,
        signal: stop.signal,
        ...(d.container ? { container: d.container } : {}),
      };
      for (const previous of [true, false]) {
        try {
          const text = await client.logs(namespace, d.pod, { ...base, previous });
          const lines = text.split(/\r?\n/);
          while (lines.length > 0 && lines.at(-1)?.trim() === "") lines.pop();
          if (lines.length > 0 || !previous) {
            return lines
              .slice(-logLines)
              .map((l) => (l.length > MAX_LOG_LINE ? `${l.slice(0, MAX_LOG_LINE)}…` : l));
          }
        } catch (err) {
          if (!previous) return [`(logs unavailable: ${err instanceof Error ? err.message : String(err)})`];
        }
      }
      return [];
    };

    const track =
      <T extends KubeObject>(into: Map<string, T>, keep: (o: T) => boolean = () => true) =>
      (e: WatchEvent<T>) => {
        const name = e.object.metadata?.name ?? "";
        if (e.type === "DELETED" || !keep(e.object)) into.delete(name);
        else into.set(name, e.object);
        evaluate(e.receivedAt);
      };

    const control = { deadline: options.deadline, signal: stop.signal };
    const watches = [
      client.watch<Deployment>(
        { apiVersion: "apps/v1", kind: "Deployment" },
        namespace,
        selector,
        track(deployments, (d) => wanted.has(d.metadata?.name ?? "")),
        control,
      ),
      client.watch<ReplicaSet>(
        { apiVersion: "apps/v1", kind: "ReplicaSet" },
        namespace,
        selector,
        track(replicaSets),
        control,
      ),
      client.watch<Pod>({ apiVersion: "v1", kind: "Pod" }, namespace, selector, track(pods), control),
      // Events carry no labels of their pod; they are matched to the pods by uid.
      client.watch<KubeEvent>(
        { apiVersion: "v1", kind: "Event" },
        namespace,
        { fieldSelector: "involvedObject.kind=Pod" },
        track(events),
        control,
      ),
    ];
    for (const w of watches) w.catch((err: unknown) => finish({ err }));

    deadlineTimer = setTimeout(
      () => {
        if (settled) return;
        const pending = diagnoseAll().filter((a) => a.diagnosis.state !== "Ready");
        const first = pending[0] ?? diagnoseAll()[0];
        const now = Date.now();
        const state = pending.map((p) => `${p.target.deployment}: ${p.diagnosis.message}`).join("; ");
        const waitingFor = pending.map((p) => `deployment "${p.target.deployment}"`).join(", ");
        finish({
          err: new RolloutFailed({
            namespace,
            deployment: first?.target.deployment ?? "",
            ...(first?.target.endpoint !== undefined ? { endpoint: first.target.endpoint } : {}),
            reason: "Timeout" satisfies FailureReason,
            detail: `timed out after ${formatDuration(options.deadline - startedAt)} waiting for ${waitingFor || "the rollout"}, last state: ${state || "unknown"}`,
            timing: timing(startedAt, undefined, "deadline", now, now),
          }),
        });
      },
      Math.max(0, options.deadline - Date.now()),
    );
  });
}

function timing(
  startedAt: number,
  since: string | undefined,
  from: RolloutTiming["clusterKnewFrom"] | undefined,
  receivedAt: number,
  noticedAt: number,
): RolloutTiming {
  const at = since !== undefined ? Date.parse(since) : Number.NaN;
  const known = !Number.isNaN(at);
  return {
    startedAt: new Date(startedAt),
    clusterKnewAt: new Date(known ? at : receivedAt),
    clusterKnewFrom: known && from ? from : from === "deadline" ? "deadline" : "watch-arrival",
    receivedAt: new Date(receivedAt),
    noticedAt: new Date(noticedAt),
  };
}

/** 10m, 1m30s, 45s, 850ms — as a person reads a wait. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s || (!h && !m) ? `${s}s` : ""}`;
}

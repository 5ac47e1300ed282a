// The test cluster's kube-scheduler: binds each pending Pod (no spec.nodeName, schedulerName
// default-scheduler) to a Node whose allocatable resources still fit the Pod's requests and whose labels
// and taints the Pod accepts. A Pod that fits nowhere stays Pending with PodScheduled=False/Unschedulable,
// the real scheduler's FitError message and a FailedScheduling event; it is retried, after backoff, when
// something that could make room happens (a bound pod goes away or finishes, a Node changes), as the
// real scheduling queue moves unschedulable pods back. Behaviour follows kubernetes/pkg/scheduler
// (schedule_one.go, framework/types.go FitError, the default filter plugins NodeUnschedulable,
// TaintToleration, NodeAffinity and NodeResourcesFit, and DefaultPreemption's PostFilter message).
//
// Simpler than the real one, and said where: no scoring (the first feasible node by name wins), no
// preemption (pods carry no priorities here, so preemption would find no victims anyway), no
// inter-pod affinity, topology spread, host ports, volume or scheduling-gate plugins.

import type { IPod } from "kubernetes-models/v1/Pod";
import type { IPodCondition } from "kubernetes-models/v1/PodCondition";
import type { IResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import type { IToleration } from "kubernetes-models/v1/Toleration";
import { asKube, isConflict, isNotFound, nowIso, podKey, recordEvent } from "./controllers.js";
import type { Backoff } from "./node.js";
import type { Taint } from "./node-object.js";
import { parseQuantity } from "./quantity.js";
import type { KubeObject, Store } from "./store.js";

export const SCHEDULER_NAME = "default-scheduler";

/** kube-scheduler's defaults: podInitialBackoffSeconds 1, podMaxBackoffSeconds 10. */
const SCHEDULER_BACKOFF: Backoff = { baseMs: 1000, maxMs: 10_000 };
/** Unschedulable pods are retried at least this often (podMaxInUnschedulablePodsDuration, 5m). */
const MAX_UNSCHEDULABLE_MS = 5 * 60_000;

// ---- resources (NodeResourcesFit) ----------------------------------------------------------------

/** Quantities in the scheduler's units: cpu in millicores, everything else in whole units, rounded up. */
type Resources = Map<string, number>;

function roundUp(x: number): number {
  return Math.ceil(Number(x.toPrecision(12)));
}

function toResources(list: Record<string, string | number> | undefined): Resources {
  const out: Resources = new Map();
  for (const [name, q] of Object.entries(list ?? {})) {
    const v = parseQuantity(q);
    out.set(name, name === "cpu" ? roundUp(v * 1000) : roundUp(v));
  }
  return out;
}

function add(into: Resources, more: Resources): void {
  for (const [k, v] of more) into.set(k, (into.get(k) ?? 0) + v);
}

function max(into: Resources, other: Resources): void {
  for (const [k, v] of other) into.set(k, Math.max(into.get(k) ?? 0, v));
}

function requestsOf(r: IResourceRequirements | undefined): Resources {
  return toResources(r?.requests as Record<string, string | number> | undefined);
}

/**
 * What the pod asks of a node (component-helpers resource.PodRequests): the sum of its containers'
 * requests, raised to what any init container needs while it runs (restartable "sidecar" init
 * containers keep running, so they add to both), plus the pod overhead. Requests here are already
 * defaulted from limits where only limits were set (validate.ts).
 */
export function podRequests(pod: IPod): Resources {
  const reqs: Resources = new Map();
  for (const c of pod.spec?.containers ?? []) add(reqs, requestsOf(c.resources));
  const sidecars: Resources = new Map();
  const inits: Resources = new Map();
  for (const c of pod.spec?.initContainers ?? []) {
    const own = requestsOf(c.resources);
    if (c.restartPolicy === "Always") {
      add(reqs, own);
      add(sidecars, own);
      max(inits, sidecars);
    } else {
      const during = new Map(own);
      add(during, sidecars);
      max(inits, during);
    }
  }
  max(reqs, inits);
  add(reqs, toResources(pod.spec?.overhead as Record<string, string> | undefined));
  return reqs;
}

// ---- filters ---------------------------------------------------------------------------------------

type Code = "Unschedulable" | "UnschedulableAndUnresolvable";

/** A filter plugin's rejection of one node: its code decides whether preemption could help. */
export interface Rejection {
  readonly code: Code;
  readonly reasons: readonly string[];
}

interface NodeView {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: Taint[] };
  status?: { allocatable?: Record<string, string | number> };
}

/** v1helper.ToleratesTaint: an empty key with Exists tolerates everything; an empty effect any effect. */
export function tolerates(toleration: IToleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? "Equal") {
    case "Equal":
      return (toleration.value ?? "") === (taint.value ?? "");
    case "Exists":
      return true;
    default:
      return false;
  }
}

/** Node affinity's required terms (component-helpers nodeaffinity): terms are ORed, expressions ANDed. */
function matchesNodeSelectorTerms(
  terms: readonly { matchExpressions?: Expr[]; matchFields?: Expr[] }[],
  node: NodeView,
): boolean {
  return terms.some((term) => {
    const exprs = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    // An empty term matches no objects.
    if (exprs.length === 0 && fields.length === 0) return false;
    const labels = node.metadata?.labels ?? {};
    const name = node.metadata?.name ?? "";
    return (
      exprs.every((e) => matchesExpression(e, labels[e.key])) &&
      fields.every((e) => e.key === "metadata.name" && matchesExpression(e, name))
    );
  });
}

interface Expr {
  key: string;
  operator: string;
  values?: string[];
}

function matchesExpression(e: Expr, value: string | undefined): boolean {
  const values = e.values ?? [];
  switch (e.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      const n = Number.parseInt(value ?? "", 10);
      const bound = Number.parseInt(values[0] ?? "", 10);
      if (!Number.isFinite(n) || !Number.isFinite(bound)) return false;
      return e.operator === "Gt" ? n > bound : n < bound;
    }
    default:
      return false;
  }
}

/**
 * The default filter plugins, in kube-scheduler's order (pkg/scheduler/apis/config/v1/default_plugins.go);
 * the first one that rejects the node decides, as RunFilterPlugins returns on the first failure.
 * `bound` are the non-terminal pods already bound to the node.
 */
export function filterNode(pod: IPod, node: NodeView, bound: readonly IPod[]): Rejection | undefined {
  const tolerations = pod.spec?.tolerations ?? [];
  // NodeUnschedulable (nodeunschedulable/node_unschedulable.go).
  const cordon: Taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };
  if (node.spec?.unschedulable && !tolerations.some((t) => tolerates(t, cordon))) {
    return { code: "UnschedulableAndUnresolvable", reasons: ["node(s) were unschedulable"] };
  }
  // TaintToleration (tainttoleration/taint_toleration.go): NoSchedule and NoExecute taints only.
  const untolerated = (node.spec?.taints ?? []).find(
    (t) =>
      (t.effect === "NoSchedule" || t.effect === "NoExecute") &&
      !tolerations.some((tol) => tolerates(tol, t)),
  );
  if (untolerated) {
    return {
      code: "UnschedulableAndUnresolvable",
      reasons: [`node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ""}}`],
    };
  }
  // NodeAffinity (nodeaffinity/node_affinity.go): spec.nodeSelector and the required affinity terms.
  const selector = pod.spec?.nodeSelector ?? {};
  const labels = node.metadata?.labels ?? {};
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const selectorOk = Object.entries(selector).every(([k, v]) => labels[k] === v);
  const affinityOk =
    required === undefined || matchesNodeSelectorTerms(required.nodeSelectorTerms as never[], node);
  if (!selectorOk || !affinityOk) {
    return {
      code: "UnschedulableAndUnresolvable",
      reasons: ["node(s) didn't match Pod's node affinity/selector"],
    };
  }
  // NodeResourcesFit (noderesources/fit.go fitsRequest): pod count first, then each requested resource.
  const allocatable = toResources(node.status?.allocatable);
  const reasons: string[] = [];
  if (bound.length + 1 > (allocatable.get("pods") ?? 0)) reasons.push("Too many pods");
  const want = podRequests(pod);
  const used: Resources = new Map();
  for (const p of bound) add(used, podRequests(p));
  for (const [name, amount] of want) {
    if (amount === 0 || name === "pods") continue;
    if (amount > (allocatable.get(name) ?? 0) - (used.get(name) ?? 0)) reasons.push(`Insufficient ${name}`);
  }
  if (reasons.length > 0) return { code: "Unschedulable", reasons };
  return undefined;
}

// ---- the message ---------------------------------------------------------------------------------

/** FitError.Error(): "0/N nodes are available: " + the sorted histogram of reasons + ".". */
function fitError(numNodes: number, reasonsPerNode: readonly (readonly string[])[]): string {
  const counts = new Map<string, number>();
  for (const reasons of reasonsPerNode) for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  const histogram = [...counts].map(([reason, n]) => `${n} ${reason}`).sort();
  return `0/${numNodes} nodes are available${histogram.length > 0 ? `: ${histogram.join(", ")}.` : ":"}`;
}

/**
 * The FailedScheduling message: the filter's FitError, then DefaultPreemption's PostFilter message
 * ("preemption: " + a FitError of its own). Nodes whose rejection cannot be resolved by removing pods
 * are "Preemption is not helpful for scheduling"; the others would be dry-run for victims, and with
 * every pod at the same priority (none carries one here) none is found.
 */
export function unschedulableMessage(pod: IPod, rejections: readonly Rejection[]): string {
  const first = fitError(
    rejections.length,
    rejections.map((r) => r.reasons),
  );
  if (pod.spec?.preemptionPolicy === "Never") {
    return `${first} preemption: not eligible due to preemptionPolicy=Never.`;
  }
  const second = fitError(
    rejections.length,
    rejections.map((r) =>
      r.code === "UnschedulableAndUnresolvable"
        ? ["Preemption is not helpful for scheduling"]
        : ["No preemption victims found for incoming pod"],
    ),
  );
  return `${first} preemption: ${second}`;
}

/** The scheduler truncates event notes to 1024 characters (schedule_one.go truncateMessage). */
function truncate(message: string): string {
  return message.length > 1024 ? `${message.slice(0, 1021)}...` : message;
}

// ---- the scheduler -------------------------------------------------------------------------------

export interface SchedulerOptions {
  readonly store: Store;
  /** Retry backoff per pod; kube-scheduler's 1s doubling to 10s by default. */
  readonly backoff?: Backoff;
}

interface Attempts {
  count: number;
  lastAttempt: number;
  /** What the last attempt saw of the pod (spec and labels), to tell its own status writes from real changes. */
  seen: string;
}

function pending(pod: IPod): boolean {
  return (
    !pod.spec?.nodeName &&
    pod.metadata?.deletionTimestamp === undefined &&
    (pod.spec?.schedulerName ?? SCHEDULER_NAME) === SCHEDULER_NAME
  );
}

function terminal(pod: IPod): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

function shape(pod: IPod): string {
  return JSON.stringify({ spec: pod.spec, labels: pod.metadata?.labels ?? {} });
}

export class Scheduler {
  private readonly store: Store;
  private readonly backoff: Backoff;
  private readonly active = new Set<string>();
  private readonly attempts = new Map<string, Attempts>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unwatch: (() => void)[] = [];
  private draining = false;
  private stopped = false;

  constructor(opts: SchedulerOptions) {
    this.store = opts.store;
    this.backoff = opts.backoff ?? SCHEDULER_BACKOFF;
  }

  start(): void {
    this.unwatch.push(
      this.store.watch("v1", "Pod", (ev) => {
        const pod = asKube<IPod>(ev.object);
        const key = podKey(pod);
        if (ev.type === "DELETED") {
          this.attempts.delete(key);
          this.active.delete(key);
          // A bound pod going away frees its node's resources (the AssignedPod/Delete cluster event).
          if (pod.spec?.nodeName) this.moveAllToActive();
          return;
        }
        if (pending(pod)) {
          const seen = this.attempts.get(key)?.seen;
          if (seen === undefined || seen !== shape(pod)) this.enqueue(key);
        } else if (pod.spec?.nodeName && terminal(pod)) {
          // A finished pod no longer counts against its node (the scheduler's informer drops terminal pods).
          this.moveAllToActive();
        }
      }),
    );
    // Any Node change (capacity, labels, taints, cordon) may make an unschedulable pod fit.
    this.unwatch.push(this.store.watch("v1", "Node", () => this.moveAllToActive()));
    const flush = setInterval(() => {
      const now = Date.now();
      for (const [key, a] of this.attempts)
        if (now - a.lastAttempt >= MAX_UNSCHEDULABLE_MS) this.enqueue(key);
    }, 30_000);
    flush.unref();
    this.timers.add(flush);
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unwatch) u();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.active.clear();
  }

  private moveAllToActive(): void {
    for (const key of this.attempts.keys()) this.enqueue(key);
  }

  /** Queues a pod, or (if it failed recently) schedules it for when its backoff ends. */
  private enqueue(key: string): void {
    if (this.stopped) return;
    const a = this.attempts.get(key);
    const wait =
      a === undefined
        ? 0
        : a.lastAttempt + Math.min(this.backoff.baseMs * 2 ** (a.count - 1), this.backoff.maxMs) - Date.now();
    if (wait > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.enqueue(key);
      }, wait);
      this.timers.add(t);
      return;
    }
    this.active.add(key);
    if (!this.draining) {
      this.draining = true;
      // Watch handlers run inside the store write that caused them: schedule on a later turn.
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.draining = false;
    if (this.stopped) return;
    // The active queue pops by priority, then by creation time (queuesort/priority_sort.go).
    const pods = [...this.active]
      .map((key) => {
        const i = key.indexOf("/");
        return this.store.get("v1", "Pod", key.slice(0, i), key.slice(i + 1));
      })
      .filter((p): p is KubeObject => p !== undefined)
      .map((p) => asKube<IPod>(p))
      .sort(
        (a, b) =>
          (b.spec?.priority ?? 0) - (a.spec?.priority ?? 0) ||
          (a.metadata?.creationTimestamp ?? "").localeCompare(b.metadata?.creationTimestamp ?? ""),
      );
    this.active.clear();
    for (const pod of pods) {
      try {
        this.scheduleOne(pod);
      } catch (e) {
        if (!isNotFound(e) && !isConflict(e)) console.error(`[test-scheduler] ${podKey(pod)}:`, e);
      }
    }
  }

  private scheduleOne(pod: IPod): void {
    const key = podKey(pod);
    if (!pending(pod)) {
      this.attempts.delete(key);
      return;
    }
    const nodes = this.store
      .list("v1", "Node")
      .map((n) => asKube<NodeView & { metadata: { name: string } }>(n));
    const rejections: Rejection[] = [];
    for (const node of nodes) {
      const bound = this.store
        .list("v1", "Pod", { fieldSelector: `spec.nodeName=${node.metadata.name}` })
        .map((p) => asKube<IPod>(p))
        .filter((p) => !terminal(p));
      const rejection = filterNode(pod, node, bound);
      if (rejection === undefined) {
        this.bind(pod, node.metadata.name);
        return;
      }
      rejections.push(rejection);
    }
    const message =
      nodes.length === 0 ? "no nodes available to schedule pods" : unschedulableMessage(pod, rejections);
    const prior = this.attempts.get(key);
    this.attempts.set(key, { count: (prior?.count ?? 0) + 1, lastAttempt: Date.now(), seen: shape(pod) });
    recordEvent(this.store, pod, "Warning", "FailedScheduling", truncate(message), SCHEDULER_NAME);
    this.setCondition(pod, { type: "PodScheduled", status: "False", reason: "Unschedulable", message });
  }

  private bind(pod: IPod, nodeName: string): void {
    const ns = pod.metadata?.namespace ?? "default";
    const name = pod.metadata?.name ?? "";
    this.store.bindPod(ns, name, nodeName, { uid: pod.metadata?.uid ?? "" });
    this.attempts.delete(podKey(pod));
    recordEvent(
      this.store,
      pod,
      "Normal",
      "Scheduled",
      `Successfully assigned ${ns}/${name} to ${nodeName}`,
      SCHEDULER_NAME,
    );
  }

  /** podutil.UpdatePodCondition: the transition time moves only when the status does. */
  private setCondition(
    pod: IPod,
    condition: Omit<IPodCondition, "lastTransitionTime" | "lastProbeTime">,
  ): void {
    const current = this.store.get("v1", "Pod", pod.metadata?.namespace, pod.metadata?.name ?? "");
    if (current === undefined || current.metadata.uid !== pod.metadata?.uid) return;
    const status = (current.status ?? {}) as { conditions?: IPodCondition[] };
    const conditions = [...(status.conditions ?? [])];
    const i = conditions.findIndex((c) => c.type === condition.type);
    const old = i >= 0 ? conditions[i] : undefined;
    const next: IPodCondition = {
      ...condition,
      lastProbeTime: null as unknown as string,
      lastTransitionTime:
        old?.lastTransitionTime !== undefined && old.status === condition.status
          ? old.lastTransitionTime
          : nowIso(),
    };
    if (i >= 0) conditions[i] = next;
    else conditions.push(next);
    current.status = { ...status, conditions };
    this.store.updateStatus(current, { fieldManager: "kube-scheduler" });
  }
}

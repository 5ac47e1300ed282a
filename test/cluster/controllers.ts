// The test cluster's kube-controller-manager: the Deployment controller (one ReplicaSet per pod template,
// RollingUpdate within maxSurge/maxUnavailable, Recreate, status and the Progressing/Available conditions
// as kubectl rollout status reads them), the ReplicaSet controller (creates and deletes Pods), Events, and
// the Service resolver the gateway uses. Behaviour follows kubernetes/pkg/controller/deployment (sync.go,
// rolling.go, recreate.go, progress.go, util/deployment_util.go); where this is simpler it says so.
//
// The store is synchronous and delivers watch events inside the write that caused them, so watch handlers
// here only enqueue keys; every reconcile runs later, reads fresh state and writes in one synchronous pass.

import { createHash, randomBytes } from "node:crypto";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IDeploymentCondition } from "kubernetes-models/apps/v1/DeploymentCondition";
import type { IDeploymentStatus } from "kubernetes-models/apps/v1/DeploymentStatus";
import type { IReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { IService } from "kubernetes-models/v1/Service";
import { matchesStructuredSelector } from "./selectors.js";
import { ApiError, deepEqual, type KubeObject, type Store, type WatchEvent } from "./store.js";

export type ClusterStore = Store;
export type { KubeObject };

// ---- small shared helpers (node.ts and gateway.ts use them too) ------------------------------------

/** The one trust boundary: store objects are schema-validated on write, so typed views of them are sound. */
export function asKube<T>(obj: KubeObject | unknown): T {
  return obj as T;
}

export function toKube(obj: object): KubeObject {
  return obj as KubeObject;
}

export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.status.code === 409;
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status.code === 404;
}

/** RFC 3339 with second precision, as Kubernetes serialises metav1.Time. */
export function nowIso(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

export function podKey(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (so every wait in a loop is bounded). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const eventNames = new Map<string, { name: string; namespace: string; count: number }>();

/**
 * Records a v1 Event about `obj`, counting repeats into one Event as the real event recorder does.
 * Events are best effort: a failure to record one never fails the caller.
 */
export function recordEvent(
  store: Store,
  obj: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string; uid?: string } },
  type: "Normal" | "Warning",
  reason: string,
  message: string,
  component: string,
): void {
  const meta = obj.metadata ?? {};
  const namespace = meta.namespace ?? "default";
  const now = nowIso();
  const dedupe = `${meta.uid ?? ""}|${type}|${reason}|${message}`;
  try {
    const seen = eventNames.get(dedupe);
    const existing = seen ? store.get("v1", "Event", seen.namespace, seen.name) : undefined;
    if (seen && existing) {
      seen.count++;
      store.update({ ...existing, count: seen.count, lastTimestamp: now });
      return;
    }
    const name = `${meta.name ?? "object"}.${randomBytes(8).toString("hex")}`;
    store.create(
      toKube({
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion ?? "v1",
          kind: obj.kind ?? "",
          name: meta.name ?? "",
          namespace,
          uid: meta.uid ?? "",
        },
        reason,
        message,
        type,
        source: { component, ...(component === "kubelet" ? { host: "slipway-test-node" } : {}) },
        reportingComponent: component,
        reportingInstance: component === "kubelet" ? "slipway-test-node" : "",
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      }),
    );
    eventNames.set(dedupe, { name, namespace, count: 1 });
  } catch {
    // Best effort, like client-go's recorder: a dropped event must not break reconciliation.
  }
}

// ---- work queue ----------------------------------------------------------------------------------

/** Serial, de-duplicating queue of object keys with delayed re-queues; stops cleanly. */
class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = false;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly sync: (key: string) => void,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    this.pending.add(key);
    if (!this.running) {
      this.running = true;
      setImmediate(() => this.drain());
    }
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.add(key);
    }, ms);
    this.timers.add(t);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
  }

  private drain(): void {
    // Bounded per turn so a hot loop cannot starve the event loop; the rest runs on the next turn.
    for (let i = 0; i < 100 && this.pending.size > 0 && !this.stopped; i++) {
      const key = this.pending.values().next().value;
      if (key === undefined) break;
      this.pending.delete(key);
      try {
        this.sync(key);
      } catch (e) {
        if (isConflict(e)) this.addAfter(key, 50);
        else console.error(`[${this.name}] sync ${key} failed:`, e);
      }
    }
    if (this.pending.size > 0 && !this.stopped) setImmediate(() => this.drain());
    else this.running = false;
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
}

function controllerOf(obj: KubeObject): { uid: string; kind: string; name: string } | undefined {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller === true);
  return ref ? { uid: ref.uid, kind: ref.kind, name: ref.name } : undefined;
}

// ---- pure Deployment arithmetic (deployment_util.go) -------------------------------------------

export type IntOrPercent = number | string | undefined;

/** intstr.GetScaledValueFromIntOrPercent: percentages of `total`, rounded up or down. */
export function scaledValue(v: IntOrPercent, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === "number") return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m?.[1]) {
    if (/^\d+$/.test(v)) return Number(v);
    throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(v)}`);
  }
  const scaled = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}

/** ResolveFenceposts: surge rounds up, unavailable rounds down, and both zero means unavailable 1. */
export function resolveFenceposts(maxSurge: IntOrPercent, maxUnavailable: IntOrPercent, desired: number) {
  const surge = scaledValue(maxSurge ?? 0, desired, true);
  let unavailable = scaledValue(maxUnavailable ?? 0, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

function replicasOf(d: IDeployment): number {
  return d.spec?.replicas ?? 1;
}

function isRolling(d: IDeployment): boolean {
  return (d.spec?.strategy?.type ?? "RollingUpdate") === "RollingUpdate";
}

function rollingParams(d: IDeployment): { maxSurge: IntOrPercent; maxUnavailable: IntOrPercent } {
  // The API server defaults both to 25%; an explicit value (even 0) wins.
  const ru = d.spec?.strategy?.rollingUpdate;
  return { maxSurge: ru?.maxSurge ?? "25%", maxUnavailable: ru?.maxUnavailable ?? "25%" };
}

/** MaxUnavailable(deployment): 0 unless rolling with replicas > 0; never above replicas. */
export function maxUnavailableOf(d: IDeployment): number {
  const replicas = replicasOf(d);
  if (!isRolling(d) || replicas === 0) return 0;
  const { maxSurge, maxUnavailable } = rollingParams(d);
  return Math.min(resolveFenceposts(maxSurge, maxUnavailable, replicas).unavailable, replicas);
}

function rsReplicas(rs: IReplicaSet): number {
  return rs.spec?.replicas ?? 1;
}

/** NewRSNewReplicas: how far the new ReplicaSet may grow now. */
export function newRSNewReplicas(d: IDeployment, allRSs: readonly IReplicaSet[], newRS: IReplicaSet): number {
  if (!isRolling(d)) return replicasOf(d);
  const replicas = replicasOf(d);
  const maxSurge = scaledValue(rollingParams(d).maxSurge, replicas, true);
  const current = allRSs.reduce((n, rs) => n + rsReplicas(rs), 0);
  const maxTotal = replicas + maxSurge;
  if (current >= maxTotal) return rsReplicas(newRS);
  const scaleUp = Math.min(maxTotal - current, replicas - rsReplicas(newRS));
  return rsReplicas(newRS) + scaleUp;
}

// Condition reasons, exactly as deployment_util.go names them.
export const REASON = {
  NewReplicaSetCreated: "NewReplicaSetCreated",
  FoundNewReplicaSet: "FoundNewReplicaSet",
  ReplicaSetUpdated: "ReplicaSetUpdated",
  NewReplicaSetAvailable: "NewReplicaSetAvailable",
  ProgressDeadlineExceeded: "ProgressDeadlineExceeded",
  MinimumReplicasAvailable: "MinimumReplicasAvailable",
  MinimumReplicasUnavailable: "MinimumReplicasUnavailable",
} as const;

function getCondition(status: IDeploymentStatus | undefined, type: string): IDeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** SetDeploymentCondition: same status and reason is a no-op; same status keeps lastTransitionTime. */
function setCondition(status: IDeploymentStatus, cond: IDeploymentCondition): void {
  const current = getCondition(status, cond.type);
  if (current && current.status === cond.status && current.reason === cond.reason) return;
  if (current?.lastTransitionTime && current.status === cond.status)
    cond.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== cond.type), cond];
}

function removeCondition(status: IDeploymentStatus, type: string): void {
  status.conditions = (status.conditions ?? []).filter((c) => c.type !== type);
}

function newCondition(
  type: string,
  status: "True" | "False",
  reason: string,
  message: string,
): IDeploymentCondition {
  const now = nowIso();
  return { type, status, reason, message, lastUpdateTime: now, lastTransitionTime: now };
}

// ---- Deployment controller -----------------------------------------------------------------------

const REVISION = "deployment.kubernetes.io/revision";
const HASH_LABEL = "pod-template-hash";
const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/**
 * pod-template-hash: a stable short hash of the template (+ collisionCount), in the same alphabet the real
 * one uses. The real controller uses FNV-32a over Go's struct dump; names differ, semantics do not.
 */
export function podTemplateHash(template: IPodTemplateSpec | undefined, collisionCount = 0): string {
  const digest = createHash("sha256")
    .update(JSON.stringify(canonical(template ?? {})))
    .update(String(collisionCount))
    .digest();
  let out = "";
  for (let i = 0; i < 10; i++) out += SAFE_ALPHABET[(digest[i] ?? 0) % SAFE_ALPHABET.length];
  return out;
}

/**
 * A template as Go's semantic equality sees it: keys sorted, and null, empty maps and empty lists dropped
 * (clients such as `kubectl rollout undo` send `creationTimestamp: null`, which decodes to the zero value).
 */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    const entries = Object.keys(v)
      .sort()
      .map((k) => [k, canonical((v as Record<string, unknown>)[k])] as const)
      .filter(([, x]) => !isEmpty(x));
    return Object.fromEntries(entries);
  }
  return v;
}

function isEmpty(x: unknown): boolean {
  if (x === null || x === undefined) return true;
  if (Array.isArray(x)) return x.length === 0;
  return typeof x === "object" && Object.keys(x).length === 0;
}

function templateWithoutHash(t: IPodTemplateSpec | undefined): unknown {
  const copy = structuredClone(t ?? {});
  if (copy.metadata?.labels) delete copy.metadata.labels[HASH_LABEL];
  return canonical(copy);
}

/**
 * What both controllers share: a work queue of "namespace/name" keys, the watches that fill it, and
 * stop(). A change to an owned object wakes its controller owner, as the real informers' handlers do.
 */
abstract class KeyedController {
  protected readonly queue: WorkQueue;
  private readonly unwatch: (() => void)[] = [];

  constructor(
    protected readonly store: Store,
    name: string,
  ) {
    this.queue = new WorkQueue(name, (key) => this.sync(key));
  }

  protected abstract sync(key: string): void;

  protected watch(apiVersion: string, kind: string, handler: (ev: WatchEvent) => void): void {
    this.unwatch.push(this.store.watch(apiVersion, kind, handler));
  }

  /** Queues the object's controller owner when it is of `kind`. */
  protected enqueueOwner(obj: KubeObject, kind: string): void {
    const owner = controllerOf(obj);
    if (owner?.kind === kind) this.queue.add(`${obj.metadata.namespace ?? ""}/${owner.name}`);
  }

  stop(): void {
    for (const u of this.unwatch) u();
    this.queue.stop();
  }
}

export class DeploymentController extends KeyedController {
  constructor(store: Store) {
    super(store, "deployment-controller");
  }

  start(): void {
    this.watch("apps/v1", "Deployment", (ev) => {
      if (ev.type !== "DELETED") this.queue.add(podKey(ev.object));
    });
    this.watch("apps/v1", "ReplicaSet", (ev) => this.enqueueOwner(ev.object, "Deployment"));
    // Recreate waits for old pods to be gone, so a pod's deletion wakes the Deployment owning its
    // ReplicaSet (found through owner references, as the real controller's getDeploymentForPod does).
    this.watch("v1", "Pod", (ev) => {
      if (ev.type !== "DELETED") return;
      const rsRef = controllerOf(ev.object);
      if (rsRef?.kind !== "ReplicaSet") return;
      const rs = this.store.get("apps/v1", "ReplicaSet", ev.object.metadata.namespace, rsRef.name);
      if (rs?.metadata.uid === rsRef.uid) this.enqueueOwner(rs, "Deployment");
    });
  }

  protected sync(key: string): void {
    const [ns, name] = splitKey(key);
    const obj = this.store.get("apps/v1", "Deployment", ns, name);
    if (!obj || obj.metadata.deletionTimestamp) return;
    let d = asKube<IDeployment>(obj);
    const uid = obj.metadata.uid;
    const owned = this.store
      .list("apps/v1", "ReplicaSet", { namespace: ns })
      .filter((rs) => controllerOf(rs)?.uid === uid)
      .map((rs) => asKube<IReplicaSet>(rs));
    const tmpl = templateWithoutHash(d.spec?.template);
    // FindNewReplicaSet: the oldest RS whose template equals the Deployment's, ignoring the hash label.
    let newRS = owned
      .filter((rs) => deepEqual(templateWithoutHash(rs.spec?.template), tmpl))
      .sort(byCreation)[0];
    const oldRSs = owned.filter((rs) => rs !== newRS);

    if (d.spec?.paused) {
      this.syncStatus(d, newRS, owned);
      return;
    }

    if (isRolling(d)) {
      if (!newRS) {
        const created = this.createNewRS(d, owned);
        d = created.d;
        newRS = created.rs;
      } else {
        d = this.syncRevision(d, newRS, owned);
      }
      const all = [...oldRSs, newRS];
      if (this.reconcileNewRS(d, all, newRS) || this.reconcileOldRSs(d, oldRSs, newRS)) {
        this.syncRolloutStatus(d, newRS);
        return;
      }
      this.cleanup(d, oldRSs);
      this.syncRolloutStatus(d, newRS);
      return;
    }

    // Recreate: old pods all gone before any new pod exists (recreate.go).
    const activeOld = oldRSs.filter((rs) => rsReplicas(rs) > 0);
    if (activeOld.length > 0) {
      for (const rs of activeOld) this.scaleRS(d, rs, 0);
      this.syncRolloutStatus(d, newRS);
      return;
    }
    const oldUids = new Set(oldRSs.map((rs) => rs.metadata?.uid));
    const oldPodsRunning = this.store.list("v1", "Pod", { namespace: ns }).some((p) => {
      const o = controllerOf(p);
      const phase = asKube<IPod>(p).status?.phase;
      return o !== undefined && oldUids.has(o.uid) && phase !== "Succeeded" && phase !== "Failed";
    });
    if (oldPodsRunning) {
      this.syncRolloutStatus(d, newRS);
      return;
    }
    if (!newRS) {
      const created = this.createNewRS(d, owned);
      d = created.d;
      newRS = created.rs;
    } else {
      d = this.syncRevision(d, newRS, owned);
    }
    if (rsReplicas(newRS) !== replicasOf(d)) this.scaleRS(d, newRS, replicasOf(d));
    this.cleanup(d, oldRSs);
    this.syncRolloutStatus(d, newRS);
  }

  private maxRevision(rss: readonly IReplicaSet[]): number {
    return rss.reduce((m, rs) => Math.max(m, Number(rs.metadata?.annotations?.[REVISION] ?? 0)), 0);
  }

  /** Keeps the Deployment's revision annotation equal to its new ReplicaSet's (and FoundNewReplicaSet). */
  private syncRevision(
    d: IDeployment,
    newRS: IReplicaSet,
    owned: readonly IReplicaSet[],
    justCreated = false,
  ): IDeployment {
    let rev = newRS.metadata?.annotations?.[REVISION];
    if (rev === undefined || Number(rev) < this.maxRevision(owned.filter((rs) => rs !== newRS))) {
      // A rollback to an older template makes that ReplicaSet the newest revision again.
      rev = String(this.maxRevision(owned) + 1);
      const rsObj = this.store.get(
        "apps/v1",
        "ReplicaSet",
        newRS.metadata?.namespace,
        newRS.metadata?.name ?? "",
      );
      if (rsObj) {
        rsObj.metadata.annotations = { ...rsObj.metadata.annotations, [REVISION]: rev };
        Object.assign(newRS, asKube<IReplicaSet>(this.store.update(rsObj)));
      }
    }
    let out = d;
    if (d.metadata?.annotations?.[REVISION] !== rev) {
      const live = this.store.get("apps/v1", "Deployment", d.metadata?.namespace, d.metadata?.name ?? "");
      if (live) {
        live.metadata.annotations = { ...live.metadata.annotations, [REVISION]: rev };
        out = asKube<IDeployment>(this.store.update(live));
      }
    }
    if (!justCreated && hasProgressDeadline(out) && !getCondition(out.status, "Progressing")) {
      const status = structuredClone(out.status ?? {});
      setCondition(
        status,
        newCondition(
          "Progressing",
          "True",
          REASON.FoundNewReplicaSet,
          `Found new replica set "${newRS.metadata?.name ?? ""}"`,
        ),
      );
      out = this.writeStatus(out, status);
    }
    return out;
  }

  private createNewRS(d: IDeployment, owned: readonly IReplicaSet[]): { d: IDeployment; rs: IReplicaSet } {
    const ns = d.metadata?.namespace ?? "default";
    const name = d.metadata?.name ?? "";
    const hash = podTemplateHash(d.spec?.template, d.status?.collisionCount ?? 0);
    const template = structuredClone(d.spec?.template ?? {});
    template.metadata = {
      ...template.metadata,
      labels: { ...template.metadata?.labels, [HASH_LABEL]: hash },
    };
    const selector = structuredClone(d.spec?.selector ?? {});
    selector.matchLabels = { ...selector.matchLabels, [HASH_LABEL]: hash };
    const revision = String(this.maxRevision(owned) + 1);
    const rs: IReplicaSet = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: `${name}-${hash}`,
        namespace: ns,
        labels: { ...template.metadata.labels },
        annotations: {
          [REVISION]: revision,
          "deployment.kubernetes.io/desired-replicas": String(replicasOf(d)),
          "deployment.kubernetes.io/max-replicas": String(
            replicasOf(d) + (isRolling(d) ? scaledValue(rollingParams(d).maxSurge, replicasOf(d), true) : 0),
          ),
        },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name,
            uid: d.metadata?.uid ?? "",
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas: 0,
        minReadySeconds: d.spec?.minReadySeconds ?? 0,
        selector,
        template,
      },
    };
    // The real controller sizes the new RS at creation; starting at 0 and scaling in the same synchronous
    // pass ends in the same objects and the same "Scaled up" event.
    const created = asKube<IReplicaSet>(
      this.store.create(toKube(rs), { fieldManager: "kube-controller-manager" }),
    );
    let out = this.syncRevision(d, created, [...owned, created], true);
    if (hasProgressDeadline(out)) {
      const status = structuredClone(out.status ?? {});
      const cond = newCondition(
        "Progressing",
        "True",
        REASON.NewReplicaSetCreated,
        `Created new replica set "${rs.metadata?.name ?? ""}"`,
      );
      removeCondition(status, "Progressing");
      setCondition(status, cond);
      out = this.writeStatus(out, status);
    }
    return { d: out, rs: created };
  }

  private scaleRS(d: IDeployment, rs: IReplicaSet, to: number): boolean {
    const from = rsReplicas(rs);
    if (from === to) return false;
    const live = this.store.get("apps/v1", "ReplicaSet", rs.metadata?.namespace, rs.metadata?.name ?? "");
    if (!live) return false;
    const next = asKube<IReplicaSet>(live);
    next.spec = { ...next.spec, replicas: to, selector: next.spec?.selector ?? {} };
    next.metadata = {
      ...next.metadata,
      annotations: {
        ...next.metadata?.annotations,
        "deployment.kubernetes.io/desired-replicas": String(replicasOf(d)),
      },
    };
    Object.assign(
      rs,
      asKube<IReplicaSet>(this.store.update(toKube(next), { fieldManager: "kube-controller-manager" })),
    );
    const verb = to > from ? "up" : "down";
    recordEvent(
      this.store,
      d,
      "Normal",
      "ScalingReplicaSet",
      `Scaled ${verb} replica set ${rs.metadata?.name ?? ""} from ${from} to ${to}`,
      "deployment-controller",
    );
    return true;
  }

  /** rolling.go reconcileNewReplicaSet. */
  private reconcileNewRS(d: IDeployment, all: readonly IReplicaSet[], newRS: IReplicaSet): boolean {
    const replicas = replicasOf(d);
    if (rsReplicas(newRS) === replicas) return false;
    if (rsReplicas(newRS) > replicas) return this.scaleRS(d, newRS, replicas);
    return this.scaleRS(d, newRS, newRSNewReplicas(d, all, newRS));
  }

  /** rolling.go reconcileOldReplicaSets: never below replicas - maxUnavailable available pods. */
  private reconcileOldRSs(d: IDeployment, oldRSs: readonly IReplicaSet[], newRS: IReplicaSet): boolean {
    const active = oldRSs.filter((rs) => rsReplicas(rs) > 0);
    const oldCount = active.reduce((n, rs) => n + rsReplicas(rs), 0);
    if (oldCount === 0) return false;
    const all = [...oldRSs, newRS];
    const allCount = all.reduce((n, rs) => n + rsReplicas(rs), 0);
    const minAvailable = replicasOf(d) - maxUnavailableOf(d);
    const newUnavailable = rsReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = allCount - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;

    // Unhealthy old replicas go first: removing them does not reduce availability.
    let cleaned = 0;
    for (const rs of [...active].sort(byCreation)) {
      if (cleaned >= maxScaledDown) break;
      const unhealthy = rsReplicas(rs) - (rs.status?.availableReplicas ?? 0);
      if (unhealthy <= 0) continue;
      const n = Math.min(maxScaledDown - cleaned, unhealthy);
      this.scaleRS(d, rs, rsReplicas(rs) - n);
      cleaned += n;
    }

    // Then healthy ones, as far as availability allows.
    const available = all.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
    let scaledDown = 0;
    if (available > minAvailable) {
      const total = available - minAvailable;
      for (const rs of [...active].sort(byCreation)) {
        if (scaledDown >= total) break;
        if (rsReplicas(rs) === 0) continue;
        const n = Math.min(rsReplicas(rs), total - scaledDown);
        this.scaleRS(d, rs, rsReplicas(rs) - n);
        scaledDown += n;
      }
    }
    return cleaned + scaledDown > 0;
  }

  /** cleanupDeployment: keep at most revisionHistoryLimit (default 10) scaled-down old ReplicaSets. */
  private cleanup(d: IDeployment, oldRSs: readonly IReplicaSet[]): void {
    const limit = d.spec?.revisionHistoryLimit ?? 10;
    const idle = oldRSs
      .filter((rs) => rsReplicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0)
      .sort(byCreation);
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
      this.store.delete("apps/v1", "ReplicaSet", rs.metadata?.namespace, rs.metadata?.name ?? "");
    }
  }

  /** sync.go calculateStatus: counts from the ReplicaSets' status, Available from maxUnavailable. */
  private calculateStatus(
    d: IDeployment,
    newRS: IReplicaSet | undefined,
    all: readonly IReplicaSet[],
  ): IDeploymentStatus {
    const sum = (f: (rs: IReplicaSet) => number) => all.reduce((n, rs) => n + f(rs), 0);
    const available = sum((rs) => rs.status?.availableReplicas ?? 0);
    const total = sum(rsReplicas);
    const status: IDeploymentStatus = {
      observedGeneration: d.metadata?.generation ?? 1,
      replicas: sum((rs) => rs.status?.replicas ?? 0),
      updatedReplicas: newRS?.status?.replicas ?? 0,
      readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      conditions: structuredClone(d.status?.conditions ?? []),
    };
    if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
    if (available >= replicasOf(d) - maxUnavailableOf(d)) {
      setCondition(
        status,
        newCondition(
          "Available",
          "True",
          REASON.MinimumReplicasAvailable,
          "Deployment has minimum availability.",
        ),
      );
    } else {
      setCondition(
        status,
        newCondition(
          "Available",
          "False",
          REASON.MinimumReplicasUnavailable,
          "Deployment does not have minimum availability.",
        ),
      );
    }
    return status;
  }

  private syncStatus(d: IDeployment, newRS: IReplicaSet | undefined, owned: readonly IReplicaSet[]): void {
    const status = this.calculateStatus(d, newRS, owned);
    if (!deepEqual(status, d.status ?? {})) this.writeStatus(d, status);
  }

  /** progress.go syncRolloutStatus, including the progress-deadline re-check the real one schedules. */
  private syncRolloutStatus(d: IDeployment, newRS: IReplicaSet | undefined): void {
    const ns = d.metadata?.namespace ?? "default";
    const all = this.store
      .list("apps/v1", "ReplicaSet", { namespace: ns })
      .filter((rs) => controllerOf(rs)?.uid === d.metadata?.uid)
      .map((rs) => asKube<IReplicaSet>(rs));
    const fresh = newRS ? all.find((rs) => rs.metadata?.uid === newRS.metadata?.uid) : undefined;
    const status = this.calculateStatus(d, fresh, all);
    const replicas = replicasOf(d);
    if (!hasProgressDeadline(d)) removeCondition(status, "Progressing");
    const current = getCondition(d.status, "Progressing");
    const isComplete =
      status.replicas === status.updatedReplicas && current?.reason === REASON.NewReplicaSetAvailable;
    if (hasProgressDeadline(d) && !isComplete) {
      const rsName = fresh?.metadata?.name;
      if (deploymentComplete(d, status, replicas)) {
        const msg = rsName
          ? `ReplicaSet "${rsName}" has successfully progressed.`
          : `Deployment "${d.metadata?.name ?? ""}" has successfully progressed.`;
        setCondition(status, newCondition("Progressing", "True", REASON.NewReplicaSetAvailable, msg));
      } else if (deploymentProgressing(d, status)) {
        const msg = rsName
          ? `ReplicaSet "${rsName}" is progressing.`
          : `Deployment "${d.metadata?.name ?? ""}" is progressing.`;
        const cond = newCondition("Progressing", "True", REASON.ReplicaSetUpdated, msg);
        if (current?.status === "True" && current.lastTransitionTime)
          cond.lastTransitionTime = current.lastTransitionTime;
        removeCondition(status, "Progressing");
        setCondition(status, cond);
      } else if (deploymentTimedOut(d, status)) {
        const msg = rsName
          ? `ReplicaSet "${rsName}" has timed out progressing.`
          : `Deployment "${d.metadata?.name ?? ""}" has timed out progressing.`;
        setCondition(status, newCondition("Progressing", "False", REASON.ProgressDeadlineExceeded, msg));
      }
    }
    const written = deepEqual(d.status ?? {}, status) ? d : this.writeStatus(d, status);
    this.requeueStuck(written, status);
  }

  private requeueStuck(d: IDeployment, status: IDeploymentStatus): void {
    const cond = getCondition(d.status, "Progressing");
    if (!hasProgressDeadline(d) || !cond) return;
    if (deploymentComplete(d, status, replicasOf(d)) || cond.reason === REASON.ProgressDeadlineExceeded)
      return;
    const deadline =
      Date.parse(cond.lastUpdateTime ?? nowIso()) + (d.spec?.progressDeadlineSeconds ?? 600) * 1000;
    this.queue.addAfter(podKey(d), Math.max(0, deadline - Date.now()) + 1000);
  }

  private writeStatus(d: IDeployment, status: IDeploymentStatus): IDeployment {
    const live = this.store.get("apps/v1", "Deployment", d.metadata?.namespace, d.metadata?.name ?? "");
    if (!live) return d;
    live.status = status;
    return asKube<IDeployment>(this.store.updateStatus(live, { fieldManager: "kube-controller-manager" }));
  }
}

function hasProgressDeadline(d: IDeployment): boolean {
  // The API server defaults progressDeadlineSeconds to 600; MaxInt32 means "no deadline".
  const s = d.spec?.progressDeadlineSeconds ?? 600;
  return s !== 2147483647;
}

function deploymentComplete(d: IDeployment, s: IDeploymentStatus, replicas: number): boolean {
  return (
    s.updatedReplicas === replicas &&
    s.replicas === replicas &&
    s.availableReplicas === replicas &&
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1)
  );
}

function deploymentProgressing(d: IDeployment, s: IDeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

function deploymentTimedOut(d: IDeployment, s: IDeploymentStatus): boolean {
  if (!hasProgressDeadline(d)) return false;
  const cond = getCondition(s, "Progressing");
  if (!cond || cond.reason === REASON.NewReplicaSetAvailable) return false;
  if (cond.reason === REASON.ProgressDeadlineExceeded) return true;
  const from = Date.parse(cond.lastUpdateTime ?? nowIso());
  return from + (d.spec?.progressDeadlineSeconds ?? 600) * 1000 < Date.now();
}

function byCreation(a: { metadata?: { creationTimestamp?: string; name?: string } }, b: typeof a): number {
  const ta = a.metadata?.creationTimestamp ?? "";
  const tb = b.metadata?.creationTimestamp ?? "";
  return ta === tb ? (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "") : ta.localeCompare(tb);
}

// ---- ReplicaSet controller -----------------------------------------------------------------------

function podReady(p: IPod): { ready: boolean; since: number } {
  const c = p.status?.conditions?.find((x) => x.type === "Ready");
  return { ready: c?.status === "True", since: Date.parse(c?.lastTransitionTime ?? nowIso()) };
}

function isActive(p: IPod): boolean {
  return !p.metadata?.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed";
}

/** controller.ActivePods ordering: the pods to delete first come first. */
function deletionRank(a: IPod, b: IPod): number {
  const order: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
  const phaseRank = (p: IPod) => order[p.status?.phase ?? "Pending"] ?? 0;
  if (phaseRank(a) !== phaseRank(b)) return phaseRank(a) - phaseRank(b);
  const ra = podReady(a);
  const rb = podReady(b);
  if (ra.ready !== rb.ready) return ra.ready ? 1 : -1;
  if (ra.ready && rb.ready && ra.since !== rb.since) return rb.since - ra.since;
  const restarts = (p: IPod) =>
    Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount));
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  return -byCreation(a, b);
}

export class ReplicaSetController extends KeyedController {
  constructor(store: Store) {
    super(store, "replicaset-controller");
  }

  start(): void {
    this.watch("apps/v1", "ReplicaSet", (ev) => {
      if (ev.type !== "DELETED") this.queue.add(podKey(ev.object));
    });
    this.watch("v1", "Pod", (ev) => this.enqueueOwner(ev.object, "ReplicaSet"));
  }

  protected sync(key: string): void {
    const [ns, name] = splitKey(key);
    const obj = this.store.get("apps/v1", "ReplicaSet", ns, name);
    if (!obj || obj.metadata.deletionTimestamp) return;
    const rs = asKube<IReplicaSet>(obj);
    const owned = () =>
      this.store
        .list("v1", "Pod", { namespace: ns })
        .filter((p) => controllerOf(p)?.uid === obj.metadata.uid)
        .map((p) => asKube<IPod>(p))
        .filter(isActive);
    const pods = owned();
    const want = rsReplicas(rs);
    if (pods.length < want) {
      for (let i = pods.length; i < want; i++) this.createPod(rs);
    } else if (pods.length > want) {
      for (const p of [...pods].sort(deletionRank).slice(0, pods.length - want)) {
        this.store.delete("v1", "Pod", ns, p.metadata?.name ?? "");
        recordEvent(
          this.store,
          rs,
          "Normal",
          "SuccessfulDelete",
          `Deleted pod: ${p.metadata?.name ?? ""}`,
          "replicaset-controller",
        );
      }
    }
    const now = owned();
    const minReady = (rs.spec?.minReadySeconds ?? 0) * 1000;
    const templateLabels = rs.spec?.template?.metadata?.labels ?? {};
    let ready = 0;
    let available = 0;
    let nextAvailableIn = Number.POSITIVE_INFINITY;
    for (const p of now) {
      const r = podReady(p);
      if (!r.ready) continue;
      ready++;
      const wait = r.since + minReady - Date.now();
      if (minReady === 0 || wait <= 0) available++;
      else nextAvailableIn = Math.min(nextAvailableIn, wait);
    }
    const status: NonNullable<IReplicaSet["status"]> = {
      replicas: now.length,
      fullyLabeledReplicas: now.filter((p) =>
        Object.entries(templateLabels).every(([k, v]) => p.metadata?.labels?.[k] === v),
      ).length,
      readyReplicas: ready,
      availableReplicas: available,
      observedGeneration: obj.metadata.generation ?? 1,
    };
    if (!deepEqual(status, rs.status ?? {})) {
      const live = this.store.get("apps/v1", "ReplicaSet", ns, name);
      if (live) {
        live.status = status;
        this.store.updateStatus(live, { fieldManager: "kube-controller-manager" });
      }
    }
    if (Number.isFinite(nextAvailableIn)) this.queue.addAfter(key, nextAvailableIn + 50);
  }

  private createPod(rs: IReplicaSet): void {
    const template = rs.spec?.template ?? {};
    const pod: IPod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        generateName: `${rs.metadata?.name ?? ""}-`,
        namespace: rs.metadata?.namespace ?? "default",
        labels: { ...template.metadata?.labels },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: rs.metadata?.name ?? "",
            uid: rs.metadata?.uid ?? "",
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: structuredClone(template.spec ?? { containers: [] }),
    };
    const created = this.store.create(toKube(pod), { fieldManager: "kube-controller-manager" });
    recordEvent(
      this.store,
      rs,
      "Normal",
      "SuccessfulCreate",
      `Created pod: ${created.metadata.name}`,
      "replicaset-controller",
    );
  }
}

// ---- Services --------------------------------------------------------------------------------------

export interface PodPortForwarder {
  forward(namespace: string, pod: string, port: number): Promise<number | undefined>;
}

/** One endpoint of a Service port, with the conditions an EndpointSlice would give it. */
export interface ServiceEndpoint {
  readonly pod: string;
  readonly containerPort: number;
  /** The pod is Ready and not terminating: the only endpoints traffic is sent to. */
  readonly ready: boolean;
  /** The pod's Ready condition, whether or not it is terminating. */
  readonly serving: boolean;
  readonly terminating: boolean;
}

/**
 * The endpoints of Service `ns/name` at service port `port`, as the EndpointSlice controller derives them
 * (https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/#conditions): every pod the
 * selector matches that is not in a terminal phase; `ready` mirrors the pod's Ready condition but is never
 * true for a terminating pod (deletionTimestamp set), `serving` is Ready regardless, `terminating` says
 * the pod is being deleted. Undefined when the Service (or that port on it) does not exist, so callers can
 * tell "BackendNotFound" from "no endpoints" (an empty list). The test cluster serves no EndpointSlice
 * objects: every pod here has the loopback address, which EndpointSlice validation refuses.
 */
export function serviceEndpoints(
  store: Store,
  namespace: string,
  name: string,
  port: number,
): ServiceEndpoint[] | undefined {
  const obj = store.get("v1", "Service", namespace, name);
  if (!obj) return undefined;
  const svc = asKube<IService>(obj);
  const sp = svc.spec?.ports?.find((p) => p.port === port);
  if (!sp) return undefined;
  const selector = svc.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return [];
  const target = sp.targetPort ?? sp.port;
  const out: ServiceEndpoint[] = [];
  for (const p of store.list("v1", "Pod", { namespace }).map((o) => asKube<IPod>(o))) {
    const phase = p.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") continue;
    if (!matchesStructuredSelector({ matchLabels: selector }, p.metadata?.labels ?? {})) continue;
    const containerPort =
      typeof target === "number"
        ? target
        : p.spec?.containers.flatMap((c) => c.ports ?? []).find((cp) => cp.name === target)?.containerPort;
    if (containerPort === undefined) continue;
    const serving = podReady(p).ready;
    const terminating = p.metadata?.deletionTimestamp !== undefined;
    out.push({
      pod: p.metadata?.name ?? "",
      containerPort,
      ready: serving && !terminating,
      serving,
      terminating,
    });
  }
  return out;
}

/**
 * The in-process Service resolver: the ready endpoints of `ns/name` at service port `port`, each as a
 * 127.0.0.1:<forwarded port> address (the control plane's view, with no propagation delay).
 */
export async function resolveService(
  store: Store,
  node: PodPortForwarder,
  namespace: string,
  name: string,
  port: number,
): Promise<string[] | undefined> {
  const endpoints = serviceEndpoints(store, namespace, name, port);
  if (endpoints === undefined) return undefined;
  const out: string[] = [];
  for (const e of endpoints.filter((x) => x.ready)) {
    const hostPort = await node.forward(namespace, e.pod, e.containerPort);
    if (hostPort !== undefined) out.push(`127.0.0.1:${hostPort}`);
  }
  return out;
}

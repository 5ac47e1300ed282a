// The test cluster's one node (its "kubelet"): every Pod bound to the store becomes real containers on the
// local Docker engine. Owns the pod sandbox (a busybox "pause" container holding the pod's own network
// namespace), image pulls with ErrImagePull/ImagePullBackOff, container start/restart with CrashLoopBackOff,
// httpGet/tcpSocket/exec probes, Pod status, container logs, and port forwarding into the pod's namespace.
// Volumes (volumes.ts) are set up before the sandbox, as kubelet waits for them, and bind-mounted into
// every container; init containers run one after another to completion before the app containers start.
// A pod whose deletion has started is terminated as kubelet does it (preStop, the stop signal, SIGKILL at
// the end of the grace period, a terminal phase), and only then is its API object removed.
//
// Reaching a pod: Docker here has only host/none networks, so each sandbox runs with `none` (loopback only).
// Per pod we start one relay process inside the sandbox's network namespace (`nsenter --net`), listening on
// a unix socket on the host filesystem (unix sockets are not bound to a network namespace). A connection
// names the port it wants in its first line; the relay dials 127.0.0.1:<port> inside the pod. `forward()`
// puts a host 127.0.0.1 ephemeral TCP port in front of that, like `kubectl port-forward`. No traffic ever
// leaves loopback.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, realpathSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { totalmem } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import type Docker from "dockerode";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IContainerState } from "kubernetes-models/v1/ContainerState";
import type { IContainerStatus } from "kubernetes-models/v1/ContainerStatus";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IPodCondition } from "kubernetes-models/v1/PodCondition";
import type { IProbe } from "kubernetes-models/v1/Probe";
import {
  asKube,
  type ClusterStore,
  isConflict,
  isNotFound,
  nowIso,
  podKey,
  recordEvent,
  sleep,
} from "./controllers.js";
import { parseQuantity } from "./quantity.js";
import { badRequest } from "./store.js";
import {
  type HostVolume,
  type ObjectLookup,
  projectedSources,
  setUpVolumes,
  VolumeMountError,
} from "./volumes.js";

export const NODE_NAME = "slipway-test-node";
/** Every container this node creates carries this label (value: the cluster id), so cleanup finds them all. */
export const CLUSTER_LABEL = "io.slipway.test-cluster";

export interface Backoff {
  /** First delay; doubles per consecutive failure. */
  readonly baseMs: number;
  readonly maxMs: number;
}

export interface NodeOptions {
  readonly docker: Docker;
  readonly store: ClusterStore;
  /** Image for the pod sandbox ("pause") container: any image with a `sleep` on PATH (busybox). */
  readonly pauseImage: string;
  readonly clusterId: string;
  /** Directory for the per-pod relay sockets. */
  readonly runDir: string;
  /** CrashLoopBackOff schedule; kubelet's is 10s doubling to 300s. */
  readonly restartBackoff?: Backoff;
  /** ImagePullBackOff schedule; kubelet's is 10s doubling to 300s. */
  readonly pullBackoff?: Backoff;
  /** Retry schedule for volumes that cannot be set up (FailedMount); kubelet's is 500ms doubling to 2m2s. */
  readonly mountBackoff?: Backoff;
  /** Where each pod's volumes live on the host (one directory per pod uid); `<runDir>/volumes` if omitted. */
  readonly volumeDir?: string;
}

export interface LogOptions {
  readonly container?: string;
  readonly previous?: boolean;
  readonly tailLines?: number;
  readonly timestamps?: boolean;
  readonly sinceSeconds?: number;
  readonly limitBytes?: number;
}

const KUBELET_BACKOFF: Backoff = { baseMs: 10_000, maxMs: 300_000 };
/** kubelet's minimumGracePeriodInSeconds: the least time a container gets between its stop signal and SIGKILL. */
const MINIMUM_GRACE_SECONDS = 2;
const KUBELET_MOUNT_BACKOFF: Backoff = { baseMs: 500, maxMs: 122_000 };

// The relay that runs inside a pod's network namespace. Protocol: first line is "<port>" (pipe a stream to
// 127.0.0.1:<port>) or "?<port>" (answer "ok\n" once connected, for tcpSocket probes). Plain CommonJS so
// `node -e` runs it without files.
const RELAY_SCRIPT = `
const net = require("node:net"), fs = require("node:fs");
const sock = process.argv[1];
try { fs.unlinkSync(sock); } catch {}
const server = net.createServer((c) => {
  let head = Buffer.alloc(0);
  c.on("error", () => c.destroy());
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const nl = head.indexOf(10);
    if (nl < 0) { if (head.length > 16) c.destroy(); return; }
    c.off("data", onData);
    c.pause();
    const line = head.subarray(0, nl).toString();
    const rest = head.subarray(nl + 1);
    const probe = line.startsWith("?");
    const up = net.connect(Number(probe ? line.slice(1) : line), "127.0.0.1");
    up.on("error", () => { up.destroy(); c.destroy(); });
    up.on("connect", () => {
      if (probe) { c.end("ok\\n"); up.destroy(); return; }
      if (rest.length > 0) up.write(rest);
      c.pipe(up); up.pipe(c); c.resume();
    });
  };
  c.on("data", onData);
});
server.listen(sock, () => process.stdout.write("ready\\n"));
// stdin is a pipe from the node process: when that process dies, so does the relay.
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
`;

interface ContainerRun {
  readonly spec: IContainer;
  /** An init container; `sidecar` when it is a restartable one (restartPolicy: Always). */
  readonly init: boolean;
  readonly sidecar: boolean;
  /** Its startup probe has succeeded (what a sidecar waits for before the next init container). */
  startupPassed: boolean;
  state: IContainerState;
  lastState: IContainerState;
  restartCount: number;
  ready: boolean;
  started: boolean;
  imageID: string;
  containerID: string;
  /** Docker ids of the current and the previous instance (kept for `logs --previous`). */
  currentDockerId?: string;
  previousDockerId?: string;
  /** Aborted when the current instance exits: ends its probes and interrupts its preStop hook. */
  instance?: AbortController;
}

/** One pod's runtime: sandbox, relay, containers and their loops. Stopped by `abort`. */
class PodRuntime {
  /** Aborted when the runtime is torn down: everything stops at once. */
  readonly abort = new AbortController();
  /**
   * Aborted when the pod's deletion starts (and at teardown): nothing is pulled, started or restarted any
   * more, and liveness and startup probes stop; running containers are stopped by `terminate`.
   */
  readonly stopping = new AbortController();
  /** Set when graceful termination starts: when (ms) and with which grace period (seconds). */
  termination?: { readonly startedMs: number; readonly graceSeconds: number };
  /** The pod's whole run (runPod), awaited by termination once it has stopped the containers. */
  running?: Promise<void>;
  /** Container stops in flight, by Docker id: a container is stopped once, whoever asks. */
  readonly kills = new Map<string, Promise<void>>();
  /** Docker volumes created for the pod (memory-backed emptyDirs), removed with it. */
  readonly dockerVolumes = new Map<string, string>();
  readonly containers: ContainerRun[];
  readonly initContainers: ContainerRun[];
  /** The pod's volumes on the host, once set up. */
  volumes?: Map<string, HostVolume>;
  readonly volumeDir: string;
  sandboxId?: string;
  relay?: ChildProcess;
  socketPath: string;
  readonly forwards = new Map<number, Promise<net.Server>>();
  /** Sidecar (restartable init container) loops, awaited with the app containers. */
  readonly sidecarRuns: Promise<void>[] = [];
  readonly conditionTimes = new Map<string, string>();
  readonly startTime = nowIso();
  private writing = false;
  private dirty = false;
  /** Set by termination once every container has stopped: the status may show the terminal phase. */
  terminated = false;

  constructor(
    readonly node: TestNode,
    public pod: IPod,
  ) {
    const spec = pod.spec;
    this.socketPath = join(node.runDir, `${pod.metadata?.uid ?? randomBytes(4).toString("hex")}.sock`);
    this.volumeDir = join(node.volumeDir, pod.metadata?.uid ?? randomBytes(4).toString("hex"));
    // kubelet's default state for a container it has not started: PodInitializing once a pod has init
    // containers (for those too), ContainerCreating otherwise.
    const initial = (spec?.initContainers ?? []).length > 0 ? "PodInitializing" : "ContainerCreating";
    const run = (c: IContainer, init: boolean): ContainerRun => ({
      spec: c,
      init,
      sidecar: init && c.restartPolicy === "Always",
      startupPassed: false,
      state: { waiting: { reason: initial } },
      lastState: {},
      restartCount: 0,
      ready: false,
      started: false,
      imageID: "",
      containerID: "",
    });
    this.containers = (spec?.containers ?? []).map((c) => run(c, false));
    this.initContainers = (spec?.initContainers ?? []).map((c) => run(c, true));
  }

  get allRuns(): ContainerRun[] {
    return [...this.initContainers, ...this.containers];
  }

  get ns(): string {
    return this.pod.metadata?.namespace ?? "default";
  }
  get name(): string {
    return this.pod.metadata?.name ?? "";
  }

  /** Coalesced status write: at most one in flight, the last model state always lands. */
  publish(): void {
    if (this.abort.signal.aborted) return;
    this.dirty = true;
    if (this.writing) return;
    this.writing = true;
    void (async () => {
      try {
        while (this.dirty && !this.abort.signal.aborted) {
          this.dirty = false;
          this.writeStatus();
          await Promise.resolve();
        }
      } finally {
        this.writing = false;
      }
    })();
  }

  /** Writes the status now, even after teardown began (the last status kubelet reports before deleting). */
  writeStatus(): void {
    const store = this.node.store;
    // The store is synchronous: read-modify-write in one turn cannot conflict with another writer.
    const current = store.get("v1", "Pod", this.ns, this.name);
    if (current === undefined || current.metadata.uid !== this.pod.metadata?.uid) return;
    current.status = this.computeStatus();
    try {
      store.updateStatus(current, { fieldManager: "kubelet" });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private condition(type: string, ok: boolean): IPodCondition {
    const status = ok ? "True" : "False";
    const key = `${type}=${status}`;
    let at = this.conditionTimes.get(key);
    if (at === undefined) {
      at = nowIso();
      this.conditionTimes.set(key, at);
      this.conditionTimes.delete(`${type}=${ok ? "False" : "True"}`);
    }
    const c: IPodCondition = {
      type,
      status,
      lastProbeTime: null as unknown as string,
      lastTransitionTime: at,
    };
    if (!ok && (type === "Ready" || type === "ContainersReady")) {
      const notReady = [...this.initContainers.filter((r) => r.sidecar), ...this.containers]
        .filter((r) => !r.ready)
        .map((r) => r.spec.name);
      c.reason = "ContainersNotReady";
      c.message = `containers with unready status: [${notReady.join(" ")}]`;
    }
    if (!ok && type === "Initialized") {
      c.reason = "ContainersNotInitialized";
      c.message = `containers with incomplete status: [${this.incompleteInit().join(" ")}]`;
    }
    return c;
  }

  /** Init containers that have not yet done their part: exited 0, or (a sidecar) started. */
  private incompleteInit(): string[] {
    return this.initContainers.filter((r) => !initDone(r)).map((r) => r.spec.name);
  }

  /** True once every init container is done, or once an app container has ever started (kubelet's rule). */
  get initialized(): boolean {
    return this.incompleteInit().length === 0 || this.containers.some((c) => c.started || c.restartCount > 0);
  }

  computeStatus(): NonNullable<IPod["status"]> {
    const sidecars = this.initContainers.filter((c) => c.sidecar);
    const allReady =
      this.containers.length > 0 && this.containers.every((c) => c.ready) && sidecars.every((c) => c.ready);
    const policy = this.pod.spec?.restartPolicy ?? "Always";
    const everStarted = this.containers.every((c) => c.started || c.restartCount > 0);
    let phase: "Pending" | "Running" | "Succeeded" | "Failed" = everStarted ? "Running" : "Pending";
    const finished = this.containers.every(
      (c) => c.state.terminated !== undefined && !willRestart(policy, c.state.terminated.exitCode),
    );
    if (finished && policy !== "Always") {
      phase = this.containers.every((c) => c.state.terminated?.exitCode === 0) ? "Succeeded" : "Failed";
    }
    // A pod whose deletion has stopped every container ends in a terminal phase whatever its restart
    // policy: Succeeded if they all exited 0, else Failed (pod-lifecycle.md#pod-termination, step 5).
    const allStopped = this.allRuns.every((c) => c.state.running === undefined);
    if (this.termination !== undefined && allStopped && this.terminated) {
      phase = this.containers.every((c) => c.state.terminated?.exitCode === 0) ? "Succeeded" : "Failed";
    }
    // An init container that failed under restartPolicy Never fails the pod.
    const initFailed = this.initContainers.some(
      (c) => !c.sidecar && c.state.terminated !== undefined && c.state.terminated.exitCode !== 0,
    );
    if (initFailed && policy === "Never") phase = "Failed";
    const toStatus = (c: ContainerRun): IContainerStatus => {
      const s: IContainerStatus = {
        name: c.spec.name,
        image: c.spec.image ?? "",
        imageID: c.imageID,
        ready: c.ready,
        restartCount: c.restartCount,
        // Started only once the startup probe (if any) has succeeded, for this instance.
        started: c.state.running !== undefined && (c.spec.startupProbe === undefined || c.startupPassed),
        state: c.state,
        lastState: c.lastState,
      };
      if (c.containerID) s.containerID = c.containerID;
      return s;
    };
    const containerStatuses = this.containers.map(toStatus);
    return {
      phase,
      conditions: [
        this.condition("PodReadyToStartContainers", this.sandboxId !== undefined),
        this.condition("Initialized", this.initialized),
        this.condition("Ready", allReady),
        this.condition("ContainersReady", allReady),
        this.condition("PodScheduled", true),
      ],
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: "127.0.0.1",
      podIPs: [{ ip: "127.0.0.1" }],
      startTime: this.startTime,
      qosClass: qosClass(this.pod),
      ...(this.initContainers.length > 0 ? { initContainerStatuses: this.initContainers.map(toStatus) } : {}),
      containerStatuses,
    };
  }
}

function initDone(r: ContainerRun): boolean {
  if (r.sidecar) return r.started && (r.spec.startupProbe === undefined || r.startupPassed);
  return r.state.terminated?.exitCode === 0;
}

function willRestart(policy: string, exitCode: number): boolean {
  return policy === "Always" || (policy === "OnFailure" && exitCode !== 0);
}

function qosClass(pod: IPod): "BestEffort" | "Burstable" | "Guaranteed" {
  const cs = pod.spec?.containers ?? [];
  const any = cs.some(
    (c) =>
      Object.keys(c.resources?.requests ?? {}).length + Object.keys(c.resources?.limits ?? {}).length > 0,
  );
  if (!any) return "BestEffort";
  const guaranteed = cs.every((c) => {
    const l = c.resources?.limits ?? {};
    const r = c.resources?.requests ?? l;
    return (
      l.cpu !== undefined &&
      l.memory !== undefined &&
      String(r.cpu) === String(l.cpu) &&
      String(r.memory) === String(l.memory)
    );
  });
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** Kubernetes `$(VAR)` expansion: known names are replaced, `$$` escapes, unknown references stay as written. */
export function expandVars(input: string, env: ReadonlyMap<string, string>): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === "$$") return "$";
    return name !== undefined && env.has(name) ? (env.get(name) ?? "") : whole;
  });
}

/** Thrown while building a container's config; becomes waiting reason CreateContainerConfigError. */
class ConfigError extends Error {}

export class TestNode {
  readonly store: ClusterStore;
  readonly docker: Docker;
  readonly runDir: string;
  readonly volumeDir: string;
  private readonly pods = new Map<string, PodRuntime>();
  private readonly unwatch: (() => void)[] = [];
  private readonly restartBackoff: Backoff;
  private readonly pullBackoff: Backoff;
  private readonly mountBackoff: Backoff;
  private stopped = false;

  constructor(private readonly opts: NodeOptions) {
    this.store = opts.store;
    this.docker = opts.docker;
    this.runDir = opts.runDir;
    this.volumeDir = opts.volumeDir ?? join(opts.runDir, "volumes");
    this.restartBackoff = opts.restartBackoff ?? KUBELET_BACKOFF;
    this.pullBackoff = opts.pullBackoff ?? KUBELET_BACKOFF;
    this.mountBackoff = opts.mountBackoff ?? KUBELET_MOUNT_BACKOFF;
  }

  async start(): Promise<void> {
    mkdirSync(this.runDir, { recursive: true });
    mkdirSync(this.volumeDir, { recursive: true });
    this.unwatch.push(
      this.store.watch("v1", "Pod", (ev) => {
        const pod = asKube<IPod>(ev.object);
        // A deletion with a grace period sets deletionTimestamp and leaves the object for the kubelet to
        // terminate the pod and delete it again with 0; an object that is gone (force deletion, grace 0, or
        // a pod never bound to a node, which the API server deletes at once) has nothing left to wait for.
        // Only pods bound to this node (spec.nodeName, set by the scheduler or by their creator) are run.
        if (ev.type === "DELETED") void this.teardown(pod);
        else if (pod.metadata?.deletionTimestamp) this.startTermination(pod);
        else if (pod.spec?.nodeName === NODE_NAME) this.admit(pod);
      }),
    );
    // Mounted ConfigMaps and Secrets follow their objects, as kubelet's periodic sync makes them do.
    for (const kind of ["ConfigMap", "Secret"] as const) {
      this.unwatch.push(
        this.store.watch("v1", kind, (ev) => {
          const key = `${kind}/${ev.object.metadata.name ?? ""}`;
          const ns = ev.object.metadata.namespace ?? "default";
          for (const rt of this.pods.values()) {
            if (rt.volumes !== undefined && rt.ns === ns && projectedSources(rt.pod).has(key))
              setImmediate(() => this.refreshVolumes(rt));
          }
        }),
      );
    }
    // Only pods the scheduler bound to this node (or created with spec.nodeName) are this kubelet's.
    for (const obj of this.store.list("v1", "Pod", { fieldSelector: `spec.nodeName=${NODE_NAME}` })) {
      const pod = asKube<IPod>(obj);
      if (pod.metadata?.deletionTimestamp) this.startTermination(pod);
      else this.admit(pod);
    }
  }

  /** Removes every container and relay this node started; the node is unusable afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const unwatch of this.unwatch) unwatch();
    await Promise.all([...this.pods.values()].map((rt) => this.teardown(rt.pod)));
    await removeClusterContainers(this.docker, this.opts.clusterId);
    rmSync(this.runDir, { recursive: true, force: true });
    rmSync(this.volumeDir, { recursive: true, force: true });
  }

  private admit(pod: IPod): void {
    const uid = pod.metadata?.uid;
    if (this.stopped || uid === undefined) return;
    const rt = this.pods.get(uid);
    if (rt) {
      rt.pod = pod;
      return;
    }
    const runtime = new PodRuntime(this, pod);
    this.pods.set(uid, runtime);
    // Watch handlers run inside the store write that caused them: start work on a later turn.
    setImmediate(() => {
      // The Scheduled event is the scheduler's (scheduler.ts); a pod created with spec.nodeName has none.
      if (runtime.stopping.signal.aborted) return;
      runtime.running = this.runPod(runtime).catch((e: unknown) => {
        if (runtime.abort.signal.aborted) return;
        recordEvent(
          this.store,
          pod,
          "Warning",
          "FailedCreatePodSandBox",
          `Failed to create pod sandbox: ${errorMessage(e)}`,
          "kubelet",
        );
        console.error(`[test-node] pod ${podKey(pod)} failed:`, e);
      });
    });
  }

  private async teardown(pod: IPod): Promise<void> {
    const uid = pod.metadata?.uid;
    if (uid === undefined) return;
    const rt = this.pods.get(uid);
    if (!rt) return;
    this.pods.delete(uid);
    rt.stopping.abort();
    rt.abort.abort();
    for (const server of rt.forwards.values()) void server.then((s) => s.close()).catch(() => undefined);
    rt.relay?.kill("SIGKILL");
    const ids = rt.allRuns.flatMap((c) => [c.currentDockerId, c.previousDockerId]);
    await Promise.all(
      [...ids, rt.sandboxId]
        .filter((id): id is string => id !== undefined)
        .map((id) =>
          this.docker
            .getContainer(id)
            .remove({ force: true, v: true })
            .catch(() => undefined),
        ),
    );
    rmSync(rt.socketPath, { force: true });
    // emptyDir contents go with the pod, memory-backed ones with their Docker volume.
    rmSync(rt.volumeDir, { recursive: true, force: true });
    await Promise.all(
      [...rt.dockerVolumes.values()].map((name) =>
        this.docker
          .getVolume(name)
          .remove()
          .catch(() => undefined),
      ),
    );
  }

  /** Starts graceful termination once per pod; a pod this node never ran is deleted at once, as kubelet does. */
  private startTermination(pod: IPod): void {
    const uid = pod.metadata?.uid;
    const rt = uid === undefined ? undefined : this.pods.get(uid);
    if (rt === undefined) {
      // Nothing runs for it here: kubelet's status manager finds it can be deleted and does so.
      if (!this.stopped && pod.spec?.nodeName === NODE_NAME) setImmediate(() => this.finishDeletion(pod));
      return;
    }
    rt.pod = pod;
    if (rt.termination !== undefined) return;
    const grace = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    rt.termination = { startedMs: Date.now(), graceSeconds: grace };
    rt.stopping.abort();
    // Watch handlers run inside the store write that caused them: terminate on a later turn.
    setImmediate(() => {
      void this.terminate(rt).catch((e: unknown) => {
        if (!rt.abort.signal.aborted) console.error(`[test-node] terminating ${podKey(pod)} failed:`, e);
      });
    });
  }

  /**
   * Graceful termination, as kubelet does it (pod-lifecycle.md#pod-termination): every running container
   * is stopped (its preStop hook, then the stop signal, then SIGKILL when the grace period ends), regular
   * containers together and sidecars after them in reverse order; the pod reports its terminal phase,
   * its sandbox and volumes are removed, and kubelet deletes the object with grace period 0.
   */
  private async terminate(rt: PodRuntime): Promise<void> {
    const t = rt.termination;
    if (t === undefined) return;
    rt.publish();
    // The grace period counts from the start of the deletion, preStop hooks included.
    const remaining = () => Math.max(0, t.graceSeconds - Math.floor((Date.now() - t.startedMs) / 1000));
    const sidecars = rt.initContainers.filter((r) => r.sidecar);
    await Promise.all(
      [...rt.initContainers.filter((r) => !r.sidecar), ...rt.containers].map((r) =>
        this.stopRun(rt, r, remaining()),
      ),
    );
    // Sidecars stop once the regular containers have (KEP-753's termination ordering), last one first.
    for (const r of [...sidecars].reverse()) await this.stopRun(rt, r, remaining());
    await rt.running;
    if (rt.abort.signal.aborted) return; // torn down meanwhile (a forced deletion, or the node stopping)
    rt.terminated = true;
    rt.writeStatus();
    await this.teardown(rt.pod);
    this.finishDeletion(rt.pod);
  }

  /** Stops a container that is running, with `graceSeconds` left; resolves once it has exited. */
  private async stopRun(rt: PodRuntime, run: ContainerRun, graceSeconds: number): Promise<void> {
    const id = run.currentDockerId;
    if (id === undefined || run.state.running === undefined) return;
    await this.killContainer(rt, run, id, { graceSeconds });
  }

  /** kubelet's last step: delete the pod object with grace period 0, guarded by its uid. */
  private finishDeletion(pod: IPod): void {
    const uid = pod.metadata?.uid;
    try {
      this.store.delete("v1", "Pod", pod.metadata?.namespace, pod.metadata?.name ?? "", {
        gracePeriodSeconds: 0,
        ...(uid !== undefined ? { preconditions: { uid } } : {}),
      });
    } catch (e) {
      // Gone already, or a new pod of the same name: nothing of ours is left to delete.
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
  }

  private runtimeFor(ns: string, name: string): PodRuntime | undefined {
    for (const rt of this.pods.values()) if (rt.ns === ns && rt.name === name) return rt;
    return undefined;
  }

  /**
   * A host 127.0.0.1 port whose connections reach 127.0.0.1:<port> inside the pod (what `kubectl
   * port-forward` gives). Undefined while the pod has no sandbox.
   */
  async forward(ns: string, podName: string, port: number): Promise<number | undefined> {
    const rt = this.runtimeFor(ns, podName);
    if (rt?.relay === undefined) return undefined;
    let server = rt.forwards.get(port);
    if (!server) {
      server = listenForward(rt.socketPath, port);
      rt.forwards.set(port, server);
    }
    const addr = (await server).address();
    return typeof addr === "object" && addr !== null ? addr.port : undefined;
  }

  /** Container logs as the `pods/log` subresource returns them; unanswerable requests are 400s, as there. */
  async logs(ns: string, podName: string, opts: LogOptions = {}): Promise<string> {
    const rt = this.runtimeFor(ns, podName);
    if (!rt) throw badRequest(`pod "${podName}" is not running on this node`);
    const names = rt.containers.map((c) => c.spec.name);
    const name = opts.container ?? (names.length === 1 ? names[0] : undefined);
    if (name === undefined) {
      const inits = rt.initContainers.map((c) => c.spec.name);
      throw badRequest(
        `a container name must be specified for pod ${podName}, choose one of: [${names.join(" ")}]${inits.length > 0 ? ` or one of the init containers: [${inits.join(" ")}]` : ""}`,
      );
    }
    const run = rt.allRuns.find((c) => c.spec.name === name);
    if (!run) throw badRequest(`container ${name} is not valid for pod ${podName}`);
    const id = opts.previous ? run.previousDockerId : run.currentDockerId;
    if (id === undefined) {
      throw badRequest(
        opts.previous
          ? `previous terminated container "${name}" in pod "${podName}" not found`
          : `container "${name}" in pod "${podName}" is waiting to start: ${waitingMessage(run.state.waiting?.reason)}`,
      );
    }
    const raw = await this.docker.getContainer(id).logs({
      stdout: true,
      stderr: true,
      follow: false,
      timestamps: opts.timestamps ?? false,
      ...(opts.tailLines !== undefined ? { tail: opts.tailLines } : {}),
      ...(opts.sinceSeconds !== undefined
        ? { since: Math.floor(Date.now() / 1000) - opts.sinceSeconds }
        : {}),
    });
    const text = demuxDockerLog(raw);
    return opts.limitBytes !== undefined ? text.slice(0, opts.limitBytes) : text;
  }

  // ---- pod lifecycle -------------------------------------------------------------------------------

  private async runPod(rt: PodRuntime): Promise<void> {
    rt.publish();
    // kubelet waits for every volume before it creates the sandbox.
    if (!(await this.mountVolumes(rt))) return;
    await this.createDockerVolumes(rt);
    await this.ensureImage(rt, this.opts.pauseImage, "IfNotPresent");
    const sandbox = await this.docker.createContainer({
      Image: this.opts.pauseImage,
      Cmd: ["sleep", "2147483647"],
      Hostname: rt.name.slice(0, 63),
      Labels: this.labels(rt, "sandbox", "POD"),
      // The sandbox owns the namespaces the pod's containers join, as the pause container does. It also
      // holds the pod's memory-backed volumes, so they stay mounted while containers restart.
      HostConfig: {
        NetworkMode: "none",
        IpcMode: "shareable",
        AutoRemove: false,
        Mounts: [...rt.dockerVolumes].map(([volume, name]) =>
          volumeMount(name, `/slipway-volumes/${volume}`, false),
        ),
      },
      name: `slipway-${this.opts.clusterId}-${rt.ns}-${rt.name}-POD`,
    });
    rt.sandboxId = sandbox.id;
    if (rt.abort.signal.aborted) return void (await sandbox.remove({ force: true }).catch(() => undefined));
    await sandbox.start();
    const pid = (await sandbox.inspect()).State.Pid;
    rt.relay = await startRelay(pid, rt.socketPath);
    if (rt.abort.signal.aborted) rt.relay.kill("SIGKILL");
    rt.publish();
    if (rt.stopping.signal.aborted) return;
    if (!(await this.runInitContainers(rt))) return;
    const policy = rt.pod.spec?.restartPolicy ?? "Always";
    await Promise.all([...rt.sidecarRuns, ...rt.containers.map((c) => this.runContainer(rt, c, policy))]);
  }

  /** Sets up the pod's volumes, retrying with backoff and a FailedMount event per failure; false once the pod is gone. */
  private async mountVolumes(rt: PodRuntime): Promise<boolean> {
    const signal = rt.stopping.signal;
    for (let failures = 0; !signal.aborted; ) {
      try {
        rt.volumes = setUpVolumes(rt.pod, rt.volumeDir, this.lookup, totalmem());
        return !signal.aborted;
      } catch (e) {
        if (!(e instanceof VolumeMountError)) throw e;
        failures++;
        recordEvent(this.store, rt.pod, "Warning", "FailedMount", e.event, "kubelet");
        if (!(await sleep(backoffDelay(this.mountBackoff, failures), signal))) return false;
      }
    }
    return false;
  }

  /**
   * A Docker tmpfs volume per memory-backed emptyDir (`size=` as kubelet mounts it; the tmpfs root keeps
   * its 1777 mode because nothing is copied into it). One volume serves every container of the pod, and
   * the sandbox keeps it mounted, so its contents live as long as the pod, as an emptyDir's do.
   */
  private async createDockerVolumes(rt: PodRuntime): Promise<void> {
    for (const [volume, hv] of rt.volumes ?? []) {
      if (hv.tmpfsBytes === undefined || rt.dockerVolumes.has(volume)) continue;
      const name = `slipway-${this.opts.clusterId}-${rt.pod.metadata?.uid ?? ""}-${volume}`;
      rt.dockerVolumes.set(volume, name);
      await this.docker.createVolume({
        Name: name,
        Driver: "local",
        DriverOpts: { type: "tmpfs", device: "tmpfs", o: `size=${hv.tmpfsBytes}` },
        Labels: { [CLUSTER_LABEL]: this.opts.clusterId, "io.kubernetes.pod.uid": rt.pod.metadata?.uid ?? "" },
      });
    }
  }

  /** ConfigMaps and Secrets as the volume plugins read them (the store holds plain API objects). */
  private readonly lookup: ObjectLookup = (kind, ns, name) =>
    this.store.get("v1", kind, ns, name) as ReturnType<ObjectLookup>;

  /** Projects a running pod's configMap and secret volumes again after one of their objects changed. */
  private refreshVolumes(rt: PodRuntime): void {
    if (rt.abort.signal.aborted) return;
    try {
      rt.volumes = setUpVolumes(rt.pod, rt.volumeDir, this.lookup, totalmem());
    } catch (e) {
      if (!(e instanceof VolumeMountError)) throw e;
      // kubelet keeps the last good projection and reports the failure.
      recordEvent(this.store, rt.pod, "Warning", "FailedMount", e.event, "kubelet");
    }
  }

  /**
   * Runs the init containers in order, each to completion (a sidecar only until it has started) before
   * the next; false when the pod stops or an init container failed under restartPolicy Never.
   */
  private async runInitContainers(rt: PodRuntime): Promise<boolean> {
    const signal = rt.stopping.signal;
    // Under Always or OnFailure a failed init container is retried; under Never the pod fails.
    const policy = rt.pod.spec?.restartPolicy === "Never" ? "Never" : "OnFailure";
    for (const run of rt.initContainers) {
      if (run.sidecar) {
        const loop = this.runContainer(rt, run, "Always");
        loop.catch(() => undefined); // surfaced when runPod awaits it; never an unhandled rejection
        rt.sidecarRuns.push(loop);
        while (!initDone(run)) if (!(await sleep(100, signal))) return false;
        continue;
      }
      await this.runContainer(rt, run, policy);
      if (signal.aborted || run.state.terminated?.exitCode !== 0) return false;
    }
    rt.publish();
    return !signal.aborted;
  }

  private labels(rt: PodRuntime, role: string, container: string): Record<string, string> {
    return {
      [CLUSTER_LABEL]: this.opts.clusterId,
      "io.slipway.role": role,
      "io.kubernetes.pod.namespace": rt.ns,
      "io.kubernetes.pod.name": rt.name,
      "io.kubernetes.pod.uid": rt.pod.metadata?.uid ?? "",
      "io.kubernetes.container.name": container,
    };
  }

  /**
   * One container's whole life: pull, create, run, probe, restart with backoff, until the pod's deletion
   * starts (then the current instance runs until `terminate` stops it, and nothing starts again) or the
   * pod goes away.
   */
  private async runContainer(rt: PodRuntime, run: ContainerRun, policy: string): Promise<void> {
    const stopping = rt.stopping.signal;
    let crashes = 0;
    for (let attempt = 0; !stopping.aborted; attempt++) {
      const image = run.spec.image ?? "";
      if (!(await this.pullWithBackoff(rt, run, image))) return;
      let config: Docker.ContainerCreateOptions;
      try {
        config = await this.containerConfig(rt, run, attempt);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        run.state = { waiting: { reason: "CreateContainerConfigError", message: e.message } };
        rt.publish();
        recordEvent(this.store, rt.pod, "Warning", "Failed", `Error: ${e.message}`, "kubelet");
        if (!(await sleep(backoffDelay(this.pullBackoff, attempt + 1), stopping))) return;
        continue;
      }
      if (stopping.aborted) return;
      const container = await this.docker.createContainer(config);
      if (run.previousDockerId) {
        await this.docker
          .getContainer(run.previousDockerId)
          .remove({ force: true })
          .catch(() => undefined);
      }
      if (run.currentDockerId !== undefined) run.previousDockerId = run.currentDockerId;
      run.currentDockerId = container.id;
      // kubelet starts no container once the pod is terminating.
      if (stopping.aborted) return;
      recordEvent(this.store, rt.pod, "Normal", "Created", `Created container ${run.spec.name}`, "kubelet");
      const startedAt = nowIso();
      const startedMs = Date.now();
      try {
        await container.start();
      } catch (e) {
        run.state = { waiting: { reason: "RunContainerError", message: errorMessage(e) } };
        rt.publish();
        if (!(await sleep(backoffDelay(this.restartBackoff, ++crashes), stopping))) return;
        continue;
      }
      recordEvent(this.store, rt.pod, "Normal", "Started", `Started container ${run.spec.name}`, "kubelet");
      run.containerID = `docker://${container.id}`;
      run.state = { running: { startedAt } };
      run.started = true;
      // A new instance must pass its own startup probe.
      run.startupPassed = false;
      run.ready = run.spec.readinessProbe === undefined && run.spec.startupProbe === undefined;
      rt.publish();

      const instance = new AbortController();
      run.instance = instance;
      const onAbort = () => instance.abort();
      rt.abort.signal.addEventListener("abort", onAbort, { once: true });
      void this.runProbes(rt, run, container, instance.signal, startedMs);
      // Started while the deletion was beginning: stop it with what is left of the grace period.
      if (stopping.aborted && rt.termination !== undefined) {
        const t = rt.termination;
        const left = Math.max(0, t.graceSeconds - Math.floor((Date.now() - t.startedMs) / 1000));
        void this.killContainer(rt, run, container.id, { graceSeconds: left });
      }
      const exit = await container.wait().catch(() => ({ StatusCode: 137 }));
      instance.abort();
      rt.abort.signal.removeEventListener("abort", onAbort);
      if (rt.abort.signal.aborted) return;
      const info = await container.inspect().catch(() => undefined);
      const exitCode = info?.State.ExitCode ?? exit.StatusCode;
      const terminated = {
        exitCode,
        reason: info?.State.OOMKilled ? "OOMKilled" : exitCode === 0 ? "Completed" : "Error",
        startedAt,
        finishedAt:
          info?.State.FinishedAt && !info.State.FinishedAt.startsWith("0001")
            ? info.State.FinishedAt
            : nowIso(),
        containerID: run.containerID,
      };
      run.ready = false;
      if (stopping.aborted || !willRestart(policy, exitCode)) {
        run.state = { terminated };
        rt.publish();
        return;
      }
      // kubelet restarts the first crash at once, then backs off; a container that ran for twice the
      // maximum backoff counts as healthy and starts the schedule over.
      if (Date.now() - startedMs >= 2 * this.restartBackoff.maxMs) crashes = 0;
      const delay = crashes === 0 ? 0 : backoffDelay(this.restartBackoff, crashes);
      crashes++;
      run.lastState = { terminated };
      run.restartCount++;
      // An init container shows its failure (Init:Error) until it runs again, as kubelet reports the
      // exited instance; an app container goes straight to waiting.
      if (run.init) {
        run.state = { terminated };
        rt.publish();
        // Shown until kubelet's next sync finds the back-off, as ErrImagePull is before ImagePullBackOff.
        const shown = Math.min(1000, delay / 2);
        if (shown > 0 && !(await sleep(shown, stopping))) return;
      }
      if (delay > 0) {
        run.state = {
          waiting: {
            reason: "CrashLoopBackOff",
            message: `back-off ${formatDuration(delay)} restarting failed container=${run.spec.name} pod=${rt.name}_${rt.ns}(${rt.pod.metadata?.uid ?? ""})`,
          },
        };
        rt.publish();
        recordEvent(
          this.store,
          rt.pod,
          "Warning",
          "BackOff",
          "Back-off restarting failed container",
          "kubelet",
        );
        if (!(await sleep(delay - (run.init ? Math.min(1000, delay / 2) : 0), stopping))) return;
      }
      if (!run.init) run.state = { waiting: { reason: "ContainerCreating" } };
    }
  }

  /**
   * kubelet's killContainer (kuberuntime_container.go): a Killing event, the preStop hook (if any and the
   * grace period is not 0) for at most the grace period, then the container's stop signal with what is
   * left of it, never less than 2 seconds (minimumGracePeriodInSeconds), then SIGKILL. Docker's stop does
   * the last two steps exactly so: it sends the image's STOPSIGNAL (SIGTERM by default) to PID 1 and
   * SIGKILL after the timeout. Once per instance, however many callers ask.
   */
  private killContainer(
    rt: PodRuntime,
    run: ContainerRun,
    dockerId: string,
    opts: { readonly graceSeconds: number; readonly message?: string },
  ): Promise<void> {
    const inFlight = rt.kills.get(dockerId);
    if (inFlight !== undefined) return inFlight;
    const kill = (async () => {
      recordEvent(
        this.store,
        rt.pod,
        "Normal",
        "Killing",
        opts.message ?? `Stopping container ${run.spec.name}`,
        "kubelet",
      );
      let grace = opts.graceSeconds;
      const preStop = run.spec.lifecycle?.preStop;
      if (preStop !== undefined && grace > 0) {
        const t0 = Date.now();
        await this.runPreStop(rt, run, dockerId, preStop, grace * 1000);
        grace -= Math.floor((Date.now() - t0) / 1000);
      }
      grace = Math.max(grace, MINIMUM_GRACE_SECONDS);
      await this.docker
        .getContainer(dockerId)
        .stop({ t: grace })
        .catch(() => undefined); // already stopped (304) or gone
    })();
    rt.kills.set(dockerId, kill);
    return kill;
  }

  /**
   * Runs a preStop hook for at most `budgetMs` (kubelet's executePreStopHook then goes on regardless). A
   * failure is a FailedPreStopHook event, as kubelet records it, and the container is stopped anyway.
   */
  private async runPreStop(
    rt: PodRuntime,
    run: ContainerRun,
    dockerId: string,
    hook: NonNullable<NonNullable<IContainer["lifecycle"]>["preStop"]>,
    budgetMs: number,
  ): Promise<void> {
    const exited = run.instance?.signal;
    const work = (async (): Promise<void> => {
      if (hook.sleep) {
        // The sleep action ends early if the container exits first (its API documentation says so).
        await sleep(hook.sleep.seconds * 1000, exited);
      } else if (hook.exec) {
        const exec = await this.docker.getContainer(dockerId).exec({
          Cmd: hook.exec.command ?? [],
          AttachStdout: true,
          AttachStderr: true,
        });
        const stream = await exec.start({});
        stream.resume();
        await new Promise((r) => {
          stream.on("end", r);
          stream.on("close", r);
        });
        const code = (await exec.inspect()).ExitCode;
        if (code !== 0) throw new Error(`command ${JSON.stringify(hook.exec.command)} exited with ${code}`);
      } else if (hook.httpGet) {
        const port = resolvePort(run.spec, hook.httpGet.port);
        const local = await this.forward(rt.ns, rt.name, port);
        if (local === undefined) throw new Error("pod sandbox is not ready");
        const headers = Object.fromEntries((hook.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value]));
        const status = await httpStatus(local, hook.httpGet.path ?? "/", headers, budgetMs);
        if (status < 200 || status >= 400)
          throw new Error(`HTTP lifecycle hook failed with statuscode: ${status}`);
      } else {
        // tcpSocket is accepted by the API for compatibility only; kubelet fails such a hook.
        throw new Error("tcpSocket lifecycle handlers are not supported");
      }
    })();
    const timedOut = sleep(budgetMs).then(() => "timeout" as const);
    try {
      await Promise.race([work, timedOut]);
    } catch {
      recordEvent(this.store, rt.pod, "Warning", "FailedPreStopHook", "PreStopHook failed", "kubelet");
    }
    work.catch(() => undefined);
  }

  /** Pulls per imagePullPolicy, reporting ErrImagePull then ImagePullBackOff; false once the pod is gone. */
  private async pullWithBackoff(rt: PodRuntime, run: ContainerRun, image: string): Promise<boolean> {
    const signal = rt.stopping.signal;
    for (let failures = 0; !signal.aborted; ) {
      try {
        run.imageID = await this.ensureImage(rt, image, run.spec.imagePullPolicy);
        return true;
      } catch (e) {
        failures++;
        // The event names the image; the container status carries the runtime's error as it is
        // (image_manager.go EnsureImageExists and evalCRIPullErr).
        run.state = { waiting: { reason: "ErrImagePull", message: errorMessage(e) } };
        rt.publish();
        recordEvent(
          this.store,
          rt.pod,
          "Warning",
          "Failed",
          `Failed to pull image "${image}": ${errorMessage(e)}`,
          "kubelet",
        );
        recordEvent(this.store, rt.pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet");
        const delay = backoffDelay(this.pullBackoff, failures);
        // kubelet shows ErrImagePull until its next sync, then ImagePullBackOff for the rest of the wait.
        if (!(await sleep(Math.min(1000, delay / 2), signal))) return false;
        run.state = { waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}"` } };
        rt.publish();
        recordEvent(this.store, rt.pod, "Normal", "BackOff", `Back-off pulling image "${image}"`, "kubelet");
        if (!(await sleep(delay - Math.min(1000, delay / 2), signal))) return false;
      }
    }
    return false;
  }

  /** Returns the image id to report. Pulls only from loopback registries: nothing leaves this machine. */
  private async ensureImage(rt: PodRuntime, image: string, policy: string | undefined): Promise<string> {
    const tag = image.includes("@") ? undefined : (/:([^/:]+)$/.exec(image)?.[1] ?? "latest");
    const effective = policy ?? (tag === "latest" ? "Always" : "IfNotPresent");
    const present = await this.docker
      .getImage(image)
      .inspect()
      .catch(() => undefined);
    if (present && effective !== "Always") return present.RepoDigests?.[0] ?? present.Id;
    if (effective === "Never") {
      throw new Error(`container image "${image}" is not present with pull policy of Never`);
    }
    const host = image.split("/")[0] ?? "";
    if (!image.includes("/") || !/^(127\.\d+\.\d+\.\d+|localhost)(:\d+)?$/.test(host)) {
      throw new Error(
        `the test cluster pulls only from loopback registries (127.0.0.1:<port>), not "${host}"`,
      );
    }
    recordEvent(this.store, rt.pod, "Normal", "Pulling", `Pulling image "${image}"`, "kubelet");
    const t0 = Date.now();
    // kuberuntime_image.go PullImage: anonymous when no credential matches, else each matching one in
    // turn until a pull succeeds, failing with all their errors.
    const creds = this.pullCredentials(rt, repository(image));
    const errors: string[] = [];
    for (const authconfig of creds.length > 0 ? creds : [undefined]) {
      try {
        await this.pullOnce(image, authconfig);
        errors.length = 0;
        break;
      } catch (e) {
        errors.push(errorMessage(e));
      }
    }
    // utilerrors.NewAggregate: one error as it is, several as "[a, b]".
    if (errors.length === 1) throw new Error(errors[0]);
    if (errors.length > 1) throw new Error(`[${errors.join(", ")}]`);
    const info = await this.docker.getImage(image).inspect();
    recordEvent(
      this.store,
      rt.pod,
      "Normal",
      "Pulled",
      `Successfully pulled image "${image}" in ${Date.now() - t0}ms`,
      "kubelet",
    );
    return info.RepoDigests?.[0] ?? info.Id;
  }

  /**
   * One pull through the Docker engine, failing with the message kubelet reports for it through
   * cri-dockerd: the daemon's error (the registry's own words, e.g. "no basic auth credentials" or
   * "unauthorized: authentication required") as a gRPC Unknown status.
   */
  private async pullOnce(image: string, authconfig: Docker.AuthConfig | undefined): Promise<void> {
    const asKubeletSaysIt = (message: string) =>
      new Error(
        `rpc error: code = Unknown desc = Error response from daemon: ${message.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim()}`,
      );
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.pull(image, { authconfig: authconfig ?? {} });
    } catch (e) {
      throw asKubeletSaysIt(errorMessage(e));
    }
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, output: { error?: string }[]) => {
        const failed = err ?? output.find((o) => o.error);
        if (failed) reject(asKubeletSaysIt(failed instanceof Error ? failed.message : String(failed.error)));
        else resolve();
      });
    });
  }

  /**
   * The credentials kubelet's keyring offers for `repo` (credentialprovider/secrets MakeDockerKeyring and
   * keyring.go BasicDockerKeyring.Lookup): from each imagePullSecret that exists and is of type
   * kubernetes.io/dockerconfigjson (`.dockerconfigjson` → auths) or kubernetes.io/dockercfg (`.dockercfg`),
   * every entry whose registry matches the image (same host and port, the entry's path a prefix of the
   * repository's; a scheme and a leading /v1/ or /v2/ ignored), most specific entry first. Secrets that do
   * not exist are skipped with kubelet's FailedToRetrieveImagePullSecret event.
   */
  private pullCredentials(rt: PodRuntime, repo: string): Docker.AuthConfig[] {
    const missing: string[] = [];
    const byKey = new Map<string, Docker.AuthConfig[]>();
    for (const ref of rt.pod.spec?.imagePullSecrets ?? []) {
      if (!ref.name) continue;
      const secret = this.store.get("v1", "Secret", rt.ns, ref.name) as
        | { type?: string; data?: Record<string, string> }
        | undefined;
      if (secret === undefined) {
        missing.push(ref.name);
        continue;
      }
      const config = dockerConfigOf(secret);
      for (const [location, entry] of Object.entries(config)) {
        const key = keyringKey(location);
        if (key === undefined) continue;
        const cred = { ...credentialOf(entry), serveraddress: key.split("/")[0] ?? key };
        byKey.set(key, [...(byKey.get(key) ?? []), cred]);
      }
    }
    if (missing.length > 0) {
      recordEvent(
        this.store,
        rt.pod,
        "Warning",
        "FailedToRetrieveImagePullSecret",
        `Unable to retrieve some image pull secrets (${missing.join(", ")}); attempting to pull the image may not succeed.`,
        "kubelet",
      );
    }
    // The index is reverse-sorted, so that more specific paths match first.
    const keys = [...byKey.keys()].sort().reverse();
    return keys.filter((k) => keyringMatches(k, repo)).flatMap((k) => byKey.get(k) ?? []);
  }

  private async containerConfig(
    rt: PodRuntime,
    run: ContainerRun,
    attempt: number,
  ): Promise<Docker.ContainerCreateOptions> {
    const c = run.spec;
    const env = await this.resolveEnv(rt, c);
    const expand = (xs: string[] | undefined) => xs?.map((x) => expandVars(x, env));
    const limits = c.resources?.limits ?? {};
    const hostConfig: Docker.HostConfig = {
      NetworkMode: `container:${rt.sandboxId ?? ""}`,
      IpcMode: `container:${rt.sandboxId ?? ""}`,
    };
    try {
      if (limits.memory !== undefined) hostConfig.Memory = Math.round(parseQuantity(limits.memory));
      if (limits.cpu !== undefined) hostConfig.NanoCpus = Math.round(parseQuantity(limits.cpu) * 1e9);
    } catch (e) {
      throw new ConfigError(errorMessage(e));
    }
    hostConfig.Mounts = this.mounts(rt, c, env);
    const command = expand(c.command);
    const args = expand(c.args);
    return {
      name: `slipway-${this.opts.clusterId}-${rt.ns}-${rt.name}-${c.name}-${attempt}`,
      Image: c.image ?? "",
      Env: [...env].map(([k, v]) => `${k}=${v}`),
      ...(command !== undefined ? { Entrypoint: command } : {}),
      // An explicit command drops the image's CMD, as Kubernetes does.
      ...(args !== undefined ? { Cmd: args } : command !== undefined ? { Cmd: [] } : {}),
      ...(c.workingDir !== undefined ? { WorkingDir: c.workingDir } : {}),
      ...(c.securityContext?.runAsUser !== undefined ? { User: String(c.securityContext.runAsUser) } : {}),
      Labels: this.labels(rt, "container", c.name),
      HostConfig: hostConfig,
    };
  }

  /** The container's volumeMounts as Docker bind mounts of the pod's volume directories. */
  private mounts(rt: PodRuntime, c: IContainer, env: ReadonlyMap<string, string>): Docker.MountSettings[] {
    return (c.volumeMounts ?? []).map((m) => {
      const vol = rt.volumes?.get(m.name);
      if (vol === undefined) throw new ConfigError(`volume ${m.name} is not set up`);
      const sub = m.subPathExpr !== undefined ? expandVars(m.subPathExpr, env) : (m.subPath ?? "");
      const target = m.mountPath.startsWith("/") ? m.mountPath : `/${m.mountPath}`;
      const dockerVolume = rt.dockerVolumes.get(m.name);
      if (vol.tmpfsBytes !== undefined && dockerVolume !== undefined) {
        // Docker 20.10 cannot mount a sub-directory of a volume: refuse rather than mount the wrong thing.
        if (sub !== "") {
          throw new ConfigError(
            `the test cluster does not support subPath on the memory-backed volume "${m.name}"`,
          );
        }
        return volumeMount(dockerVolume, target, m.readOnly ?? false);
      }
      let source = vol.path;
      if (sub !== "") {
        const wanted = join(vol.path, sub);
        // kubelet creates a missing subPath as a directory, and refuses one that leads out of the volume.
        if (!existsSync(wanted)) mkdirSync(wanted, { recursive: true, mode: 0o777 });
        source = realpathSync(wanted);
        const rel = relative(realpathSync(vol.path), source);
        // (A projected volume's own entries start with ".." too: only a real parent step escapes.)
        if (rel === ".." || rel.startsWith("../") || isAbsolute(rel)) {
          throw new ConfigError(
            `failed to prepare subPath for volumeMount "${m.name}" of container "${c.name}"`,
          );
        }
      }
      return {
        Type: "bind" as const,
        Source: source,
        Target: target,
        ReadOnly: vol.readOnly || (m.readOnly ?? false),
      };
    });
  }

  private async resolveEnv(rt: PodRuntime, c: IContainer): Promise<Map<string, string>> {
    const env = new Map<string, string>();
    const pod = rt.pod;
    const lookup = async (
      kind: "ConfigMap" | "Secret",
      name: string,
      key: string | undefined,
      optional: boolean,
    ) => {
      const obj = this.store.get("v1", kind, rt.ns, name) as
        | { data?: Record<string, string>; stringData?: Record<string, string> }
        | undefined;
      if (!obj) {
        if (optional) return undefined;
        throw new ConfigError(`${kind.toLowerCase()} "${name}" not found`);
      }
      const decode = (v: string) => (kind === "Secret" ? Buffer.from(v, "base64").toString() : v);
      if (key === undefined)
        return Object.fromEntries(Object.entries(obj.data ?? {}).map(([k, v]) => [k, decode(v)]));
      const v = obj.data?.[key];
      if (v === undefined) {
        if (optional) return undefined;
        throw new ConfigError(`couldn't find key ${key} in ${kind} ${rt.ns}/${name}`);
      }
      return { [key]: decode(v) };
    };
    for (const from of c.envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef;
      if (!ref?.name) continue;
      const data = await lookup(
        from.configMapRef ? "ConfigMap" : "Secret",
        ref.name,
        undefined,
        ref.optional ?? false,
      );
      for (const [k, v] of Object.entries(data ?? {})) env.set(`${from.prefix ?? ""}${k}`, v);
    }
    for (const e of c.env ?? []) {
      if (e.value !== undefined || e.valueFrom === undefined) {
        env.set(e.name, expandVars(e.value ?? "", env));
        continue;
      }
      const vf = e.valueFrom;
      if (vf.fieldRef) {
        env.set(e.name, fieldRef(pod, vf.fieldRef.fieldPath));
      } else if (vf.configMapKeyRef || vf.secretKeyRef) {
        const ref = vf.configMapKeyRef ?? vf.secretKeyRef;
        if (!ref?.name) throw new ConfigError(`env ${e.name}: reference without a name`);
        const data = await lookup(
          vf.configMapKeyRef ? "ConfigMap" : "Secret",
          ref.name,
          ref.key,
          ref.optional ?? false,
        );
        const v = data?.[ref.key];
        if (v !== undefined) env.set(e.name, v);
      } else if (vf.resourceFieldRef) {
        const res = vf.resourceFieldRef.resource;
        const [kind, what] = res.split(".") as ["limits" | "requests", string];
        const raw = c.resources?.[kind]?.[what];
        const divisor = parseQuantity(vf.resourceFieldRef.divisor ?? 1);
        env.set(e.name, raw === undefined ? "0" : String(Math.ceil(parseQuantity(raw) / divisor)));
      } else {
        throw new ConfigError(`env ${e.name}: unsupported valueFrom`);
      }
    }
    return env;
  }

  // ---- probes --------------------------------------------------------------------------------------
  // As kubelet's prober workers run them (pkg/kubelet/prober/worker.go): each probe ticks every
  // periodSeconds from the container's start, skips ticks before initialDelaySeconds, and changes its
  // result only after failureThreshold (or successThreshold) equal results in a row. Liveness and
  // readiness do not run until the startup probe has succeeded; liveness and startup stop once the pod's
  // deletion starts, readiness keeps running until the container exits.

  private async runProbes(
    rt: PodRuntime,
    run: ContainerRun,
    container: Docker.Container,
    instance: AbortSignal,
    startedMs: number,
  ): Promise<void> {
    const { startupProbe, livenessProbe, readinessProbe } = run.spec;
    const untilDeletion = AbortSignal.any([instance, rt.stopping.signal]);
    if (startupProbe) {
      const ok = await this.probeLoop(rt, run, container, startupProbe, "Startup", untilDeletion, startedMs);
      if (!ok) return;
    }
    await Promise.all([
      livenessProbe
        ? this.probeLoop(rt, run, container, livenessProbe, "Liveness", untilDeletion, startedMs)
        : undefined,
      readinessProbe
        ? this.probeLoop(rt, run, container, readinessProbe, "Readiness", instance, startedMs)
        : undefined,
    ]);
  }

  /** Runs one probe on its schedule. Returns true when a startup probe succeeded. */
  private async probeLoop(
    rt: PodRuntime,
    run: ContainerRun,
    container: Docker.Container,
    probe: IProbe,
    kind: "Startup" | "Liveness" | "Readiness",
    signal: AbortSignal,
    startedMs: number,
  ): Promise<boolean> {
    // The API server defaults these (SetDefaults_Probe); objects written before that still get them here.
    const periodMs = (probe.periodSeconds ?? 10) * 1000;
    const initialDelaySeconds = probe.initialDelaySeconds ?? 0;
    const failureThreshold = probe.failureThreshold ?? 3;
    const successThreshold = probe.successThreshold ?? 1;
    let last: boolean | undefined;
    let runLength = 0;
    // The first tick that is not in the past; a probe that overruns its period skips ticks, as a Go
    // ticker drops them.
    let tick = Math.max(0, Math.ceil((Date.now() - startedMs) / periodMs));
    while (!signal.aborted) {
      if (!(await sleep(Math.max(0, startedMs + tick * periodMs - Date.now()), signal))) return false;
      tick = Math.floor((Date.now() - startedMs) / periodMs) + 1;
      // "Probe disabled for InitialDelaySeconds", in whole seconds since the container started.
      if (Math.floor((Date.now() - startedMs) / 1000) < initialDelaySeconds) continue;
      const failure = await this.probeOnce(rt, run, container, probe);
      if (signal.aborted) return false;
      const ok = failure === undefined;
      if (failure !== undefined) {
        recordEvent(
          this.store,
          rt.pod,
          "Warning",
          "Unhealthy",
          `${kind} probe failed: ${failure}`,
          "kubelet",
        );
      }
      runLength = ok === last ? runLength + 1 : 1;
      last = ok;
      if (runLength < (ok ? successThreshold : failureThreshold)) continue;
      if (kind === "Readiness") {
        if (run.ready !== ok) {
          run.ready = ok;
          rt.publish();
        }
        continue;
      }
      if (ok) {
        if (kind === "Startup") {
          run.startupPassed = true;
          run.ready = run.spec.readinessProbe === undefined;
          rt.publish();
          return true;
        }
        continue;
      }
      // A failed liveness or startup probe kills the container, which is then restarted per the pod's
      // restartPolicy; the probe's own terminationGracePeriodSeconds wins over the pod's.
      const pod = rt.pod;
      const grace =
        pod.metadata?.deletionGracePeriodSeconds ??
        probe.terminationGracePeriodSeconds ??
        pod.spec?.terminationGracePeriodSeconds ??
        30;
      await this.killContainer(rt, run, container.id, {
        graceSeconds: grace,
        message: `Container ${run.spec.name} failed ${kind.toLowerCase()} probe, will be restarted`,
      });
      return false;
    }
    return false;
  }

  /** Undefined on success, else the failure message kubelet would print. */
  private async probeOnce(
    rt: PodRuntime,
    run: ContainerRun,
    container: Docker.Container,
    probe: IProbe,
  ): Promise<string | undefined> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    try {
      if (probe.httpGet) {
        const port = await this.forward(rt.ns, rt.name, resolvePort(run.spec, probe.httpGet.port));
        if (port === undefined) return "pod sandbox is not ready";
        const headers = Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value]));
        const path = probe.httpGet.path ?? "/";
        const containerPort = resolvePort(run.spec, probe.httpGet.port);
        const status = await httpStatus(port, path, headers, timeoutMs).catch((e: unknown) => {
          // The relay drops the connection when nothing listens in the pod: say it as kubelet would.
          const refused = e instanceof Error && /socket hang up|ECONNRESET/.test(e.message);
          if (!refused) throw e;
          return `Get "http://127.0.0.1:${containerPort}${path}": dial tcp 127.0.0.1:${containerPort}: connect: connection refused`;
        });
        if (typeof status === "string") return status;
        return status >= 200 && status < 400 ? undefined : `HTTP probe failed with statuscode: ${status}`;
      }
      if (probe.tcpSocket) {
        const ok = await relayDialCheck(
          rt.socketPath,
          resolvePort(run.spec, probe.tcpSocket.port),
          timeoutMs,
        );
        return ok
          ? undefined
          : `dial tcp 127.0.0.1:${String(probe.tcpSocket.port)}: connect: connection refused`;
      }
      if (probe.exec) {
        const exec = await container.exec({
          Cmd: probe.exec.command ?? [],
          AttachStdout: true,
          AttachStderr: true,
        });
        const stream = await exec.start({});
        stream.resume();
        await Promise.race([
          new Promise((r) => stream.on("end", r)),
          new Promise((_, reject) => setTimeout(() => reject(new Error(`command timed out`)), timeoutMs)),
        ]);
        const code = (await exec.inspect()).ExitCode;
        return code === 0 ? undefined : `command ${JSON.stringify(probe.exec.command)} exited with ${code}`;
      }
      return undefined;
    } catch (e) {
      return errorMessage(e);
    }
  }
}

type DockerConfigEntry = { username?: string; password?: string; auth?: string; email?: string };

/** A pull secret's registry entries, by the rules of MakeDockerKeyring (other types hold none). */
function dockerConfigOf(secret: {
  type?: string;
  data?: Record<string, string>;
}): Record<string, DockerConfigEntry> {
  const decode = (v: string | undefined): unknown => {
    if (v === undefined || v === "") return undefined;
    return JSON.parse(Buffer.from(v, "base64").toString("utf8")) as unknown;
  };
  const asEntries = (v: unknown): Record<string, DockerConfigEntry> =>
    v !== null && typeof v === "object" ? (v as Record<string, DockerConfigEntry>) : {};
  if (secret.type === "kubernetes.io/dockerconfigjson") {
    const json = decode(secret.data?.[".dockerconfigjson"]);
    return asEntries(
      json !== null && typeof json === "object" ? (json as { auths?: unknown }).auths : undefined,
    );
  }
  if (secret.type === "kubernetes.io/dockercfg") return asEntries(decode(secret.data?.[".dockercfg"]));
  return {};
}

/** DockerConfigEntry's JSON: a non-empty `auth` (base64 "user:password") overrides username and password. */
function credentialOf(e: DockerConfigEntry): { username: string; password: string } {
  if (e.auth !== undefined && e.auth !== "") {
    const decoded = Buffer.from(e.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon >= 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return { username: e.username ?? "", password: e.password ?? "" };
}

/** BasicDockerKeyring.Add's key for a config location: host[:port] plus any path but /v1/ or /v2/. */
function keyringKey(location: string): string | undefined {
  try {
    const u = new URL(/^https?:\/\//.test(location) ? location : `https://${location}`);
    let path = u.pathname;
    if (path.startsWith("/v2/") || path.startsWith("/v1/")) path = path.slice(3);
    return path.length > 0 && path !== "/" ? `${u.host}${path}` : u.host;
  } catch {
    return undefined; // kubelet ignores an entry it cannot parse
  }
}

/** URLsMatchStr: same port, same number of host labels each matching (globs allowed), path a prefix. */
function keyringMatches(key: string, repo: string): boolean {
  const parse = (x: string) => new URL(`https://${x}`);
  let glob: URL;
  let target: URL;
  try {
    glob = parse(key);
    target = parse(repo);
  } catch {
    return false;
  }
  if (glob.port !== target.port) return false;
  const gl = glob.hostname.split(".");
  const tl = target.hostname.split(".");
  if (gl.length !== tl.length || !target.pathname.startsWith(glob.pathname === "/" ? "" : glob.pathname))
    return false;
  // filepath.Match on one host label: "*" any run of characters, "?" any one.
  const globPart = (g: string) => {
    const escaped = g.replace(/[.+^$()|{}[\]\\]/g, (c) => `\\${c}`);
    return new RegExp(`^${escaped.replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  };
  return gl.every((g, i) => globPart(g).test(tl[i] ?? ""));
}

/** The repository an image reference names (no tag, no digest), as kubelet looks credentials up for it. */
function repository(image: string): string {
  const noDigest = image.split("@")[0] ?? image;
  const lastSlash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
}

/** A probe's or hook's port: a number, or the name of one of the container's ports. */
function resolvePort(c: IContainer, p: number | string): number {
  if (typeof p === "number") return p;
  const named = c.ports?.find((cp) => cp.name === p)?.containerPort;
  return named ?? Number(p);
}

function fieldRef(pod: IPod, path: string): string {
  const meta = pod.metadata ?? {};
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (sub?.[1] && sub[2] !== undefined) {
    const map = sub[1] === "labels" ? meta.labels : meta.annotations;
    return map?.[sub[2]] ?? "";
  }
  switch (path) {
    case "metadata.name":
      return meta.name ?? "";
    case "metadata.namespace":
      return meta.namespace ?? "default";
    case "metadata.uid":
      return meta.uid ?? "";
    case "spec.nodeName":
      return NODE_NAME;
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "default";
    case "status.podIP":
    case "status.podIPs":
    case "status.hostIP":
    case "status.hostIPs":
      return "127.0.0.1";
    default:
      throw new ConfigError(`unsupported fieldRef ${path}`);
  }
}

/**
 * A mount of an existing named Docker volume, with nothing copied into it from the image. (@types/dockerode
 * requires the driver fields of a volume to create, which Docker does not need for an existing one.)
 */
function volumeMount(source: string, target: string, readOnly: boolean): Docker.MountSettings {
  const mount = {
    Type: "volume",
    Source: source,
    Target: target,
    ReadOnly: readOnly,
    VolumeOptions: { NoCopy: true },
  };
  return mount as Docker.MountSettings;
}

/** What kubelet says about a container that has no log yet. */
function waitingMessage(reason: string | undefined): string {
  return reason === "ErrImagePull" || reason === "ImagePullBackOff"
    ? "trying and failing to pull image"
    : (reason ?? "ContainerCreating");
}

function backoffDelay(b: Backoff, failures: number): number {
  return Math.min(b.baseMs * 2 ** Math.max(0, failures - 1), b.maxMs);
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  return s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s * 10) / 10}s`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Docker's non-TTY log stream is framed: [stream, 0, 0, 0, size(4 bytes BE)] + payload. */
export function demuxDockerLog(raw: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= raw.length) {
    const size = raw.readUInt32BE(i + 4);
    parts.push(raw.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}

async function startRelay(pid: number, socketPath: string): Promise<ChildProcess> {
  rmSync(socketPath, { force: true });
  // Small heap limits keep an idle relay near 40 MB instead of growing with every streamed buffer.
  const node = [process.execPath, "--max-semi-space-size=1", "--max-old-space-size=32", "-e", RELAY_SCRIPT];
  const child = spawn("nsenter", [`--net=/proc/${pid}/ns/net`, ...node, socketPath], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("pod relay did not start within 10s")), 10_000);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`pod relay exited with ${code}`)));
    child.stdout?.once("data", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  child.removeAllListeners("exit");
  return child;
}

function listenForward(socketPath: string, port: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    upstream.write(`${port}\n`);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    upstream.on("close", () => client.end());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

function relayDialCheck(socketPath: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    let got = "";
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.write(`?${port}\n`);
    s.on("data", (d) => {
      got += d.toString();
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(got.startsWith("ok"));
    });
    s.on("error", () => undefined);
  });
}

function httpStatus(
  port: number,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: "127.0.0.1",
        port,
        path,
        headers: { "User-Agent": "kube-probe/1.32", ...headers },
        agent: false,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`context deadline exceeded (timeout ${timeoutMs}ms)`)),
    );
    req.on("error", reject);
  });
}

/** Removes every container and volume labelled for this cluster id (all of them if id is undefined). */
export async function removeClusterContainers(docker: Docker, clusterId?: string): Promise<void> {
  const label = clusterId === undefined ? CLUSTER_LABEL : `${CLUSTER_LABEL}=${clusterId}`;
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
  const volumes = await docker.listVolumes({ filters: { label: [label] } });
  await Promise.all(
    (volumes.Volumes ?? []).map((v) =>
      docker
        .getVolume(v.Name)
        .remove()
        .catch(() => undefined),
    ),
  );
}

// The scheduler against the kube-scheduler behaviour it reproduces: the FitError message and
// FailedScheduling event for pods that fit nowhere (resources, node selector, taints), binding with the
// Scheduled event, and the retry once room frees up. The first part drives the scheduler over a bare
// store; the last part runs on the whole cluster, where bound pods really run and kubectl reads them.

import type { IPod } from "kubernetes-models/v1/Pod";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../support/wait-for.js";
import { startTestCluster, type TestCluster } from "../cluster.js";
import { kubectl } from "../kubectl.js";
import { NODE_NAME } from "../node.js";
import { GPU_TAINT, nodeObject, type TestNodeResources } from "../node-object.js";
import { filterNode, podRequests, Scheduler, unschedulableMessage } from "../scheduler.js";
import { type KubeObject, Store } from "../store.js";

const GPU = "nvidia.com/gpu";

function pod(name: string, spec: Partial<NonNullable<IPod["spec"]>> & { image?: string } = {}): KubeObject {
  const { image, ...rest } = spec;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      containers: [{ name: "main", image: image ?? "registry.local/model:1", command: ["sleep", "3600"] }],
      terminationGracePeriodSeconds: 0,
      ...rest,
    },
  } as KubeObject;
}

function withResources(
  name: string,
  resources: { requests?: Record<string, string>; limits?: Record<string, string> },
  extra: Partial<NonNullable<IPod["spec"]>> & { image?: string } = {},
): KubeObject {
  const p = pod(name, extra);
  const spec = p.spec as { containers: Record<string, unknown>[] };
  spec.containers = spec.containers.map((c) => ({ ...c, resources }));
  return p;
}

interface EventView {
  reason?: string;
  count?: number;
  message?: string;
  type?: string;
  source?: { component?: string };
}

function eventsFor(store: Store, name: string): EventView[] {
  return store.list("v1", "Event", {
    namespace: "default",
    fieldSelector: `involvedObject.name=${name}`,
  }) as EventView[];
}

function condition(store: Store, name: string) {
  const p = store.get("v1", "Pod", "default", name) as IPod | undefined;
  return p?.status?.conditions?.find((c) => c.type === "PodScheduled");
}

describe("filters and messages (pkg/scheduler/framework: FitError, default filter plugins)", () => {
  const node = (o: TestNodeResources = {}) => nodeObject({ cpu: "2", memory: "4Gi", pods: 110, ...o });
  const asPod = (o: KubeObject) => o as IPod;

  it.each([
    {
      what: "a cpu request above allocatable",
      pod: withResources("p", { requests: { cpu: "3" } }),
      reasons: ["Insufficient cpu"],
    },
    {
      what: "cpu and memory both short",
      pod: withResources("p", { requests: { cpu: "3", memory: "5Gi" } }),
      reasons: ["Insufficient cpu", "Insufficient memory"],
    },
    {
      what: "an extended resource the node does not have",
      pod: withResources("p", { requests: { [GPU]: "1" }, limits: { [GPU]: "1" } }),
      reasons: [`Insufficient ${GPU}`],
    },
  ])("NodeResourcesFit: $what", ({ pod: p, reasons }) => {
    expect(filterNode(asPod(p), node(), [])).toEqual({ code: "Unschedulable", reasons });
  });

  it("NodeResourcesFit counts the requests of the pods already bound, and the pod count", () => {
    const bound = [asPod(withResources("a", { requests: { cpu: "1500m" } }))];
    expect(filterNode(asPod(withResources("b", { requests: { cpu: "600m" } })), node(), bound)).toEqual({
      code: "Unschedulable",
      reasons: ["Insufficient cpu"],
    });
    expect(
      filterNode(asPod(withResources("b", { requests: { cpu: "500m" } })), node(), bound),
    ).toBeUndefined();
    expect(filterNode(asPod(pod("c")), node({ pods: 1 }), bound)).toEqual({
      code: "Unschedulable",
      reasons: ["Too many pods"],
    });
  });

  it("a pod's request is its containers' sum, raised to its largest init container", () => {
    const p = asPod(
      pod("p", {
        containers: [
          { name: "a", image: "x", resources: { requests: { cpu: "100m", memory: "64Mi" } } },
          { name: "b", image: "x", resources: { requests: { cpu: "200m" } } },
        ],
        initContainers: [{ name: "init", image: "x", resources: { requests: { cpu: "1", memory: "1Mi" } } }],
      }),
    );
    expect(Object.fromEntries(podRequests(p))).toEqual({ cpu: 1000, memory: 64 * 2 ** 20 });
  });

  it("node selector and taints reject a node as unresolvable, in the plugins' own words", () => {
    const gpuNode = node({ taints: [GPU_TAINT], labels: { accelerator: "a100" } });
    expect(filterNode(asPod(pod("p")), gpuNode, [])).toEqual({
      code: "UnschedulableAndUnresolvable",
      reasons: ["node(s) had untolerated taint {nvidia.com/gpu: present}"],
    });
    const tolerant = {
      tolerations: [{ key: GPU, operator: "Exists" as const, effect: "NoSchedule" as const }],
    };
    expect(filterNode(asPod(pod("p", tolerant)), gpuNode, [])).toBeUndefined();
    expect(
      filterNode(asPod(pod("p", { ...tolerant, nodeSelector: { accelerator: "h100" } })), gpuNode, []),
    ).toEqual({
      code: "UnschedulableAndUnresolvable",
      reasons: ["node(s) didn't match Pod's node affinity/selector"],
    });
    const cordoned = { ...node(), spec: { unschedulable: true } };
    expect(filterNode(asPod(pod("p")), cordoned, [])?.reasons).toEqual(["node(s) were unschedulable"]);
  });

  it("the message is the FitError histogram, then DefaultPreemption's", () => {
    const p = asPod(pod("p"));
    expect(unschedulableMessage(p, [{ code: "Unschedulable", reasons: ["Insufficient cpu"] }])).toBe(
      "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
    );
    expect(
      unschedulableMessage(p, [
        {
          code: "UnschedulableAndUnresolvable",
          reasons: ["node(s) didn't match Pod's node affinity/selector"],
        },
        { code: "Unschedulable", reasons: ["Insufficient cpu", "Insufficient memory"] },
        { code: "Unschedulable", reasons: ["Insufficient cpu"] },
      ]),
    ).toBe(
      "0/3 nodes are available: 1 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
    );
  });
});

describe("the scheduler over a store (no node running pods)", () => {
  let store: Store;
  let scheduler: Scheduler;
  beforeAll(() => {
    store = new Store();
    store.create(
      nodeObject({
        cpu: "2",
        memory: "4Gi",
        extendedResources: { [GPU]: 1 },
        taints: [GPU_TAINT],
      }) as KubeObject,
    );
    scheduler = new Scheduler({ store, backoff: { baseMs: 50, maxMs: 200 } });
    scheduler.start();
  });
  afterAll(() => scheduler.stop());

  it("an impossible cpu request stays Pending: PodScheduled=False/Unschedulable and a FailedScheduling event", async () => {
    store.create(
      withResources(
        "huge",
        { requests: { cpu: "64" } },
        {
          tolerations: [{ key: GPU, operator: "Exists", effect: "NoSchedule" }],
        },
      ),
    );
    const message =
      "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";
    const c = await waitFor("PodScheduled=False", () => condition(store, "huge"));
    expect(c).toMatchObject({ status: "False", reason: "Unschedulable", message });
    const p = store.get("v1", "Pod", "default", "huge") as IPod;
    expect(p.status?.phase).toBe("Pending");
    expect(p.spec?.nodeName).toBeUndefined();
    expect(eventsFor(store, "huge")).toContainEqual(
      expect.objectContaining({
        type: "Warning",
        reason: "FailedScheduling",
        message,
        source: { component: "default-scheduler" },
      }),
    );
  });

  it("limits-only extended resources are requested too, so a second GPU pod does not fit", async () => {
    const gpuPod = (name: string) =>
      withResources(
        name,
        { limits: { [GPU]: "1" } },
        {
          tolerations: [{ key: GPU, operator: "Equal", value: "present", effect: "NoSchedule" }],
        },
      );
    store.create(gpuPod("gpu-a"));
    await waitFor("gpu-a bound", () => (store.get("v1", "Pod", "default", "gpu-a") as IPod).spec?.nodeName);
    const stored = store.get("v1", "Pod", "default", "gpu-a") as IPod;
    expect(stored.spec?.containers[0]?.resources?.requests).toEqual({ [GPU]: "1" });
    expect(condition(store, "gpu-a")).toMatchObject({ status: "True" });
    expect(eventsFor(store, "gpu-a")).toContainEqual(
      expect.objectContaining({
        type: "Normal",
        reason: "Scheduled",
        message: `Successfully assigned default/gpu-a to ${NODE_NAME}`,
      }),
    );
    store.create(gpuPod("gpu-b"));
    const c = await waitFor("gpu-b unschedulable", () => condition(store, "gpu-b"));
    expect(c.message).toBe(
      `0/1 nodes are available: 1 Insufficient ${GPU}. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.`,
    );
    // Removing the first pod frees the GPU: the scheduler retries and binds the second.
    store.delete("v1", "Pod", "default", "gpu-a", { gracePeriodSeconds: 0 });
    await waitFor("gpu-b bound", () => (store.get("v1", "Pod", "default", "gpu-b") as IPod).spec?.nodeName);
    expect(condition(store, "gpu-b")).toMatchObject({ status: "True" });
  });

  it("a node selector nobody matches, and an untolerated taint, are reported as such", async () => {
    store.create(
      pod("picky", {
        nodeSelector: { "kubernetes.io/hostname": "elsewhere" },
        tolerations: [{ operator: "Exists" }],
      }),
    );
    store.create(pod("plain"));
    const picky = await waitFor("picky unschedulable", () => condition(store, "picky"));
    expect(picky.message).toBe(
      "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
    );
    const plain = await waitFor("plain unschedulable", () => condition(store, "plain"));
    expect(plain.message).toBe(
      "0/1 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
    );
  });

  it("removing the taint from the Node (kubectl taint …-) re-queues the pods it kept off", async () => {
    store.create(pod("waits-for-taint"));
    await waitFor("unschedulable", () => condition(store, "waits-for-taint"));
    const n = store.get("v1", "Node", undefined, NODE_NAME) as KubeObject;
    store.update({ ...n, spec: {} });
    await waitFor(
      "bound",
      () => (store.get("v1", "Pod", "default", "waits-for-taint") as IPod).spec?.nodeName,
    );
  });
});

describe("on the whole cluster", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({
      stack: inject("slipwayStack"),
      node: { cpu: "1", extendedResources: { [GPU]: 2 }, taints: [GPU_TAINT] },
      schedulerBackoff: { baseMs: 100, maxMs: 1000 },
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    await kubectl(cluster.kubeconfigPath, ["delete", "pods", "--all", "--wait=true", "--timeout=60s"]);
  });

  const tolerateGpu = {
    tolerations: [{ key: GPU, operator: "Exists" as const, effect: "NoSchedule" as const }],
  };
  const busybox = () => inject("slipwayStack").busyboxImage;

  it("GET /api/v1/nodes shows the node with its capacity, allocatable and taints", async () => {
    const res = await kubectl(cluster.kubeconfigPath, ["get", "nodes", "-o", "json"]);
    const list = JSON.parse(res.stdout) as { items: KubeObject[] };
    expect(list.items).toHaveLength(1);
    const n = list.items[0] as KubeObject & {
      spec: { taints?: unknown[] };
      status: { capacity: Record<string, string>; allocatable: Record<string, string> };
    };
    expect(n.metadata.name).toBe(NODE_NAME);
    expect(n.status.capacity).toMatchObject({ cpu: "1", pods: "110", [GPU]: "2" });
    expect(n.status.allocatable).toMatchObject({ cpu: "1", pods: "110", [GPU]: "2" });
    expect(n.spec.taints).toEqual([GPU_TAINT]);
    const table = await kubectl(cluster.kubeconfigPath, ["get", "nodes"]);
    expect(table.stdout).toMatch(
      new RegExp(
        `^NAME\\s+STATUS\\s+ROLES\\s+AGE\\s+VERSION\\n${NODE_NAME}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.32\\.0\\n$`,
      ),
    );
  });

  it("an impossible cpu request is Pending in kubectl get pods, with the scheduler's event in kubectl describe", async () => {
    cluster.store.create(
      withResources("too-big", { requests: { cpu: "8" } }, { ...tolerateGpu, image: busybox() }),
    );
    await waitFor("FailedScheduling", () =>
      eventsFor(cluster.store, "too-big").find((e) => e.reason === "FailedScheduling"),
    );
    const table = await kubectl(cluster.kubeconfigPath, ["get", "pods", "too-big"]);
    expect(table.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\ntoo-big\s+0\/1\s+Pending\s+0\s/);
    const described = await kubectl(cluster.kubeconfigPath, ["describe", "pod", "too-big"]);
    expect(described.stdout).toMatch(
      /Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+0\/1 nodes are available: 1 Insufficient cpu\. preemption: 0\/1 nodes are available: 1 No preemption victims found for incoming pod\./,
    );
    expect(described.stdout).toMatch(/Node:\s+<none>/);
  });

  it("a GPU pod runs only once it tolerates the node's GPU taint", async () => {
    const gpu = (name: string, extra = {}) =>
      withResources(name, { limits: { [GPU]: "1" } }, { image: busybox(), ...extra });
    cluster.store.create(gpu("intolerant"));
    const c = await waitFor("intolerant unschedulable", () => condition(cluster.store, "intolerant"));
    expect(c.message).toContain("1 node(s) had untolerated taint {nvidia.com/gpu: present}");
    cluster.store.create(gpu("tolerant", tolerateGpu));
    await waitFor("tolerant running", () =>
      (cluster.store.get("v1", "Pod", "default", "tolerant") as IPod).status?.phase === "Running"
        ? true
        : undefined,
    );
    expect((cluster.store.get("v1", "Pod", "default", "tolerant") as IPod).spec?.nodeName).toBe(NODE_NAME);
    expect((cluster.store.get("v1", "Pod", "default", "intolerant") as IPod).spec?.nodeName).toBeUndefined();
  });

  it("a pod that does not fit beside another is scheduled once the other is deleted", async () => {
    const half = (name: string) =>
      withResources(name, { requests: { cpu: "600m" } }, { ...tolerateGpu, image: busybox() });
    cluster.store.create(half("first"));
    await waitFor("first running", () =>
      (cluster.store.get("v1", "Pod", "default", "first") as IPod).status?.phase === "Running"
        ? true
        : undefined,
    );
    cluster.store.create(half("second"));
    const c = await waitFor("second unschedulable", () => condition(cluster.store, "second"));
    expect(c).toMatchObject({ status: "False", reason: "Unschedulable" });
    expect(c.message).toContain("1 Insufficient cpu.");
    const deleted = await kubectl(cluster.kubeconfigPath, ["delete", "pod", "first"]);
    expect(deleted.code).toBe(0);
    await waitFor("second running", () =>
      (cluster.store.get("v1", "Pod", "default", "second") as IPod).status?.phase === "Running"
        ? true
        : undefined,
    );
    expect(eventsFor(cluster.store, "second").map((e) => e.reason)).toEqual(
      expect.arrayContaining(["FailedScheduling", "Scheduled"]),
    );
  });

  it("a pod deleted while Pending (never bound) is removed at once whatever its grace period, as no kubelet runs it", async () => {
    cluster.store.create(
      withResources(
        "never-bound",
        { requests: { cpu: "8" } },
        { ...tolerateGpu, image: busybox(), terminationGracePeriodSeconds: 30 },
      ),
    );
    await waitFor("FailedScheduling", () =>
      eventsFor(cluster.store, "never-bound").find((e) => e.reason === "FailedScheduling"),
    );
    const deleted = await kubectl(cluster.kubeconfigPath, [
      "delete",
      "pod",
      "never-bound",
      "--grace-period=30",
      "--wait=false",
    ]);
    expect(deleted.code).toBe(0);
    // CheckGracefulDelete (pkg/registry/core/pod/strategy.go): a pod with no spec.nodeName gets grace 0,
    // so the object is gone with the delete itself, never Terminating.
    expect(cluster.store.get("v1", "Pod", "default", "never-bound")).toBeUndefined();
    const reasons = eventsFor(cluster.store, "never-bound").map((e) => e.reason);
    expect(reasons).not.toContain("Scheduled");
    expect(reasons).not.toContain("Pulling");
    expect(reasons).not.toContain("Killing");
  });

  it("a pod the scheduler bound is terminated gracefully by the node, with one Scheduled event, the scheduler's", async () => {
    cluster.store.create(
      pod("graceful", {
        ...tolerateGpu,
        terminationGracePeriodSeconds: 30,
        containers: [
          {
            name: "main",
            image: busybox(),
            command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
          },
        ],
      }),
    );
    await waitFor("graceful running", () =>
      (cluster.store.get("v1", "Pod", "default", "graceful") as IPod).status?.phase === "Running"
        ? true
        : undefined,
    );
    const phases: string[] = [];
    const stop = cluster.store.watch("v1", "Pod", (ev) => {
      const p = ev.object as IPod;
      if (p.metadata?.name === "graceful" && p.status?.phase) phases.push(p.status.phase);
    });
    try {
      const t0 = Date.now();
      cluster.store.delete("v1", "Pod", "default", "graceful");
      const terminating = cluster.store.get("v1", "Pod", "default", "graceful") as IPod | undefined;
      expect(terminating?.metadata?.deletionTimestamp).toBeDefined();
      expect(terminating?.metadata?.deletionGracePeriodSeconds).toBe(30);
      await waitFor("graceful gone", () =>
        cluster.store.get("v1", "Pod", "default", "graceful") === undefined ? true : undefined,
      );
      // The container exits on SIGTERM: long before the 30 s at which SIGKILL would come.
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(phases.at(-1)).toBe("Succeeded");
    } finally {
      stop();
    }
    const events = eventsFor(cluster.store, "graceful");
    expect(events.filter((e) => e.reason === "Scheduled")).toEqual([
      expect.objectContaining({
        message: `Successfully assigned default/graceful to ${NODE_NAME}`,
        source: { component: "default-scheduler" },
        // Recorded once: a second identical event would show here as count 2.
        count: 1,
      }),
    ]);
    expect(events).toContainEqual(
      expect.objectContaining({ reason: "Killing", message: "Stopping container main" }),
    );
  });

  it("a pod created with spec.nodeName bypasses the scheduler: it runs with no Scheduled event", async () => {
    cluster.store.create(pod("pinned", { ...tolerateGpu, image: busybox(), nodeName: NODE_NAME }));
    await waitFor("pinned running", () =>
      (cluster.store.get("v1", "Pod", "default", "pinned") as IPod).status?.phase === "Running"
        ? true
        : undefined,
    );
    const reasons = eventsFor(cluster.store, "pinned").map((e) => e.reason);
    expect(reasons).toContain("Started");
    expect(reasons).not.toContain("Scheduled");
    expect(reasons).not.toContain("FailedScheduling");
  });
});

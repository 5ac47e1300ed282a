// Volumes and init containers on the test cluster, against what the Kubernetes documentation describes
// ("Volumes", "ConfigMaps", "Secrets", "Init Containers"): configMap and secret keys appear as read-only
// files, an emptyDir is shared by the pod's containers, a missing ConfigMap holds the pod in
// ContainerCreating with a FailedMount event until it exists, init containers run in order to completion
// first, and what the test cluster cannot mount is reported, never silently skipped.

import { ApiException, CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { IPod } from "kubernetes-models/v1/Pod";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../support/wait-for.js";
import { startTestCluster, type TestCluster } from "../cluster.js";
import { type KubectlResult, kubectl as runKubectl } from "../kubectl.js";
import { CLUSTER_LABEL } from "../node.js";

let cluster: TestCluster;
let core: CoreV1Api;
let busybox: string;
const ns = "default";

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
  busybox = cluster.stack.busyboxImage;
});

afterAll(async () => {
  if (!cluster) return;
  await cluster.stop();
  const left = await cluster.docker.listContainers({
    all: true,
    filters: { label: [`${CLUSTER_LABEL}=${cluster.clusterId}`] },
  });
  expect(left).toEqual([]);
  // Memory-backed emptyDirs are Docker volumes: they go too.
  const volumes = await cluster.docker.listVolumes({
    filters: { label: [`${CLUSTER_LABEL}=${cluster.clusterId}`] },
  });
  expect(volumes.Volumes ?? []).toEqual([]);
});

function pod(name: string): IPod | undefined {
  return cluster.store.get("v1", "Pod", ns, name) as IPod | undefined;
}

function events(name: string, reason: string): string[] {
  return cluster.store
    .list("v1", "Event", { namespace: ns })
    .map((e) => e as { involvedObject?: { name?: string }; reason?: string; message?: string })
    .filter((e) => e.involvedObject?.name === name && e.reason === reason)
    .map((e) => e.message ?? "");
}

function kubectl(args: string[]): Promise<KubectlResult> {
  return runKubectl(cluster.kubeconfigPath, args);
}

/** kubectl's STATUS column for a pod. */
async function kubectlStatus(name: string): Promise<string> {
  const out = await kubectl(["get", "pod", name, "--no-headers"]);
  return out.stdout.trim().split(/\s+/)[2] ?? "";
}

async function createPod(name: string, spec: Record<string, unknown>): Promise<void> {
  await core.createNamespacedPod({
    namespace: ns,
    body: { apiVersion: "v1", kind: "Pod", metadata: { name }, spec } as unknown as V1Pod,
  });
}

describe("configMap and secret volumes", () => {
  it("projects keys as files (items, modes, base64-decoded secrets), read-only, readable by the container", async () => {
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "app-config" }, data: { greeting: "hello from a configmap", other: "x" } },
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: "app-secret" }, stringData: { token: "s3cr3t-token" } },
    });
    const script = [
      "cat /etc/cfg/greeting; echo",
      "cat /etc/cfg/nested/renamed; echo",
      "ls /etc/cfg",
      "cat /etc/secret/token; echo",
      "stat -L -c 'mode=%a' /etc/secret/token",
      "touch /etc/cfg/new 2>/dev/null && echo writable || echo read-only",
      "cat /one/greeting; echo",
    ].join("; ");
    await createPod("reads-config", {
      restartPolicy: "Never",
      containers: [
        {
          name: "main",
          image: busybox,
          command: ["sh", "-c", script],
          volumeMounts: [
            { name: "cfg", mountPath: "/etc/cfg" },
            { name: "secret", mountPath: "/etc/secret" },
            { name: "whole", mountPath: "/one/greeting", subPath: "greeting" },
          ],
        },
      ],
      volumes: [
        {
          name: "cfg",
          configMap: {
            name: "app-config",
            items: [
              { key: "greeting", path: "greeting" },
              { key: "greeting", path: "nested/renamed" },
            ],
          },
        },
        { name: "secret", secret: { secretName: "app-secret", defaultMode: 0o400 } },
        { name: "whole", configMap: { name: "app-config" } },
      ],
    });
    await waitFor("reads-config to finish", () =>
      pod("reads-config")?.status?.phase === "Succeeded" ? true : undefined,
    );
    const logs = await core.readNamespacedPodLog({ name: "reads-config", namespace: ns });
    expect(logs.split("\n")).toEqual([
      "hello from a configmap",
      "hello from a configmap",
      "greeting",
      "nested",
      "s3cr3t-token",
      "mode=400",
      "read-only",
      "hello from a configmap",
      "",
    ]);
  });

  it("a missing ConfigMap keeps the pod in ContainerCreating with FailedMount until it is created", async () => {
    await createPod("waits-for-config", {
      containers: [
        {
          name: "main",
          image: busybox,
          command: ["sh", "-c", "cat /cfg/value; echo; sleep 3600"],
          volumeMounts: [{ name: "cfg", mountPath: "/cfg" }],
        },
      ],
      volumes: [{ name: "cfg", configMap: { name: "late-config" } }],
    });
    await waitFor("FailedMount", () =>
      events("waits-for-config", "FailedMount").length > 0 ? true : undefined,
    );
    expect(events("waits-for-config", "FailedMount")).toEqual([
      'MountVolume.SetUp failed for volume "cfg" : configmap "late-config" not found',
    ]);
    const waiting = pod("waits-for-config")?.status?.containerStatuses?.[0]?.state?.waiting;
    expect(waiting?.reason).toBe("ContainerCreating");
    expect(await kubectlStatus("waits-for-config")).toBe("ContainerCreating");
    // Still not started after a few retries.
    await new Promise((r) => setTimeout(r, 1500));
    expect(pod("waits-for-config")?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe(
      "ContainerCreating",
    );

    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "late-config" }, data: { value: "arrived" } },
    });
    await waitFor("the pod to start", () =>
      pod("waits-for-config")?.status?.containerStatuses?.[0]?.state?.running ? true : undefined,
    );
    const logs = await waitFor("its log", () => cachedLog("waits-for-config"), 20_000);
    expect(logs).toBe("arrived\n");
  });

  it("an optional ConfigMap that does not exist mounts as an empty directory", async () => {
    await createPod("optional-config", {
      restartPolicy: "Never",
      containers: [
        {
          name: "main",
          image: busybox,
          command: ["sh", "-c", "ls -A /cfg | wc -l"],
          volumeMounts: [{ name: "cfg", mountPath: "/cfg" }],
        },
      ],
      volumes: [{ name: "cfg", configMap: { name: "never-created", optional: true } }],
    });
    await waitFor("optional-config to finish", () =>
      pod("optional-config")?.status?.phase === "Succeeded" ? true : undefined,
    );
    // Only the projection's own "..data" bookkeeping, as on a real node.
    const logs = await core.readNamespacedPodLog({ name: "optional-config", namespace: ns });
    expect(logs.trim()).toBe("2");
  });

  it("mounted ConfigMaps follow updates to the object", async () => {
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "live-config" }, data: { v: "one" } },
    });
    await createPod("follows-config", {
      containers: [
        {
          name: "main",
          image: busybox,
          command: ["sh", "-c", "while true; do cat /cfg/v; echo; sleep 0.2; done"],
          volumeMounts: [{ name: "cfg", mountPath: "/cfg" }],
        },
      ],
      volumes: [{ name: "cfg", configMap: { name: "live-config" } }],
    });
    await waitFor("the first value", () => (cachedLogIncludes("follows-config", "one") ? true : undefined));
    await core.replaceNamespacedConfigMap({
      name: "live-config",
      namespace: ns,
      body: { metadata: { name: "live-config" }, data: { v: "two" } },
    });
    await waitFor("the updated value", () => (cachedLogIncludes("follows-config", "two") ? true : undefined));
  });
});

describe("emptyDir and init containers", () => {
  it("init containers run in order to completion before the app container, sharing an emptyDir", async () => {
    await createPod("init-writes", {
      containers: [
        {
          name: "app",
          image: busybox,
          command: ["sh", "-c", "cat /work/out; sleep 3600"],
          volumeMounts: [{ name: "work", mountPath: "/work" }],
        },
      ],
      initContainers: [
        {
          name: "first",
          image: busybox,
          command: ["sh", "-c", "echo first > /work/out; echo first-ran"],
          volumeMounts: [{ name: "work", mountPath: "/work" }],
        },
        {
          name: "second",
          image: busybox,
          command: ["sh", "-c", "sleep 1; echo second >> /work/out"],
          volumeMounts: [{ name: "work", mountPath: "/work" }],
        },
      ],
      volumes: [{ name: "work", emptyDir: {} }],
    });
    // While the second init container runs: Init:1/2, not yet Initialized, the app waiting.
    await waitFor("the second init container to run", () =>
      pod("init-writes")?.status?.initContainerStatuses?.[1]?.state?.running ? true : undefined,
    );
    const during = pod("init-writes")?.status;
    expect(during?.initContainerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: "Completed",
    });
    expect(during?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("PodInitializing");
    expect(during?.conditions?.find((c) => c.type === "Initialized")).toMatchObject({
      status: "False",
      reason: "ContainersNotInitialized",
      message: "containers with incomplete status: [second]",
    });
    expect(await kubectlStatus("init-writes")).toBe("Init:1/2");

    await waitFor("the app to run", () =>
      pod("init-writes")?.status?.containerStatuses?.[0]?.state?.running ? true : undefined,
    );
    expect(pod("init-writes")?.status?.conditions?.find((c) => c.type === "Initialized")?.status).toBe(
      "True",
    );
    expect(await waitFor("the app's log", () => cachedLog("init-writes"))).toBe("first\nsecond\n");
    const initLog = await core.readNamespacedPodLog({
      name: "init-writes",
      namespace: ns,
      container: "first",
    });
    expect(initLog).toBe("first-ran\n");
    expect(await kubectlStatus("init-writes")).toBe("Running");
  });

  it("medium: Memory is a tmpfs of sizeLimit (or of the pod's memory limit), shared by the pod's containers, e.g. at /dev/shm", async () => {
    const limits = { limits: { memory: "64Mi" } };
    await createPod("shm", {
      containers: [
        {
          name: "app",
          image: busybox,
          resources: limits,
          command: [
            "sh",
            "-c",
            "echo from-app > /dev/shm/x; df -k /dev/shm /cache; grep -E ' /dev/shm | /cache ' /proc/mounts; sleep 3600",
          ],
          volumeMounts: [
            { name: "dshm", mountPath: "/dev/shm" },
            { name: "cache", mountPath: "/cache" },
          ],
        },
        {
          name: "reader",
          image: busybox,
          resources: limits,
          command: [
            "sh",
            "-c",
            "until [ -f /dev/shm/x ]; do sleep 0.2; done; cat /dev/shm/x; ls -ld /dev/shm; sleep 3600",
          ],
          volumeMounts: [{ name: "dshm", mountPath: "/dev/shm" }],
        },
      ],
      volumes: [
        { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "32Mi" } },
        // No sizeLimit: the pod's memory limit (2 × 64Mi) bounds it, as kubelet sizes it.
        { name: "cache", emptyDir: { medium: "Memory" } },
      ],
    });
    // df and grep write separately: wait for the last lines, not just the first.
    const appLog = await waitFor("the app's df and mounts", () => {
      const log = containerLog("shm", "app");
      return log?.includes(" /dev/shm tmpfs ") && log.includes(" /cache tmpfs ") ? log : undefined;
    });
    const df = (mount: string) =>
      appLog
        .split("\n")
        .map((l) => l.trim().split(/\s+/))
        .find((cells) => cells[5] === mount);
    expect(df("/dev/shm")?.slice(0, 2)).toEqual(["tmpfs", String(32 * 1024)]);
    expect(df("/cache")?.slice(0, 2)).toEqual(["tmpfs", String(128 * 1024)]);
    expect(appLog).toMatch(/ \/dev\/shm tmpfs rw,.*size=32768k/);
    const reader = await waitFor("the reader's log", () => containerLog("shm", "reader"));
    // The other container sees the same tmpfs, world-writable with the sticky bit as a fresh tmpfs is.
    expect(reader).toMatch(/^from-app\ndrwxrwxrwt /);
  });

  it("a failing init container is restarted with backoff (Init:Error, Init:CrashLoopBackOff) and the app never starts", async () => {
    await createPod("init-fails", {
      containers: [{ name: "app", image: busybox, command: ["sleep", "3600"] }],
      initContainers: [{ name: "check", image: busybox, command: ["sh", "-c", "echo not yet; exit 3"] }],
    });
    // kubectl's STATUS as the retries go by: Init:Error between a failure and the next run, then
    // Init:CrashLoopBackOff while the back-off lasts.
    const seen = new Set<string>();
    const deadline = Date.now() + 30_000;
    while (!(seen.has("Init:Error") && seen.has("Init:CrashLoopBackOff")) && Date.now() < deadline) {
      seen.add(await kubectlStatus("init-fails"));
    }
    expect(seen).toContain("Init:Error");
    expect(seen).toContain("Init:CrashLoopBackOff");
    const status = pod("init-fails")?.status;
    const init = status?.initContainerStatuses?.[0];
    expect(init?.restartCount).toBeGreaterThanOrEqual(1);
    expect(init?.lastState?.terminated).toMatchObject({ exitCode: 3, reason: "Error" });
    expect(status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("PodInitializing");
    expect(status?.phase).toBe("Pending");
    const logs = await core.readNamespacedPodLog({ name: "init-fails", namespace: ns, container: "check" });
    expect(logs).toBe("not yet\n");
  });

  it("a restartable init container (sidecar) starts before the app container and keeps running beside it", async () => {
    await createPod("with-sidecar", {
      containers: [{ name: "app", image: busybox, command: ["sleep", "3600"] }],
      initContainers: [
        { name: "proxy", image: busybox, restartPolicy: "Always", command: ["sleep", "3600"] },
      ],
    });
    await waitFor("the app to run", () =>
      pod("with-sidecar")?.status?.containerStatuses?.[0]?.state?.running ? true : undefined,
    );
    expect(pod("with-sidecar")?.status?.initContainerStatuses?.[0]?.state?.running).toBeDefined();
    const row = (await kubectl(["get", "pod", "with-sidecar", "--no-headers"])).stdout.trim().split(/\s+/);
    expect(row.slice(1, 3)).toEqual(["2/2", "Running"]);
  });

  it("under restartPolicy Never a failed init container fails the pod (Init:Error)", async () => {
    await createPod("init-fails-once", {
      restartPolicy: "Never",
      containers: [{ name: "app", image: busybox, command: ["true"] }],
      initContainers: [{ name: "check", image: busybox, command: ["sh", "-c", "exit 1"] }],
    });
    await waitFor("the pod to fail", () =>
      pod("init-fails-once")?.status?.phase === "Failed" ? true : undefined,
    );
    expect(await kubectlStatus("init-fails-once")).toBe("Init:Error");
    expect(pod("init-fails-once")?.status?.initContainerStatuses?.[0]?.restartCount).toBe(0);
  });
});

describe("what the test cluster cannot mount, and what the API server refuses", () => {
  it("an unsupported volume type is a FailedMount, and the pod stays ContainerCreating", async () => {
    await createPod("wants-hostpath", {
      containers: [
        {
          name: "main",
          image: busybox,
          command: ["sleep", "3600"],
          volumeMounts: [{ name: "host", mountPath: "/host" }],
        },
      ],
      volumes: [{ name: "host", hostPath: { path: "/etc" } }],
    });
    await waitFor("FailedMount", () =>
      events("wants-hostpath", "FailedMount").length > 0 ? true : undefined,
    );
    expect(events("wants-hostpath", "FailedMount")[0]).toBe(
      'MountVolume.SetUp failed for volume "host" : the test cluster does not support hostPath volumes (only emptyDir, configMap, secret)',
    );
    expect(pod("wants-hostpath")?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe(
      "ContainerCreating",
    );
  });

  it("a mount naming no volume is refused with 422 Invalid and the real cause", async () => {
    const err = await createPod("bad-mounts", {
      containers: [
        {
          name: "main",
          image: busybox,
          volumeMounts: [
            { name: "missing", mountPath: "/a" },
            { name: "work", mountPath: "/a" },
          ],
        },
      ],
      volumes: [{ name: "work", emptyDir: {} }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    const e = err as ApiException<unknown>;
    expect(e.code).toBe(422);
    const body = JSON.parse(String(e.body)) as { reason: string; message: string };
    expect(body.reason).toBe("Invalid");
    expect(body.message).toBe(
      'Pod "bad-mounts" is invalid: [spec.containers[0].volumeMounts[0].name: Not found: "missing", spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique]',
    );
  });
});

// Logs are fetched in the background so waitFor's synchronous probe can poll them.
const logCache = new Map<string, string>();
function cachedLog(name: string): string | undefined {
  void core
    .readNamespacedPodLog({ name, namespace: ns })
    .then((t) => logCache.set(name, t))
    .catch(() => undefined);
  const text = logCache.get(name);
  return text !== undefined && text !== "" ? text : undefined;
}
/** The last log read of one container of a pod (reads again on each call), once it is not empty. */
function containerLog(name: string, container: string): string | undefined {
  const key = `${name}/${container}`;
  void core
    .readNamespacedPodLog({ name, namespace: ns, container })
    .then((t) => logCache.set(key, t))
    .catch(() => undefined);
  const text = logCache.get(key);
  return text !== undefined && text !== "" ? text : undefined;
}
function cachedLogIncludes(name: string, line: string): boolean {
  return (cachedLog(name) ?? "").split("\n").includes(line);
}

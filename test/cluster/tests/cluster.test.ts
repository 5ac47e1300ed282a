// The local test cluster on the real Docker engine: Deployments become ReplicaSets and Pods that run as
// containers, report the statuses kubectl and Slipway read (ImagePullBackOff, CrashLoopBackOff, Available,
// ProgressDeadlineExceeded), serve logs through pods/log, and roll per maxSurge/maxUnavailable. kubectl
// talks to it through the kubeconfig it writes, exactly as against a real cluster.

import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import type { IPod } from "kubernetes-models/v1/Pod";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify as stringifyYaml } from "yaml";
import { waitFor } from "../../support/wait-for.js";
import { startTestCluster, type TestCluster } from "../cluster.js";
import { type KubectlResult, kubectl as runKubectl } from "../kubectl.js";
import { CLUSTER_LABEL } from "../node.js";
import type { KubeObject } from "../store.js";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
});

afterAll(async () => {
  await cluster?.stop();
});

function kubectl(args: string[], input?: string): Promise<KubectlResult> {
  return runKubectl(cluster.kubeconfigPath, args, input);
}

function pods(app: string): IPod[] {
  return cluster.store.list("v1", "Pod", { namespace: "default", labelSelector: `app=${app}` }) as IPod[];
}

function deployment(name: string): IDeployment {
  return cluster.store.get("apps/v1", "Deployment", "default", name) as IDeployment;
}

interface DeploymentArgs {
  name: string;
  image: string;
  command: string[];
  replicas?: number;
  strategy?: Record<string, unknown>;
  container?: Record<string, unknown>;
  spec?: Record<string, unknown>;
  podSpec?: Record<string, unknown>;
}

function deploymentYaml(a: DeploymentArgs): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: a.name, namespace: "default" },
    spec: {
      replicas: a.replicas ?? 1,
      selector: { matchLabels: { app: a.name } },
      ...(a.strategy ? { strategy: a.strategy } : {}),
      ...a.spec,
      template: {
        metadata: { labels: { app: a.name } },
        spec: {
          ...a.podSpec,
          containers: [{ name: "main", image: a.image, command: a.command, ...a.container }],
        },
      },
    },
  });
}

/** Several manifests as one multi-document YAML stream, as `kubectl apply -f` takes them. */
function list(...items: string[]): string {
  return items.map((i) => stringifyYaml(JSON.parse(i))).join("---\n");
}

/** busybox httpd serving `text` on :8000, ready once it answers, stopping at once on SIGTERM. */
function busyboxWeb(text: string): Pick<DeploymentArgs, "image" | "command" | "container"> {
  return {
    image: inject("slipwayStack").busyboxImage,
    command: [
      "sh",
      "-c",
      `mkdir -p /www && echo ${text} > /www/index.html && trap 'exit 0' TERM; httpd -f -p 8000 -h /www & wait`,
    ],
    container: {
      ports: [{ name: "http", containerPort: 8000 }],
      readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
    },
  };
}

describe("test cluster on the real Docker engine", () => {
  it("a healthy Deployment becomes Available, `kubectl rollout status` succeeds, and its Service answers through the gateway", async () => {
    const stack = inject("slipwayStack");
    let served: string | undefined;
    const t0 = Date.now();
    const applied = await kubectl(
      ["apply", "-f", "-"],
      list(
        deploymentYaml({
          name: "web",
          replicas: 2,
          image: stack.pythonImage,
          command: ["python3", "-m", "http.server", "8000"],
          container: {
            ports: [{ name: "http", containerPort: 8000 }],
            env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
            resources: { limits: { memory: "256Mi", cpu: "500m" } },
            readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
          },
        }),
        JSON.stringify({
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "web", namespace: "default" },
          spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] },
        }),
        JSON.stringify({
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "HTTPRoute",
          metadata: { name: "web", namespace: "default" },
          spec: {
            parentRefs: [{ name: cluster.gateway.name, namespace: cluster.gateway.namespace }],
            rules: [
              {
                matches: [{ path: { type: "PathPrefix", value: "/web" } }],
                filters: [
                  {
                    type: "URLRewrite",
                    urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
                  },
                ],
                backendRefs: [{ name: "web", port: 80 }],
              },
            ],
          },
        }),
      ),
    );
    expect(applied.stderr).toBe("");
    const rollout = await kubectl(["rollout", "status", "deployment/web", "--timeout=90s"]);
    const readyMs = Date.now() - t0;
    expect(rollout.stdout).toContain('deployment "web" successfully rolled out');
    expect(rollout.code).toBe(0);

    const status = deployment("web").status;
    expect(status).toMatchObject({ replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect(status?.conditions?.find((c) => c.type === "Available")).toMatchObject({
      status: "True",
      reason: "MinimumReplicasAvailable",
    });
    expect(status?.conditions?.find((c) => c.type === "Progressing")).toMatchObject({
      status: "True",
      reason: "NewReplicaSetAvailable",
    });
    const [pod] = pods("web");
    expect(pod?.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(pod?.status?.containerStatuses?.[0]?.state?.running).toBeDefined();
    expect(pod?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "ReplicaSet", controller: true });

    const dockerId = pod?.status?.containerStatuses?.[0]?.containerID?.replace("docker://", "") ?? "";
    const inspected = await cluster.docker.getContainer(dockerId).inspect();
    expect(inspected.HostConfig.Memory).toBe(256 * 2 ** 20);
    expect(inspected.HostConfig.NanoCpus).toBe(500_000_000);
    expect(inspected.Config.Env).toContain(`POD_NAME=${pod?.metadata?.name ?? ""}`);

    // The gateway's data plane learns of the new endpoints a moment after they are ready, as a real one.
    const t1 = Date.now();
    const body = await waitFor("the gateway to serve /web/", () => {
      void fetch(`${cluster.gatewayUrl}/web/`)
        .then(async (r) => {
          if (r.status === 200) served = await r.text();
        })
        .catch(() => undefined);
      return served;
    });
    const latencyMs = Date.now() - t1;
    expect(body).toContain("Directory listing for /");
    console.info(
      `[kube-cluster] 2 python pods Available in ${readyMs}ms; served through the gateway ${latencyMs}ms later`,
    );
  });

  it("an image that does not exist shows ErrImagePull, then ImagePullBackOff, with Failed events", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      deploymentYaml({
        name: "noimage",
        image: `${cluster.registry}/slipway-test/missing:1`,
        command: ["x"],
      }),
    );
    const seen = new Set<string>();
    await waitFor("ImagePullBackOff", () => {
      const reason = pods("noimage")[0]?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (reason) seen.add(reason);
      return reason === "ImagePullBackOff" ? reason : undefined;
    });
    expect(seen).toContain("ErrImagePull");
    expect(pods("noimage")[0]?.status?.phase).toBe("Pending");
    // What a user sees: kubectl's STATUS column shows the waiting reason, not the phase.
    const table = await kubectl(["get", "pods", "-l", "app=noimage"]);
    expect(table.stdout).toMatch(/noimage-\S+\s+0\/1\s+(ImagePullBackOff|ErrImagePull)\s/);
    const events = cluster.store.list("v1", "Event", { namespace: "default" }) as (KubeObject & {
      reason?: string;
      message?: string;
    })[];
    expect(events.some((e) => e.reason === "Failed" && e.message?.includes("Failed to pull image"))).toBe(
      true,
    );
    expect(deployment("noimage").status?.conditions?.find((c) => c.type === "Available")).toMatchObject({
      status: "False",
      reason: "MinimumReplicasUnavailable",
    });
  });

  it("a process that exits shows CrashLoopBackOff, counts restarts, and its logs are readable through pods/log", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      deploymentYaml({
        name: "crasher",
        image: inject("slipwayStack").busyboxImage,
        command: ["sh", "-c", "echo starting model server; echo 'fatal: model.bin not found' >&2; exit 3"],
      }),
    );
    const pod = await waitFor("CrashLoopBackOff", () => {
      const p = pods("crasher")[0];
      const cs = p?.status?.containerStatuses?.[0];
      return cs?.state?.waiting?.reason === "CrashLoopBackOff" && cs.restartCount >= 1 ? p : undefined;
    });
    const cs = pod.status?.containerStatuses?.[0];
    expect(cs?.lastState?.terminated).toMatchObject({ exitCode: 3, reason: "Error" });
    expect(pod.status?.phase).toBe("Running");
    const name = pod.metadata?.name ?? "";
    // The container keeps restarting while the test reads: the current instance may be one the kubelet
    // just started, whose log is still empty, and the previous one changes with each restart (as on a
    // real node). Each read is asked again, a bounded number of times, until an instance that ran answers.
    const logsOf = async (...extra: string[]) => {
      let r = await kubectl(["logs", name, ...extra]);
      for (let i = 0; i < 20 && !r.stdout.includes("fatal: model.bin not found"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        r = await kubectl(["logs", name, ...extra]);
      }
      return r;
    };
    const logs = await logsOf();
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("starting model server");
    expect(logs.stdout).toContain("fatal: model.bin not found");
    const previous = await logsOf("--previous");
    expect(previous.stdout).toContain("fatal: model.bin not found");
  });

  it("a rolling update with maxSurge/maxUnavailable 25% of 3 (rounding to 1 up, 0 down) never exceeds 4 pods or drops below 3 available", async () => {
    const args = {
      name: "roll",
      replicas: 3,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
    };
    await kubectl(["apply", "-f", "-"], deploymentYaml({ ...args, ...busyboxWeb("v1") }));
    expect((await kubectl(["rollout", "status", "deployment/roll", "--timeout=60s"])).code).toBe(0);
    const oldHash = pods("roll")[0]?.metadata?.labels?.["pod-template-hash"];

    let maxPods = 0;
    let minAvailable = Number.POSITIVE_INFINITY;
    const sample = () => {
      const rss = cluster.store.list("apps/v1", "ReplicaSet", {
        namespace: "default",
        labelSelector: "app=roll",
      }) as IReplicaSet[];
      // maxSurge bounds the pods that are not terminating: a deleted pod lingers as Terminating until its
      // kubelet has stopped it, and counts against no ReplicaSet.
      maxPods = Math.max(maxPods, pods("roll").filter((p) => !p.metadata?.deletionTimestamp).length);
      minAvailable = Math.min(
        minAvailable,
        rss.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0),
      );
    };
    const stopPods = cluster.store.watch("v1", "Pod", sample);
    const stopRss = cluster.store.watch("apps/v1", "ReplicaSet", sample);
    try {
      await kubectl(["apply", "-f", "-"], deploymentYaml({ ...args, ...busyboxWeb("v2") }));
      const rollout = await kubectl(["rollout", "status", "deployment/roll", "--timeout=90s"]);
      expect(rollout.code).toBe(0);
      expect(rollout.stdout).toContain("old replicas are pending termination");
    } finally {
      stopPods();
      stopRss();
    }
    expect(maxPods).toBe(4);
    expect(minAvailable).toBeGreaterThanOrEqual(3);
    const now = pods("roll").filter((p) => !p.metadata?.deletionTimestamp);
    expect(now).toHaveLength(3);
    expect(now.every((p) => p.metadata?.labels?.["pod-template-hash"] !== oldHash)).toBe(true);
    const d = deployment("roll");
    expect(d.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("2");
    const events = (
      cluster.store.list("v1", "Event", { namespace: "default" }) as (KubeObject & {
        reason?: string;
        message?: string;
        involvedObject?: { name?: string };
      })[]
    )
      .filter((e) => e.involvedObject?.name === "roll" && e.reason === "ScalingReplicaSet")
      .map((e) => e.message ?? "");
    expect(events.some((m) => /Scaled down replica set roll-\w+ from 3 to 2/.test(m))).toBe(true);

    // Undo brings back the first template: its ReplicaSet is reused and becomes revision 3.
    expect((await kubectl(["rollout", "undo", "deployment/roll"])).code).toBe(0);
    expect((await kubectl(["rollout", "status", "deployment/roll", "--timeout=60s"])).code).toBe(0);
    const rss = cluster.store.list("apps/v1", "ReplicaSet", {
      namespace: "default",
      labelSelector: "app=roll",
    }) as IReplicaSet[];
    expect(rss).toHaveLength(2);
    const active = rss.find((rs) => (rs.spec?.replicas ?? 0) > 0);
    expect(active?.metadata?.labels?.["pod-template-hash"]).toBe(oldHash);
    expect(active?.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("3");
  });

  it("the Recreate strategy stops every old pod before it creates a new one", async () => {
    const args = { name: "recreate", replicas: 2, strategy: { type: "Recreate" } };
    await kubectl(["apply", "-f", "-"], deploymentYaml({ ...args, ...busyboxWeb("v1") }));
    expect((await kubectl(["rollout", "status", "deployment/recreate", "--timeout=60s"])).code).toBe(0);
    const oldHash = pods("recreate")[0]?.metadata?.labels?.["pod-template-hash"];
    // recreate.go's oldPodsRunning: an old pod holds the new ones back until it is in a terminal phase.
    // A terminated old pod's object may still be there (Terminating, Succeeded) while its kubelet
    // removes its containers, and new pods may already be created then, as on a real cluster.
    let mixed = false;
    const stop = cluster.store.watch("v1", "Pod", () => {
      const all = pods("recreate");
      const hash = (p: IPod) => p.metadata?.labels?.["pod-template-hash"];
      const oldRunning = all.some(
        (p) => hash(p) === oldHash && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed",
      );
      if (oldRunning && all.some((p) => hash(p) !== oldHash)) mixed = true;
    });
    try {
      await kubectl(["apply", "-f", "-"], deploymentYaml({ ...args, ...busyboxWeb("v2") }));
      expect((await kubectl(["rollout", "status", "deployment/recreate", "--timeout=60s"])).code).toBe(0);
    } finally {
      stop();
    }
    expect(mixed).toBe(false);
    expect(pods("recreate").every((p) => p.metadata?.labels?.["pod-template-hash"] !== oldHash)).toBe(true);
  });

  it("progressDeadlineSeconds: a stuck rollout reports Progressing=False/ProgressDeadlineExceeded and rollout status fails", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      deploymentYaml({
        name: "stuck",
        image: `${cluster.registry}/slipway-test/missing:2`,
        command: ["x"],
        spec: { progressDeadlineSeconds: 2 },
      }),
    );
    const cond = await waitFor(
      "ProgressDeadlineExceeded",
      () =>
        deployment("stuck").status?.conditions?.find((c) => c.type === "Progressing" && c.status === "False"),
      15_000,
    );
    expect(cond.reason).toBe("ProgressDeadlineExceeded");
    const rollout = await kubectl(["rollout", "status", "deployment/stuck", "--timeout=30s"]);
    expect(rollout.code).not.toBe(0);
    expect(rollout.stderr).toContain('deployment "stuck" exceeded its progress deadline');
  });

  it("a failing liveness probe (httpGet through the pod's own network namespace) restarts the container", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      deploymentYaml({
        name: "unhealthy",
        image: inject("slipwayStack").busyboxImage,
        // httpd as PID 1 has no SIGTERM handler, so the kill ends in SIGKILL after the grace period.
        command: ["sh", "-c", "mkdir -p /www && exec httpd -f -p 8000 -h /www"],
        container: {
          ports: [{ name: "http", containerPort: 8000 }],
          livenessProbe: { httpGet: { path: "/healthz", port: 8000 }, periodSeconds: 1, failureThreshold: 2 },
        },
        podSpec: { terminationGracePeriodSeconds: 2 },
      }),
    );
    const pod = await waitFor("a liveness restart", () => {
      const p = pods("unhealthy")[0];
      return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? p : undefined;
    });
    expect(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
    const events = cluster.store.list("v1", "Event", { namespace: "default" }) as (KubeObject & {
      reason?: string;
      message?: string;
    })[];
    expect(
      events.some(
        (e) =>
          e.reason === "Unhealthy" &&
          e.message?.startsWith("Liveness probe failed: HTTP probe failed with statuscode: 404"),
      ),
    ).toBe(true);
  });

  it("stop() removes every container the cluster started", async () => {
    const before = await cluster.docker.listContainers({
      all: true,
      filters: { label: [`${CLUSTER_LABEL}=${cluster.clusterId}`] },
    });
    expect(before.length).toBeGreaterThan(0);
    await cluster.stop();
    const after = await cluster.docker.listContainers({
      all: true,
      filters: { label: [`${CLUSTER_LABEL}=${cluster.clusterId}`] },
    });
    expect(after).toEqual([]);
  });
});

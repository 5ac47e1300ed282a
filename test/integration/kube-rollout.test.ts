// waitForRollout against the local test cluster, whose pods are real containers on the local engine:
// a healthy version resolves as soon as its Deployment is available (the delay is printed); a missing
// image fails with the image and the registry's words, a crashing container with its last log lines,
// a Deployment past its progress deadline with the controller's condition, and a pod that never gets
// ready with the deadline's "timed out after …, last state: …" — each long before any fixed timeout.

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKubeClient, type KubeClient, RolloutFailed, waitForRollout } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";

const NS = "kube-rollout";

let cluster: TestCluster;
let client: KubeClient;

interface Version {
  name: string;
  image?: string;
  command: string[];
  readinessPort?: number;
  spec?: Record<string, unknown>;
}

function deployment(v: Version) {
  const labels = { "app.kubernetes.io/name": v.name, "slipway.dev/version": v.name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: v.name, namespace: NS, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      ...v.spec,
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "server",
              image: v.image ?? inject("slipwayStack").busyboxImage,
              command: v.command,
              ports: [{ name: "http", containerPort: 8000 }],
              readinessProbe: { httpGet: { path: "/", port: v.readinessPort ?? 8000 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

const HTTPD = ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www"];

async function rolloutFailure(v: Version, deadlineMs: number): Promise<RolloutFailed> {
  await client.apply(deployment(v));
  const deadline = Date.now() + deadlineMs;
  const err = await waitForRollout(client, NS, [{ deployment: v.name, endpoint: `${v.name}-endpoint` }], {
    deadline,
    labelSelector: `slipway.dev/version=${v.name}`,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RolloutFailed);
  return err as RolloutFailed;
}

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  client = createKubeClient({ kubeconfig: cluster.kubeconfig, namespace: NS });
  await client.ensureNamespace(NS);
});

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

describe("waitForRollout", () => {
  it("resolves once a healthy Deployment is available, right after the cluster says so", async () => {
    const before = client.counters;
    await client.apply(deployment({ name: "healthy", command: HTTPD }));
    await client.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "healthy", namespace: NS },
      spec: { selector: { "slipway.dev/version": "healthy" }, ports: [{ port: 80, targetPort: "http" }] },
    });
    const applied = client.counters;
    const progress: string[] = [];
    const result = await waitForRollout(client, NS, [{ deployment: "healthy", endpoint: "predict" }], {
      deadline: Date.now() + 90_000,
      labelSelector: "slipway.dev/version=healthy",
      onProgress: (_t, d) => progress.push(d.state),
    });
    const watched = client.counters;
    expect(result.deployments).toEqual([
      {
        target: { deployment: "healthy", endpoint: "predict" },
        message: 'deployment "healthy" successfully rolled out',
      },
    ]);
    expect(result.timing.clusterKnewFrom).toBe("condition");
    expect(progress.at(-1)).toBe("Ready");
    expect(progress).toContain("Pending");

    const live = await client.get<{ status?: { conditions?: { type?: string; status?: string }[] } }>({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "healthy",
    });
    expect(live?.status?.conditions?.find((c) => c.type === "Available")?.status).toBe("True");
    const t = result.timing;
    console.log(
      `readiness noticed ${t.noticedAt.getTime() - t.clusterKnewAt.getTime()} ms after the Available condition's ` +
        `timestamp (second resolution), ${t.noticedAt.getTime() - t.receivedAt.getTime()} ms after the watch event ` +
        `arrived; rollout took ${t.noticedAt.getTime() - t.startedAt.getTime()} ms; ` +
        `requests per apply: ${(applied.requests - before.requests) / 2}, rollout watch requests: ` +
        `${watched.requests - applied.requests} (${watched.watches - applied.watches} watch connections)`,
    );
  });

  it("fails with ImagePullBackOff naming the image and the registry's message", async () => {
    const image = `${inject("slipwayStack").registry}/slipway-test/not-pushed:1.0`;
    const err = await rolloutFailure({ name: "no-image", image, command: HTTPD }, 90_000);
    expect(["ImagePullBackOff", "ErrImagePull"]).toContain(err.reason);
    expect(err.image).toBe(image);
    expect(err.endpoint).toBe("no-image-endpoint");
    expect(err.detail).toContain(`Failed to pull image "${image}"`);
    expect(err.detail).toMatch(/not found|manifest unknown/i);
    expect(err.message).toMatch(
      /^deployment "kube-rollout\/no-image" \(endpoint no-image-endpoint\) failed: /,
    );
    expect(err.timing.clusterKnewFrom).toBe("event");
    console.log(
      `image pull failure noticed ${err.timing.noticedAt.getTime() - err.timing.clusterKnewAt.getTime()} ms after its event`,
    );
  });

  it("fails with CrashLoopBackOff and the crashing container's last log lines", async () => {
    const lines = Array.from({ length: 30 }, (_, i) => `echo "loading shard ${i}"`).join("; ");
    // One stream: the runtime keeps each of stdout and stderr in order, not their interleaving.
    const command = ["sh", "-c", `${lines}; echo "FATAL: model.json not found"; exit 3`];
    const err = await rolloutFailure({ name: "crashing", command }, 90_000);
    expect(err.reason).toBe("CrashLoopBackOff");
    expect(err.container).toBe("server");
    expect(err.pod).toMatch(/^crashing-/);
    expect(err.detail).toMatch(/^container "server" keeps crashing: last exit code 3 \(Error\)/);
    expect(err.logs).toHaveLength(20);
    expect(err.logs.at(-1)).toBe("FATAL: model.json not found");
    expect(err.logs[0]).toBe("loading shard 11");
    expect(err.message).toContain("last log lines:\nloading shard 11");
  });

  it("fails with ProgressDeadlineExceeded when the Deployment controller gives up", async () => {
    const err = await rolloutFailure(
      { name: "stalled", command: HTTPD, readinessPort: 9000, spec: { progressDeadlineSeconds: 2 } },
      90_000,
    );
    expect(err.reason).toBe("ProgressDeadlineExceeded");
    expect(err.detail).toMatch(/^ReplicaSet "stalled-[a-z0-9]+" has timed out progressing\./);
    // With the pod's state at that moment (still starting, or running but not ready).
    expect(err.detail).toMatch(/\(pod stalled-[a-z0-9-]+: container "server" /);
  });

  it("fails at the deadline with the last state it saw", async () => {
    // The pod's state at the deadline depends on the machine's speed (starting, or running but not
    // ready); the message names it either way.
    const err = await rolloutFailure({ name: "never-ready", command: HTTPD, readinessPort: 9000 }, 4000);
    expect(err.reason).toBe("Timeout");
    expect(err.detail).toMatch(
      /^timed out after 4s waiting for deployment "never-ready", last state: never-ready: Waiting for deployment "never-ready" rollout to finish: 0 of 1 updated replicas are available \(pod never-ready-[a-z0-9-]+: /,
    );
  });
});

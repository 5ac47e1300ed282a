// Graceful pod termination on the test cluster, against "Termination of Pods"
// (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination) and the EndpointSlice
// conditions: a pod whose deletion starts leaves its Service's ready endpoints at once, the gateway keeps
// routing to it for its propagation delay, its preStop hook runs, then SIGTERM, then SIGKILL at the end of
// the grace period, and only then is the pod object removed. Real containers, real requests.
//
// Pods are bound to the node in their templates (spec.nodeName), as the scheduler binds them: only a
// bound pod is deleted gracefully.

import type { IPod } from "kubernetes-models/v1/Pod";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../support/wait-for.js";
import { startTestCluster, type TestCluster } from "../cluster.js";
import { type KubectlResult, kubectl as runKubectl } from "../kubectl.js";
import { NODE_NAME } from "../node.js";
import type { KubeObject } from "../store.js";

let cluster: TestCluster;
const ns = "default";
const PROPAGATION_MS = 1000;

beforeAll(async () => {
  cluster = await startTestCluster({
    stack: inject("slipwayStack"),
    gatewayPropagationDelayMs: PROPAGATION_MS,
  });
});

afterAll(async () => {
  await cluster?.stop();
});

function kubectl(args: string[], input?: string): Promise<KubectlResult> {
  return runKubectl(cluster.kubeconfigPath, args, input);
}

function pods(selector: string): IPod[] {
  return cluster.store.list("v1", "Pod", { namespace: ns, labelSelector: selector }) as IPod[];
}

function readyCount(selector: string): number {
  return pods(selector).filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  ).length;
}

/**
 * busybox httpd answering `text`, run by a shell that exits on SIGTERM at once (as gunicorn or uvicorn
 * stop accepting), so any request routed to it after its stop signal fails.
 */
function server(text: string): Record<string, unknown> {
  return {
    name: "main",
    image: inject("slipwayStack").busyboxImage,
    command: [
      "sh",
      "-c",
      `mkdir -p /www && echo ${text} > /www/index.html && trap 'exit 0' TERM; httpd -f -p 8000 -h /www & wait`,
    ],
    ports: [{ name: "http", containerPort: 8000 }],
    readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
  };
}

function deployment(
  name: string,
  labels: Record<string, string>,
  replicas: number,
  container: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { deployment: name } },
      ...spec,
      template: {
        metadata: { labels: { ...labels, deployment: name } },
        spec: { nodeName: NODE_NAME, terminationGracePeriodSeconds: 10, containers: [container] },
      },
    },
  });
}

/** A Service over `app=<app>` and a route sending /<app>/ to it. */
async function serviceAndRoute(app: string): Promise<void> {
  const svc = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: app, namespace: ns },
    spec: { selector: { app }, ports: [{ port: 80, targetPort: "http" }] },
  };
  const route = {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: app, namespace: ns },
    spec: {
      parentRefs: [{ name: cluster.gateway.name, namespace: cluster.gateway.namespace }],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: `/${app}` } }],
          filters: [
            {
              type: "URLRewrite",
              urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
            },
          ],
          backendRefs: [{ name: app, port: 80 }],
        },
      ],
    },
  };
  const applied = await kubectl(["apply", "-f", "-"], `${JSON.stringify(svc)}\n${JSON.stringify(route)}`);
  expect(applied.code, applied.stderr).toBe(0);
}

/** Polls the gateway until `path` answers 200 with every body in `bodies` seen (the data plane has them). */
async function untilServed(path: string, bodies: readonly string[]): Promise<void> {
  const seen = new Set<string>();
  await waitFor(`the gateway to serve ${bodies.join(", ")} at ${path}`, () => {
    if (bodies.every((b) => seen.has(b))) return true;
    void fetch(`${cluster.gatewayUrl}${path}`)
      .then(async (r) => {
        if (r.status === 200) seen.add((await r.text()).trim());
      })
      .catch(() => undefined);
    return undefined;
  });
}

interface StreamResult {
  readonly ok: number;
  readonly failures: readonly string[];
  /** Bodies of the successful answers, with when they arrived (ms). */
  readonly answers: readonly { readonly at: number; readonly body: string }[];
}

/**
 * A steady request stream through the gateway: two requests in flight at a time, until `done()` holds
 * (checked between requests) or `maxMs` has passed, whichever comes first.
 */
async function stream(path: string, done: () => boolean, maxMs: number): Promise<StreamResult> {
  const deadline = Date.now() + maxMs;
  const failures: string[] = [];
  const answers: { at: number; body: string }[] = [];
  let ok = 0;
  const loop = async () => {
    while (!done() && Date.now() < deadline) {
      try {
        const res = await fetch(`${cluster.gatewayUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
        const body = (await res.text()).trim();
        if (res.status === 200) {
          ok++;
          answers.push({ at: Date.now(), body });
        } else failures.push(`${res.status} ${body}`);
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await Promise.all([loop(), loop()]);
  return { ok, failures, answers };
}

/** The pods `kubectl get pods <args>` lists as Terminating (its STATUS column). */
async function terminatingInKubectl(args: string[]): Promise<Set<string>> {
  const out = await kubectl(["get", "pods", ...args, "--no-headers"]);
  return new Set(
    out.stdout
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((cells) => cells[2] === "Terminating")
      .map((cells) => cells[0] ?? ""),
  );
}

/** When (ms) the first pod matching `selector` gets its deletionTimestamp, once `arm()` was called. */
function deletionStart(selector: string): { at: () => number; stop: () => void } {
  let at = Number.POSITIVE_INFINITY;
  const stop = cluster.store.watch(
    "v1",
    "Pod",
    (ev) => {
      if (ev.type !== "DELETED" && ev.object.metadata.deletionTimestamp && at === Number.POSITIVE_INFINITY)
        at = Date.now();
    },
    { namespace: ns, labelSelector: selector },
  );
  return { at: () => at, stop };
}

describe("graceful termination (pod-lifecycle.md#pod-termination)", () => {
  it("a Deployment scaled to 0 under a steady stream: preStop sleep ≥ the gateway's delay, and no request fails", async () => {
    await serviceAndRoute("retire");
    const preStop = { preStop: { sleep: { seconds: 3 } } };
    const applied = await kubectl(
      ["apply", "-f", "-"],
      `${deployment("retire-v1", { app: "retire" }, 2, { ...server("v1"), lifecycle: preStop })}\n${deployment(
        "retire-v2",
        { app: "retire" },
        1,
        { ...server("v2"), lifecycle: preStop },
      )}`,
    );
    expect(applied.code, applied.stderr).toBe(0);
    await waitFor("3 ready pods", () => (readyCount("app=retire") === 3 ? true : undefined));
    await untilServed("/retire/", ["v1", "v2"]);

    let goneAt = Number.POSITIVE_INFINITY;
    const deletion = deletionStart("deployment=retire-v1");
    const streaming = stream("/retire/", () => Date.now() > goneAt + 2 * PROPAGATION_MS, 40_000);
    await new Promise((r) => setTimeout(r, 500));
    const scaled = await kubectl(["scale", "deployment/retire-v1", "--replicas=0"]);
    expect(scaled.code, scaled.stderr).toBe(0);
    // The scale-down goes through graceful deletion: the pods stay, Terminating, through their preStop.
    const terminating = await terminatingInKubectl(["-l", "deployment=retire-v1"]);
    await waitFor("the v1 pods to be deleted", () =>
      pods("deployment=retire-v1").length === 0 ? true : undefined,
    );
    goneAt = Date.now();
    const result = await streaming;
    deletion.stop();

    expect(terminating.size).toBe(2);
    expect(result.failures).toEqual([]);
    // The data plane kept sending to v1 after its deletion started, and the preStop hook kept it answering.
    const v1After = result.answers.filter((a) => a.body === "v1" && a.at > deletion.at() + 100);
    expect(v1After.length).toBeGreaterThan(0);
    // The pods lived at least as long as their preStop sleep.
    expect(goneAt - deletion.at()).toBeGreaterThanOrEqual(3000);
    console.info(
      `[kube-lifecycle] retire under load: ${result.ok} answers, ${v1After.length} from v1 after its deletion started, 0 failed`,
    );
  });

  it("without a preStop hook the same scale-down fails requests: the gateway still routes to pods that have stopped", async () => {
    await serviceAndRoute("abrupt");
    const applied = await kubectl(
      ["apply", "-f", "-"],
      `${deployment("abrupt-v1", { app: "abrupt" }, 2, server("v1"))}\n${deployment("abrupt-v2", { app: "abrupt" }, 1, server("v2"))}`,
    );
    expect(applied.code, applied.stderr).toBe(0);
    await waitFor("3 ready pods", () => (readyCount("app=abrupt") === 3 ? true : undefined));
    await untilServed("/abrupt/", ["v1", "v2"]);

    let goneAt = Number.POSITIVE_INFINITY;
    const streaming = stream("/abrupt/", () => Date.now() > goneAt + 2 * PROPAGATION_MS, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect((await kubectl(["scale", "deployment/abrupt-v1", "--replicas=0"])).code).toBe(0);
    await waitFor("the v1 pods to be deleted", () =>
      pods("deployment=abrupt-v1").length === 0 ? true : undefined,
    );
    goneAt = Date.now();
    const result = await streaming;

    expect(result.failures.length).toBeGreaterThan(0);
    // Once the data plane has caught up, v2 alone answers again.
    expect(result.answers.at(-1)?.body).toBe("v2");
    console.info(
      `[kube-lifecycle] scale-down without preStop: ${result.failures.length} of ${result.failures.length + result.ok} requests failed (e.g. ${result.failures[0]})`,
    );
  });

  it("a rollout to a new ReplicaSet under a steady stream: with preStop, no request fails", async () => {
    await serviceAndRoute("roll");
    const preStop = { preStop: { sleep: { seconds: 3 } } };
    const strategy = {
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    };
    const v1 = deployment("roll", { app: "roll" }, 2, { ...server("v1"), lifecycle: preStop }, strategy);
    expect((await kubectl(["apply", "-f", "-"], v1)).code).toBe(0);
    expect((await kubectl(["rollout", "status", "deployment/roll", "--timeout=60s"])).code).toBe(0);
    await untilServed("/roll/", ["v1"]);

    let rolledAt = Number.POSITIVE_INFINITY;
    const streaming = stream("/roll/", () => Date.now() > rolledAt + 2 * PROPAGATION_MS, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const v2 = deployment("roll", { app: "roll" }, 2, { ...server("v2"), lifecycle: preStop }, strategy);
    expect((await kubectl(["apply", "-f", "-"], v2)).code).toBe(0);
    const rollout = await kubectl(["rollout", "status", "deployment/roll", "--timeout=60s"]);
    expect(rollout.code, rollout.stderr).toBe(0);
    await waitFor("the old pods to be deleted", () =>
      pods("app=roll").every((p) => !p.metadata?.deletionTimestamp) && pods("app=roll").length === 2
        ? true
        : undefined,
    );
    rolledAt = Date.now();
    const result = await streaming;

    expect(result.failures).toEqual([]);
    expect(new Set(result.answers.map((a) => a.body))).toEqual(new Set(["v1", "v2"]));
    expect(result.answers.at(-1)?.body).toBe("v2");
  });

  it("a process that ignores SIGTERM is SIGKILLed when the grace period ends; the pod shows Terminating until then", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "stubborn", namespace: ns },
      spec: {
        nodeName: NODE_NAME,
        terminationGracePeriodSeconds: 3,
        // PID 1 with no handler for SIGTERM: the kernel does not deliver it, so only SIGKILL ends it.
        containers: [
          { name: "main", image: inject("slipwayStack").busyboxImage, command: ["sleep", "3600"] },
        ],
      },
    };
    expect((await kubectl(["apply", "-f", "-"], JSON.stringify(pod))).code).toBe(0);
    await waitFor("stubborn running", () => {
      const p = cluster.store.get("v1", "Pod", ns, "stubborn") as IPod | undefined;
      return p?.status?.containerStatuses?.[0]?.state?.running ? true : undefined;
    });

    const seen: IPod[] = [];
    let deletedAt = 0;
    const stop = cluster.store.watch("v1", "Pod", (ev) => {
      if (ev.object.metadata.name !== "stubborn") return;
      if (ev.type === "DELETED") deletedAt = Date.now();
      else seen.push(structuredClone(ev.object) as IPod);
    });
    try {
      const t0 = Date.now();
      expect((await kubectl(["delete", "pod", "stubborn", "--wait=false"])).code).toBe(0);
      const live = cluster.store.get("v1", "Pod", ns, "stubborn") as IPod | undefined;
      expect(live?.metadata?.deletionGracePeriodSeconds).toBe(3);
      expect(await terminatingInKubectl(["stubborn"])).toContain("stubborn");
      await waitFor("stubborn deleted", () => (deletedAt > 0 ? true : undefined), 30_000);
      expect(deletedAt - t0).toBeGreaterThanOrEqual(3000);
    } finally {
      stop();
    }
    const last = seen.at(-1);
    // The last status kubelet wrote: the container killed (137), the pod in a terminal phase.
    expect(last?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 137,
      reason: "Error",
    });
    expect(last?.status?.phase).toBe("Failed");
    const killing = (
      cluster.store.list("v1", "Event", { namespace: ns }) as (KubeObject & {
        reason?: string;
        message?: string;
        involvedObject?: { name?: string };
      })[]
    ).filter((e) => e.involvedObject?.name === "stubborn" && e.reason === "Killing");
    expect(killing.map((e) => e.message)).toEqual(["Stopping container main"]);
  });

  it("a pod that never started (ImagePullBackOff) is deleted without waiting for a grace period", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "never-pulled", namespace: ns },
      spec: {
        nodeName: NODE_NAME,
        terminationGracePeriodSeconds: 30,
        containers: [{ name: "main", image: `${cluster.registry}/slipway-test/missing:1`, command: ["x"] }],
      },
    };
    expect((await kubectl(["apply", "-f", "-"], JSON.stringify(pod))).code).toBe(0);
    await waitFor("ImagePullBackOff", () => {
      const p = cluster.store.get("v1", "Pod", ns, "never-pulled") as IPod | undefined;
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ImagePullBackOff"
        ? true
        : undefined;
    });
    const deleted = await kubectl(["delete", "pod", "never-pulled", "--timeout=20s"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(cluster.store.get("v1", "Pod", ns, "never-pulled")).toBeUndefined();
  });

  it("an exec preStop hook runs in the running container, and the stop signal comes after it", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "hooked", namespace: ns },
      spec: {
        nodeName: NODE_NAME,
        terminationGracePeriodSeconds: 20,
        containers: [
          {
            ...server("hooked"),
            // The hook leaves a mark the container's own server serves while the hook still sleeps.
            lifecycle: { preStop: { exec: { command: ["sh", "-c", "echo ran > /www/mark; sleep 2"] } } },
          },
        ],
      },
    };
    expect((await kubectl(["apply", "-f", "-"], JSON.stringify(pod))).code).toBe(0);
    await waitFor("hooked ready", () => {
      const p = cluster.store.get("v1", "Pod", ns, "hooked") as IPod | undefined;
      return p?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
    });
    let exitCode: number | undefined;
    let seen: string | undefined;
    const stop = cluster.store.watch("v1", "Pod", (ev) => {
      if (ev.object.metadata.name !== "hooked" || ev.type === "DELETED") return;
      exitCode ??= (ev.object as IPod).status?.containerStatuses?.[0]?.state?.terminated?.exitCode;
    });
    try {
      const t0 = Date.now();
      expect((await kubectl(["delete", "pod", "hooked", "--wait=false"])).code).toBe(0);
      const mark = await waitFor("the hook's mark, served by the container", () => {
        void cluster.node
          .forward(ns, "hooked", 8000)
          .then((port) => (port === undefined ? undefined : fetch(`http://127.0.0.1:${port}/mark`)))
          .then(async (r) => {
            if (r?.status === 200) seen = (await r.text()).trim();
          })
          .catch(() => undefined);
        return seen;
      });
      expect(mark).toBe("ran");
      await waitFor("hooked deleted", () =>
        cluster.store.get("v1", "Pod", ns, "hooked") === undefined ? true : undefined,
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    } finally {
      stop();
    }
    // The server's SIGTERM handler ended it (exit 0): the stop signal came, not SIGKILL.
    expect(exitCode).toBe(0);
  });
});

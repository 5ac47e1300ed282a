// Container probes on the test cluster, against "Container probes" and "Configure Liveness, Readiness and
// Startup Probes" (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-probes,
// https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/):
// a startup probe holds liveness and readiness back until it succeeds, within failureThreshold ×
// periodSeconds; without it an aggressive liveness probe kills a slow starter over and over; a container
// whose startup probe never succeeds is killed and restarted. Real containers; a model server that takes
// 8 seconds to listen stands in for one loading its weights.

import type { IPod } from "kubernetes-models/v1/Pod";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../support/wait-for.js";
import { startTestCluster, type TestCluster } from "../cluster.js";
import { NODE_NAME } from "../node.js";
import type { KubeObject } from "../store.js";

let cluster: TestCluster;
const ns = "default";
const LOAD_SECONDS = 8;

/** A server that "loads" for LOAD_SECONDS, then listens on :8000 and stops at once on SIGTERM. */
function slowServer(): Record<string, unknown> {
  return {
    name: "main",
    image: inject("slipwayStack").busyboxImage,
    command: [
      "sh",
      "-c",
      `sleep ${LOAD_SECONDS}; mkdir -p /www && echo ready > /www/index.html && trap 'exit 0' TERM; httpd -f -p 8000 -h /www & wait`,
    ],
    ports: [{ name: "http", containerPort: 8000 }],
  };
}

// Liveness that tolerates no failure: once probing starts, a server that does not answer is killed.
const aggressiveLiveness = { tcpSocket: { port: 8000 }, periodSeconds: 1, failureThreshold: 1 };
const readiness = { httpGet: { path: "/", port: "http" }, periodSeconds: 1 };

function createPod(name: string, container: Record<string, unknown>): void {
  cluster.store.create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: { nodeName: NODE_NAME, terminationGracePeriodSeconds: 2, containers: [container] },
  } as unknown as KubeObject);
}

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

/** Every containerStatus the pod reported, in order (sampled from the store's watch). */
const history = new Map<string, NonNullable<NonNullable<IPod["status"]>["containerStatuses"]>[number][]>();

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  cluster.store.watch("v1", "Pod", (ev) => {
    const cs = (ev.object as IPod).status?.containerStatuses?.[0];
    const name = ev.object.metadata.name ?? "";
    if (cs) history.set(name, [...(history.get(name) ?? []), structuredClone(cs)]);
  });
  // All three start together: the machine runs them side by side while each case waits for its own.
  createPod("guarded", {
    ...slowServer(),
    startupProbe: { tcpSocket: { port: 8000 }, periodSeconds: 1, failureThreshold: 3 * LOAD_SECONDS },
    livenessProbe: aggressiveLiveness,
    readinessProbe: readiness,
  });
  createPod("unguarded", { ...slowServer(), livenessProbe: aggressiveLiveness, readinessProbe: readiness });
  createPod("never-starts", {
    ...slowServer(),
    // Nothing ever listens on 9000: the startup budget (3 × 1 s) runs out.
    startupProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1, failureThreshold: 3 },
    livenessProbe: aggressiveLiveness,
  });
});

afterAll(async () => {
  await cluster?.stop();
});

describe("probes as kubelet runs them", () => {
  it("a slow starter behind a startup probe becomes Ready and is never restarted by its aggressive liveness probe", async () => {
    const ready = await waitFor(
      "guarded Ready",
      () => {
        const p = pod("guarded");
        return p?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? p : undefined;
      },
      60_000,
    );
    const cs = ready.status?.containerStatuses?.[0];
    expect(cs?.restartCount).toBe(0);
    expect(cs?.started).toBe(true);
    // While it loaded it was running but not started, and the startup probe (not liveness) was failing.
    const before = (history.get("guarded") ?? []).filter((s) => s.state?.running && !s.ready);
    expect(before.some((s) => s.started === false)).toBe(true);
    expect(events("guarded", "Unhealthy").some((m) => m.startsWith("Startup probe failed:"))).toBe(true);
    expect(events("guarded", "Unhealthy").filter((m) => m.startsWith("Liveness probe failed:"))).toEqual([]);
    expect(events("guarded", "Killing")).toEqual([]);
  });

  it("without the startup probe the same liveness probe kills the slow starter before it listens, again and again", async () => {
    const restarted = await waitFor("unguarded restarted", () => {
      const cs = pod("unguarded")?.status?.containerStatuses?.[0];
      return (cs?.restartCount ?? 0) >= 1 ? cs : undefined;
    });
    expect(restarted?.ready).toBe(false);
    expect(events("unguarded", "Killing")).toContain(
      "Container main failed liveness probe, will be restarted",
    );
    expect(events("unguarded", "Unhealthy").some((m) => m.startsWith("Liveness probe failed:"))).toBe(true);
  });

  it("a container whose startup probe never succeeds is killed when its budget runs out and restarted; liveness never runs", async () => {
    const restarted = await waitFor("never-starts restarted", () => {
      const cs = pod("never-starts")?.status?.containerStatuses?.[0];
      return (cs?.restartCount ?? 0) >= 1 ? cs : undefined;
    });
    expect(restarted?.started).not.toBe(true);
    expect(restarted?.lastState?.terminated).toBeDefined();
    expect(events("never-starts", "Killing")).toContain(
      "Container main failed startup probe, will be restarted",
    );
    expect(events("never-starts", "Unhealthy").filter((m) => m.startsWith("Liveness probe failed:"))).toEqual(
      [],
    );
  });
});

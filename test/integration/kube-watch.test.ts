// The kube client's watch against the local test cluster, through a loopback TCP proxy that can cut
// every connection (the API server or a load balancer dropping the stream) and hold new ones: a cut
// watch resumes from the last resourceVersion with every change delivered exactly once; a watch that
// comes back after the server's history moved past its resourceVersion gets 410 Gone, lists again and
// reports only what changed meanwhile; the deadline ends it.

import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKubeClient, type KubeClient, type WatchEvent } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { waitFor } from "../support/wait-for.js";

const NS = "kube-watch";
const CONFIGMAP = { apiVersion: "v1", kind: "ConfigMap" } as const;

let cluster: TestCluster;
let direct: KubeClient;

interface TcpProxy {
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection, both sides, as a dropped network does. */
  cut(): void;
  /** Accepts new connections but forwards nothing until release(). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let held: (() => void)[] | undefined;
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    const forward = () => {
      if (client.destroyed) return;
      const upstream = netConnect(Number(port), hostname);
      open.add(upstream);
      upstream.on("close", () => {
        open.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => upstream.destroy());
      client.on("close", () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    };
    if (held) held.push(forward);
    else forward();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  const proxyPort = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    get accepted() {
      return accepted;
    },
    cut() {
      for (const s of [...open]) s.destroy();
    },
    hold() {
      held = [];
    },
    release() {
      const waiting = held ?? [];
      held = undefined;
      for (const f of waiting) f();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

function clientVia(server: string): KubeClient {
  return createKubeClient({
    kubeconfig: cluster.kubeconfig.replace(cluster.apiUrl, server),
    namespace: NS,
    retry: { baseDelayMs: 20, maxDelayMs: 500 },
    timeoutMs: 15_000,
  });
}

function configMap(name: string, data: Record<string, string>, set = "watch") {
  return { ...CONFIGMAP, metadata: { name, namespace: NS, labels: { set } }, data };
}

/** `ADDED a`, `MODIFIED a`: the stream as a reader sees it. */
const seq = (events: WatchEvent[]) => events.map((e) => `${e.type} ${e.object.metadata?.name}`);

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  direct = createKubeClient({ kubeconfig: cluster.kubeconfig, namespace: NS });
  await direct.ensureNamespace(NS);
});

afterAll(async () => {
  direct?.close();
  await cluster?.stop();
});

describe("kube watch", () => {
  it("survives the connection being cut and resumes from the last resourceVersion, without duplicates", async () => {
    const proxy = await startTcpProxy(cluster.apiUrl);
    const client = clientVia(proxy.url);
    const events: WatchEvent[] = [];
    const stop = new AbortController();
    let synced = false;
    const done = client.watch(CONFIGMAP, NS, { labelSelector: "set=watch" }, (e) => events.push(e), {
      deadline: Date.now() + 60_000,
      signal: stop.signal,
      onSynced: () => {
        synced = true;
      },
    });
    try {
      await waitFor("the first list", () => (synced ? true : undefined));
      for (const n of ["a", "b", "c"]) await direct.apply(configMap(n, { v: "1" }));
      await waitFor("the first three events", () => (events.length >= 3 ? true : undefined));

      proxy.cut();
      await direct.apply(configMap("d", { v: "1" }));
      await direct.apply(configMap("a", { v: "2" }));
      await direct.delete({ ...CONFIGMAP, name: "b" });
      await direct.apply(configMap("other", { v: "1" }, "unrelated"));
      await waitFor("the changes made while cut", () => (events.length >= 6 ? true : undefined));
      proxy.cut();
      await direct.apply(configMap("e", { v: "1" }));
      await waitFor("the change after the second cut", () => (events.length >= 7 ? true : undefined));
    } finally {
      stop.abort();
    }
    const summary = await done;
    expect(seq(events)).toEqual([
      "ADDED a",
      "ADDED b",
      "ADDED c",
      "ADDED d",
      "MODIFIED a",
      "DELETED b",
      "ADDED e",
    ]);
    const versions = events.map((e) => `${e.object.metadata?.name}@${e.object.metadata?.resourceVersion}`);
    expect(new Set(versions).size).toBe(versions.length);
    expect(events.every((e) => !e.fromList)).toBe(true);
    expect(summary).toMatchObject({ reason: "aborted", relists: 0, events: 7 });
    expect(summary.connections).toBeGreaterThanOrEqual(3);
    expect(proxy.accepted).toBeGreaterThanOrEqual(3);
    client.close();
    await proxy.close();
  });

  it("lists again after 410 Gone and reports only what changed while it was away", async () => {
    const proxy = await startTcpProxy(cluster.apiUrl);
    const client = clientVia(proxy.url);
    const events: WatchEvent[] = [];
    let synced = 0;
    const stop = new AbortController();
    const done = client.watch(CONFIGMAP, NS, { labelSelector: "set=gone" }, (e) => events.push(e), {
      deadline: Date.now() + 60_000,
      signal: stop.signal,
      onSynced: () => synced++,
    });
    try {
      await waitFor("the first list", () => (synced > 0 ? true : undefined));
      await direct.apply(configMap("p", { v: "1" }, "gone"));
      await direct.apply(configMap("q", { v: "1" }, "gone"));
      await waitFor("the first two events", () => (events.length >= 2 ? true : undefined));

      // The watch reconnects at once and waits in the proxy while the server's history moves on.
      proxy.hold();
      proxy.cut();
      await direct.apply(configMap("p", { v: "2" }, "gone"));
      await direct.delete({ ...CONFIGMAP, name: "q" });
      await direct.apply(configMap("r", { v: "1" }, "gone"));
      // More writes than the server keeps (1000): the watch's resourceVersion is compacted away.
      for (let i = 0; i < 1010; i++) {
        cluster.store.create({ ...CONFIGMAP, metadata: { name: `churn-${i}`, namespace: NS }, data: {} });
      }
      proxy.release();
      await waitFor("the relisted changes", () => (events.length >= 5 ? true : undefined));
    } finally {
      stop.abort();
    }
    const summary = await done;
    expect(seq(events)).toEqual(["ADDED p", "ADDED q", "MODIFIED p", "ADDED r", "DELETED q"]);
    expect(events.slice(2).every((e) => e.fromList)).toBe(true);
    expect((events[2]?.object as { data?: Record<string, string> } | undefined)?.data).toEqual({ v: "2" });
    expect(summary.relists).toBe(1);
    expect(synced).toBe(2);
    client.close();
    await proxy.close();
  });

  it("ends at its deadline", async () => {
    const events: WatchEvent[] = [];
    const summary = await direct.watch(CONFIGMAP, NS, { labelSelector: "set=none" }, (e) => events.push(e), {
      deadline: Date.now() + 1500,
    });
    expect(summary.reason).toBe("deadline");
    expect(events).toEqual([]);
    expect(summary.connections).toBe(1);
  });
});

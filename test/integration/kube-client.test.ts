// The kube client against the local test cluster (real API semantics: server-side apply with managed
// fields, RBAC with bearer tokens, Status errors): apply is one PATCH per object and a repeat changes
// nothing, dry runs store nothing, errors carry the server's words (and for a 403, what to grant), a
// namespace is created only when missing and permitted, 429s are waited out per Retry-After while a
// 422 is never repeated, and an unreachable server or an unknown context fails with a clear message.

import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import {
  createKubeClient,
  type KubeClient,
  type KubeClientOptions,
  KubeConfigError,
  KubeError,
} from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { type CuttingProxy, startCuttingProxy } from "../support/cutting-proxy.js";

const ADMIN = "admin-token-5f0c2a9e71";
const LIMITED = "limited-token-0b7d41c3aa";
const NS = "kube-client";

let cluster: TestCluster;
let client: KubeClient;
const secrets: string[] = [];

function kubeconfig(server: string, token: string, namespace = NS): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server, "insecure-skip-tls-verify": true } }],
    users: [{ name: "ci", user: { token } }],
    contexts: [{ name: "ci", context: { cluster: "test", user: "ci", namespace } }],
    "current-context": "ci",
  });
}

function clientFor(server: string, token = ADMIN, extra: Partial<KubeClientOptions> = {}): KubeClient {
  return createKubeClient({
    kubeconfig: kubeconfig(server, token),
    retry: { baseDelayMs: 20, maxDelayMs: 2000 },
    timeoutMs: 10_000,
    ...extra,
  });
}

function deployment(name: string, containerName = "main") {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS, labels: { "slipway.dev/version": "v1" } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, "slipway.dev/version": "v1" } },
        spec: { containers: [{ name: containerName, image: inject("slipwayStack").busyboxImage }] },
      },
    },
  };
}

function service(name: string) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: NS, labels: { "slipway.dev/version": "v1" } },
    spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: 8000 }] },
  };
}

async function failure(p: Promise<unknown>): Promise<KubeError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubeError);
  return err as KubeError;
}

beforeAll(async () => {
  cluster = await startTestCluster({
    stack: inject("slipwayStack"),
    tokens: {
      [ADMIN]: { user: "admin", rules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }] },
      // What a namespace-scoped CI service account typically has: its own namespace's workloads only.
      [LIMITED]: {
        user: "system:serviceaccount:default:ci",
        rules: [
          {
            verbs: ["get", "list", "watch"],
            apiGroups: ["", "apps"],
            resources: ["deployments", "services", "pods"],
            namespaces: [NS],
          },
        ],
      },
    },
  });
  client = clientFor(cluster.apiUrl, ADMIN, { onSecret: (s) => secrets.push(s) });
  expect(await client.ensureNamespace(NS)).toBe("created");
});

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

describe("kube client: apply, get, list, delete", () => {
  it("reports the kubeconfig's token for masking, and takes the namespace from the context", () => {
    expect(secrets).toContain(ADMIN);
    expect(client.namespace).toBe(NS);
    expect(client.context).toBe("ci");
    expect(client.server).toBe(cluster.apiUrl);
  });

  it("applies a Deployment and a Service in one PATCH each; applying them again changes no resourceVersion", async () => {
    const before = client.counters;
    const first = [await client.apply(deployment("web")), await client.apply(service("web"))];
    const after = client.counters;
    expect(after.requests - before.requests).toBe(2);
    expect(after.writes - before.writes).toBe(2);
    expect(first.map((r) => r.created)).toEqual([true, true]);
    expect(first[0]?.object.metadata?.managedFields).toBeDefined();

    // The Deployment controller writes status after creation; the repeat compares with what is live now.
    const live = await client.get({ apiVersion: "apps/v1", kind: "Deployment", name: "web" });
    const liveService = await client.get({ apiVersion: "v1", kind: "Service", name: "web" });
    const again = [await client.apply(deployment("web")), await client.apply(service("web"))];
    expect(again.map((r) => r.changed)).toEqual([false, false]);
    expect(again.map((r) => r.created)).toEqual([false, false]);
    expect(again[0]?.object.metadata?.resourceVersion).toBe(live?.metadata?.resourceVersion);
    expect(again[1]?.object.metadata?.resourceVersion).toBe(liveService?.metadata?.resourceVersion);
    console.log(
      `requests per apply: ${(after.requests - before.requests) / 2} (writes ${(after.writes - before.writes) / 2})`,
    );

    const changed = await client.apply({
      ...service("web"),
      metadata: { ...service("web").metadata, annotations: { note: "changed" } },
    });
    expect(changed.changed).toBe(true);
  });

  it("a dry-run apply returns what the server would make and stores nothing", async () => {
    const writes = client.counters.writes;
    const dry = await client.apply(deployment("dry"), { dryRun: true });
    expect(dry.object.metadata?.name).toBe("dry");
    expect(dry.object.metadata?.uid).toBeDefined();
    // Defaults filled in by the server, as a real apply would store them.
    expect((dry.object.spec as { strategy?: { type?: string } }).strategy?.type).toBe("RollingUpdate");
    expect(dry).toMatchObject({ created: true, changed: true });
    expect(client.counters.writes).toBe(writes);
    expect(await client.get({ apiVersion: "apps/v1", kind: "Deployment", name: "dry" })).toBeUndefined();
    // A dry run never moves the resourceVersion, so it cannot tell whether an existing object would change.
    const existing = await client.apply(service("web"), { dryRun: true });
    expect(existing).toMatchObject({ created: false, changed: undefined });
  });

  it("lists by label selector with each item's kind, and deletes (a second delete finds nothing)", async () => {
    await client.apply(service("other"));
    const listed = await client.list({ apiVersion: "v1", kind: "Service" }, NS, {
      labelSelector: "slipway.dev/version=v1",
    });
    expect(listed.items.map((s) => s.metadata?.name).sort()).toEqual(["other", "web"]);
    expect(listed.items[0]?.kind).toBe("Service");
    expect(listed.resourceVersion).not.toBe("");

    const ref = { apiVersion: "v1", kind: "Service", name: "other" };
    expect(await client.delete(ref)).toBe(true);
    expect(await client.delete(ref)).toBe(false);
    expect(await client.get(ref)).toBeUndefined();
  });

  it("finds kinds it does not know through discovery, once", async () => {
    const before = client.counters.requests;
    const applied = await client.apply({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name: "web", namespace: NS },
      spec: { defaultBackend: { service: { name: "web", port: { number: 80 } } } },
    });
    expect(applied.created).toBe(true);
    await client.get({ apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "web" });
    expect(client.counters.requests - before).toBe(3);
    const err = await failure(client.get({ apiVersion: "example.com/v1", kind: "Widget", name: "x" }));
    expect(err.message).toMatch(/does not serve Widget in example\.com\/v1/);
  });
});

describe("kube client: errors", () => {
  it("a 422 carries the API server's Status message, the kind, the name and the verb", async () => {
    const err = await failure(client.apply(deployment("bad", "Bad_Name")));
    expect(err.status).toBe(422);
    expect(err.reason).toBe("Invalid");
    expect(err.message).toMatch(/^apply Deployment "kube-client\/bad": Deployment\.apps "bad" is invalid: /);
    expect(err.message).toContain('spec.template.spec.containers[0].name: Invalid value: "Bad_Name"');
    expect(err.causes.some((c) => c.field === "spec.template.spec.containers[0].name")).toBe(true);
    expect(err.attempts).toBe(1);
  });

  it("a 403 names the verb, the resource and the namespace", async () => {
    const limited = clientFor(cluster.apiUrl, LIMITED);
    try {
      expect(await limited.get({ apiVersion: "apps/v1", kind: "Deployment", name: "web" })).toBeDefined();
      const err = await failure(limited.apply(deployment("web")));
      expect(err.status).toBe(403);
      expect(err.message).toContain(
        'cannot patch resource "deployments" in API group "apps" in the namespace "kube-client"',
      );
      expect(err.message).toContain(
        'RBAC verbs "patch" and, for an object that does not exist yet, "create" on "deployments.apps" in namespace "kube-client"',
      );
    } finally {
      limited.close();
    }
  });

  it("a namespace it may not create is an error only when the namespace is also missing", async () => {
    const limited = clientFor(cluster.apiUrl, LIMITED);
    try {
      // It can neither read nor create namespaces: whether NS exists is not its to know.
      expect(await limited.ensureNamespace(NS)).toBe("unverified");
      expect(await client.ensureNamespace(NS)).toBe("exists");
      const reader = clientFor(cluster.apiUrl, ADMIN);
      expect(await reader.ensureNamespace("kube-client-2")).toBe("created");
      reader.close();
    } finally {
      limited.close();
    }
    // Credentials that can read namespaces but not create them: a missing one is a clear error.
    const READER = "reader-token-93e1b0";
    const c2 = await startTestCluster({
      stack: inject("slipwayStack"),
      tokens: { [READER]: [{ verbs: ["get"], apiGroups: [""], resources: ["namespaces"] }] },
    });
    const reader = clientFor(c2.apiUrl, READER);
    try {
      expect(await reader.ensureNamespace("default")).toBe("exists");
      const err = await failure(reader.ensureNamespace("previews"));
      expect(err.status).toBe(403);
      expect(err.message).toMatch(
        /^namespace "previews" does not exist and these credentials may not create it/,
      );
      expect(err.message).toContain('RBAC verb "create" on "namespaces"');
    } finally {
      reader.close();
      await c2.stop();
    }
  });

  it("a context the kubeconfig does not have is a clear error listing the ones it has", () => {
    let err: unknown;
    try {
      createKubeClient({ kubeconfig: kubeconfig(cluster.apiUrl, ADMIN), context: "production" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeConfigError);
    expect((err as Error).message).toBe('context "production" is not in the kubeconfig input (it has: ci)');
  });

  it("an unreachable API server fails after bounded retries, naming the URL and the cause", async () => {
    const port = await closedPort();
    const server = `http://127.0.0.1:${port}`;
    const lines: string[] = [];
    const dead = clientFor(server, ADMIN, {
      retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
      log: (l) => lines.push(l),
    });
    const err = await failure(dead.get({ apiVersion: "apps/v1", kind: "Deployment", name: "web" }));
    expect(err.code).toBe("ECONNREFUSED");
    expect(err.attempts).toBe(3);
    expect(err.message).toBe(
      `get Deployment "kube-client/web": cannot reach the Kubernetes API server at ${server}: connection refused (ECONNREFUSED) after 3 attempts`,
    );
    expect(err.stack).not.toContain(ADMIN);
    expect(dead.counters).toMatchObject({ requests: 3, retries: 2 });
    expect(lines).toHaveLength(2);
    dead.close();
  });
  it("an API server that accepts but never answers times out each attempt, then fails naming the timeout", async () => {
    const held = new Set<Socket>();
    const silent = createServer((socket) => held.add(socket));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const address = silent.address();
    const server = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    const c = clientFor(server, ADMIN, {
      timeoutMs: 200,
      retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
    });
    try {
      const err = await failure(c.list({ apiVersion: "v1", kind: "Pod" }, NS));
      expect(err.code).toBe("ETIMEDOUT");
      expect(err.message).toBe(
        `list Pod in namespace "kube-client": cannot reach the Kubernetes API server at ${server}: timed out (ETIMEDOUT): no answer within 200 ms after 2 attempts`,
      );
    } finally {
      c.close();
      for (const socket of held) socket.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});

describe("kube client: retries through a proxy", () => {
  let proxy: CuttingProxy;

  beforeAll(async () => {
    proxy = await startCuttingProxy(new URL(cluster.apiUrl).host);
  });

  afterAll(async () => {
    await proxy?.close();
  });

  it("waits out 429 with Retry-After, then succeeds", async () => {
    const lines: string[] = [];
    const c = clientFor(`http://${proxy.host}`, ADMIN, { log: (l) => lines.push(l) });
    const status = {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: "Too many requests, please try again later.",
      reason: "TooManyRequests",
      code: 429,
    };
    proxy.inject({
      match: (m, u) => m === "GET" && u.includes("/services/web"),
      status: 429,
      headers: { "Retry-After": "1" },
      body: JSON.stringify(status),
      times: 2,
    });
    const seen = proxy.requests.length;
    const got = await c.get({ apiVersion: "v1", kind: "Service", name: "web" });
    expect(got?.metadata?.name).toBe("web");
    expect(proxy.requests.slice(seen).map((r) => r.status)).toEqual([429, 429, 200]);
    expect(c.counters).toMatchObject({ requests: 3, retries: 2, writes: 0 });
    // Retry-After: 1 is honoured as one second, not the 20 ms backoff this client is configured with.
    expect(lines.map((l) => /retrying in (\d+) ms/.exec(l)?.[1])).toEqual(["1000", "1000"]);
    c.close();
  });

  it("sends a server-side apply again after a 503, and never repeats a 422", async () => {
    const c = clientFor(`http://${proxy.host}`, ADMIN);
    proxy.inject({ match: (m) => m === "PATCH", status: 503, body: "{}", times: 1 });
    let seen = proxy.requests.length;
    const applied = await c.apply(service("web"));
    expect(applied.object.metadata?.name).toBe("web");
    expect(proxy.requests.slice(seen).map((r) => r.status)).toEqual([503, 200]);

    seen = proxy.requests.length;
    const before = c.counters.requests;
    const err = await failure(c.apply(deployment("bad", "Bad_Name")));
    expect(err.status).toBe(422);
    expect(proxy.requests.slice(seen).map((r) => [r.method, r.status])).toEqual([["PATCH", 422]]);
    expect(c.counters.requests - before).toBe(1);
    c.close();
  });

  it("sends a namespace create again only after looking whether the failed one landed", async () => {
    const c = clientFor(`http://${proxy.host}`, ADMIN);
    proxy.inject({ match: (m) => m === "POST", status: 500, body: "{}", times: 1 });
    const seen = proxy.requests.length;
    expect(await c.ensureNamespace("kube-client-3")).toBe("created");
    expect(proxy.requests.slice(seen).map((r) => `${r.method} ${r.status}`)).toEqual([
      "GET 404",
      "POST 500",
      "GET 404",
      "POST 201",
    ]);
    c.close();
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

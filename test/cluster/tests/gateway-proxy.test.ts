// The test gateway end to end over plain Node HTTP servers standing in for pods (no Docker): the store
// holds real Service/Pod/HTTPRoute objects, and a forwarder maps each pod to its server. Each case cites
// the Gateway API spec field (apis/v1/httproute_types.go) it checks.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_CONTROLLER_NAME, TestGateway } from "../gateway.js";
import { type KubeObject, Store } from "../store.js";

interface Echo {
  pod: string;
  path: string | undefined;
  headers: http.IncomingHttpHeaders;
}

const servers = new Map<string, { server: http.Server; port: number }>();
const store = new Store();
const gateway = new TestGateway({
  store,
  node: { forward: async (_ns, pod) => servers.get(pod)?.port },
});
let base = "";

async function podServer(pod: string, delayMs = 0): Promise<void> {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ pod, path: req.url, headers: req.headers } satisfies Echo);
    setTimeout(() => {
      res.writeHead(200, { "content-type": "application/json", "x-backend": pod });
      res.end(body);
    }, delayMs);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.set(pod, { server, port: (server.address() as AddressInfo).port });
}

function pod(name: string, app: string, ready: boolean): void {
  store.create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { app } },
    spec: {
      containers: [
        { name: "main", image: "127.0.0.1:5000/x:1", ports: [{ name: "http", containerPort: 8000 }] },
      ],
    },
  });
  const live = store.get("v1", "Pod", "default", name) as KubeObject;
  live.status = {
    phase: "Running",
    conditions: [
      { type: "Ready", status: ready ? "True" : "False", lastTransitionTime: "2025-01-01T00:00:00Z" },
    ],
  };
  store.updateStatus(live);
}

function service(name: string, app: string): void {
  store.create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { selector: { app }, ports: [{ port: 80, targetPort: "http" }] },
  });
}

function httpRoute(name: string, spec: Record<string, unknown>, parent = "slipway-test"): void {
  store.create({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: "default" },
    spec: { parentRefs: [{ name: parent }], ...spec },
  });
}

async function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}${path}`, { headers });
  return { status: res.status, body: await res.text() };
}

async function routeConditions(name: string): Promise<Record<string, { status: string; reason: string }>> {
  // Status is written asynchronously after the store changes, as a controller's would be.
  for (let i = 0; i < 100; i++) {
    const r = store.get("gateway.networking.k8s.io/v1", "HTTPRoute", "default", name);
    const parents = (
      r?.status as {
        parents?: {
          controllerName: string;
          conditions: { type: string; status: string; reason: string }[];
        }[];
      }
    )?.parents;
    const ours = parents?.find((p) => p.controllerName === GATEWAY_CONTROLLER_NAME);
    if (ours)
      return Object.fromEntries(ours.conditions.map((c) => [c.type, { status: c.status, reason: c.reason }]));
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no status on HTTPRoute ${name}`);
}

beforeAll(async () => {
  await Promise.all([
    podServer("stable-0"),
    podServer("canary-0"),
    podServer("echo-0"),
    podServer("slow-0", 2000),
  ]);
  for (const [svc, ready] of [
    ["stable", true],
    ["canary", true],
    ["echo", true],
    ["slow", true],
    ["unready", false],
  ] as const) {
    service(svc, svc);
    pod(`${svc}-0`, svc, ready);
  }
  base = await gateway.start();
});

afterAll(async () => {
  await gateway.stop();
  for (const { server } of servers.values()) server.close();
});

describe("test gateway (Gateway API HTTPRoute)", () => {
  it("HTTPBackendRef.weight: a 90/10 split lands within ±3% over 2,000 requests", async () => {
    httpRoute("split", {
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/split" } }],
          backendRefs: [
            { name: "stable", port: 80, weight: 90 },
            { name: "canary", port: 80, weight: 10 },
          ],
        },
      ],
    });
    const counts = { "stable-0": 0, "canary-0": 0 } as Record<string, number>;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const one = () =>
      new Promise<void>((resolve, reject) => {
        http
          .get(`${base}/split`, { agent }, (res) => {
            const who = String(res.headers["x-backend"]);
            counts[who] = (counts[who] ?? 0) + 1;
            res.resume().on("end", resolve);
          })
          .on("error", reject);
      });
    for (let batch = 0; batch < 125; batch++) await Promise.all(Array.from({ length: 16 }, one));
    agent.destroy();
    expect((counts["stable-0"] ?? 0) + (counts["canary-0"] ?? 0)).toBe(2000);
    expect(Math.abs((counts["canary-0"] ?? 0) / 2000 - 0.1)).toBeLessThanOrEqual(0.03);
  });

  it("PathMatchPathPrefix: /abc serves /abc and /abc/x but not /abcd (404: no matching rule)", async () => {
    httpRoute("abc", {
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/abc" } }],
          backendRefs: [{ name: "echo", port: 80 }],
        },
      ],
    });
    expect((await get("/abc")).status).toBe(200);
    expect((await get("/abc/x")).status).toBe(200);
    expect((await get("/abcd")).status).toBe(404);
  });

  it("HTTPURLRewriteFilter ReplacePrefixMatch and HTTPHeaderFilter reach the backend as the spec's examples say", async () => {
    httpRoute("rewrite", {
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/foo" } }],
          filters: [
            {
              type: "URLRewrite",
              urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
            },
            {
              type: "RequestHeaderModifier",
              requestHeaderModifier: {
                set: [{ name: "x-set", value: "bar" }],
                add: [{ name: "x-add", value: "baz" }],
                remove: ["x-drop"],
              },
            },
          ],
          backendRefs: [{ name: "echo", port: 80 }],
        },
      ],
    });
    const cases: [string, string][] = [
      ["/foo", "/"],
      ["/foo/", "/"],
      ["/foo/bar?q=1", "/bar?q=1"],
    ];
    for (const [sent, seen] of cases) {
      const echo = JSON.parse(
        (await get(sent, { "x-set": "foo", "x-add": "foo", "x-drop": "1" })).body,
      ) as Echo;
      expect(echo.path).toBe(seen);
      expect(echo.headers["x-set"]).toBe("bar");
      expect(echo.headers["x-add"]).toBe("foo,baz");
      expect(echo.headers["x-drop"]).toBeUndefined();
    }
  });

  it("BackendRefs: a Service without ready endpoints answers 503", async () => {
    httpRoute("unready", {
      rules: [{ matches: [{ path: { value: "/unready" } }], backendRefs: [{ name: "unready", port: 80 }] }],
    });
    expect((await get("/unready")).status).toBe(503);
  });

  it("BackendRefs: a missing Service answers 500 and ResolvedRefs is False with BackendNotFound", async () => {
    httpRoute("missing", {
      rules: [{ matches: [{ path: { value: "/missing" } }], backendRefs: [{ name: "nope", port: 80 }] }],
    });
    expect((await get("/missing")).status).toBe(500);
    const conds = await routeConditions("missing");
    expect(conds.Accepted).toEqual({ status: "True", reason: "Accepted" });
    expect(conds.ResolvedRefs).toEqual({ status: "False", reason: "BackendNotFound" });
    expect((await routeConditions("abc")).ResolvedRefs).toEqual({ status: "True", reason: "ResolvedRefs" });
  });

  it("BackendRefs weight 0 on every backend: nothing can serve the rule (500)", async () => {
    httpRoute("zero", {
      rules: [
        { matches: [{ path: { value: "/zero" } }], backendRefs: [{ name: "echo", port: 80, weight: 0 }] },
      ],
    });
    expect((await get("/zero")).status).toBe(500);
  });

  it("HTTPRouteTimeouts.request: a slow backend gets 504 once the timeout passes", async () => {
    httpRoute("slow", {
      rules: [
        {
          matches: [{ path: { value: "/slow" } }],
          timeouts: { request: "200ms" },
          backendRefs: [{ name: "slow", port: 80 }],
        },
      ],
    });
    const t0 = Date.now();
    expect((await get("/slow")).status).toBe(504);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it("ParentRefs: a route for another Gateway is not served and gets no status from this controller", async () => {
    httpRoute(
      "elsewhere",
      {
        rules: [{ matches: [{ path: { value: "/elsewhere" } }], backendRefs: [{ name: "echo", port: 80 }] }],
      },
      "other-gateway",
    );
    expect((await get("/elsewhere")).status).toBe(404);
    await new Promise((r) => setTimeout(r, 50));
    expect(
      store.get("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "elsewhere")?.status,
    ).toBeUndefined();
  });

  it("RouteStatus.parents: a route that stops naming this Gateway loses this controller's entry", async () => {
    httpRoute("moving", { rules: [{ backendRefs: [{ name: "echo", port: 80 }] }] });
    await routeConditions("moving");
    const live = store.get("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "moving") as KubeObject;
    (live.spec as { parentRefs: { name: string }[] }).parentRefs = [{ name: "other-gateway" }];
    store.update(live);
    for (let i = 0; i < 100; i++) {
      const parents = (
        store.get("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "moving")?.status as {
          parents?: unknown[];
        }
      )?.parents;
      if ((parents ?? []).length === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("status entry was not removed");
  });

  it("HTTPRouteFilter: an unsupported filter type sets Accepted=False (UnsupportedValue) and serves nothing", async () => {
    httpRoute("mirror", {
      rules: [
        {
          matches: [{ path: { value: "/mirror" } }],
          filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "echo", port: 80 } } }],
          backendRefs: [{ name: "echo", port: 80 }],
        },
      ],
    });
    expect((await routeConditions("mirror")).Accepted).toEqual({
      status: "False",
      reason: "UnsupportedValue",
    });
    expect((await get("/mirror")).status).toBe(404);
  });
});

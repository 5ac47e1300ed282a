// The test gateway in front of real pods (containers in their own network namespaces): HTTPRoute
// behaviour from the Gateway API spec (apis/v1/httproute_types.go), each case naming the field it checks.
// Objects go in through the store, as a controller would write them; the node runs them on Docker.

import http from "node:http";
import type { IHTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import type { IPod } from "kubernetes-models/v1/Pod";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../support/wait-for.js";
import { startTestCluster, type TestCluster } from "../cluster.js";
import { GATEWAY_CONTROLLER_NAME } from "../gateway.js";
import { CLUSTER_LABEL } from "../node.js";
import type { KubeObject } from "../store.js";

// A small echo server: answers with the path and headers it received; /slow waits 3s first.
const ECHO_SERVER = `
import http.server, json, os, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(3)
        body = json.dumps({"pod": os.environ["POD_NAME"], "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H).serve_forever()
`;

let cluster: TestCluster;

function create(obj: object): void {
  cluster.store.create(obj as KubeObject);
}

function deployment(name: string, replicas: number, container: Record<string, unknown>): void {
  create({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default" },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: "main",
              ports: [{ name: "http", containerPort: 8000 }],
              readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
              ...container,
            },
          ],
        },
      },
    },
  });
  create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { selector: { app: name }, ports: [{ port: 80, targetPort: "http" }] },
  });
}

function busybox(text: string): Record<string, unknown> {
  return {
    image: inject("slipwayStack").busyboxImage,
    command: ["sh", "-c", `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8000 -h /www`],
  };
}

function route(name: string, rules: unknown[]): void {
  create({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: "default" },
    spec: { parentRefs: [{ name: cluster.gateway.name, namespace: cluster.gateway.namespace }], rules },
  });
}

function readyPods(app: string): number {
  const pods = cluster.store.list("v1", "Pod", {
    namespace: "default",
    labelSelector: `app=${app}`,
  }) as IPod[];
  return pods.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
    .length;
}

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${cluster.gatewayUrl}${path}`);
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  // These cases check HTTPRoute matching and filters, not propagation: routes take effect at once here.
  cluster = await startTestCluster({ stack: inject("slipwayStack"), gatewayPropagationDelayMs: 0 });
  const python = inject("slipwayStack").pythonImage;
  deployment("stable", 1, busybox("stable"));
  deployment("canary", 1, busybox("canary"));
  deployment("echo", 1, {
    image: python,
    command: ["python3", "-c", ECHO_SERVER],
    env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
  });
  // Never ready: its readiness probe asks for a path busybox httpd does not serve.
  deployment("unready", 1, {
    ...busybox("x"),
    readinessProbe: { httpGet: { path: "/missing", port: 8000 }, periodSeconds: 1 },
  });
  await waitFor("stable, canary and echo pods ready", () =>
    readyPods("stable") === 1 && readyPods("canary") === 1 && readyPods("echo") === 1 ? true : undefined,
  );
});

afterAll(async () => {
  await cluster?.stop();
});

describe("test gateway over real pods (Gateway API HTTPRoute)", () => {
  it("HTTPBackendRef.weight: 90/10 across two Deployments lands within ±3% over 2,000 requests", async () => {
    route("split", [
      {
        matches: [{ path: { type: "PathPrefix", value: "/split" } }],
        filters: [
          {
            type: "URLRewrite",
            urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
          },
        ],
        backendRefs: [
          { name: "stable", port: 80, weight: 90 },
          { name: "canary", port: 80, weight: 10 },
        ],
      },
    ]);
    const counts = new Map<string, number>();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const one = () =>
      new Promise<void>((resolve, reject) => {
        http
          .get(`${cluster.gatewayUrl}/split`, { agent }, (res) => {
            let body = "";
            res.on("data", (d: Buffer) => {
              body += d.toString();
            });
            res.on("end", () => {
              const key = res.statusCode === 200 ? body.trim() : `status ${res.statusCode}`;
              counts.set(key, (counts.get(key) ?? 0) + 1);
              resolve();
            });
          })
          .on("error", reject);
      });
    const t0 = Date.now();
    for (let batch = 0; batch < 250; batch++) await Promise.all(Array.from({ length: 8 }, one));
    const ms = Date.now() - t0;
    agent.destroy();
    console.info(
      `[kube-gateway] 2,000 requests through real pods in ${ms}ms (${(ms / 2000).toFixed(2)}ms each, 8 in flight)`,
    );
    expect((counts.get("stable") ?? 0) + (counts.get("canary") ?? 0)).toBe(2000);
    expect(Math.abs((counts.get("canary") ?? 0) / 2000 - 0.1)).toBeLessThanOrEqual(0.03);
  });

  it("PathMatchPathPrefix: /abc matches /abc and /abc/x but not /abcd", async () => {
    route("abc", [
      {
        matches: [{ path: { type: "PathPrefix", value: "/abc" } }],
        backendRefs: [{ name: "echo", port: 80 }],
      },
    ]);
    expect((await get("/abc")).status).toBe(200);
    expect(JSON.parse((await get("/abc/x")).body)).toMatchObject({ path: "/abc/x" });
    expect((await get("/abcd")).status).toBe(404);
  });

  it("HTTPPathModifier ReplacePrefixMatch: the pod sees the spec table's paths; RequestHeaderModifier sets X-Forwarded-Prefix", async () => {
    route("rewrite", [
      {
        matches: [{ path: { type: "PathPrefix", value: "/owner/project/v1" } }],
        filters: [
          {
            type: "URLRewrite",
            urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
          },
          {
            type: "RequestHeaderModifier",
            requestHeaderModifier: { set: [{ name: "X-Forwarded-Prefix", value: "/owner/project/v1" }] },
          },
        ],
        backendRefs: [{ name: "echo", port: 80 }],
      },
    ]);
    for (const [sent, seen] of [
      ["/owner/project/v1", "/"],
      ["/owner/project/v1/", "/"],
      ["/owner/project/v1/predict?x=1", "/predict?x=1"],
    ] as const) {
      const echo = JSON.parse((await get(sent)).body) as { path: string; headers: Record<string, string> };
      expect(echo.path).toBe(seen);
      expect(echo.headers["x-forwarded-prefix"]).toBe("/owner/project/v1");
    }
  });

  it("BackendRefs: a Service whose pods are not ready answers 503", async () => {
    route("unready", [
      { matches: [{ path: { value: "/unready" } }], backendRefs: [{ name: "unready", port: 80 }] },
    ]);
    await waitFor("the unready pod to be running", () => {
      const p = (
        cluster.store.list("v1", "Pod", { namespace: "default", labelSelector: "app=unready" }) as IPod[]
      )[0];
      return p?.status?.containerStatuses?.[0]?.state?.running ? p : undefined;
    });
    expect(await cluster.resolveService("default", "unready", 80)).toEqual([]);
    expect((await get("/unready")).status).toBe(503);
  });

  it("HTTPRouteTimeouts.request: a backend slower than the timeout gets 504", async () => {
    route("slow", [
      {
        matches: [{ path: { value: "/slow" } }],
        timeouts: { request: "500ms" },
        backendRefs: [{ name: "echo", port: 80 }],
      },
    ]);
    // The backend answers only after the route's timeout: 504 means the gateway cut it off.
    expect((await get("/slow")).status).toBe(504);
  });

  it("RouteConditionResolvedRefs: a missing Service sets ResolvedRefs=False/BackendNotFound (and answers 500)", async () => {
    route("ghost", [
      { matches: [{ path: { value: "/ghost" } }], backendRefs: [{ name: "ghost", port: 80 }] },
    ]);
    const parent = await waitFor("route status", () => {
      const r = cluster.store.get("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "ghost") as
        | IHTTPRoute
        | undefined;
      return r?.status?.parents?.find((p) => p.controllerName === GATEWAY_CONTROLLER_NAME);
    });
    expect(parent.conditions?.find((c) => c.type === "Accepted")).toMatchObject({
      status: "True",
      reason: "Accepted",
    });
    expect(parent.conditions?.find((c) => c.type === "ResolvedRefs")).toMatchObject({
      status: "False",
      reason: "BackendNotFound",
    });
    expect((await get("/ghost")).status).toBe(500);
  });

  it("stop() leaves no container behind", async () => {
    await cluster.stop();
    const left = await cluster.docker.listContainers({
      all: true,
      filters: { label: [`${CLUSTER_LABEL}=${cluster.clusterId}`] },
    });
    expect(left).toEqual([]);
  });
});

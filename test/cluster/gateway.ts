// The test cluster's Gateway: one HTTP listener on a 127.0.0.1 ephemeral port implementing HTTPRoute per
// the Gateway API spec (apis/v1/httproute_types.go): hostname matching, Exact/PathPrefix/RegularExpression
// paths with the spec's precedence, method/header/query matches, weighted backendRefs, the
// RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect and URLRewrite filters, and
// timeouts.request/backendRequest. It also writes each attached route's `status.parents` (Accepted,
// ResolvedRefs) and the Gateway's status, as a gateway controller does.
//
// Attachment: only routes whose parentRefs name this cluster's Gateway (default `default/slipway-test`,
// created at start) are served, like a real controller; routes for other parents get no status from us.
// The matching and rewriting below are pure functions, unit-tested against the spec's own tables.
//
// Propagation: a real Gateway's data plane (Envoy, NGINX, …) is programmed by its controller some time
// after the API objects change, so for a while it still routes by the old routes and to the old
// endpoints; that is why a pod's preStop hook must keep it serving after its deletion starts
// (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination). This gateway
// serves from a snapshot of routes and ready endpoints taken when they change and installed
// `propagationDelayMs` later, so it is never kinder than a real one.

import http from "node:http";
import type { AddressInfo } from "node:net";
import type { IHTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import {
  asKube,
  type ClusterStore,
  nowIso,
  type PodPortForwarder,
  serviceEndpoints,
  toKube,
} from "./controllers.js";
import { deepEqual, type KubeObject } from "./store.js";

export const GATEWAY_CONTROLLER_NAME = "slipway.dev/test-gateway";
const GROUP = "gateway.networking.k8s.io";

type Rule = NonNullable<NonNullable<IHTTPRoute["spec"]>["rules"]>[number];
type Match = NonNullable<Rule["matches"]>[number];
type Filter = NonNullable<Rule["filters"]>[number];
type BackendRef = NonNullable<Rule["backendRefs"]>[number];
type HeaderFilter = NonNullable<Filter["requestHeaderModifier"]>;
type PathModifier = NonNullable<NonNullable<Filter["urlRewrite"]>["path"]>;

// ---- pure: matching ------------------------------------------------------------------------------

/**
 * PathPrefix matches whole path elements and ignores a trailing "/" in the prefix: `/abc` matches `/abc`,
 * `/abc/` and `/abc/def`, never `/abcd`. Exact matches case-sensitively, `/abc` not `/abc/`.
 */
export function pathMatches(type: string, value: string, path: string): boolean {
  if (type === "Exact") return path === value;
  if (type === "RegularExpression") return new RegExp(`^(?:${value})$`).test(path);
  const prefix = value.endsWith("/") ? value.slice(0, -1) : value;
  if (prefix === "") return path.startsWith("/");
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Route hostnames: exact, or `*.example.com` matching any deeper name but not `example.com` itself. */
export function hostnameMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

export interface RequestFacts {
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: URLSearchParams;
}

function headerValue(req: RequestFacts, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(",") : v;
}

export function matchMatches(m: Match, req: RequestFacts): boolean {
  const path = m.path ?? { type: "PathPrefix", value: "/" };
  if (!pathMatches(path.type ?? "PathPrefix", path.value ?? "/", req.path)) return false;
  if (m.method !== undefined && m.method !== req.method) return false;
  const seenHeaders = new Set<string>();
  for (const h of m.headers ?? []) {
    // Only the first entry for a (case-insensitive) header name counts.
    const key = h.name.toLowerCase();
    if (seenHeaders.has(key)) continue;
    seenHeaders.add(key);
    const v = headerValue(req, h.name);
    if (v === undefined) return false;
    if ((h.type ?? "Exact") === "Exact" ? v !== h.value : !new RegExp(h.value).test(v)) return false;
  }
  const seenParams = new Set<string>();
  for (const q of m.queryParams ?? []) {
    if (seenParams.has(q.name)) continue;
    seenParams.add(q.name);
    const v = req.query.get(q.name);
    if (v === null) return false;
    if ((q.type ?? "Exact") === "Exact" ? v !== q.value : !new RegExp(q.value).test(v)) return false;
  }
  return true;
}

export interface RouteRef {
  readonly namespace: string;
  readonly name: string;
  readonly creationTimestamp: string;
  readonly hostnames: readonly string[];
  readonly rules: readonly Rule[];
}

export interface Selected {
  readonly route: RouteRef;
  readonly ruleIndex: number;
  readonly rule: Rule;
  readonly match: Match;
}

/** Precedence key (larger wins), in the order the spec lists the criteria. */
function precedence(route: RouteRef, host: string, m: Match): number[] {
  const matching = route.hostnames.filter((h) => hostnameMatches(h, host));
  const exactHost = Math.max(0, ...matching.filter((h) => !h.startsWith("*.")).map((h) => h.length));
  const anyHost = Math.max(0, ...matching.map((h) => h.length));
  const path = m.path ?? {};
  const type = path.type ?? "PathPrefix";
  return [
    exactHost,
    anyHost,
    type === "Exact" ? 1 : 0,
    type === "PathPrefix" ? (path.value ?? "/").length : 0,
    m.method !== undefined ? 1 : 0,
    m.headers?.length ?? 0,
    m.queryParams?.length ?? 0,
  ];
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (b[i] ?? 0) - (a[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The rule that serves `req`: across all routes, the match with the highest precedence (hostname
 * specificity, Exact path, longest prefix, method, header count, query count), then the oldest route, then
 * `namespace/name` order, then the first rule and match in list order. Undefined means 404.
 */
export function selectRule(routes: readonly RouteRef[], req: RequestFacts): Selected | undefined {
  let best: { key: number[]; order: [string, string, number, number]; sel: Selected } | undefined;
  for (const route of routes) {
    if (route.hostnames.length > 0 && !route.hostnames.some((h) => hostnameMatches(h, req.host))) continue;
    route.rules.forEach((rule, ruleIndex) => {
      const matches = rule.matches?.length
        ? rule.matches
        : [{ path: { type: "PathPrefix" as const, value: "/" } }];
      matches.forEach((m, matchIndex) => {
        if (!matchMatches(m, req)) return;
        const key = precedence(route, req.host, m);
        const order: [string, string, number, number] = [
          route.creationTimestamp,
          `${route.namespace}/${route.name}`,
          ruleIndex,
          matchIndex,
        ];
        const better =
          best === undefined ||
          compareKeys(key, best.key) < 0 ||
          (compareKeys(key, best.key) === 0 && compareOrder(order, best.order) < 0);
        if (better) best = { key, order, sel: { route, ruleIndex, rule, match: m } };
      });
    });
  }
  return best?.sel;
}

function compareOrder(a: [string, string, number, number], b: [string, string, number, number]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  if (a[2] !== b[2]) return a[2] - b[2];
  return a[3] - b[3];
}

/**
 * Weighted choice: weight/(sum of weights), weight defaults to 1, 0 gets nothing. `r` is uniform in [0,1).
 * Undefined when every weight is 0 (or there are no backends).
 */
export function pickWeighted(weights: readonly (number | undefined)[], r: number): number | undefined {
  const ws = weights.map((w) => Math.max(0, w ?? 1));
  const total = ws.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  let x = r * total;
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i] ?? 0;
    if (x < w) return i;
    x -= w;
  }
  return ws.findLastIndex((w) => w > 0);
}

// ---- pure: filters -------------------------------------------------------------------------------

/** ReplacePrefixMatch, exactly as the spec's table: `/foo` + prefix `/foo` + "" or "/" becomes `/`. */
export function replacePrefix(path: string, matchedPrefix: string, replacement: string): string {
  const prefix = matchedPrefix.endsWith("/") ? matchedPrefix.slice(0, -1) : matchedPrefix;
  const rest = path.slice(prefix.length);
  const repl = replacement.endsWith("/") ? replacement.slice(0, -1) : replacement;
  const out = repl + rest;
  if (out === "") return "/";
  return out.startsWith("/") ? out : `/${out}`;
}

export function rewritePath(path: string, modifier: PathModifier, match: Match): string {
  if (modifier.type === "ReplaceFullPath") return modifier.replaceFullPath ?? "/";
  return replacePrefix(path, match.path?.value ?? "/", modifier.replacePrefixMatch ?? "");
}

type HeaderMap = Record<string, string | string[] | undefined>;

/** set overwrites, add appends to existing values (comma-joined), remove drops; names case-insensitive. */
export function modifyHeaders(headers: HeaderMap, f: HeaderFilter): HeaderMap {
  const out: HeaderMap = { ...headers };
  for (const h of f.set ?? []) out[h.name.toLowerCase()] = h.value;
  for (const h of f.add ?? []) {
    const key = h.name.toLowerCase();
    const existing = out[key];
    out[key] =
      existing === undefined
        ? h.value
        : `${Array.isArray(existing) ? existing.join(",") : existing},${h.value}`;
  }
  for (const name of f.remove ?? []) delete out[name.toLowerCase()];
  return out;
}

/** GEP-2257 durations ("10s", "1h2m", "500ms"); "0s" means no timeout (Infinity). */
export function parseGatewayDuration(d: string): number {
  if (!/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(d)) throw new Error(`invalid duration ${JSON.stringify(d)}`);
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const [, n, u] of d.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(n) * (unit[u ?? "ms"] ?? 1);
  return total === 0 ? Number.POSITIVE_INFINITY : total;
}

// ---- route validity (status) ---------------------------------------------------------------------

const SUPPORTED_FILTERS = new Set([
  "RequestHeaderModifier",
  "ResponseHeaderModifier",
  "RequestRedirect",
  "URLRewrite",
]);

/** Why the route cannot be accepted (Accepted=False, reason UnsupportedValue), or undefined. */
export function unsupportedReason(route: IHTTPRoute): string | undefined {
  for (const [i, rule] of (route.spec?.rules ?? []).entries()) {
    const filters = [...(rule.filters ?? []), ...(rule.backendRefs ?? []).flatMap((b) => b.filters ?? [])];
    for (const f of filters) {
      if (!SUPPORTED_FILTERS.has(f.type)) return `rule ${i}: filter type ${f.type} is not supported`;
      const pm = f.urlRewrite?.path ?? f.requestRedirect?.path;
      if (pm?.type === "ReplacePrefixMatch") {
        const ms = rule.matches ?? [];
        if (ms.length > 1 || (ms[0]?.path?.type ?? "PathPrefix") !== "PathPrefix") {
          return `rule ${i}: ReplacePrefixMatch requires exactly one PathPrefix match`;
        }
      }
    }
    for (const m of rule.matches ?? []) {
      try {
        if (m.path?.type === "RegularExpression") new RegExp(m.path.value ?? "");
      } catch {
        return `rule ${i}: invalid regular expression ${JSON.stringify(m.path?.value)}`;
      }
    }
    for (const d of [rule.timeouts?.request, rule.timeouts?.backendRequest]) {
      try {
        if (d !== undefined) parseGatewayDuration(d);
      } catch (e) {
        return `rule ${i}: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
  }
  return undefined;
}

// ---- the gateway ---------------------------------------------------------------------------------

export interface GatewayOptions {
  readonly store: ClusterStore;
  readonly node: PodPortForwarder;
  readonly namespace?: string;
  readonly name?: string;
  /** How long a change to routes, Services or endpoints takes to reach the data plane (ms); 0 is at once. */
  readonly propagationDelayMs?: number;
}

/** What the data plane serves from: the accepted routes and each backendRef's endpoints, as programmed. */
interface DataPlane {
  readonly routes: readonly RouteRef[];
  /** By "namespace/name:port" of each backendRef of those routes. */
  readonly backends: ReadonlyMap<string, BackendProblem | readonly Upstream[]>;
}

interface Upstream {
  readonly namespace: string;
  readonly pod: string;
  readonly containerPort: number;
}

const EMPTY_DATA_PLANE: DataPlane = { routes: [], backends: new Map() };

function backendKey(namespace: string, name: string, port: number | undefined): string {
  return `${namespace}/${name}:${port ?? ""}`;
}

interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

type BackendProblem = { reason: "BackendNotFound" | "InvalidKind" | "RefNotPermitted"; message: string };

export class TestGateway {
  private server?: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly unwatch: (() => void)[] = [];
  private statusTimer: NodeJS.Timeout | undefined;
  private readonly namespace: string;
  private readonly name: string;
  private readonly propagationDelayMs: number;
  private dataPlane: DataPlane = EMPTY_DATA_PLANE;
  private snapshotPending = false;
  private readonly programming = new Set<NodeJS.Timeout>();
  private stopped = false;
  url = "";

  constructor(private readonly opts: GatewayOptions) {
    this.namespace = opts.namespace ?? "default";
    this.name = opts.name ?? "slipway-test";
    this.propagationDelayMs = opts.propagationDelayMs ?? 0;
  }

  async start(): Promise<string> {
    const store = this.opts.store;
    if (!store.get(`${GROUP}/v1`, "Gateway", this.namespace, this.name)) {
      store.create(
        toKube({
          apiVersion: `${GROUP}/v1`,
          kind: "Gateway",
          metadata: { name: this.name, namespace: this.namespace },
          spec: {
            gatewayClassName: "slipway-test",
            listeners: [
              { name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "All" } } },
            ],
          },
        }),
        { fieldManager: "slipway-test-gateway" },
      );
    }
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${port}`;
    const kick = () => {
      this.scheduleStatus();
      this.program();
    };
    this.unwatch.push(
      store.watch(`${GROUP}/v1`, "HTTPRoute", kick),
      store.watch(`${GROUP}/v1`, "Gateway", kick),
      store.watch("v1", "Service", kick),
      store.watch("v1", "Pod", () => this.program()),
    );
    this.scheduleStatus();
    this.dataPlane = this.snapshot();
    return this.url;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unwatch) u();
    for (const t of this.programming) clearTimeout(t);
    this.programming.clear();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.agent.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Takes a snapshot of what the data plane should serve once the writes of this turn are done, and
   * installs it `propagationDelayMs` later. Every snapshot waits the same time, so they land in order.
   */
  private program(): void {
    if (this.snapshotPending || this.stopped) return;
    this.snapshotPending = true;
    setImmediate(() => {
      this.snapshotPending = false;
      if (this.stopped) return;
      const next = this.snapshot();
      if (this.propagationDelayMs <= 0) {
        this.dataPlane = next;
        return;
      }
      const timer = setTimeout(() => {
        this.programming.delete(timer);
        this.dataPlane = next;
      }, this.propagationDelayMs);
      this.programming.add(timer);
    });
  }

  /** The accepted routes and, for each of their backendRefs, its problem or its ready endpoints now. */
  private snapshot(): DataPlane {
    const routes = this.attachedRoutes().filter(({ route }) => unsupportedReason(route) === undefined);
    const backends = new Map<string, BackendProblem | readonly Upstream[]>();
    for (const { ref } of routes) {
      for (const rule of ref.rules) {
        for (const b of rule.backendRefs ?? []) {
          const ns = b.namespace ?? ref.namespace;
          const key = backendKey(ns, b.name, b.port);
          if (backends.has(key)) continue;
          const problem = this.backendProblem(b, ref.namespace);
          if (problem) {
            backends.set(key, problem);
            continue;
          }
          const endpoints = serviceEndpoints(this.opts.store, ns, b.name, b.port ?? 0) ?? [];
          backends.set(
            key,
            endpoints
              .filter((e) => e.ready)
              .map((e) => ({ namespace: ns, pod: e.pod, containerPort: e.containerPort })),
          );
        }
      }
    }
    return { routes: routes.map((r) => r.ref), backends };
  }

  private attaches(ref: ParentRef, routeNamespace: string): boolean {
    return (
      (ref.group ?? GROUP) === GROUP &&
      (ref.kind ?? "Gateway") === "Gateway" &&
      (ref.namespace ?? routeNamespace) === this.namespace &&
      ref.name === this.name &&
      (ref.sectionName === undefined || ref.sectionName === "http") &&
      (ref.port === undefined || ref.port === 80)
    );
  }

  /** Routes attached to this Gateway and accepted (a rejected route serves nothing). */
  private attachedRoutes(): { route: IHTTPRoute; ref: RouteRef }[] {
    return this.opts.store
      .list(`${GROUP}/v1`, "HTTPRoute")
      .map((o) => asKube<IHTTPRoute>(o))
      .filter((r) => {
        const ns = r.metadata?.namespace ?? "default";
        return (r.spec?.parentRefs ?? []).some((p) => this.attaches(p, ns));
      })
      .map((route) => ({
        route,
        ref: {
          namespace: route.metadata?.namespace ?? "default",
          name: route.metadata?.name ?? "",
          creationTimestamp: route.metadata?.creationTimestamp ?? "",
          hostnames: route.spec?.hostnames ?? [],
          rules: route.spec?.rules ?? [{}],
        },
      }));
  }

  private backendProblem(b: BackendRef, routeNamespace: string): BackendProblem | undefined {
    if ((b.group ?? "") !== "" || (b.kind ?? "Service") !== "Service") {
      return { reason: "InvalidKind", message: `unsupported backend kind ${b.group ?? ""}/${b.kind ?? ""}` };
    }
    const ns = b.namespace ?? routeNamespace;
    if (ns !== routeNamespace) {
      // The test cluster serves no ReferenceGrant, so a cross-namespace reference is never permitted.
      return { reason: "RefNotPermitted", message: `backendRef to Service ${ns}/${b.name} is not permitted` };
    }
    if (!this.opts.store.get("v1", "Service", ns, b.name)) {
      return { reason: "BackendNotFound", message: `Service "${ns}/${b.name}" not found` };
    }
    if (b.port === undefined)
      return { reason: "BackendNotFound", message: `backendRef ${b.name}: port is required` };
    return undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://gateway");
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
    const facts: RequestFacts = {
      method: req.method ?? "GET",
      host,
      path: url.pathname,
      headers: req.headers,
      query: url.searchParams,
    };
    const plane = this.dataPlane;
    const sel = selectRule(plane.routes, facts);
    if (!sel) return reply(res, 404, "no matching HTTPRoute rule\n");
    const rule = sel.rule;
    const requestTimeout = rule.timeouts?.request
      ? parseGatewayDuration(rule.timeouts.request)
      : Number.POSITIVE_INFINITY;
    const backendTimeout = rule.timeouts?.backendRequest
      ? parseGatewayDuration(rule.timeouts.backendRequest)
      : Number.POSITIVE_INFINITY;

    let headers: HeaderMap = { ...req.headers };
    let path = url.pathname;
    let responseFilter: HeaderFilter | undefined;
    const applyFilters = (filters: readonly Filter[]): boolean => {
      for (const f of filters) {
        if (f.type === "RequestHeaderModifier" && f.requestHeaderModifier) {
          headers = modifyHeaders(headers, f.requestHeaderModifier);
        } else if (f.type === "ResponseHeaderModifier" && f.responseHeaderModifier) {
          responseFilter = f.responseHeaderModifier;
        } else if (f.type === "URLRewrite" && f.urlRewrite) {
          if (f.urlRewrite.hostname) headers.host = f.urlRewrite.hostname;
          if (f.urlRewrite.path) path = rewritePath(path, f.urlRewrite.path, sel.match);
        } else if (f.type === "RequestRedirect" && f.requestRedirect) {
          const r = f.requestRedirect;
          const scheme = r.scheme ?? "http";
          const port = r.port ?? (r.scheme === "https" ? 443 : r.scheme === "http" ? 80 : undefined);
          const hostPart = r.hostname ?? host;
          const portPart =
            port === undefined
              ? `:${req.socket.localPort ?? 80}`
              : port === (scheme === "https" ? 443 : 80)
                ? ""
                : `:${port}`;
          const target = r.path ? rewritePath(path, r.path, sel.match) : path;
          res.writeHead(r.statusCode ?? 302, {
            location: `${scheme}://${hostPart}${portPart}${target}${url.search}`,
          });
          res.end();
          return false;
        }
      }
      return true;
    };
    if (!applyFilters(rule.filters ?? [])) return;

    const backends = rule.backendRefs ?? [];
    const idx = pickWeighted(
      backends.map((b) => b.weight),
      Math.random(),
    );
    // No backends (or all weight 0) and no redirect: nothing can answer, so the spec's 500 applies.
    if (idx === undefined) return reply(res, 500, "no backend for this route rule\n");
    const backend = backends[idx];
    const upstreams = backend
      ? plane.backends.get(backendKey(backend.namespace ?? sel.route.namespace, backend.name, backend.port))
      : undefined;
    if (!backend || upstreams === undefined || !Array.isArray(upstreams))
      return reply(res, 500, "invalid backendRef\n");
    if (!applyFilters(backend.filters ?? [])) return;
    // The spec's SHOULD for a Service without ready endpoints.
    if (upstreams.length === 0) return reply(res, 503, "no healthy upstream\n");
    const upstream = upstreams[Math.floor(Math.random() * upstreams.length)] as Upstream;
    // An endpoint the data plane still has but whose pod is gone cannot be reached, as on a real node.
    const forwarded = await this.opts.node.forward(upstream.namespace, upstream.pod, upstream.containerPort);
    if (forwarded === undefined) {
      return reply(
        res,
        503,
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure\n",
      );
    }
    const ehost = "127.0.0.1";
    const eport = forwarded;

    for (const h of HOP_BY_HOP) delete headers[h];
    const prior = headers["x-forwarded-for"];
    headers["x-forwarded-for"] = prior
      ? `${String(prior)}, ${req.socket.remoteAddress ?? ""}`
      : (req.socket.remoteAddress ?? "");
    headers["x-forwarded-proto"] ??= "http";
    headers["x-forwarded-host"] ??= req.headers.host ?? "";

    const deadline = Math.min(requestTimeout, backendTimeout);
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const upstream = http.request(
        {
          host: ehost,
          port: Number(eport),
          method: req.method,
          path: `${path}${url.search}`,
          headers: headers as http.OutgoingHttpHeaders,
          agent: this.agent,
        },
        (up) => {
          let outHeaders: HeaderMap = { ...up.headers };
          for (const h of HOP_BY_HOP) delete outHeaders[h];
          if (responseFilter) outHeaders = modifyHeaders(outHeaders, responseFilter);
          res.writeHead(up.statusCode ?? 502, outHeaders as http.OutgoingHttpHeaders);
          up.pipe(res);
          up.on("end", () => {
            if (timer) clearTimeout(timer);
            resolve();
          });
          up.on("error", () => {
            res.destroy();
            resolve();
          });
        },
      );
      if (Number.isFinite(deadline)) {
        timer = setTimeout(() => {
          upstream.destroy(new Error("timeout"));
          if (!res.headersSent) reply(res, 504, "upstream request timeout\n");
          else res.destroy();
          resolve();
        }, deadline);
      }
      upstream.on("error", (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        if (!res.headersSent)
          reply(res, e.code === "ECONNREFUSED" ? 503 : 502, `upstream connect error: ${e.message}\n`);
        resolve();
      });
      req.pipe(upstream);
    });
  }

  // ---- status ------------------------------------------------------------------------------------

  private scheduleStatus(): void {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      try {
        this.writeStatuses();
      } catch (e) {
        console.error("[test-gateway] status update failed:", e);
      }
    }, 10);
  }

  private writeStatuses(): void {
    const store = this.opts.store;
    this.dropDetachedStatuses();
    let attachedCount = 0;
    for (const { route } of this.attachedRoutes()) {
      const ns = route.metadata?.namespace ?? "default";
      const generation = route.metadata?.generation ?? 1;
      const unsupported = unsupportedReason(route);
      if (!unsupported) attachedCount++;
      const problems = (route.spec?.rules ?? [])
        .flatMap((r) => r.backendRefs ?? [])
        .map((b) => this.backendProblem(b, ns))
        .filter((p): p is BackendProblem => p !== undefined);
      const live = store.get(`${GROUP}/v1`, "HTTPRoute", ns, route.metadata?.name ?? "");
      if (!live) continue;
      const current = asKube<IHTTPRoute>(live).status?.parents ?? [];
      const ours = (route.spec?.parentRefs ?? []).filter((p) => this.attaches(p, ns));
      const others = current.filter((p) => p.controllerName !== GATEWAY_CONTROLLER_NAME);
      const mine = ours.map((parentRef) => {
        const before = current.find(
          (p) => p.controllerName === GATEWAY_CONTROLLER_NAME && deepEqual(p.parentRef, parentRef),
        );
        const cond = (type: string, ok: boolean, reason: string, message: string) => {
          const prev = before?.conditions?.find((c) => c.type === type);
          const status = ok ? "True" : "False";
          return {
            type,
            status,
            reason,
            message,
            observedGeneration: generation,
            lastTransitionTime:
              prev?.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : nowIso(),
          };
        };
        const first = problems[0];
        return {
          parentRef,
          controllerName: GATEWAY_CONTROLLER_NAME,
          conditions: [
            unsupported
              ? cond("Accepted", false, "UnsupportedValue", unsupported)
              : cond("Accepted", true, "Accepted", "Route is accepted"),
            first
              ? cond("ResolvedRefs", false, first.reason, problems.map((p) => p.message).join("; "))
              : cond("ResolvedRefs", true, "ResolvedRefs", "All references are resolved"),
          ],
        };
      });
      const parents = [...others, ...mine];
      if (deepEqual(withoutTimes(parents), withoutTimes(current))) continue;
      live.status = { parents };
      store.updateStatus(live, { fieldManager: "slipway-test-gateway" });
    }
    this.writeGatewayStatus(attachedCount);
  }

  /** A route that no longer names this Gateway loses the status entries this controller wrote. */
  private dropDetachedStatuses(): void {
    const store = this.opts.store;
    for (const obj of store.list(`${GROUP}/v1`, "HTTPRoute")) {
      const route = asKube<IHTTPRoute>(obj);
      const ns = route.metadata?.namespace ?? "default";
      const parents = route.status?.parents ?? [];
      const current = (route.spec?.parentRefs ?? []).filter((ref) => this.attaches(ref, ns));
      const kept = parents.filter(
        (p) =>
          p.controllerName !== GATEWAY_CONTROLLER_NAME || current.some((ref) => deepEqual(ref, p.parentRef)),
      );
      if (kept.length === parents.length) continue;
      obj.status = { parents: kept };
      store.updateStatus(obj, { fieldManager: "slipway-test-gateway" });
    }
  }

  private writeGatewayStatus(attachedRoutes: number): void {
    const store = this.opts.store;
    const live = store.get(`${GROUP}/v1`, "Gateway", this.namespace, this.name);
    if (!live) return;
    const generation = live.metadata.generation ?? 1;
    const prev = live.status as { conditions?: { type: string; lastTransitionTime?: string }[] } | undefined;
    const since = (type: string) =>
      prev?.conditions?.find((c) => c.type === type)?.lastTransitionTime ?? nowIso();
    const cond = (type: string, reason: string, message: string) => ({
      type,
      status: "True",
      reason,
      message,
      observedGeneration: generation,
      lastTransitionTime: since(type),
    });
    const port = this.url ? Number(new URL(this.url).port) : 0;
    const status = {
      addresses: [{ type: "IPAddress", value: "127.0.0.1" }],
      conditions: [
        cond("Accepted", "Accepted", "Gateway is accepted"),
        cond("Programmed", "Programmed", `Listening on 127.0.0.1:${port}`),
      ],
      listeners: [
        {
          name: "http",
          attachedRoutes,
          supportedKinds: [{ group: GROUP, kind: "HTTPRoute" }],
          conditions: [
            cond("Accepted", "Accepted", "Listener is accepted"),
            cond("Programmed", "Programmed", "Listener is programmed"),
            cond("ResolvedRefs", "ResolvedRefs", "All references are resolved"),
          ],
        },
      ],
    };
    if (deepEqual(withoutTimes(live.status), withoutTimes(status))) return;
    live.status = status;
    store.updateStatus(live as KubeObject, { fieldManager: "slipway-test-gateway" });
  }
}

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

function reply(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function withoutTimes(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(v ?? null, (k, x: unknown) => (k === "lastTransitionTime" ? undefined : x)),
  );
}

// The test cluster's HTTP API server: the Kubernetes REST surface over a Store, reachable through a
// kubeconfig by @kubernetes/client-node and kubectl. It owns URL routing, discovery (legacy /api, /apis
// and a minimal /openapi/v3 that lets kubectl use server-side field validation), content negotiation
// (JSON, Table for kubectl get, the four PATCH types), watch streaming, `Status` error encoding,
// bearer-token authentication and RBAC. Object semantics live in store.ts.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { jsonPatch, mergePatch, strategicMergePatch } from "./apply.js";
import { decodeProtobufObject, decodesProtobuf, UndecodableProtobuf } from "./protobuf.js";
import {
  authorize,
  BOOTSTRAP_POLICY,
  denialReason,
  type Identity,
  identityFor,
  type RequestAttributes,
  serviceAccountIdentity,
  type TokenGrant,
} from "./rbac.js";
import {
  apiVersionOf,
  findByResource,
  groupVersions,
  RESOURCE_KINDS,
  type ResourceKind,
} from "./resources.js";
import {
  ApiError,
  badRequest,
  forbidden,
  type KubeObject,
  notFound,
  resourceDetails,
  type Store,
} from "./store.js";
import type { FieldValidation } from "./validate.js";

export type { RbacRule, TokenGrant } from "./rbac.js";

const execFileAsync = promisify(execFile);

export interface ApiServerOptions {
  store: Store;
  /**
   * Static bearer tokens with the rules they grant. When given, every request but /version and health
   * checks needs `Authorization: Bearer <token>`; without them a request with no token is an
   * administrator's, and only service-account tokens are checked.
   */
  tokens?: Record<string, TokenGrant>;
}

export interface ApiServer {
  /** Plain HTTP, for requests without credentials. */
  url: string;
  /** HTTPS with a self-signed certificate for 127.0.0.1 (in the token kubeconfigs as their CA). */
  secureUrl: string;
  close(): Promise<void>;
  /** A kubeconfig (YAML) pointing at this server, optionally with a bearer token and a default namespace. */
  kubeconfig(opts?: { token?: string; namespace?: string }): string;
  /**
   * A token for the ServiceAccount `namespace/name` (which must exist), as the TokenRequest API issues
   * them: it authenticates as `system:serviceaccount:<namespace>:<name>`, is authorized by the RBAC
   * objects in the store, and stops working when it expires or the ServiceAccount is deleted.
   */
  serviceAccountToken(namespace: string, name: string, expirationSeconds?: number): string;
}

const SERVICE_ACCOUNTS = ((): ResourceKind => {
  const k = findByResource("", "v1", "serviceaccounts");
  if (k === undefined) throw new Error("serviceaccounts are not registered");
  return k;
})();

/** Where a TokenRequest token came from: a token only outlives neither its expiry nor its ServiceAccount. */
interface IssuedToken {
  namespace: string;
  name: string;
  uid: string;
  expiresAt: number;
}

const SERVER_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2024-12-11T00:00:00Z",
  goVersion: "go1.23.3",
  compiler: "gc",
  platform: "linux/amd64",
};

const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/apply-patch+yaml",
] as const;

/** One parsed resource URL: /api/v1/namespaces/ns/pods/name/log and friends. */
interface Route {
  kind: ResourceKind;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

class Reply {
  readonly warnings: string[] = [];
  constructor(readonly res: ServerResponse) {}

  json(code: number, body: unknown): void {
    this.writeWarnings();
    const text = JSON.stringify(body);
    this.res.writeHead(code, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
    });
    this.res.end(text);
  }

  text(code: number, body: string): void {
    this.writeWarnings();
    this.res.writeHead(code, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
    this.res.end(body);
  }

  error(err: ApiError): void {
    this.json(err.status.code, err.toStatus());
  }

  private writeWarnings(): void {
    if (this.warnings.length === 0) return;
    this.res.setHeader(
      "Warning",
      this.warnings.map((w) => `299 - ${JSON.stringify(w)}`),
    );
  }
}

function serverNotFound(): ApiError {
  return new ApiError({
    code: 404,
    reason: "NotFound",
    message: "the server could not find the requested resource",
    details: {},
  });
}

/** PatchOptions are validated like an object: `PatchOptions.meta.k8s.io "" is invalid: ...` (422). */
function invalidPatchOptions(field: string, reason: string, message: string): ApiError {
  return new ApiError({
    code: 422,
    reason: "Invalid",
    message: `PatchOptions.meta.k8s.io "" is invalid: ${field}: ${message}`,
    details: { group: "meta.k8s.io", kind: "PatchOptions", causes: [{ reason, message, field }] },
  });
}

function methodNotAllowed(): ApiError {
  return new ApiError({
    code: 405,
    reason: "MethodNotAllowed",
    message: "the server does not allow this method on the requested resource",
    details: {},
  });
}

function unsupportedMediaType(): ApiError {
  return new ApiError({
    code: 415,
    reason: "UnsupportedMediaType",
    message: `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(", ")}`,
  });
}

function parseRoute(path: string): Route | "discovery" | undefined {
  const segs = path
    .split("/")
    .filter((s) => s !== "")
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === "api" && segs[1] !== undefined) {
    group = "";
    version = segs[1];
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs[1] !== undefined && segs[2] !== undefined) {
    group = segs[1];
    version = segs[2];
    rest = segs.slice(3);
  } else {
    return undefined;
  }
  if (rest.length === 0) return "discovery";
  let namespace: string | undefined;
  // "namespaces/<ns>/<resource>..." addresses namespaced resources; "namespaces/<name>[/status]" is a Namespace.
  if (rest[0] === "namespaces" && rest.length >= 3 && group !== "") {
    namespace = rest[1];
    rest = rest.slice(2);
  } else if (
    rest[0] === "namespaces" &&
    rest.length >= 3 &&
    group === "" &&
    findByResource("", version, rest[2] ?? "")?.namespaced
  ) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (plural === undefined || extra.length > 0) return undefined;
  const kind = findByResource(group, version, plural);
  if (kind === undefined) return undefined;
  if (namespace !== undefined && !kind.namespaced) return undefined;
  return { kind, namespace, name, subresource };
}

function discoveryResources(group: string, version: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const k of RESOURCE_KINDS) {
    if (k.group !== group || k.version !== version) continue;
    out.push({
      name: k.plural,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: [...k.verbs],
      ...(k.shortNames.length > 0 ? { shortNames: [...k.shortNames] } : {}),
      ...(k.categories.length > 0 ? { categories: [...k.categories] } : {}),
      storageVersionHash: Buffer.from(`${k.group}/${k.version}/${k.kind}`).toString("base64").slice(0, 11),
    });
    for (const sub of k.subresources) {
      if (sub === "status") {
        out.push({
          name: `${k.plural}/status`,
          singularName: "",
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ["get", "patch", "update"],
        });
      } else if (sub === "scale") {
        out.push({
          name: `${k.plural}/scale`,
          singularName: "",
          namespaced: k.namespaced,
          group: "autoscaling",
          version: "v1",
          kind: "Scale",
          verbs: ["get", "patch", "update"],
        });
      } else if (sub === "token") {
        out.push({
          name: `${k.plural}/token`,
          singularName: "",
          namespaced: k.namespaced,
          group: "authentication.k8s.io",
          version: "v1",
          kind: "TokenRequest",
          verbs: ["create"],
        });
      } else if (sub === "log") {
        out.push({
          name: `${k.plural}/log`,
          singularName: "",
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ["get"],
        });
      }
    }
  }
  return out;
}

/**
 * A minimal OpenAPI v3 document per group/version: just enough for kubectl to see that PATCH accepts
 * `fieldValidation`, so it validates on the server instead of downloading full schemas.
 */
function openApiV3(group: string, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const prefix = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
  for (const k of RESOURCE_KINDS) {
    if (k.group !== group || k.version !== version) continue;
    const gvk = [{ group: k.group, version: k.version, kind: k.kind }];
    const param = (name: string, where: "path" | "query") => ({
      name,
      in: where,
      ...(where === "path" ? { required: true } : {}),
      schema: { type: "string", uniqueItems: true },
    });
    const op = (action: string) => ({
      operationId: `${action}${k.kind}`,
      "x-kubernetes-action": action,
      "x-kubernetes-group-version-kind": gvk[0],
      parameters: [
        param("dryRun", "query"),
        param("fieldManager", "query"),
        param("fieldValidation", "query"),
        param("force", "query"),
      ],
      responses: { "200": { description: "OK" } },
    });
    const itemPath = k.namespaced
      ? `${prefix}/namespaces/{namespace}/${k.plural}/{name}`
      : `${prefix}/${k.plural}/{name}`;
    const listPath = k.namespaced ? `${prefix}/namespaces/{namespace}/${k.plural}` : `${prefix}/${k.plural}`;
    const scope = k.namespaced ? [param("namespace", "path")] : [];
    paths[itemPath] = {
      get: op("get"),
      put: op("put"),
      patch: op("patch"),
      delete: op("delete"),
      parameters: [param("name", "path"), ...scope, param("pretty", "query")],
    };
    paths[listPath] = { get: op("list"), post: op("post"), parameters: [...scope, param("pretty", "query")] };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: SERVER_VERSION.gitVersion },
    paths,
    components: { schemas: {} },
  };
}

// ---- tables for kubectl get -------------------------------------------------------------------

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
  cell: (o: KubeObject) => unknown;
}

const get = (o: unknown, ...path: string[]): unknown => {
  let cur = o;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
};
const num = (v: unknown): number => (typeof v === "number" ? v : 0);

function age(o: KubeObject): string {
  const created = o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : Date.now();
  const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function column(name: string, cell: Column["cell"], extra: Partial<Column> = {}): Column {
  return { name, type: "string", format: "", description: name, priority: 0, cell, ...extra };
}

interface ContainerStatusView {
  name?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: {
    waiting?: { reason?: string };
    running?: unknown;
    terminated?: { reason?: string; signal?: number; exitCode?: number };
  };
}

/**
 * The READY, STATUS and RESTARTS cells as kubectl's pod printer derives them: the first init container
 * not yet done decides (Init:N/M, Init:<reason>); after that an app container's waiting or terminated
 * reason wins over the phase. Restartable (sidecar) init containers count as containers once started.
 */
function podPrinterCells(o: KubeObject): { ready: string; status: string; restarts: number } {
  let reason = String(get(o, "status", "reason") || get(o, "status", "phase") || "");
  const spec = (o.spec ?? {}) as {
    containers?: unknown[];
    initContainers?: { name?: string; restartPolicy?: string }[];
  };
  const inits = spec.initContainers ?? [];
  const sidecars = new Set(inits.filter((c) => c.restartPolicy === "Always").map((c) => c.name));
  const total = (spec.containers ?? []).length + sidecars.size;
  let readyCount = 0;
  let restarts = 0;
  let sidecarRestarts = 0;
  let initializing = false;
  const initStatuses = (get(o, "status", "initContainerStatuses") as ContainerStatusView[] | undefined) ?? [];
  for (const [i, c] of initStatuses.entries()) {
    restarts += c.restartCount ?? 0;
    const sidecar = sidecars.has(c.name);
    if (sidecar) sidecarRestarts += c.restartCount ?? 0;
    const t = c.state?.terminated;
    if (t !== undefined && (t.exitCode ?? 0) === 0) continue;
    if (sidecar && c.started) {
      if (c.ready) readyCount++;
      continue;
    }
    if (t !== undefined) {
      reason = t.reason
        ? `Init:${t.reason}`
        : t.signal
          ? `Init:Signal:${t.signal}`
          : `Init:ExitCode:${t.exitCode ?? 0}`;
    } else if (c.state?.waiting?.reason && c.state.waiting.reason !== "PodInitializing") {
      reason = `Init:${c.state.waiting.reason}`;
    } else {
      reason = `Init:${i}/${inits.length}`;
    }
    initializing = true;
    break;
  }
  const conditions =
    (get(o, "status", "conditions") as { type?: string; status?: string }[] | undefined) ?? [];
  const initializedTrue = conditions.some((c) => c.type === "Initialized" && c.status === "True");
  if (!initializing || initializedTrue) {
    restarts = sidecarRestarts;
    const statuses = (get(o, "status", "containerStatuses") as ContainerStatusView[] | undefined) ?? [];
    let hasRunning = false;
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      restarts += c?.restartCount ?? 0;
      const state = c?.state;
      if (state?.waiting?.reason) reason = state.waiting.reason;
      else if (state?.terminated?.reason) reason = state.terminated.reason;
      else if (state?.terminated) {
        reason = state.terminated.signal
          ? `Signal:${state.terminated.signal}`
          : `ExitCode:${state.terminated.exitCode ?? 0}`;
      } else if (c?.ready && state?.running) {
        hasRunning = true;
        readyCount++;
      }
    }
    if (reason === "Completed" && hasRunning) reason = "Running";
  }
  return {
    ready: `${readyCount}/${total}`,
    status: o.metadata.deletionTimestamp ? "Terminating" : reason,
    restarts,
  };
}

function columnsFor(k: ResourceKind): Column[] {
  const nameCol = column("Name", (o) => o.metadata.name, { format: "name" });
  const ageCol = column("Age", age);
  switch (k.kind) {
    case "Namespace":
      return [nameCol, column("Status", (o) => get(o, "status", "phase") ?? ""), ageCol];
    case "Deployment":
      return [
        nameCol,
        column(
          "Ready",
          (o) => `${num(get(o, "status", "readyReplicas"))}/${num(get(o, "spec", "replicas"))}`,
        ),
        column("Up-to-date", (o) => num(get(o, "status", "updatedReplicas")), { type: "integer" }),
        column("Available", (o) => num(get(o, "status", "availableReplicas")), { type: "integer" }),
        ageCol,
      ];
    case "ReplicaSet":
      return [
        nameCol,
        column("Desired", (o) => num(get(o, "spec", "replicas")), { type: "integer" }),
        column("Current", (o) => num(get(o, "status", "replicas")), { type: "integer" }),
        column("Ready", (o) => num(get(o, "status", "readyReplicas")), { type: "integer" }),
        ageCol,
      ];
    case "Pod":
      return [
        nameCol,
        column("Ready", (o) => podPrinterCells(o).ready),
        column("Status", (o) => podPrinterCells(o).status),
        column("Restarts", (o) => podPrinterCells(o).restarts, { type: "integer" }),
        ageCol,
      ];
    // The printers in pkg/printers/internalversion/printers.go (printNode, printServiceAccount, printRole…).
    case "Node":
      return [
        nameCol,
        column("Status", (o) => {
          const ready = (
            (get(o, "status", "conditions") as { type?: string; status?: string }[] | undefined) ?? []
          ).find((c) => c.type === "Ready");
          const state =
            ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Unknown";
          return get(o, "spec", "unschedulable") === true ? `${state},SchedulingDisabled` : state;
        }),
        column("Roles", (o) => {
          const roles = Object.keys(o.metadata.labels ?? {})
            .filter((l) => l.startsWith("node-role.kubernetes.io/"))
            .map((l) => l.slice("node-role.kubernetes.io/".length))
            .sort();
          return roles.length > 0 ? roles.join(",") : "<none>";
        }),
        ageCol,
        column("Version", (o) => get(o, "status", "nodeInfo", "kubeletVersion") ?? ""),
      ];
    case "ServiceAccount":
      return [
        nameCol,
        column("Secrets", (o) => ((get(o, "secrets") as unknown[] | undefined) ?? []).length, {
          type: "integer",
        }),
        ageCol,
      ];
    case "Role":
    case "ClusterRole":
      return [nameCol, column("Created At", (o) => o.metadata.creationTimestamp ?? "", { format: "date" })];
    case "RoleBinding":
    case "ClusterRoleBinding":
      return [
        nameCol,
        column(
          "Role",
          (o) => `${String(get(o, "roleRef", "kind") ?? "")}/${String(get(o, "roleRef", "name") ?? "")}`,
        ),
        ageCol,
      ];
    case "Service":
      return [
        nameCol,
        column("Type", (o) => get(o, "spec", "type") ?? ""),
        column("Cluster-IP", (o) => get(o, "spec", "clusterIP") ?? ""),
        column("External-IP", () => "<none>"),
        column("Port(s)", (o) =>
          ((get(o, "spec", "ports") as { port?: number; protocol?: string }[] | undefined) ?? [])
            .map((p) => `${p.port}/${p.protocol ?? "TCP"}`)
            .join(","),
        ),
        ageCol,
      ];
    default:
      return [nameCol, ageCol];
  }
}

function table(
  k: ResourceKind,
  objects: KubeObject[],
  resourceVersion: string,
  includeObject: string,
): Record<string, unknown> {
  const cols = columnsFor(k);
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: cols.map(({ cell: _c, ...def }) => def),
    rows: objects.map((o) => ({
      cells: cols.map((c) => c.cell(o)),
      ...(includeObject === "None"
        ? {}
        : {
            object:
              includeObject === "Object"
                ? o
                : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata },
          }),
    })),
  };
}

function wantsTable(req: IncomingMessage): boolean {
  return /as=Table/.test(req.headers.accept ?? "");
}

// ---- request helpers ----------------------------------------------------------------------------

async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readRawBody(req)).toString("utf8");
}

function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function asKubeObject(v: unknown, k: ResourceKind): KubeObject {
  if (!isObject(v)) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(v)}'`);
  const apiVersion = v.apiVersion ?? apiVersionOf(k);
  const kind = v.kind ?? k.kind;
  if (apiVersion !== apiVersionOf(k)) {
    throw badRequest(
      `the API version in the data (${String(apiVersion)}) does not match the expected API version (${apiVersionOf(k)})`,
    );
  }
  if (kind !== k.kind) {
    throw badRequest(`the kind in the data (${String(kind)}) does not match the expected kind (${k.kind})`);
  }
  const metadata = isObject(v.metadata) ? v.metadata : {};
  return { ...v, apiVersion, kind, metadata: { name: "", ...metadata } } as KubeObject;
}

function fieldValidationOf(q: URLSearchParams): FieldValidation {
  const v = q.get("fieldValidation");
  if (v === null || v === "") return "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw badRequest(`fieldValidation parameter unsupported: ${v}`);
}

function defaultFieldManager(req: IncomingMessage): string {
  // Like the real server: the User-Agent's program name, e.g. "kubectl-client-side-apply" → "kubectl".
  const ua = req.headers["user-agent"] ?? "unknown";
  return ua.split("/")[0]?.slice(0, 128) || "unknown";
}

function listKindOf(k: ResourceKind): string {
  return `${k.kind}List`;
}

/** Built-in lists carry bare items; custom resource lists keep apiVersion/kind on each item. */
function listItem(k: ResourceKind, o: KubeObject): Record<string, unknown> {
  if (k.custom) return o;
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

interface Continue {
  rv: string;
  start: number;
}

function decodeContinue(token: string): Continue {
  try {
    const c = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Continue;
    if (typeof c.start === "number" && typeof c.rv === "string") return c;
  } catch {
    // fall through
  }
  throw badRequest("continue key is not valid: illegal base64 data at input byte 0");
}

// ---- the server ---------------------------------------------------------------------------------

/** A throwaway certificate for 127.0.0.1: node:crypto makes keys but not certificates; openssl makes both. */
async function selfSignedCertificate(): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), "slipway-apiserver-"));
  try {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    await execFileAsync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=slipway-test-apiserver",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ]);
    return { key: await readFile(keyPath), cert: await readFile(certPath) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { store } = opts;
  const identities = new Map<string, Identity>();
  Object.entries(opts.tokens ?? {}).forEach(([token, grant], i) => {
    identities.set(token, identityFor(grant, i));
  });
  const authRequired = opts.tokens !== undefined;
  const issued = new Map<string, IssuedToken>();
  // The bootstrap policy the real API server reconciles when it starts (cluster-admin for system:masters).
  for (const obj of BOOTSTRAP_POLICY) {
    if (store.get(obj.apiVersion, obj.kind, undefined, obj.metadata.name) === undefined)
      store.create(structuredClone(obj) as unknown as KubeObject, { fieldManager: "kube-apiserver" });
  }
  const sockets = new Set<Socket>();

  /** Authenticates a bearer token: a static test token, or a live service-account token. */
  function authenticate(token: string): Identity | undefined {
    const fixed = identities.get(token);
    if (fixed) return fixed;
    const t = issued.get(token);
    if (t === undefined) return undefined;
    const sa = store.get("v1", "ServiceAccount", t.namespace, t.name);
    if (Date.now() >= t.expiresAt || sa === undefined || sa.metadata.uid !== t.uid) {
      issued.delete(token);
      return undefined;
    }
    return serviceAccountIdentity(t.namespace, t.name);
  }

  /** TokenRequest: a token for an existing ServiceAccount, valid for expirationSeconds (at least 10 minutes). */
  function issueToken(
    namespace: string,
    name: string,
    expirationSeconds: number,
  ): { token: string; expiresAt: number } {
    const sa = store.get("v1", "ServiceAccount", namespace, name);
    if (sa === undefined) throw notFound(SERVICE_ACCOUNTS, name);
    const token = `slipway-sa.${randomBytes(24).toString("base64url")}`;
    const expiresAt = Date.now() + expirationSeconds * 1000;
    issued.set(token, { namespace, name, uid: sa.metadata.uid ?? "", expiresAt });
    return { token, expiresAt };
  }
  const closers = new Set<() => void>();

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      const reply = new Reply(res);
      if (err instanceof ApiError) reply.error(err);
      else {
        reply.error(
          new ApiError({
            code: 500,
            reason: "InternalError",
            message: `Internal error occurred: ${(err as Error)?.message ?? String(err)}`,
          }),
        );
      }
    });
  };
  // Plain HTTP for the token-less administrator's kubeconfig; HTTPS for kubeconfigs that carry a token,
  // because kubectl (client-go) never sends a bearer token over plain HTTP.
  const tls = await selfSignedCertificate();
  const server: Server = createServer(onRequest);
  const secure = createHttpsServer({ key: tls.key, cert: tls.cert }, onRequest);
  for (const srv of [server, secure]) {
    srv.on("connection", (s: Socket) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const q = url.searchParams;
    const reply = new Reply(res);
    const method = (req.method ?? "GET").toUpperCase();

    if (path === "/version") return reply.json(200, SERVER_VERSION);
    if (path === "/healthz" || path === "/livez" || path === "/readyz") return reply.text(200, "ok");

    let identity: Identity | undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
    if (bearer !== undefined || authRequired) {
      identity = bearer !== undefined ? authenticate(bearer) : undefined;
      if (identity === undefined) {
        return reply.error(new ApiError({ code: 401, reason: "Unauthorized", message: "Unauthorized" }));
      }
    }

    // Discovery and OpenAPI are readable by every authenticated user (system:discovery).
    if (path === "/api") {
      return reply.json(200, {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: req.headers.host ?? "" }],
      });
    }
    if (path === "/apis") {
      const groups = new Map<string, string[]>();
      for (const gv of groupVersions())
        if (gv.group !== "") groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv.version]);
      return reply.json(200, {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      });
    }
    if (path === "/openapi/v2") {
      // Older kubectl (Debian's 1.20) fetches the v2 document, as protobuf, for client-side validation
      // and skips kinds the document does not describe. An empty document is a valid (empty) protobuf
      // message; the server validates every object itself, so nothing invalid gets through either way.
      if ((req.headers.accept ?? "").includes("protobuf")) {
        // The real server's OpenAPI handler answers the protobuf form as a plain byte stream.
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": 0 });
        res.end();
        return;
      }
      return reply.json(200, {
        swagger: "2.0",
        info: { title: "Kubernetes", version: SERVER_VERSION.gitVersion },
        paths: {},
        definitions: {},
      });
    }
    if (path === "/openapi/v3") {
      const paths: Record<string, unknown> = {};
      for (const gv of groupVersions()) {
        const p = gv.group === "" ? `api/${gv.version}` : `apis/${gv.group}/${gv.version}`;
        paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${gv.group || "core"}${gv.version}` };
      }
      return reply.json(200, { paths });
    }
    const openapi = /^\/openapi\/v3\/(?:api\/([^/]+)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (openapi) {
      const group = openapi[2] ?? "";
      const version = openapi[1] ?? openapi[3] ?? "";
      if (!groupVersions().some((gv) => gv.group === group && gv.version === version))
        return reply.error(serverNotFound());
      return reply.json(200, openApiV3(group, version));
    }

    const route = parseRoute(path);
    if (route === undefined) return reply.error(serverNotFound());
    if (route === "discovery") {
      const segs = path.split("/").filter(Boolean);
      const group = segs[0] === "api" ? "" : (segs[1] ?? "");
      const version = segs[0] === "api" ? (segs[1] ?? "") : (segs[2] ?? "");
      if (!groupVersions().some((gv) => gv.group === group && gv.version === version))
        return reply.error(serverNotFound());
      return reply.json(200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: group === "" ? version : `${group}/${version}`,
        resources: discoveryResources(group, version),
      });
    }

    const { kind: k, namespace, name, subresource } = route;
    if (subresource !== undefined && !(k.subresources as readonly string[]).includes(subresource)) {
      return reply.error(serverNotFound());
    }
    const isWatch = q.get("watch") === "true" || q.get("watch") === "1";
    const verb = verbOf(method, name !== undefined, isWatch, subresource !== undefined);
    if (verb === undefined) return reply.error(methodNotAllowed());

    // The request's attributes as RequestInfoFactory derives them (apiserver/pkg/endpoints/request/requestinfo.go):
    // a Namespace addressed by name is also the request's namespace, and a list or watch whose field
    // selector pins metadata.name is about that name.
    const pinned = /(?:^|,)\s*metadata\.name\s*==?\s*([^,]+)/.exec(q.get("fieldSelector") ?? "")?.[1]?.trim();
    const attrsFor = (v: string): RequestAttributes => {
      const attrName = name ?? (v === "list" || v === "watch" ? pinned : undefined);
      const attrNamespace = k.kind === "Namespace" && name !== undefined ? name : namespace;
      return {
        verb: v,
        apiGroup: k.group,
        resource: k.plural,
        ...(subresource !== undefined ? { subresource } : {}),
        ...(attrNamespace !== undefined ? { namespace: attrNamespace } : {}),
        ...(attrName !== undefined ? { name: attrName } : {}),
      };
    };
    const check = (v: string) => {
      if (identity === undefined) return;
      const attrs = attrsFor(v);
      const decision = authorize(store, identity, attrs);
      if (!decision.allowed) throw forbidden(k, attrs.name, denialReason(identity, attrs, decision.reason));
    };
    /**
     * Server-side apply that creates the object is also authorized as a create, inside the handler
     * (handlers/patch.go withAuthorization): its refusal is a Forbidden carrying only the authorizer's
     * reason, which RBAC leaves empty.
     */
    const checkCreateOnApply = () => {
      if (identity === undefined) return;
      const attrs = attrsFor("create");
      const decision = authorize(store, identity, attrs);
      if (!decision.allowed) throw forbidden(k, attrs.name, decision.reason);
    };
    check(verb);

    const dryRun = q.getAll("dryRun").includes("All");
    const fieldManager = q.get("fieldManager") ?? undefined;
    if (fieldManager !== undefined && (fieldManager.length > 128 || fieldManager === "")) {
      throw badRequest(
        `fieldManager: Invalid value: "${fieldManager}": must be between 1 and 128 characters`,
      );
    }
    const manager = fieldManager ?? defaultFieldManager(req);
    const write = {
      fieldManager: manager,
      fieldValidation: fieldValidationOf(q),
      warnings: reply.warnings,
      dryRun,
    };

    if (name === undefined) {
      if (verb === "watch") return watch(req, res, k, namespace, q);
      if (verb === "list") {
        const items = store.list(apiVersionOf(k), k.kind, listOptions(namespace, q));
        const rv = store.resourceVersion;
        const limit = Number(q.get("limit") ?? "0");
        const token = q.get("continue");
        const start = token ? decodeContinue(token).start : 0;
        const page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
        const more = limit > 0 && start + limit < items.length;
        if (wantsTable(req)) return reply.json(200, table(k, page, rv, q.get("includeObject") ?? "Metadata"));
        return reply.json(200, {
          kind: listKindOf(k),
          apiVersion: apiVersionOf(k),
          metadata: {
            resourceVersion: rv,
            ...(more
              ? {
                  continue: Buffer.from(JSON.stringify({ rv, start: start + limit })).toString("base64url"),
                  remainingItemCount: items.length - start - limit,
                }
              : {}),
          },
          items: page.map((o) => listItem(k, o)),
        });
      }
      if (verb === "create") {
        const obj = asKubeObject(decodeObjectBody(await readRawBody(req), req, k), k);
        if (k.namespaced) {
          if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
            throw badRequest(
              "the namespace of the provided object does not match the namespace sent on the request",
            );
          }
          if (namespace === undefined) throw serverNotFound();
          obj.metadata.namespace = namespace;
        }
        const created = store.create(obj, write);
        return reply.json(201, created);
      }
      if (verb === "deletecollection") {
        const items = store.list(apiVersionOf(k), k.kind, listOptions(namespace, q));
        const deleted: KubeObject[] = [];
        for (const o of items) {
          const d = store.delete(apiVersionOf(k), k.kind, o.metadata.namespace, o.metadata.name, {
            ...deleteOptions(q, undefined),
            dryRun,
          });
          if (d) deleted.push(d);
        }
        return reply.json(200, {
          kind: listKindOf(k),
          apiVersion: apiVersionOf(k),
          metadata: { resourceVersion: store.resourceVersion },
          items: deleted.map((o) => listItem(k, o)),
        });
      }
      return reply.error(methodNotAllowed());
    }

    const current = () => {
      const o = store.get(apiVersionOf(k), k.kind, namespace, name);
      if (o === undefined) throw notFound(k, name);
      return o;
    };

    if (subresource === "token") {
      if (method !== "POST") return reply.error(methodNotAllowed());
      return tokenRequest(req, reply, namespace ?? "", name);
    }

    if (subresource === "log") {
      if (method !== "GET") return reply.error(methodNotAllowed());
      const tail = q.get("tailLines");
      const container = q.get("container");
      const text = await store.readLog(namespace ?? "", name, {
        ...(container ? { container } : {}),
        ...(tail !== null ? { tailLines: Number(tail) } : {}),
        previous: q.get("previous") === "true",
        timestamps: q.get("timestamps") === "true",
      });
      return reply.text(200, text);
    }

    if (subresource === "scale") return scale(req, reply, k, namespace, name, method, write);

    switch (verb) {
      case "get": {
        const o = current();
        if (wantsTable(req))
          return reply.json(
            200,
            table(k, [o], o.metadata.resourceVersion ?? "", q.get("includeObject") ?? "Metadata"),
          );
        return reply.json(200, o);
      }
      case "update": {
        const obj = asKubeObject(decodeObjectBody(await readRawBody(req), req, k), k);
        checkIdentity(k, obj, namespace, name);
        const updated = subresource === "status" ? store.updateStatus(obj, write) : store.update(obj, write);
        return reply.json(200, updated);
      }
      case "patch":
        return patch(req, reply, k, namespace, name, subresource, q, write, checkCreateOnApply);
      case "delete": {
        const bodyText = await readBody(req);
        const body = bodyText.trim() === "" ? undefined : parseJsonBody(bodyText);
        const deleted = store.delete(apiVersionOf(k), k.kind, namespace, name, {
          ...deleteOptions(q, body),
          dryRun,
        });
        if (deleted === undefined) throw notFound(k, name);
        const still = store.get(apiVersionOf(k), k.kind, namespace, name);
        if (still !== undefined && still.metadata.uid === deleted.metadata.uid) return reply.json(200, still);
        if (k.kind === "Pod" || k.kind === "Service" || k.kind === "Namespace")
          return reply.json(200, deleted);
        return reply.json(200, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: {
            ...resourceDetails(k, name),
            ...(deleted.metadata.uid ? { uid: deleted.metadata.uid } : {}),
          },
        });
      }
      default:
        return reply.error(methodNotAllowed());
    }
  }

  function listOptions(namespace: string | undefined, q: URLSearchParams) {
    return {
      ...(namespace !== undefined ? { namespace } : {}),
      ...(q.get("labelSelector") ? { labelSelector: q.get("labelSelector") ?? "" } : {}),
      ...(q.get("fieldSelector") ? { fieldSelector: q.get("fieldSelector") ?? "" } : {}),
    };
  }

  async function patch(
    req: IncomingMessage,
    reply: Reply,
    k: ResourceKind,
    namespace: string | undefined,
    name: string,
    subresource: string | undefined,
    q: URLSearchParams,
    write: { fieldManager: string; fieldValidation: FieldValidation; warnings: string[]; dryRun: boolean },
    checkCreate: () => void,
  ): Promise<void> {
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim() ?? "";
    const text = await readBody(req);
    const force = q.get("force");
    if (contentType === "application/apply-patch+yaml") {
      if (q.get("fieldManager") === null) {
        throw invalidPatchOptions(
          "fieldManager",
          "FieldValueRequired",
          "Required value: is required for apply patch",
        );
      }
      let doc: unknown;
      try {
        doc = parseYaml(text);
      } catch (err) {
        throw badRequest(`error decoding YAML: ${(err as Error).message}`);
      }
      const cfg = asKubeObject(doc, k);
      checkIdentity(k, cfg, namespace, name);
      const exists = store.get(apiVersionOf(k), k.kind, namespace, name) !== undefined;
      // An apply that creates the object also needs permission to create it.
      if (!exists) checkCreate();
      const applied = store.apply(cfg, {
        ...write,
        force: force === "true",
        ...(subresource === "status" ? { subresource: "status" as const } : {}),
      });
      return reply.json(exists ? 200 : 201, applied);
    }
    if (force !== null) {
      throw invalidPatchOptions(
        "force",
        "FieldValueForbidden",
        "Forbidden: may not be specified for non-apply patch",
      );
    }
    if (!(PATCH_TYPES as readonly string[]).includes(contentType)) throw unsupportedMediaType();
    const live = store.get(apiVersionOf(k), k.kind, namespace, name);
    if (live === undefined) throw notFound(k, name);
    const body = parseJsonBody(text);
    let patched: unknown;
    if (contentType === "application/merge-patch+json") patched = mergePatch(live, body);
    else if (contentType === "application/strategic-merge-patch+json")
      patched = strategicMergePatch(k, live, body);
    else patched = jsonPatch(live, body);
    const obj = asKubeObject(patched, k);
    checkIdentity(k, obj, namespace, name);
    // A patch is applied to the version it read: a concurrent change shows up as a conflict, never lost.
    const requested = isObject(body) && isObject(body.metadata) ? body.metadata.resourceVersion : undefined;
    obj.metadata.resourceVersion =
      typeof requested === "string" ? requested : (live.metadata.resourceVersion ?? "");
    let updated: KubeObject;
    try {
      updated = subresource === "status" ? store.updateStatus(obj, write) : store.update(obj, write);
    } catch (err) {
      // For PATCH the real server reports unknown fields against the patch itself, as a 422.
      const strict = err instanceof ApiError ? /strict decoding error: .*$/.exec(err.status.message) : null;
      if (strict) {
        const message = `Invalid value: ${JSON.stringify(text)}: ${strict[0]}`;
        throw new ApiError({
          code: 422,
          reason: "Invalid",
          message: `"" is invalid: patch: ${message}`,
          details: { causes: [{ reason: "FieldValueInvalid", message, field: "patch" }] },
        });
      }
      throw err;
    }
    return reply.json(200, updated);
  }

  /**
   * POST serviceaccounts/<name>/token, the TokenRequest API
   * (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/):
   * expirationSeconds defaults to an hour and may not be under 10 minutes; audiences default to the
   * API server's own.
   */
  async function tokenRequest(
    req: IncomingMessage,
    reply: Reply,
    namespace: string,
    name: string,
  ): Promise<void> {
    const body = await readRawBody(req);
    const type = (req.headers["content-type"] ?? "application/json").split(";")[0]?.trim() ?? "";
    let tr: Record<string, unknown> = {};
    if (body.length > 0) {
      try {
        const decoded =
          type === "application/vnd.kubernetes.protobuf"
            ? decodeProtobufObject(body)
            : parseJsonBody(body.toString("utf8"));
        if (isObject(decoded)) tr = decoded;
      } catch (err) {
        if (err instanceof UndecodableProtobuf)
          throw badRequest(`the protobuf body could not be decoded: ${err.message}`);
        throw err;
      }
    }
    const spec = isObject(tr.spec) ? tr.spec : {};
    const seconds = typeof spec.expirationSeconds === "number" ? spec.expirationSeconds : 3600;
    if (seconds < 600) {
      const message = `Invalid value: ${seconds}: may not specify a duration less than 10 minutes`;
      throw new ApiError({
        code: 422,
        reason: "Invalid",
        message: `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: ${message}`,
        details: {
          name,
          group: "authentication.k8s.io",
          kind: "TokenRequest",
          causes: [{ reason: "FieldValueInvalid", message, field: "spec.expirationSeconds" }],
        },
      });
    }
    const { token, expiresAt } = issueToken(namespace, name, seconds);
    const audiences =
      Array.isArray(spec.audiences) && spec.audiences.length > 0
        ? spec.audiences
        : ["https://kubernetes.default.svc.cluster.local"];
    return reply.json(201, {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name, namespace, creationTimestamp: null },
      spec: { audiences, expirationSeconds: seconds, boundObjectRef: spec.boundObjectRef ?? null },
      status: { token, expirationTimestamp: `${new Date(expiresAt).toISOString().slice(0, 19)}Z` },
    });
  }

  async function scale(
    req: IncomingMessage,
    reply: Reply,
    k: ResourceKind,
    namespace: string | undefined,
    name: string,
    method: string,
    write: { fieldManager: string; fieldValidation: FieldValidation; warnings: string[]; dryRun: boolean },
  ): Promise<void> {
    const live = store.get(apiVersionOf(k), k.kind, namespace, name);
    if (live === undefined) throw notFound(k, name);
    const toScale = (o: KubeObject) => ({
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name: o.metadata.name,
        namespace: o.metadata.namespace,
        uid: o.metadata.uid,
        resourceVersion: o.metadata.resourceVersion,
        creationTimestamp: o.metadata.creationTimestamp,
      },
      spec: { replicas: get(o, "spec", "replicas") },
      status: {
        replicas: num(get(o, "status", "replicas")),
        selector: Object.entries(
          (get(o, "spec", "selector", "matchLabels") as Record<string, string> | undefined) ?? {},
        )
          .map(([a, b]) => `${a}=${b}`)
          .join(","),
      },
    });
    if (method === "GET") return reply.json(200, toScale(live));
    const text = await readBody(req);
    const body = parseJsonBody(text);
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim() ?? "";
    const current = toScale(live);
    const next =
      method === "PUT"
        ? body
        : contentType === "application/json-patch+json"
          ? jsonPatch(current, body)
          : mergePatch(current, body);
    const replicas = get(next, "spec", "replicas");
    if (typeof replicas !== "number") throw badRequest("spec.replicas: Required value");
    const rv = get(next, "metadata", "resourceVersion");
    const updated = store.update(
      {
        ...live,
        metadata: {
          ...live.metadata,
          resourceVersion: typeof rv === "string" ? rv : (live.metadata.resourceVersion ?? ""),
        },
        spec: { ...(live.spec as object), replicas },
      },
      write,
    );
    return reply.json(200, toScale(updated));
  }

  function watch(
    req: IncomingMessage,
    res: ServerResponse,
    k: ResourceKind,
    namespace: string | undefined,
    q: URLSearchParams,
  ): void {
    const asTable = wantsTable(req);
    const includeObject = q.get("includeObject") ?? "Metadata";
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Transfer-Encoding": "chunked",
      "Cache-Control": "no-cache",
    });
    res.flushHeaders();
    const send = (type: string, object: unknown) => {
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const sendObject = (type: string, o: KubeObject) =>
      send(type, asTable ? table(k, [o], o.metadata.resourceVersion ?? "", includeObject) : o);
    let unsubscribe = () => {};
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      closers.delete(finish);
      if (!res.writableEnded) res.end();
    };
    closers.add(finish);
    req.on("close", finish);
    res.on("close", finish);
    const rv = q.get("resourceVersion") ?? "";
    const initial = q.get("sendInitialEvents") === "true";
    try {
      unsubscribe = store.watch(apiVersionOf(k), k.kind, (e) => sendObject(e.type, e.object), {
        ...listOptions(namespace, q),
        ...(rv !== "" && rv !== "0" && !initial ? { sinceResourceVersion: rv } : {}),
      });
      if (initial) {
        // The end of the initial state is marked by a bookmark, as watch-list clients expect.
        send("BOOKMARK", {
          kind: k.kind,
          apiVersion: apiVersionOf(k),
          metadata: {
            resourceVersion: store.resourceVersion,
            annotations: { "k8s.io/initial-events-end": "true" },
          },
        });
      }
    } catch (err) {
      // The real server reports a watch that cannot start (e.g. 410 Expired) as an ERROR event.
      if (err instanceof ApiError) {
        send("ERROR", err.toStatus());
        finish();
        return;
      }
      throw err;
    }
    const timeout = Number(q.get("timeoutSeconds") ?? "0");
    if (timeout > 0) timer = setTimeout(finish, timeout * 1000);
  }

  function checkIdentity(
    k: ResourceKind,
    obj: KubeObject,
    namespace: string | undefined,
    name: string,
  ): void {
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    obj.metadata.name = name;
    if (k.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      if (namespace !== undefined) obj.metadata.namespace = namespace;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => secure.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;

  return {
    url,
    secureUrl,
    async close() {
      for (const c of [...closers]) c();
      await Promise.all(
        [server, secure].map(
          (srv) =>
            new Promise<void>((resolve) => {
              srv.close(() => resolve());
              for (const s of sockets) s.destroy();
            }),
        ),
      );
    },
    serviceAccountToken(namespace, name, expirationSeconds = 3600) {
      return issueToken(namespace, name, expirationSeconds).token;
    },
    kubeconfig(o = {}) {
      return stringifyYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "slipway-test",
            cluster:
              o.token !== undefined
                ? { server: secureUrl, "certificate-authority-data": tls.cert.toString("base64") }
                : // client-node refuses plain http unless TLS verification is explicitly off; kubectl accepts either.
                  { server: url, "insecure-skip-tls-verify": true },
          },
        ],
        users: [{ name: "slipway-test", user: o.token !== undefined ? { token: o.token } : {} }],
        contexts: [
          {
            name: "slipway-test",
            context: { cluster: "slipway-test", user: "slipway-test", namespace: o.namespace ?? "default" },
          },
        ],
        "current-context": "slipway-test",
        preferences: {},
      });
    },
  };
}

function verbOf(
  method: string,
  hasName: boolean,
  isWatch: boolean,
  hasSubresource: boolean,
): string | undefined {
  switch (method) {
    case "GET":
      return isWatch ? "watch" : hasName ? "get" : "list";
    case "POST":
      // Only subresources (serviceaccounts/<name>/token) take a POST on a named object.
      return hasName && !hasSubresource ? undefined : "create";
    case "PUT":
      return hasName ? "update" : undefined;
    case "PATCH":
      return hasName ? "patch" : undefined;
    case "DELETE":
      return hasName ? "delete" : "deletecollection";
    default:
      return undefined;
  }
}

/**
 * A create or replace body in the media type its Content-Type names: JSON, YAML, or (for the kinds
 * protobuf.ts has tables for) the Kubernetes protobuf encoding kubectl's typed generators send. Any other
 * body is the real server's 415, listing what this server accepts for the kind.
 */
function decodeObjectBody(body: Buffer, req: IncomingMessage, k: ResourceKind): unknown {
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0]?.trim() ?? "";
  const protobufOk = decodesProtobuf(apiVersionOf(k), k.kind);
  const refuse = () =>
    new ApiError({
      code: 415,
      reason: "UnsupportedMediaType",
      message: `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml${protobufOk ? ", application/vnd.kubernetes.protobuf" : ""}`,
    });
  if (type === "application/vnd.kubernetes.protobuf") {
    if (!protobufOk) throw refuse();
    try {
      return decodeProtobufObject(body);
    } catch (err) {
      if (err instanceof UndecodableProtobuf)
        throw badRequest(`the protobuf body could not be decoded: ${err.message}`);
      throw err;
    }
  }
  if (type === "application/yaml") {
    try {
      return parseYaml(body.toString("utf8")) as unknown;
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
  }
  if (type !== "application/json" && type !== "") throw refuse();
  return parseJsonBody(body.toString("utf8"));
}

function deleteOptions(q: URLSearchParams, body: unknown) {
  const b = isObject(body) ? body : {};
  const policy =
    q.get("propagationPolicy") ?? (typeof b.propagationPolicy === "string" ? b.propagationPolicy : undefined);
  const orphan =
    q.get("orphanDependents") ??
    (typeof b.orphanDependents === "boolean" ? String(b.orphanDependents) : undefined);
  if (policy !== undefined && policy !== "Background" && policy !== "Foreground" && policy !== "Orphan") {
    throw badRequest(
      `propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
    );
  }
  const pre = isObject(b.preconditions) ? b.preconditions : {};
  const graceParam =
    q.get("gracePeriodSeconds") ??
    (typeof b.gracePeriodSeconds === "number" ? String(b.gracePeriodSeconds) : null);
  return {
    ...(graceParam !== null && graceParam !== "" ? { gracePeriodSeconds: Number(graceParam) } : {}),
    ...(policy !== undefined
      ? { propagationPolicy: policy as "Background" | "Foreground" | "Orphan" }
      : orphan === "true"
        ? { propagationPolicy: "Orphan" as const }
        : {}),
    ...(typeof pre.uid === "string" || typeof pre.resourceVersion === "string"
      ? {
          preconditions: {
            ...(typeof pre.uid === "string" ? { uid: pre.uid } : {}),
            ...(typeof pre.resourceVersion === "string" ? { resourceVersion: pre.resourceVersion } : {}),
          },
        }
      : {}),
  };
}

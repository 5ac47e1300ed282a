// The KubeClient and its one factory: server-side apply (field manager `slipway`, never forced, one
// request per object, optionally dry-run), create and update (for objects whose writes must fail when
// another writer got there first), get, list by selector, delete with propagation, namespace
// creation when missing and permitted, pod logs, and watch. Every request goes through the Transport
// (timeouts, retries, counters); every failure is a KubeError with the server's own words.

import { KubeError, type Operation } from "./errors.js";
import { type KubeconfigSourceOptions, loadKubeAccess } from "./kubeconfig.js";
import {
  collectionPath,
  fromDiscovery,
  groupVersionPath,
  knownResource,
  objectPath,
  qualifiedResource,
  type ResourceInfo,
} from "./resources.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
import { type HttpReply, type RequestCounters, Transport } from "./transport.js";
import type { KubeList, KubeObject, ObjectRef, ObjectType } from "./types.js";
import { runWatch, type WatchControl, type WatchEvent, type WatchQuery, type WatchSummary } from "./watch.js";

export interface KubeClientOptions extends KubeconfigSourceOptions {
  /** Per-request timeout (headers and body; for a watch, until its headers). Default 30 s. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Default `slipway`. */
  readonly fieldManager?: string;
  /** Retries and watch reconnects, one line each. */
  readonly log?: (line: string) => void;
}

export interface ApplyOptions {
  /** `dryRun=All`: the server validates, defaults and merges, and returns the result without storing it. */
  readonly dryRun?: boolean;
  /**
   * Applies as another field manager than the client's, for fields with an owner of their own (e.g.
   * state recorded beside an object's content): each manager's apply leaves the other's fields alone.
   */
  readonly fieldManager?: string;
  /** The object's resourceVersion before this apply, when the caller knows it (else the client's memory). */
  readonly previousResourceVersion?: string;
  readonly signal?: AbortSignal;
}

export interface ApplyResult<T extends KubeObject = KubeObject> {
  /** The object as the server stored it (or, for a dry run, would store it). */
  readonly object: T;
  /** The object did not exist before (HTTP 201). */
  readonly created: boolean;
  /**
   * Whether the apply changed the object: its resourceVersion moved. Undefined when unknown: the previous
   * resourceVersion was not known, or this was a dry run (which never moves it).
   */
  readonly changed: boolean | undefined;
}

export interface WriteOptions {
  /** Default: the client's field manager. */
  readonly fieldManager?: string;
  readonly signal?: AbortSignal;
}

export interface ListOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly signal?: AbortSignal;
}

export interface DeleteOptions {
  /** Default Background: the object goes at once, its dependents (ReplicaSets, Pods) after. */
  readonly propagationPolicy?: "Background" | "Foreground" | "Orphan";
  readonly signal?: AbortSignal;
}

export interface LogOptions {
  readonly container?: string;
  /** The previous (crashed) instance of the container. */
  readonly previous?: boolean;
  readonly tailLines?: number;
  /** Bytes at most (the server cuts there too). Default 64 KiB. */
  readonly limitBytes?: number;
  readonly signal?: AbortSignal;
}

export type NamespaceResult = "exists" | "created" | "unverified";

export interface KubeClient {
  /** The API server URL. */
  readonly server: string;
  readonly context: string;
  /** The namespace used when a call or an object names none. */
  readonly namespace: string;
  /** Requests sent so far by this client. */
  readonly counters: RequestCounters;
  /** `T`: the kind the server sends back, the applied object as stored. */
  apply<T extends KubeObject = KubeObject>(
    object: KubeObject,
    options?: ApplyOptions,
  ): Promise<ApplyResult<T>>;
  /**
   * POST: creates the object, or fails with 409 AlreadyExists if it exists — unlike an apply, which
   * merges into what is there. Never repeated once the server may have acted on it.
   */
  create<T extends KubeObject = KubeObject>(object: KubeObject, options?: WriteOptions): Promise<T>;
  /**
   * PUT: replaces the object. With `metadata.resourceVersion` it is conditional: 409 "the object has
   * been modified" if another write came in between, 404 if the object is gone.
   */
  update<T extends KubeObject = KubeObject>(object: KubeObject, options?: WriteOptions): Promise<T>;
  /** The object, or undefined if it does not exist. */
  get<T extends KubeObject>(ref: ObjectRef, options?: { signal?: AbortSignal }): Promise<T | undefined>;
  list<T extends KubeObject>(
    type: ObjectType,
    namespace: string | undefined,
    options?: ListOptions,
  ): Promise<KubeList<T>>;
  /** True if this call deleted it; false if it was already gone. */
  delete(ref: ObjectRef, options?: DeleteOptions): Promise<boolean>;
  /**
   * Creates the namespace unless it exists. "unverified": the credentials may neither read nor create
   * namespaces, so whether it exists shows only when objects are applied into it.
   */
  ensureNamespace(name: string, labels?: Readonly<Record<string, string>>): Promise<NamespaceResult>;
  logs(namespace: string, pod: string, options?: LogOptions): Promise<string>;
  watch<T extends KubeObject>(
    type: ObjectType,
    namespace: string | undefined,
    query: WatchQuery,
    onEvent: (event: WatchEvent<T>) => void,
    control: WatchControl,
  ): Promise<WatchSummary>;
  /** Closes idle connections. */
  close(): void;
}

export const FIELD_MANAGER = "slipway";

export function createKubeClient(options: KubeClientOptions = {}): KubeClient {
  const access = loadKubeAccess(options);
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const transport = new Transport({
    access,
    timeoutMs: options.timeoutMs ?? 30_000,
    retry,
    ...(options.onSecret ? { onSecret: options.onSecret } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return new Client(
    transport,
    access.namespace,
    access.context,
    options.fieldManager ?? FIELD_MANAGER,
    retry,
    options.log,
  );
}

class Client implements KubeClient {
  readonly #t: Transport;
  readonly #fieldManager: string;
  readonly #retry: RetryPolicy;
  readonly #log: ((line: string) => void) | undefined;
  readonly #discovered = new Map<string, ResourceInfo>();
  /** resourceVersions this client has seen, so a second apply can tell whether it changed anything. */
  readonly #seen = new Map<string, string>();
  readonly namespace: string;
  readonly context: string;

  constructor(
    t: Transport,
    namespace: string,
    context: string,
    fieldManager: string,
    retry: RetryPolicy,
    log: ((line: string) => void) | undefined,
  ) {
    this.#t = t;
    this.namespace = namespace;
    this.context = context;
    this.#fieldManager = fieldManager;
    this.#retry = retry;
    this.#log = log;
  }

  get server(): string {
    return this.#t.server;
  }

  get counters(): RequestCounters {
    return this.#t.counters;
  }

  close(): void {
    this.#t.close();
  }

  async apply<T extends KubeObject = KubeObject>(
    object: KubeObject,
    options: ApplyOptions = {},
  ): Promise<ApplyResult<T>> {
    const { apiVersion, kind } = object;
    const name = object.metadata?.name;
    if (!apiVersion || !kind || !name) {
      throw new KubeError(
        `apply: the object needs apiVersion, kind and metadata.name (got ${kind ?? "?"} "${name ?? ""}")`,
        {
          operation: { verb: "apply" },
          server: this.server,
        },
      );
    }
    const r = await this.#resource({ apiVersion, kind }, "apply");
    const namespace = r.namespaced ? (object.metadata?.namespace ?? this.namespace) : undefined;
    const params = new URLSearchParams({ fieldManager: options.fieldManager ?? this.#fieldManager });
    if (options.dryRun) params.set("dryRun", "All");
    // Server-side apply takes YAML; JSON is YAML, and keeps the manifest byte-exact as rendered.
    const reply = await this.#t.send({
      method: "PATCH",
      path: `${objectPath(r, namespace, name)}?${params}`,
      body: JSON.stringify(object),
      contentType: "application/apply-patch+yaml",
      operation: {
        ...this.#op(options.dryRun ? "apply (dry run)" : "apply", r, namespace, name, "patch"),
        createsIfMissing: true,
      },
      idempotent: true,
      write: !options.dryRun,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const applied = json<T>(reply, this.#op("apply", r, namespace, name, "patch"), this.server);
    const key = seenKey(r, namespace, name);
    const before = options.previousResourceVersion ?? this.#seen.get(key);
    const after = applied.metadata?.resourceVersion;
    const created = reply.status === 201;
    if (!options.dryRun && after !== undefined) this.#seen.set(key, after);
    return {
      object: applied,
      created,
      changed: created ? true : options.dryRun || before === undefined ? undefined : before !== after,
    };
  }

  async create<T extends KubeObject = KubeObject>(
    object: KubeObject,
    options: WriteOptions = {},
  ): Promise<T> {
    const { r, namespace, name } = await this.#target(object, "create");
    const op = this.#op("create", r, namespace, name, "create");
    const params = new URLSearchParams({ fieldManager: options.fieldManager ?? this.#fieldManager });
    const reply = await this.#t.send({
      method: "POST",
      path: `${collectionPath(r, namespace)}?${params}`,
      body: JSON.stringify(object),
      contentType: "application/json",
      operation: op,
      // A second POST after one that landed would fail with AlreadyExists, hiding that the first worked.
      idempotent: false,
      write: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return this.#stored<T>(reply, op, r, namespace, name);
  }

  async update<T extends KubeObject = KubeObject>(
    object: KubeObject,
    options: WriteOptions = {},
  ): Promise<T> {
    const { r, namespace, name } = await this.#target(object, "update");
    const op = this.#op("update", r, namespace, name, "update");
    const params = new URLSearchParams({ fieldManager: options.fieldManager ?? this.#fieldManager });
    const reply = await this.#t.send({
      method: "PUT",
      path: `${objectPath(r, namespace, name)}?${params}`,
      body: JSON.stringify(object),
      contentType: "application/json",
      operation: op,
      // Repeating a PUT stores the same object again; a conditional one whose first attempt landed
      // answers 409 instead, which its caller already reads as "someone wrote: read again".
      idempotent: true,
      write: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return this.#stored<T>(reply, op, r, namespace, name);
  }

  /** The resource, namespace and name an object to write names; an error naming `verb` if it names none. */
  async #target(
    object: KubeObject,
    verb: string,
  ): Promise<{ r: ResourceInfo; namespace: string | undefined; name: string }> {
    const { apiVersion, kind } = object;
    const name = object.metadata?.name;
    if (!apiVersion || !kind || !name) {
      throw new KubeError(
        `${verb}: the object needs apiVersion, kind and metadata.name (got ${kind ?? "?"} "${name ?? ""}")`,
        { operation: { verb }, server: this.server },
      );
    }
    const r = await this.#resource({ apiVersion, kind }, verb);
    return { r, namespace: r.namespaced ? (object.metadata?.namespace ?? this.namespace) : undefined, name };
  }

  #stored<T extends KubeObject>(
    reply: HttpReply,
    op: Operation,
    r: ResourceInfo,
    namespace: string | undefined,
    name: string,
  ): T {
    const stored = json<T>(reply, op, this.server);
    const rv = stored.metadata?.resourceVersion;
    if (rv !== undefined) this.#seen.set(seenKey(r, namespace, name), rv);
    return stored;
  }

  async get<T extends KubeObject>(
    ref: ObjectRef,
    options: { signal?: AbortSignal } = {},
  ): Promise<T | undefined> {
    const r = await this.#resource(ref, "get", ref.name);
    const namespace = r.namespaced ? (ref.namespace ?? this.namespace) : undefined;
    const op = this.#op("get", r, namespace, ref.name, "get");
    const reply = await this.#t.send({
      method: "GET",
      path: objectPath(r, namespace, ref.name),
      operation: op,
      idempotent: true,
      write: false,
      expect: [404],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (reply.status === 404) return undefined;
    const object = json<T>(reply, op, this.server);
    const rv = object.metadata?.resourceVersion;
    if (rv !== undefined) this.#seen.set(seenKey(r, namespace, ref.name), rv);
    return object;
  }

  async list<T extends KubeObject>(
    type: ObjectType,
    namespace: string | undefined,
    options: ListOptions = {},
  ): Promise<KubeList<T>> {
    const r = await this.#resource(type, "list");
    return this.#list<T>(r, r.namespaced ? namespace : undefined, options);
  }

  async #list<T extends KubeObject>(
    r: ResourceInfo,
    namespace: string | undefined,
    options: ListOptions,
  ): Promise<KubeList<T>> {
    const params = new URLSearchParams();
    if (options.labelSelector) params.set("labelSelector", options.labelSelector);
    if (options.fieldSelector) params.set("fieldSelector", options.fieldSelector);
    const query = params.size > 0 ? `?${params}` : "";
    const op = this.#op("list", r, namespace, undefined, "list");
    const reply = await this.#t.send({
      method: "GET",
      path: `${collectionPath(r, namespace)}${query}`,
      operation: op,
      idempotent: true,
      write: false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const body = json<{ items?: T[]; metadata?: { resourceVersion?: string } }>(reply, op, this.server);
    // A list's items carry no apiVersion/kind on the wire; every consumer wants them.
    const apiVersion = r.group === "" ? r.version : `${r.group}/${r.version}`;
    const items = (body.items ?? []).map((i) => ({ apiVersion, kind: r.kind, ...i }) as T);
    // Read like a get: an apply after it can tell whether it changed the object.
    for (const item of items) {
      const name = item.metadata?.name;
      const rv = item.metadata?.resourceVersion;
      if (name && rv) this.#seen.set(seenKey(r, item.metadata?.namespace ?? namespace, name), rv);
    }
    return { items, resourceVersion: body.metadata?.resourceVersion ?? "" };
  }

  async delete(ref: ObjectRef, options: DeleteOptions = {}): Promise<boolean> {
    const r = await this.#resource(ref, "delete", ref.name);
    const namespace = r.namespaced ? (ref.namespace ?? this.namespace) : undefined;
    const params = new URLSearchParams({ propagationPolicy: options.propagationPolicy ?? "Background" });
    const reply = await this.#t.send({
      method: "DELETE",
      path: `${objectPath(r, namespace, ref.name)}?${params}`,
      operation: this.#op("delete", r, namespace, ref.name, "delete"),
      // Repeating a delete is safe: if the first one landed, the second finds nothing (404, success).
      idempotent: true,
      write: true,
      expect: [404],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.#seen.delete(seenKey(r, namespace, ref.name));
    return reply.status !== 404;
  }

  async ensureNamespace(name: string, labels?: Readonly<Record<string, string>>): Promise<NamespaceResult> {
    const r = await this.#resource({ apiVersion: "v1", kind: "Namespace" }, "create", name);
    const path = objectPath(r, undefined, name);
    const exists = async (): Promise<boolean | "forbidden"> => {
      const reply = await this.#t.send({
        method: "GET",
        path,
        operation: this.#op("get", r, undefined, name, "get"),
        idempotent: true,
        write: false,
        expect: [403, 404],
      });
      return reply.status === 403 ? "forbidden" : reply.status !== 404;
    };
    const first = await exists();
    if (first === true) return "exists";
    const create = () =>
      this.#t.send({
        method: "POST",
        path: collectionPath(r, undefined),
        body: JSON.stringify({
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name, ...(labels ? { labels } : {}) },
        }),
        operation: this.#op("create", r, undefined, name, "create"),
        idempotent: false,
        write: true,
        expect: [403, 409],
      });
    let reply: HttpReply;
    try {
      reply = await create();
    } catch (err) {
      // The create may or may not have landed (connection lost, or the server failed after storing
      // it): look before sending it again, once.
      const unsure = err instanceof KubeError && (err.code !== undefined || (err.status ?? 0) >= 500);
      if (!unsure) throw err;
      if ((await exists()) === true) return "exists";
      reply = await create();
    }
    if (reply.status === 409) return "exists";
    if (reply.status !== 403) return "created";
    if (first === "forbidden") return "unverified";
    const denied = json<{ message?: string }>(
      reply,
      this.#op("create", r, undefined, name, "create"),
      this.server,
    );
    throw new KubeError(
      `namespace "${name}" does not exist and these credentials may not create it (RBAC verb "create" on "namespaces" at cluster scope): ${denied.message ?? "forbidden"}; create it, or deploy into an existing namespace`,
      {
        operation: this.#op("create", r, undefined, name, "create"),
        server: this.server,
        status: 403,
        reason: "Forbidden",
      },
    );
  }

  async logs(namespace: string, pod: string, options: LogOptions = {}): Promise<string> {
    const r = await this.#resource({ apiVersion: "v1", kind: "Pod" }, "logs", pod);
    const limit = options.limitBytes ?? 64 * 1024;
    const params = new URLSearchParams({ limitBytes: String(limit) });
    if (options.container) params.set("container", options.container);
    if (options.previous) params.set("previous", "true");
    if (options.tailLines !== undefined) params.set("tailLines", String(options.tailLines));
    const reply = await this.#t.send({
      method: "GET",
      path: `${objectPath(r, namespace, pod)}/log?${params}`,
      accept: "text/plain, */*",
      operation: { ...this.#op("logs", r, namespace, pod, "get"), resource: "pods/log" },
      idempotent: true,
      write: false,
      maxBytes: limit,
      overflow: "truncate",
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return reply.body.toString("utf8");
  }

  async watch<T extends KubeObject>(
    type: ObjectType,
    namespace: string | undefined,
    query: WatchQuery,
    onEvent: (event: WatchEvent<T>) => void,
    control: WatchControl,
  ): Promise<WatchSummary> {
    const r = await this.#resource(type, "watch");
    const ns = r.namespaced ? namespace : undefined;
    return runWatch(
      {
        open: (req) => this.#t.open(req),
        list: (signal) =>
          this.#list(r, ns, {
            signal,
            ...(query.labelSelector ? { labelSelector: query.labelSelector } : {}),
            ...(query.fieldSelector ? { fieldSelector: query.fieldSelector } : {}),
          }),
        path: collectionPath(r, ns),
        operation: this.#op("watch", r, ns, undefined, "watch"),
        server: this.server,
        retry: this.#retry,
        ...(this.#log ? { log: this.#log } : {}),
      },
      query,
      // Objects on the wire are the watched kind; the caller names it.
      onEvent as (event: WatchEvent) => void,
      control,
    );
  }

  #op(
    verb: string,
    r: ResourceInfo,
    namespace: string | undefined,
    name: string | undefined,
    rbacVerb: string,
  ): Operation {
    return {
      verb,
      kind: r.kind,
      resource: qualifiedResource(r),
      rbacVerb,
      ...(name !== undefined ? { name } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
    };
  }

  async #resource(type: ObjectType, verb: string, name?: string): Promise<ResourceInfo> {
    if (name === "") {
      throw new KubeError(`${verb} ${type.kind}: the object's name is empty`, {
        operation: { verb, kind: type.kind },
        server: this.server,
      });
    }
    const known = knownResource(type);
    if (known) return known;
    const key = `${type.apiVersion}/${type.kind}`;
    const cached = this.#discovered.get(key);
    if (cached) return cached;
    const op: Operation = { verb: "discover", kind: type.kind, resource: type.apiVersion, rbacVerb: "get" };
    const reply = await this.#t.send({
      method: "GET",
      path: groupVersionPath(type.apiVersion),
      operation: op,
      idempotent: true,
      write: false,
      expect: [404],
    });
    const found =
      reply.status === 404
        ? undefined
        : fromDiscovery(type.apiVersion, type.kind, json(reply, op, this.server));
    if (!found) {
      throw new KubeError(
        `${verb} ${type.kind}: the API server at ${this.server} does not serve ${type.kind} in ${type.apiVersion}` +
          (reply.status === 404 ? ` (no ${type.apiVersion} API: is its CRD installed?)` : ""),
        { operation: { verb, kind: type.kind }, server: this.server, status: 404, reason: "NotFound" },
      );
    }
    this.#discovered.set(key, found);
    return found;
  }
}

function seenKey(r: ResourceInfo, namespace: string | undefined, name: string): string {
  return `${r.group}/${r.kind}/${namespace ?? ""}/${name}`;
}

/** The reply body as JSON: the API server's objects are trusted to be the shape their kind says. */
function json<T>(reply: HttpReply, op: Operation, server: string): T {
  try {
    return JSON.parse(reply.body.toString("utf8")) as T;
  } catch {
    throw new KubeError(
      `${op.verb} ${op.kind ?? ""}: the API server at ${server} sent a reply that is not JSON`,
      {
        operation: op,
        server,
        status: reply.status,
      },
    );
  }
}

// The test cluster's object store: the one place objects live, like etcd behind the API server. It owns
// the write path every request and controller shares (defaulting, validation, resourceVersion,
// generation, managed fields, finalizers), the change history watches resume from, and garbage
// collection through ownerReferences. Controllers call it directly, as kube-controller-manager and the
// kubelet would through the API with full privileges; external callers go through api-server.ts.

import { randomUUID } from "node:crypto";
import { recordUpdate, serverSideApply } from "./apply.js";
import {
  apiVersionOf,
  findByKind,
  qualifiedResource,
  RESOURCE_KINDS,
  type ResourceKind,
  splitApiVersion,
} from "./resources.js";
import {
  matchesFieldSelector,
  matchesLabelSelector,
  parseFieldSelector,
  parseLabelSelector,
} from "./selectors.js";
import { applyDefaults, type FieldValidation, pruneUnknownFields, validateObject } from "./validate.js";

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  managedFields?: unknown[];
  generateName?: string;
  finalizers?: string[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type WatchEvent = { type: "ADDED" | "MODIFIED" | "DELETED"; object: KubeObject };

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusBody {
  code: number;
  reason: string;
  message: string;
  details?: StatusDetails;
}

/** A failed API call, carrying the `Status` object the real API server would return. */
export class ApiError extends Error {
  constructor(public status: StatusBody) {
    super(status.message);
    this.name = "ApiError";
  }

  /** The wire form: `kind: Status` as every Kubernetes API error is encoded. */
  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.status.message,
      reason: this.status.reason,
      ...(this.status.details ? { details: this.status.details } : {}),
      code: this.status.code,
    };
  }
}

/** Details as the real server fills them: the resource plural as `kind`, group omitted for core. */
export function resourceDetails(k: ResourceKind, name: string | undefined): StatusDetails {
  return {
    ...(name !== undefined && name !== "" ? { name } : {}),
    ...(k.group !== "" ? { group: k.group } : {}),
    kind: k.plural,
  };
}

export function notFound(k: ResourceKind, name: string): ApiError {
  return new ApiError({
    code: 404,
    reason: "NotFound",
    message: `${qualifiedResource(k)} "${name}" not found`,
    details: resourceDetails(k, name),
  });
}

export function conflict(k: ResourceKind, name: string, why: string): ApiError {
  return new ApiError({
    code: 409,
    reason: "Conflict",
    message: `Operation cannot be fulfilled on ${qualifiedResource(k)} "${name}": ${why}`,
    details: resourceDetails(k, name),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError({ code: 400, reason: "BadRequest", message });
}

export function forbidden(k: ResourceKind, name: string | undefined, why: string): ApiError {
  const subject = name ? `${qualifiedResource(k)} "${name}"` : qualifiedResource(k);
  return new ApiError({
    code: 403,
    reason: "Forbidden",
    message: `${subject} is forbidden: ${why}`,
    details: resourceDetails(k, name),
  });
}

export const STALE_OBJECT =
  "the object has been modified; please apply your changes to the latest version and try again";

export type PropagationPolicy = "Background" | "Foreground" | "Orphan";

export interface WriteOptions {
  /** Recorded in managedFields; defaults to the name a Go controller would use for direct store calls. */
  fieldManager?: string;
  /** Direct store callers are typed code: unknown fields there are bugs, so the default is Strict. */
  fieldValidation?: FieldValidation;
  /** Receives the `unknown field` warnings a Warn-mode write produces. */
  warnings?: string[];
  dryRun?: boolean;
}

export interface ApplyOptions extends WriteOptions {
  fieldManager: string;
  force?: boolean;
  subresource?: "status";
}

export interface DeleteOptions {
  propagationPolicy?: PropagationPolicy;
  /**
   * Pods bound to a node (spec.nodeName set) are deleted gracefully: they get a deletionTimestamp and
   * stay until the kubelet deletes them again with 0. Everything else is removed at once.
   */
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WatchOptions extends ListOptions {
  /**
   * Unset (or "0"): start with a synthetic ADDED for every current object, then live changes (the
   * "Get State and Start at Most Recent" semantics). Set: only changes after that resourceVersion;
   * throws a 410 Expired ApiError if the history no longer reaches back that far.
   */
  sinceResourceVersion?: string;
}

export interface LogOptions {
  container?: string;
  tailLines?: number;
  previous?: boolean;
  timestamps?: boolean;
}

export type LogProvider = (
  namespace: string,
  pod: string,
  container: string,
  opts: LogOptions,
) => Promise<string>;

interface HistoryEntry {
  rv: number;
  resource: ResourceKind;
  type: WatchEvent["type"];
  object: KubeObject;
  /** The object before this change, so filtered watches can turn "stopped matching" into DELETED. */
  previous: KubeObject | undefined;
}

interface Watcher {
  resource: ResourceKind;
  namespace: string | undefined;
  matches: (obj: KubeObject) => boolean;
  handler: (e: WatchEvent) => void;
}

const DEFAULT_MANAGER = "slipway-test-controller";
const GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export interface StoreOptions {
  /** How many changes watches can resume from; older resourceVersions get 410 Gone. */
  historyLimit?: number;
}

export class Store {
  private readonly objects = new Map<ResourceKind, Map<string, KubeObject>>();
  private readonly history: HistoryEntry[] = [];
  private readonly historyLimit: number;
  /** Oldest resourceVersion a watch may still resume after. */
  private compactedThrough = 0;
  private revision = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly pending: { watcher: Watcher; entry: HistoryEntry }[] = [];
  private draining = false;
  private logProvider: LogProvider | undefined;
  private gcScheduled = false;
  private gcIdleWaiters: (() => void)[] = [];
  private clusterIpNext = 1;

  constructor(opts: StoreOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 1000;
    for (const k of RESOURCE_KINDS) this.objects.set(k, new Map());
    // The namespaces every cluster starts with.
    for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      this.create(
        { apiVersion: "v1", kind: "Namespace", metadata: { name } },
        { fieldManager: "kube-apiserver" },
      );
    }
  }

  /** The store's current revision, as list responses report it in `metadata.resourceVersion`. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const k = this.kindOf(apiVersion, kind);
    const found = this.bucket(k).get(key(k, namespace, name));
    return found ? structuredClone(found) : undefined;
  }

  list(apiVersion: string, kind: string, opts: ListOptions = {}): KubeObject[] {
    const k = this.kindOf(apiVersion, kind);
    const matches = this.matcher(k, opts);
    const out: KubeObject[] = [];
    for (const obj of this.bucket(k).values()) {
      if (k.namespaced && opts.namespace !== undefined && obj.metadata.namespace !== opts.namespace) continue;
      if (matches(obj)) out.push(structuredClone(obj));
    }
    // etcd lists in key order: namespace, then name.
    return out.sort((a, b) =>
      key(k, a.metadata.namespace, a.metadata.name).localeCompare(
        key(k, b.metadata.namespace, b.metadata.name),
      ),
    );
  }

  create(input: KubeObject, opts: WriteOptions = {}): KubeObject {
    const k = this.kindOf(input.apiVersion, input.kind);
    const obj = structuredClone(input);
    if (obj.metadata === undefined || obj.metadata === null || typeof obj.metadata !== "object") {
      obj.metadata = { name: "" };
    }
    const meta = obj.metadata;
    if (!k.namespaced) delete meta.namespace;
    else if (!meta.namespace)
      throw badRequest("the namespace of the object must be set for a namespaced resource");
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== "") {
      throw badRequest("resourceVersion should not be set on objects to be created");
    }
    if ((meta.name === undefined || meta.name === "") && meta.generateName) {
      meta.name = this.generatedName(k, meta.namespace, meta.generateName);
    }
    this.admitNamespace(k, meta.namespace, meta.name);

    this.checkUnknownFields(k, obj, opts);
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp();
    if (k.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    if (k.kind === "Namespace") obj.status = { phase: "Active" };
    applyDefaults(k, obj, undefined);
    this.allocate(k, obj);
    validateObject(k, obj, undefined);

    const bucket = this.bucket(k);
    const id = key(k, meta.namespace, meta.name);
    if (bucket.has(id)) {
      throw new ApiError({
        code: 409,
        reason: "AlreadyExists",
        message: `${qualifiedResource(k)} "${meta.name}" already exists`,
        details: resourceDetails(k, meta.name),
      });
    }
    if (!Array.isArray(input.metadata?.managedFields) || input.metadata.managedFields.length === 0) {
      meta.managedFields = recordUpdate(
        k,
        undefined,
        obj,
        [],
        opts.fieldManager ?? DEFAULT_MANAGER,
        undefined,
      );
    }
    if (opts.dryRun) return obj;
    meta.resourceVersion = String(++this.revision);
    bucket.set(id, obj);
    this.emit(k, "ADDED", obj, undefined);
    return structuredClone(obj);
  }

  update(input: KubeObject, opts: WriteOptions = {}): KubeObject {
    const k = this.kindOf(input.apiVersion, input.kind);
    const current = this.current(k, input);
    const obj = structuredClone(input);
    this.checkPreconditions(k, current, obj.metadata);
    this.checkUnknownFields(k, obj, opts);
    const meta = obj.metadata;
    carrySystemFields(current, obj);
    if (k.subresources.includes("status")) {
      // The main resource ignores status: only the status subresource writes it.
      if (current.status === undefined) delete obj.status;
      else obj.status = structuredClone(current.status);
    }
    if (current.metadata.deletionTimestamp !== undefined) {
      const added = (meta.finalizers ?? []).filter((f) => !(current.metadata.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw invalid(k, meta.name, [
          {
            field: "metadata.finalizers",
            reason: "FieldValueForbidden",
            message: "Forbidden: no new finalizers can be added if the object is being deleted",
          },
        ]);
      }
    }
    applyDefaults(k, obj, current);
    validateObject(k, obj, current);
    this.bumpGeneration(k, current, obj);
    if (input.metadata.managedFields === undefined) meta.managedFields = current.metadata.managedFields ?? [];
    meta.managedFields = recordUpdate(
      k,
      current,
      obj,
      meta.managedFields ?? [],
      opts.fieldManager ?? DEFAULT_MANAGER,
      undefined,
    );
    return this.commit(k, current, obj, opts);
  }

  updateStatus(input: KubeObject, opts: WriteOptions = {}): KubeObject {
    const k = this.kindOf(input.apiVersion, input.kind);
    if (!k.subresources.includes("status")) throw notFoundResource();
    const current = this.current(k, input);
    this.checkPreconditions(k, current, input.metadata);
    const probe = structuredClone(input);
    this.checkUnknownFields(k, probe, opts);
    // The status subresource changes only .status; everything else is kept from the stored object.
    const obj = structuredClone(current);
    if (probe.status === undefined) delete obj.status;
    else obj.status = probe.status;
    validateObject(k, obj, current);
    obj.metadata.managedFields = recordUpdate(
      k,
      current,
      obj,
      current.metadata.managedFields ?? [],
      opts.fieldManager ?? DEFAULT_MANAGER,
      "status",
    );
    return this.commit(k, current, obj, opts);
  }

  /**
   * Server-side apply: merges `config` into the live object (or creates it), tracking field ownership
   * per manager; throws a 409 listing the conflicting fields unless `force` is set.
   */
  apply(config: KubeObject, opts: ApplyOptions): KubeObject {
    const k = this.kindOf(config.apiVersion, config.kind);
    const cfg = structuredClone(config);
    if (!cfg.metadata || typeof cfg.metadata !== "object") cfg.metadata = { name: "" };
    if (!k.namespaced) delete cfg.metadata.namespace;
    const namespace = k.namespaced ? cfg.metadata.namespace : undefined;
    if (k.namespaced && !namespace)
      throw badRequest("the namespace of the object must be set for a namespaced resource");
    if (!cfg.metadata.name) {
      throw invalid(k, "", [
        { field: "metadata.name", reason: "FieldValueRequired", message: "Required value: name is required" },
      ]);
    }
    this.checkUnknownFields(k, cfg, opts);
    const live = this.bucket(k).get(key(k, namespace, cfg.metadata.name));
    if (live === undefined && opts.subresource === "status") throw notFound(k, cfg.metadata.name);
    if (live !== undefined) this.checkPreconditions(k, live, cfg.metadata);
    const base: KubeObject = live
      ? structuredClone(live)
      : {
          apiVersion: cfg.apiVersion,
          kind: cfg.kind,
          metadata: { name: cfg.metadata.name, ...(namespace ? { namespace } : {}) },
        };
    const merged = serverSideApply(k, base, cfg, {
      manager: opts.fieldManager,
      force: opts.force ?? false,
      subresource: opts.subresource,
      isCreate: live === undefined,
      defaulted: (o) => {
        applyDefaults(k, o, live);
        return o;
      },
    });
    if (live === undefined) {
      const managed = merged.metadata.managedFields;
      delete merged.metadata.resourceVersion;
      const created = this.create(merged, { ...opts, fieldValidation: "Ignore" });
      if (opts.dryRun) return { ...created, metadata: { ...created.metadata, managedFields: managed ?? [] } };
      const stored = this.bucket(k).get(key(k, namespace, cfg.metadata.name));
      if (stored) stored.metadata.managedFields = managed ?? [];
      return this.get(cfg.apiVersion, cfg.kind, namespace, cfg.metadata.name) ?? created;
    }
    const obj = merged;
    carrySystemFields(live, obj);
    if (opts.subresource === "status") {
      const onlyStatus = structuredClone(live);
      if (obj.status === undefined) delete onlyStatus.status;
      else onlyStatus.status = obj.status;
      onlyStatus.metadata.managedFields = obj.metadata.managedFields ?? [];
      validateObject(k, onlyStatus, live);
      return this.commit(k, live, onlyStatus, opts);
    }
    if (k.subresources.includes("status")) {
      if (live.status === undefined) delete obj.status;
      else obj.status = structuredClone(live.status);
    }
    applyDefaults(k, obj, live);
    validateObject(k, obj, live);
    this.bumpGeneration(k, live, obj);
    return this.commit(k, live, obj, opts);
  }

  /**
   * The pods/binding subresource the scheduler binds through (pkg/registry/core/pod/storage/storage.go,
   * BindingREST.assignPod): sets spec.nodeName and the PodScheduled=True condition on a pod that is not
   * yet bound nor being deleted; anything else is a Conflict on pods/binding.
   */
  bindPod(namespace: string, name: string, nodeName: string, opts: { uid?: string } = {}): KubeObject {
    const k = this.kindOf("v1", "Pod");
    const current = this.bucket(k).get(key(k, namespace, name));
    if (current === undefined || (opts.uid && opts.uid !== current.metadata.uid)) throw notFound(k, name);
    const spec = (current.spec ?? {}) as { nodeName?: string; schedulingGates?: unknown[] };
    const refuse = (why: string) =>
      new ApiError({
        code: 409,
        reason: "Conflict",
        message: `Operation cannot be fulfilled on pods/binding "${name}": ${why}`,
        details: { name, kind: "pods/binding" },
      });
    if (current.metadata.deletionTimestamp !== undefined)
      throw refuse(`pod ${name} is being deleted, cannot be assigned to a host`);
    if (spec.nodeName) throw refuse(`pod ${name} is already assigned to node "${spec.nodeName}"`);
    if ((spec.schedulingGates ?? []).length > 0)
      throw refuse(`pod ${name} has non-empty .spec.schedulingGates`);
    const obj = structuredClone(current);
    (obj.spec as Record<string, unknown>).nodeName = nodeName;
    const status = (obj.status ?? {}) as { conditions?: Record<string, unknown>[] };
    const conditions = (status.conditions ?? []).filter((c) => c.type !== "PodScheduled");
    const was = (status.conditions ?? []).find((c) => c.type === "PodScheduled");
    conditions.push({
      type: "PodScheduled",
      status: "True",
      lastProbeTime: null,
      lastTransitionTime: was?.status === "True" ? was.lastTransitionTime : timestamp(),
    });
    obj.status = { ...status, conditions };
    return this.commit(k, current, obj, {});
  }

  delete(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): KubeObject | undefined {
    const k = this.kindOf(apiVersion, kind);
    const id = key(k, namespace, name);
    const current = this.bucket(k).get(id);
    if (current === undefined) return undefined;
    const pre = opts.preconditions;
    if (pre?.uid !== undefined && pre.uid !== current.metadata.uid) {
      throw conflict(
        k,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid ?? ""}`,
      );
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(
        k,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion ?? ""}`,
      );
    }
    if (opts.dryRun) return structuredClone(current);

    const policy = opts.propagationPolicy ?? "Background";
    const finalizers = [...(current.metadata.finalizers ?? [])];
    if (k.kind === "Namespace") {
      // The namespace controller empties a terminating namespace before it disappears.
      if (!finalizers.includes("kubernetes")) finalizers.push("kubernetes");
    } else if (policy === "Foreground" && !finalizers.includes("foregroundDeletion")) {
      finalizers.push("foregroundDeletion");
    } else if (policy === "Orphan" && !finalizers.includes("orphan")) {
      finalizers.push("orphan");
    }
    const grace = gracePeriod(k, current, opts.gracePeriodSeconds);
    if (finalizers.length === 0 && grace === 0) {
      this.remove(k, current);
      return structuredClone(current);
    }
    const previousGrace = current.metadata.deletionGracePeriodSeconds;
    if (
      current.metadata.deletionTimestamp !== undefined &&
      sameList(finalizers, current.metadata.finalizers ?? []) &&
      (typeof previousGrace !== "number" || grace >= previousGrace)
    ) {
      return structuredClone(current);
    }
    const next = structuredClone(current);
    // A graceful deletion (a scheduled pod) records when the kubelet should have finished: now + grace.
    next.metadata.deletionTimestamp =
      current.metadata.deletionTimestamp !== undefined && grace === 0
        ? current.metadata.deletionTimestamp
        : timestamp(grace);
    next.metadata.deletionGracePeriodSeconds = grace;
    if (k.kind === "Namespace") {
      next.spec = { finalizers: ["kubernetes"] };
      next.status = { phase: "Terminating" };
      if (current.metadata.finalizers?.length) next.metadata.finalizers = current.metadata.finalizers;
      else delete next.metadata.finalizers;
    } else {
      next.metadata.finalizers = finalizers;
    }
    next.metadata.resourceVersion = String(++this.revision);
    this.bucket(k).set(id, next);
    this.emit(k, "MODIFIED", next, current);
    this.scheduleGc();
    return structuredClone(next);
  }

  watch(
    apiVersion: string,
    kind: string,
    handler: (e: WatchEvent) => void,
    opts: WatchOptions = {},
  ): () => void {
    const k = this.kindOf(apiVersion, kind);
    const matches = this.matcher(k, opts);
    const namespace = k.namespaced ? opts.namespace : undefined;
    const since = opts.sinceResourceVersion;
    const watcher: Watcher = { resource: k, namespace, matches, handler };
    if (since === undefined || since === "" || since === "0") {
      for (const obj of this.list(apiVersion, kind, opts)) handler({ type: "ADDED", object: obj });
    } else {
      const rv = Number(since);
      if (!Number.isInteger(rv) || rv < 0) throw invalidResourceVersion(since);
      if (rv < this.compactedThrough) {
        throw new ApiError({
          code: 410,
          reason: "Expired",
          message: `too old resource version: ${rv} (${this.compactedThrough + 1})`,
        });
      }
      for (const entry of this.history) {
        if (entry.rv > rv) deliver(watcher, entry);
      }
    }
    this.watchers.add(watcher);
    return () => {
      this.watchers.delete(watcher);
    };
  }

  /** The node registers where `pods/log` text comes from. */
  setLogProvider(provider: LogProvider | undefined): void {
    this.logProvider = provider;
  }

  async readLog(namespace: string, pod: string, opts: LogOptions = {}): Promise<string> {
    const k = this.kindOf("v1", "Pod");
    const obj = this.bucket(k).get(key(k, namespace, pod));
    if (obj === undefined) throw notFound(k, pod);
    const containers = podContainerNames(obj, "containers");
    const inits = podContainerNames(obj, "initContainers");
    const container = opts.container ?? (containers.length === 1 ? containers[0] : undefined);
    if (container === undefined) {
      throw badRequest(
        `a container name must be specified for pod ${pod}, choose one of: [${containers.join(" ")}]${inits.length > 0 ? ` or one of the init containers: [${inits.join(" ")}]` : ""}`,
      );
    }
    if (!containers.includes(container) && !inits.includes(container)) {
      throw badRequest(`container ${container} is not valid for pod ${pod}`);
    }
    if (this.logProvider === undefined) {
      throw badRequest(`container "${container}" in pod "${pod}" is waiting to start: ContainerCreating`);
    }
    return this.logProvider(namespace, pod, container, opts);
  }

  /** Resolves once background garbage collection has nothing left to do. */
  gcIdle(): Promise<void> {
    if (!this.gcScheduled) return Promise.resolve();
    return new Promise((resolve) => this.gcIdleWaiters.push(resolve));
  }

  // ---- internals -------------------------------------------------------------------------------

  private kindOf(apiVersion: string, kind: string): ResourceKind {
    const k = findByKind(apiVersion, kind);
    if (k === undefined) {
      const { group, version } = splitApiVersion(apiVersion);
      throw badRequest(`no kind "${kind}" is registered for version "${group ? `${group}/` : ""}${version}"`);
    }
    return k;
  }

  private bucket(k: ResourceKind): Map<string, KubeObject> {
    const b = this.objects.get(k);
    if (b === undefined) throw new Error(`unregistered kind ${k.kind}`);
    return b;
  }

  private current(k: ResourceKind, input: KubeObject): KubeObject {
    const name = input.metadata?.name ?? "";
    const found = this.bucket(k).get(key(k, k.namespaced ? input.metadata?.namespace : undefined, name));
    if (found === undefined) throw notFound(k, name);
    return found;
  }

  private matcher(k: ResourceKind, opts: ListOptions): (obj: KubeObject) => boolean {
    const labels = parseLabelSelector(opts.labelSelector ?? "");
    const fields = parseFieldSelector(k, opts.fieldSelector ?? "");
    const namespace = k.namespaced ? opts.namespace : undefined;
    return (obj) =>
      (namespace === undefined || obj.metadata.namespace === namespace) &&
      matchesLabelSelector(labels, obj.metadata.labels ?? {}) &&
      matchesFieldSelector(k, fields, obj);
  }

  private checkPreconditions(k: ResourceKind, current: KubeObject, meta: ObjectMeta | undefined): void {
    const rv = meta?.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== current.metadata.resourceVersion) {
      throw conflict(k, current.metadata.name, STALE_OBJECT);
    }
    const uid = meta?.uid;
    if (uid !== undefined && uid !== "" && uid !== current.metadata.uid) {
      throw conflict(
        k,
        current.metadata.name,
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata.uid ?? ""}`,
      );
    }
  }

  private checkUnknownFields(k: ResourceKind, obj: KubeObject, opts: WriteOptions): void {
    const mode = opts.fieldValidation ?? "Strict";
    if (mode === "Ignore") {
      pruneUnknownFields(k, obj);
      return;
    }
    const unknown = pruneUnknownFields(k, obj);
    if (unknown.length === 0) return;
    if (mode === "Strict") {
      const list = unknown.map((p) => `unknown field "${p}"`).join(", ");
      throw badRequest(
        `${k.kind} in version "${k.version}" cannot be handled as a ${k.kind}: strict decoding error: ${list}`,
      );
    }
    for (const p of unknown) opts.warnings?.push(`unknown field "${p}"`);
  }

  private admitNamespace(k: ResourceKind, namespace: string | undefined, name: string): void {
    if (!k.namespaced || namespace === undefined) return;
    const nsKind = this.kindOf("v1", "Namespace");
    const ns = this.bucket(nsKind).get(key(nsKind, undefined, namespace));
    if (ns === undefined) throw notFound(nsKind, namespace);
    if (ns.metadata.deletionTimestamp !== undefined) {
      throw forbidden(
        k,
        name,
        `unable to create new content in namespace ${namespace} because it is being terminated`,
      );
    }
  }

  private generatedName(k: ResourceKind, namespace: string | undefined, prefix: string): string {
    // Real servers retry on collision a few times too (and report AlreadyExists after that).
    for (let attempt = 0; attempt < 8; attempt++) {
      let suffix = "";
      for (let i = 0; i < 5; i++) {
        suffix += GENERATE_NAME_ALPHABET[Math.floor(Math.random() * GENERATE_NAME_ALPHABET.length)];
      }
      const name = `${prefix.slice(0, 58)}${suffix}`;
      if (!this.bucket(k).has(key(k, namespace, name))) return name;
    }
    return `${prefix.slice(0, 58)}xxxxx`;
  }

  /** Fields the server assigns at creation: a Service's clusterIP (never dialled, only a string). */
  private allocate(k: ResourceKind, obj: KubeObject): void {
    if (k.kind !== "Service") return;
    const spec = obj.spec as Record<string, unknown> | undefined;
    if (spec === undefined || spec.clusterIP === "None") return;
    if (spec.type === "ExternalName") return;
    if (typeof spec.clusterIP !== "string" || spec.clusterIP === "") {
      const n = this.clusterIpNext++;
      spec.clusterIP = `10.96.${Math.floor(n / 254) % 256}.${(n % 254) + 1}`;
    }
    spec.clusterIPs = [spec.clusterIP];
    if (spec.type === "NodePort" || spec.type === "LoadBalancer") {
      const used = new Set<number>();
      for (const svc of this.bucket(k).values()) {
        for (const p of (svc.spec as { ports?: { nodePort?: number }[] } | undefined)?.ports ?? []) {
          if (typeof p.nodePort === "number") used.add(p.nodePort);
        }
      }
      for (const p of Array.isArray(spec.ports) ? (spec.ports as Record<string, unknown>[]) : []) {
        if (typeof p.nodePort === "number") continue;
        let port = 30000;
        while (used.has(port)) port++;
        used.add(port);
        p.nodePort = port;
      }
    }
  }

  private bumpGeneration(k: ResourceKind, current: KubeObject, obj: KubeObject): void {
    if (!k.tracksGeneration) return;
    const before = current.metadata.generation ?? 1;
    const spec = (o: KubeObject) => {
      const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    };
    // Deployments also count annotation changes: the controller copies them onto ReplicaSets.
    const changed =
      !deepEqual(spec(current), spec(obj)) ||
      (k.kind === "Deployment" &&
        !deepEqual(current.metadata.annotations ?? {}, obj.metadata.annotations ?? {}));
    obj.metadata.generation = changed ? before + 1 : before;
  }

  private commit(k: ResourceKind, current: KubeObject, obj: KubeObject, opts: WriteOptions): KubeObject {
    const meta = obj.metadata;
    meta.resourceVersion = current.metadata.resourceVersion ?? "";
    if (deepEqual(withoutManagedFieldTimes(current), withoutManagedFieldTimes(obj))) {
      // A write that changes nothing is a no-op: no new resourceVersion, no watch event.
      return structuredClone(current);
    }
    if (opts.dryRun) return obj;
    if (
      meta.deletionTimestamp !== undefined &&
      (meta.finalizers ?? []).length === 0 &&
      (typeof meta.deletionGracePeriodSeconds !== "number" || meta.deletionGracePeriodSeconds === 0) &&
      k.kind !== "Namespace"
    ) {
      this.remove(k, obj);
      return structuredClone(obj);
    }
    meta.resourceVersion = String(++this.revision);
    this.bucket(k).set(key(k, meta.namespace, meta.name), obj);
    this.emit(k, "MODIFIED", obj, current);
    if (meta.deletionTimestamp !== undefined) this.scheduleGc();
    return structuredClone(obj);
  }

  private remove(k: ResourceKind, current: KubeObject): void {
    const gone = structuredClone(current);
    // The DELETED event carries the resourceVersion of the deletion, as etcd reports it.
    gone.metadata.resourceVersion = String(++this.revision);
    this.bucket(k).delete(key(k, current.metadata.namespace, current.metadata.name));
    this.emit(k, "DELETED", gone, current);
    this.scheduleGc();
  }

  private emit(
    k: ResourceKind,
    type: WatchEvent["type"],
    obj: KubeObject,
    previous: KubeObject | undefined,
  ): void {
    const entry: HistoryEntry = {
      rv: this.revision,
      resource: k,
      type,
      object: structuredClone(obj),
      previous: previous ? structuredClone(previous) : undefined,
    };
    this.history.push(entry);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedThrough = dropped.rv;
    }
    for (const w of this.watchers) this.pending.push({ watcher: w, entry });
    this.drain();
  }

  /**
   * Delivers queued events in order. A handler that writes to the store (as controllers do) queues its
   * own events behind the ones still being delivered, so every watcher sees changes in revision order;
   * a handler that throws cannot fail the write that triggered it.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        if (!this.watchers.has(next.watcher)) continue;
        try {
          deliver(next.watcher, next.entry);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    } finally {
      this.draining = false;
    }
  }

  // ---- garbage collection (ownerReferences, finalizers, namespace termination) -------------------

  private scheduleGc(): void {
    if (this.gcScheduled) return;
    this.gcScheduled = true;
    setImmediate(() => this.runGc());
  }

  private runGc(): void {
    let changed = false;
    try {
      changed = this.gcPass();
    } finally {
      if (changed) {
        setImmediate(() => this.runGc());
      } else {
        this.gcScheduled = false;
        const waiters = this.gcIdleWaiters;
        this.gcIdleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  /** One sweep of the garbage collector and namespace controller; true if it changed anything. */
  private gcPass(): boolean {
    let changed = false;
    const all = this.allObjects();
    const byUid = new Map<string, { k: ResourceKind; obj: KubeObject }>();
    for (const entry of all) if (entry.obj.metadata.uid) byUid.set(entry.obj.metadata.uid, entry);
    const dependentsOf = (uid: string) =>
      all.filter(({ obj }) => (obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid));

    for (const { k, obj } of all) {
      const meta = obj.metadata;
      if (meta.deletionTimestamp === undefined) continue;
      if (k.kind === "Namespace") {
        changed = this.finalizeNamespace(obj, all) || changed;
        continue;
      }
      const fins = meta.finalizers ?? [];
      if (fins.includes("orphan")) {
        for (const dep of dependentsOf(meta.uid ?? "")) {
          const next = structuredClone(dep.obj);
          next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter(
            (r) => r.uid !== meta.uid,
          );
          if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
          this.update(next, { fieldManager: "kube-controller-manager" });
        }
        this.dropFinalizer(obj, "orphan");
        changed = true;
      } else if (fins.includes("foregroundDeletion")) {
        const deps = dependentsOf(meta.uid ?? "");
        if (deps.length === 0) {
          this.dropFinalizer(obj, "foregroundDeletion");
          changed = true;
        }
        for (const dep of deps) {
          if (dep.obj.metadata.deletionTimestamp === undefined) {
            this.delete(dep.obj.apiVersion, dep.obj.kind, dep.obj.metadata.namespace, dep.obj.metadata.name, {
              propagationPolicy: "Foreground",
            });
            changed = true;
          }
        }
      }
    }

    for (const { obj } of this.allObjects()) {
      const refs = obj.metadata.ownerReferences ?? [];
      if (refs.length === 0) continue;
      const solid = refs.filter((r) => {
        const owner = byUid.get(r.uid);
        return (
          owner !== undefined &&
          this.bucket(owner.k).has(key(owner.k, owner.obj.metadata.namespace, owner.obj.metadata.name)) &&
          owner.obj.metadata.deletionTimestamp === undefined
        );
      });
      const waiting = refs.filter((r) => {
        const owner = byUid.get(r.uid);
        return owner?.obj.metadata.finalizers?.includes("foregroundDeletion") === true;
      });
      const dangling = refs.filter((r) => !byUid.has(r.uid));
      if (solid.length === refs.length) continue;
      if (solid.length > 0) {
        if (dangling.length > 0) {
          const next = structuredClone(obj);
          next.metadata.ownerReferences = refs.filter((r) => byUid.has(r.uid));
          this.update(next, { fieldManager: "kube-controller-manager" });
          changed = true;
        }
        continue;
      }
      if (obj.metadata.deletionTimestamp !== undefined) continue;
      if (dangling.length === 0 && waiting.length === 0) continue; // owners still terminating (e.g. orphaning)
      this.delete(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name, {
        propagationPolicy: waiting.length > 0 ? "Foreground" : "Background",
      });
      changed = true;
    }
    return changed;
  }

  private finalizeNamespace(ns: KubeObject, all: { k: ResourceKind; obj: KubeObject }[]): boolean {
    const name = ns.metadata.name;
    const contents = all.filter(({ k, obj }) => k.namespaced && obj.metadata.namespace === name);
    let changed = false;
    for (const { obj } of contents) {
      if (obj.metadata.deletionTimestamp === undefined) {
        this.delete(obj.apiVersion, obj.kind, name, obj.metadata.name);
        changed = true;
      }
    }
    if (contents.length === 0 && (ns.metadata.finalizers ?? []).length === 0) {
      this.remove(this.kindOf("v1", "Namespace"), ns);
      return true;
    }
    return changed;
  }

  private dropFinalizer(obj: KubeObject, finalizer: string): void {
    const next = structuredClone(obj);
    next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
    this.update(next, { fieldManager: "kube-controller-manager" });
  }

  private allObjects(): { k: ResourceKind; obj: KubeObject }[] {
    const out: { k: ResourceKind; obj: KubeObject }[] = [];
    for (const [k, bucket] of this.objects) for (const obj of bucket.values()) out.push({ k, obj });
    return out;
  }
}

function deliver(w: Watcher, entry: HistoryEntry): void {
  if (entry.resource !== w.resource) return;
  const obj = entry.object;
  if (w.namespace !== undefined && obj.metadata.namespace !== w.namespace) return;
  const now = w.matches(obj);
  const before = entry.previous !== undefined && entry.type !== "ADDED" && w.matches(entry.previous);
  // A filtered watch sees an object leave or enter its selection as DELETED / ADDED.
  if (entry.type === "MODIFIED") {
    if (now && before) w.handler({ type: "MODIFIED", object: structuredClone(obj) });
    else if (now) w.handler({ type: "ADDED", object: structuredClone(obj) });
    else if (before && entry.previous) {
      // Like the watch cache: the last content the watcher was entitled to, at this event's version.
      const last = structuredClone(entry.previous);
      last.metadata.resourceVersion = String(entry.rv);
      w.handler({ type: "DELETED", object: last });
    }
    return;
  }
  if (entry.type === "DELETED" ? before || now : now)
    w.handler({ type: entry.type, object: structuredClone(obj) });
}

function key(k: ResourceKind, namespace: string | undefined, name: string): string {
  return k.namespaced ? `${namespace ?? ""}/${name}` : name;
}

function timestamp(offsetSeconds = 0): string {
  return `${new Date(Date.now() + offsetSeconds * 1000).toISOString().slice(0, 19)}Z`;
}

/** The real pod strategy: only a pod bound to a node and still running waits for its kubelet. */
function gracePeriod(k: ResourceKind, obj: KubeObject, requested: number | undefined): number {
  if (k.kind !== "Pod") return 0;
  const spec = (obj.spec ?? {}) as { nodeName?: unknown; terminationGracePeriodSeconds?: unknown };
  const phase = (obj.status as { phase?: unknown } | undefined)?.phase;
  if (typeof spec.nodeName !== "string" || spec.nodeName === "") return 0;
  if (phase === "Succeeded" || phase === "Failed") return 0;
  const grace =
    requested ??
    (typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : 30);
  return Math.max(0, grace);
}

function carrySystemFields(current: KubeObject, obj: KubeObject): void {
  const meta = obj.metadata;
  const was = current.metadata;
  meta.uid = was.uid ?? "";
  meta.creationTimestamp = was.creationTimestamp ?? "";
  if (was.deletionTimestamp !== undefined) meta.deletionTimestamp = was.deletionTimestamp;
  else delete meta.deletionTimestamp;
  if (was.deletionGracePeriodSeconds !== undefined)
    meta.deletionGracePeriodSeconds = was.deletionGracePeriodSeconds;
  else delete meta.deletionGracePeriodSeconds;
  if (was.generation !== undefined) meta.generation = was.generation;
  else delete meta.generation;
  if (was.generateName !== undefined && meta.generateName === undefined) meta.generateName = was.generateName;
  meta.name = was.name;
  if (was.namespace !== undefined) meta.namespace = was.namespace;
}

function withoutManagedFieldTimes(obj: KubeObject): unknown {
  const copy = structuredClone(obj);
  const mf = copy.metadata.managedFields;
  if (Array.isArray(mf)) {
    for (const entry of mf)
      if (entry && typeof entry === "object") delete (entry as Record<string, unknown>).time;
  }
  return copy;
}

function podContainerNames(pod: KubeObject, list: "containers" | "initContainers"): string[] {
  const spec = pod.spec as Record<string, { name?: unknown }[] | undefined> | undefined;
  return (spec?.[list] ?? []).map((c) => c.name).filter((n): n is string => typeof n === "string");
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function notFoundResource(): ApiError {
  return new ApiError({
    code: 404,
    reason: "NotFound",
    message: "the server could not find the requested resource",
  });
}

function invalidResourceVersion(rv: string): ApiError {
  return badRequest(`invalid resource version: ${rv}`);
}

export function invalid(k: ResourceKind, name: string, causes: StatusCause[]): ApiError {
  const detail = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = detail.length === 1 ? (detail[0] ?? "") : `[${detail.join(", ")}]`;
  return new ApiError({
    code: 422,
    reason: "Invalid",
    message: `${k.group === "" ? k.kind : `${k.kind}.${k.group}`} "${name}" is invalid: ${summary}`,
    details: {
      ...(name ? { name } : {}),
      ...(k.group !== "" ? { group: k.group } : {}),
      kind: k.kind,
      causes,
    },
  });
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((x) => ao[x] !== undefined);
  const bk = Object.keys(bo).filter((x) => bo[x] !== undefined);
  return ak.length === bk.length && ak.every((x) => deepEqual(ao[x], bo[x]));
}

export { apiVersionOf };

// Field management and patching: server-side apply (merging an applied configuration into the live
// object, per-manager field ownership in FieldsV1, conflicts, force, and removal of fields an applier
// stops declaring), the ownership bookkeeping every other write does, and the three classic PATCH
// formats (JSON merge patch, strategic merge patch, JSON patch). Structure (which lists are associative,
// by which keys) comes from the kind's shape in validate.ts.

import type { ResourceKind } from "./resources.js";
import { ApiError, deepEqual, type KubeObject, type StatusCause } from "./store.js";
import { LIST_KEY_DEFAULTS, type Shape, shapeOf } from "./validate.js";

// ---- paths and field sets ------------------------------------------------------------------------

/** One FieldsV1 path element: `f:name`, `k:{"name":"app"}`, `v:"value"` or `i:0`. */
type PathElement = string;
type Path = readonly PathElement[];

const SEP = "\u0000";
const join = (p: Path): string => p.join(SEP);
const split = (s: string): PathElement[] => (s === "" ? [] : s.split(SEP));

/** A set of field paths, stored joined so set algebra is plain string-set algebra. */
export class FieldSet {
  readonly paths: Set<string>;
  constructor(paths: Iterable<string> = []) {
    this.paths = new Set(paths);
  }
  insert(p: Path): void {
    this.paths.add(join(p));
  }
  has(p: string): boolean {
    return this.paths.has(p);
  }
  union(o: FieldSet): FieldSet {
    return new FieldSet([...this.paths, ...o.paths]);
  }
  minus(o: FieldSet): FieldSet {
    return new FieldSet([...this.paths].filter((p) => !o.paths.has(p)));
  }
  intersect(o: FieldSet): FieldSet {
    return new FieldSet([...this.paths].filter((p) => o.paths.has(p)));
  }
  get empty(): boolean {
    return this.paths.size === 0;
  }
  /** True if some member lies strictly below `p`. */
  hasBelow(p: string): boolean {
    const prefix = p === "" ? "" : p + SEP;
    for (const q of this.paths) if (q.startsWith(prefix) && q !== p) return true;
    return false;
  }
  filter(pred: (p: string) => boolean): FieldSet {
    return new FieldSet([...this.paths].filter(pred));
  }
}

type FieldsV1 = { [key: string]: FieldsV1 };

export function toFieldsV1(set: FieldSet): FieldsV1 {
  const root: FieldsV1 = {};
  const marked = new Set<FieldsV1>();
  for (const joined of [...set.paths].sort()) {
    let node = root;
    for (const pe of split(joined)) {
      node[pe] ??= {};
      node = node[pe] as FieldsV1;
    }
    marked.add(node);
  }
  const finish = (node: FieldsV1): FieldsV1 => {
    const keys = Object.keys(node).sort();
    const out: FieldsV1 = {};
    if (marked.has(node) && keys.length > 0) out["."] = {};
    for (const k of keys) out[k] = finish(node[k] as FieldsV1);
    return out;
  };
  return finish(root);
}

export function fromFieldsV1(fields: unknown): FieldSet {
  const set = new FieldSet();
  const walk = (node: unknown, path: PathElement[]) => {
    if (node === null || typeof node !== "object") return;
    const entries = Object.entries(node as Record<string, unknown>);
    if (entries.length === 0 && path.length > 0) set.insert(path);
    for (const [k, v] of entries) {
      if (k === ".") set.insert(path);
      else walk(v, [...path, k]);
    }
  };
  walk(fields, []);
  return set;
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
    .join(",")}}`;
}

function itemKey(keys: readonly string[], item: unknown): Record<string, unknown> {
  const o = (item ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = o[k] ?? LIST_KEY_DEFAULTS[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function keyElement(keys: readonly string[], item: unknown): PathElement {
  return `k:${stableJson(itemKey(keys, item))}`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The fields a value sets, in structured-merge-diff's sense (what managedFields records). */
export function fieldSetOf(shape: Shape, value: unknown): FieldSet {
  const set = new FieldSet();
  walkSet(shape, value, [], set);
  return set;
}

function walkSet(shape: Shape, value: unknown, path: PathElement[], set: FieldSet): void {
  if (shape.type === "struct" && isObject(value)) {
    const fields = shape.fields();
    for (const [key, child] of Object.entries(value)) {
      if (child === undefined) continue;
      const childPath = [...path, `f:${key}`];
      const childShape = fields.get(key) ?? { type: "any" };
      if (child === null || (isObject(child) && Object.keys(child).length === 0)) set.insert(childPath);
      else walkSet(childShape, child, childPath, set);
    }
    return;
  }
  if (shape.type === "map" && isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...path, `f:${key}`];
      walkSet(shape.value, child, childPath, set);
      set.insert(childPath);
    }
    return;
  }
  if (shape.type === "list" && Array.isArray(value) && shape.listType !== "atomic") {
    for (const item of value) {
      const pe = shape.listType === "map" ? keyElement(shape.keys, item) : `v:${stableJson(item)}`;
      const itemPath = [...path, pe];
      if (shape.listType === "map") walkSet(shape.item, item, itemPath, set);
      set.insert(itemPath);
    }
    return;
  }
  set.insert(path);
}

/** Fields the API server never tracks ownership of. */
const UNTRACKED = [
  ["f:apiVersion"],
  ["f:kind"],
  ["f:metadata", "f:name"],
  ["f:metadata", "f:namespace"],
  ["f:metadata", "f:uid"],
  ["f:metadata", "f:resourceVersion"],
  ["f:metadata", "f:generation"],
  ["f:metadata", "f:creationTimestamp"],
  ["f:metadata", "f:deletionTimestamp"],
  ["f:metadata", "f:deletionGracePeriodSeconds"],
  ["f:metadata", "f:managedFields"],
  ["f:metadata", "f:selfLink"],
].map(join);

function tracked(k: ResourceKind, value: unknown, subresource: "status" | undefined): FieldSet {
  const status = join(["f:status"]);
  const hasStatus = k.subresources.includes("status");
  return fieldSetOf(shapeOf(k), value).filter((p) => {
    if (UNTRACKED.some((u) => p === u || p.startsWith(u + SEP))) return false;
    if (p === join(["f:metadata"])) return false;
    const inStatus = p === status || p.startsWith(status + SEP);
    // Each endpoint owns its own part: the main resource resets status, /status resets the rest.
    if (subresource === "status") return inStatus;
    return !(hasStatus && inStatus);
  });
}

/** Navigates a value along a path; `undefined` if absent. */
function valueAtPath(shape: Shape, value: unknown, path: Path): unknown {
  let s: Shape = shape;
  let v: unknown = value;
  for (const pe of path) {
    if (pe.startsWith("f:")) {
      if (!isObject(v)) return undefined;
      const name = pe.slice(2);
      v = v[name];
      s =
        s.type === "struct"
          ? (s.fields().get(name) ?? { type: "any" })
          : s.type === "map"
            ? s.value
            : { type: "any" };
    } else if (pe.startsWith("k:") && s.type === "list") {
      if (!Array.isArray(v)) return undefined;
      const keys = s.keys;
      v = v.find((item) => keyElement(keys, item) === pe);
      s = s.item;
    } else if (pe.startsWith("v:") && s.type === "list") {
      if (!Array.isArray(v)) return undefined;
      v = v.find((item) => `v:${stableJson(item)}` === pe);
      s = s.item;
    } else {
      return undefined;
    }
  }
  return v;
}

interface Comparison {
  added: FieldSet;
  removed: FieldSet;
  modified: FieldSet;
}

function compare(
  shape: Shape,
  before: FieldSet,
  beforeValue: unknown,
  after: FieldSet,
  afterValue: unknown,
): Comparison {
  const modified = new FieldSet();
  for (const p of after.paths) {
    if (!before.has(p) || after.hasBelow(p) || before.hasBelow(p)) continue;
    const path = split(p);
    if (!deepEqual(valueAtPath(shape, beforeValue, path), valueAtPath(shape, afterValue, path)))
      modified.paths.add(p);
  }
  return { added: after.minus(before), removed: before.minus(after), modified };
}

// ---- managed fields entries -----------------------------------------------------------------------

export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time?: string;
  fieldsType: "FieldsV1";
  fieldsV1: FieldsV1;
  subresource?: string;
}

interface Manager {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  subresource: string | undefined;
  time: string | undefined;
  set: FieldSet;
}

const identity = (m: Pick<Manager, "manager" | "operation" | "subresource">): string =>
  `${m.manager}|${m.operation}|${m.subresource ?? ""}`;

function decodeManaged(entries: readonly unknown[]): Manager[] {
  const out: Manager[] = [];
  for (const raw of entries) {
    if (!isObject(raw)) continue;
    const operation = raw.operation === "Apply" ? "Apply" : "Update";
    out.push({
      manager: typeof raw.manager === "string" ? raw.manager : "",
      operation,
      apiVersion: typeof raw.apiVersion === "string" ? raw.apiVersion : "",
      subresource:
        typeof raw.subresource === "string" && raw.subresource !== "" ? raw.subresource : undefined,
      time: typeof raw.time === "string" ? raw.time : undefined,
      set: fromFieldsV1(raw.fieldsV1),
    });
  }
  return out;
}

function encodeManaged(managers: readonly Manager[]): ManagedFieldsEntry[] {
  return managers
    .filter((m) => !m.set.empty)
    .map((m) => ({
      manager: m.manager,
      operation: m.operation,
      apiVersion: m.apiVersion,
      ...(m.time !== undefined ? { time: m.time } : {}),
      fieldsType: "FieldsV1" as const,
      fieldsV1: toFieldsV1(m.set),
      ...(m.subresource !== undefined ? { subresource: m.subresource } : {}),
    }));
}

function now(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

function upsert(managers: Manager[], entry: Omit<Manager, "set" | "time">, set: FieldSet): void {
  const id = identity(entry);
  const existing = managers.find((m) => identity(m) === id);
  if (existing) {
    existing.set = set;
    existing.time = now();
    existing.apiVersion = entry.apiVersion;
  } else {
    managers.push({ ...entry, time: now(), set });
  }
}

/**
 * Ownership after a non-apply write (create, update, patch): the writer takes every field it changed,
 * from whoever owned it, and fields that disappeared are nobody's any more.
 */
export function recordUpdate(
  k: ResourceKind,
  before: KubeObject | undefined,
  after: KubeObject,
  entries: readonly unknown[],
  manager: string,
  subresource: "status" | undefined,
): ManagedFieldsEntry[] {
  const shape = shapeOf(k);
  const managers = decodeManaged(entries);
  const beforeSet = before ? tracked(k, before, subresource) : new FieldSet();
  const afterSet = tracked(k, after, subresource);
  const diff = compare(shape, beforeSet, before, afterSet, after);
  const changed = diff.added.union(diff.modified);
  const self = { manager, operation: "Update" as const, subresource };
  for (const m of managers) {
    if (identity(m) === identity(self)) continue;
    m.set = m.set.minus(changed).minus(diff.removed);
  }
  const mine = managers.find((m) => identity(m) === identity(self));
  if (!changed.empty || mine !== undefined) {
    const next = (mine?.set ?? new FieldSet()).union(changed).minus(diff.removed);
    if (mine === undefined || !changed.empty || !diff.removed.empty) {
      upsert(managers, { ...self, apiVersion: after.apiVersion }, next);
    }
  }
  return encodeManaged(managers);
}

// ---- server-side apply ----------------------------------------------------------------------------

export interface ApplyContext {
  manager: string;
  force: boolean;
  subresource: "status" | undefined;
  isCreate: boolean;
  /** Runs the server's defaulting on the merged object (before conflicts are computed). */
  defaulted: (obj: KubeObject) => KubeObject;
}

/** Merges an applied configuration into a value: maps merge, associative lists merge by key. */
function mergeApplied(shape: Shape, live: unknown, applied: unknown): unknown {
  if (applied === null) return undefined;
  if (shape.type === "struct" && isObject(applied)) {
    const out: Record<string, unknown> = isObject(live) ? { ...live } : {};
    const fields = shape.fields();
    for (const [key, v] of Object.entries(applied)) {
      const merged = mergeApplied(fields.get(key) ?? { type: "any" }, out[key], v);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    }
    return out;
  }
  if (shape.type === "map" && isObject(applied)) {
    const out: Record<string, unknown> = isObject(live) ? { ...live } : {};
    for (const [key, v] of Object.entries(applied)) {
      const merged = mergeApplied(shape.value, out[key], v);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    }
    return out;
  }
  if (shape.type === "list" && Array.isArray(applied) && shape.listType !== "atomic") {
    const out = Array.isArray(live) ? [...live] : [];
    const idOf = (item: unknown) =>
      shape.listType === "map" ? keyElement(shape.keys, item) : `v:${stableJson(item)}`;
    for (const item of applied) {
      const at = out.findIndex((x) => idOf(x) === idOf(item));
      if (at < 0) out.push(shape.listType === "map" ? mergeApplied(shape.item, undefined, item) : item);
      else if (shape.listType === "map") out[at] = mergeApplied(shape.item, out[at], item);
    }
    return out;
  }
  return structuredClone(applied);
}

/** Removes the field at `path` from `value` in place (list items by key, set members by value). */
function removePath(shape: Shape, value: unknown, path: Path): void {
  if (path.length === 0) return;
  const [head, ...rest] = path as [PathElement, ...PathElement[]];
  if (head.startsWith("f:") && isObject(value)) {
    const name = head.slice(2);
    const childShape: Shape =
      shape.type === "struct"
        ? (shape.fields().get(name) ?? { type: "any" })
        : shape.type === "map"
          ? shape.value
          : { type: "any" };
    if (rest.length === 0) delete value[name];
    else removePath(childShape, value[name], rest);
    return;
  }
  if (shape.type === "list" && Array.isArray(value)) {
    const at = value.findIndex((item) =>
      head.startsWith("k:") ? keyElement(shape.keys, item) === head : `v:${stableJson(item)}` === head,
    );
    if (at < 0) return;
    if (rest.length === 0) value.splice(at, 1);
    else removePath(shape.item, value[at], rest);
  }
}

/** Drops maps and lists that removal left empty, as a field that is no longer set. */
function dropEmptyParents(value: unknown, path: Path): void {
  for (let depth = path.length - 1; depth > 0; depth--) {
    const parentPath = path.slice(0, depth);
    let cur: unknown = value;
    let parent: Record<string, unknown> | undefined;
    let lastKey = "";
    for (const pe of parentPath) {
      if (!pe.startsWith("f:") || !isObject(cur)) return;
      parent = cur;
      lastKey = pe.slice(2);
      cur = cur[lastKey];
    }
    if (
      parent &&
      ((isObject(cur) && Object.keys(cur).length === 0) || (Array.isArray(cur) && cur.length === 0))
    ) {
      delete parent[lastKey];
    } else {
      return;
    }
  }
}

function printManager(m: Manager): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  return m.operation === "Update" ? `${s} using ${m.apiVersion}` : s;
}

/** `.spec.template.spec.containers[name="app"].image`, as conflicts print a path. */
export function printPath(joined: string): string {
  let out = "";
  for (const pe of split(joined)) {
    if (pe.startsWith("f:")) out += `.${pe.slice(2)}`;
    else if (pe.startsWith("k:")) {
      const key = JSON.parse(pe.slice(2)) as Record<string, unknown>;
      out += `[${Object.entries(key)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(",")}]`;
    } else if (pe.startsWith("v:")) out += `[=${pe.slice(2)}]`;
    else if (pe.startsWith("i:")) out += `[${pe.slice(2)}]`;
  }
  return out;
}

function conflictError(conflicts: { manager: Manager; path: string }[]): ApiError {
  const sorted = [...conflicts].sort(
    (a, b) =>
      printManager(a.manager).localeCompare(printManager(b.manager)) ||
      printPath(a.path).localeCompare(printPath(b.path)),
  );
  const causes: StatusCause[] = sorted.map((c) => ({
    reason: "FieldManagerConflict",
    message: `conflict with ${printManager(c.manager)}`,
    field: printPath(c.path),
  }));
  let message: string;
  const [only] = sorted;
  if (sorted.length === 1 && only) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(only.manager)}: ${printPath(only.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of sorted) {
      const name = printManager(c.manager);
      byManager.set(name, [...(byManager.get(name) ?? []), printPath(c.path)]);
    }
    const lines: string[] = [];
    for (const [name, paths] of byManager) {
      lines.push(`conflicts with ${name}:`);
      for (const p of paths) lines.push(`- ${p}`);
    }
    message = `Apply failed with ${sorted.length} conflicts: ${lines.join("\n")}`;
  }
  return new ApiError({ code: 409, reason: "Conflict", message, details: { causes } });
}

/**
 * Server-side apply of `config` by `ctx.manager` onto `live` (a bare shell when creating). Returns the
 * merged object with updated managedFields; throws 409 Conflict when another manager owns a field the
 * configuration would change, unless forced (then ownership moves to the applier).
 */
export function serverSideApply(
  k: ResourceKind,
  live: KubeObject,
  config: KubeObject,
  ctx: ApplyContext,
): KubeObject {
  const shape = shapeOf(k);
  const managers = decodeManaged(ctx.isCreate ? [] : (live.metadata.managedFields ?? []));
  const self = { manager: ctx.manager, operation: "Apply" as const, subresource: ctx.subresource };
  const selfId = identity(self);
  const lastSet = managers.find((m) => identity(m) === selfId)?.set ?? new FieldSet();
  const configSet = tracked(k, config, ctx.subresource);

  const cfg = structuredClone(config);
  delete cfg.metadata.managedFields;
  delete cfg.metadata.resourceVersion;
  let merged = mergeApplied(shape, live, cfg) as KubeObject;
  merged.apiVersion = live.apiVersion;
  merged.kind = live.kind;
  merged.metadata.name = live.metadata.name;
  if (live.metadata.namespace !== undefined) merged.metadata.namespace = live.metadata.namespace;

  // Fields this manager applied before but no longer declares go, unless someone else still owns them.
  const others = managers
    .filter((m) => identity(m) !== selfId)
    .reduce((acc, m) => acc.union(m.set), new FieldSet());
  const stillOwned = others.union(configSet);
  const dropped = lastSet.minus(stillOwned);
  const byDepth = [...dropped.paths].sort((a, b) => split(b).length - split(a).length);
  for (const p of byDepth) {
    if (stillOwned.hasBelow(p)) continue;
    const path = split(p);
    const parent = path.at(-2);
    const leaf = path.at(-1) ?? "";
    // An item's key fields go with the item, never on their own.
    if (
      parent?.startsWith("k:") &&
      leaf.startsWith("f:") &&
      leaf.slice(2) in (JSON.parse(parent.slice(2)) as object)
    )
      continue;
    removePath(shape, merged, path);
    dropEmptyParents(merged, path);
  }
  merged = ctx.defaulted(merged);

  const liveSet = ctx.isCreate ? new FieldSet() : tracked(k, live, ctx.subresource);
  const mergedSet = tracked(k, merged, ctx.subresource);
  const diff = compare(shape, liveSet, live, mergedSet, merged);
  const changed = diff.added.union(diff.modified);
  const conflicts: { manager: Manager; path: string }[] = [];
  for (const m of managers) {
    if (identity(m) === selfId) continue;
    for (const p of m.set.intersect(changed).paths) conflicts.push({ manager: m, path: p });
  }
  if (conflicts.length > 0 && !ctx.force) throw conflictError(conflicts);
  for (const m of managers) {
    if (identity(m) === selfId) continue;
    m.set = m.set.minus(changed).minus(diff.removed);
  }
  upsert(managers, { ...self, apiVersion: config.apiVersion }, configSet);
  merged.metadata.managedFields = encodeManaged(managers);
  return merged;
}

// ---- classic PATCH formats ------------------------------------------------------------------------

/** RFC 7386 JSON merge patch: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, v] of Object.entries(patch)) {
    if (v === null) delete out[key];
    else out[key] = mergePatch(out[key], v);
  }
  return out;
}

/**
 * Strategic merge patch for the built-in kinds: like a merge patch, except lists with a patch merge key
 * (containers by name, ports by containerPort, env by name, volumes by name, ...) merge item by item,
 * and `$patch: delete|replace` directives apply. Custom resources do not support it (415).
 */
export function strategicMergePatch(k: ResourceKind, target: unknown, patch: unknown): unknown {
  if (k.custom) {
    throw new ApiError({
      code: 415,
      reason: "UnsupportedMediaType",
      message:
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    });
  }
  return smp(shapeOf(k), target, patch);
}

function smp(shape: Shape, target: unknown, patch: unknown): unknown {
  if (isObject(patch)) {
    if (patch.$patch === "replace") {
      const { $patch: _p, ...rest } = patch;
      return structuredClone(rest);
    }
    if (patch.$patch === "delete") return undefined;
    const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
    for (const [key, v] of Object.entries(patch)) {
      if (key.startsWith("$setElementOrder/") || key === "$retainKeys" || key === "$patch") continue;
      if (key.startsWith("$deleteFromPrimitiveList/")) {
        const field = key.slice("$deleteFromPrimitiveList/".length);
        const drop = Array.isArray(v) ? v : [];
        if (Array.isArray(out[field]))
          out[field] = (out[field] as unknown[]).filter((x) => !drop.includes(x));
        continue;
      }
      const childShape: Shape =
        shape.type === "struct"
          ? (shape.fields().get(key) ?? { type: "any" })
          : shape.type === "map"
            ? shape.value
            : { type: "any" };
      if (v === null) {
        delete out[key];
        continue;
      }
      const merged = smp(childShape, out[key], v);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    }
    return out;
  }
  if (Array.isArray(patch) && shape.type === "list" && shape.listType === "map") {
    const mergeKey = shape.keys[0] ?? "name";
    if (patch.some((p) => isObject(p) && p.$patch === "replace")) {
      return patch.filter((p) => !(isObject(p) && p.$patch === "replace"));
    }
    const out = Array.isArray(target) ? [...target] : [];
    for (const item of patch) {
      if (!isObject(item)) continue;
      const at = out.findIndex((x) => isObject(x) && deepEqual(x[mergeKey], item[mergeKey]));
      if (item.$patch === "delete") {
        if (at >= 0) out.splice(at, 1);
        continue;
      }
      if (at >= 0) out[at] = smp(shape.item, out[at], item);
      else out.push(smp(shape.item, undefined, item));
    }
    return out;
  }
  if (Array.isArray(patch) && shape.type === "list" && shape.listType === "set") {
    const out = Array.isArray(target) ? [...target] : [];
    for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(v);
    return out;
  }
  return structuredClone(patch);
}

/** RFC 6902 JSON patch. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops))
    throw new ApiError({
      code: 400,
      reason: "BadRequest",
      message: "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    });
  let doc = structuredClone(target);
  const parse = (pointer: unknown): string[] => {
    if (typeof pointer !== "string" || (pointer !== "" && !pointer.startsWith("/"))) {
      throw new ApiError({
        code: 422,
        reason: "Invalid",
        message: `the server rejected our request due to an error in our request`,
      });
    }
    return pointer === ""
      ? []
      : pointer
          .slice(1)
          .split("/")
          .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  };
  const fail = (message: string) => new ApiError({ code: 422, reason: "Invalid", message });
  const parentOf = (segs: string[]): { parent: unknown; last: string } => {
    let cur: unknown = doc;
    for (const s of segs.slice(0, -1)) {
      if (Array.isArray(cur)) cur = cur[Number(s)];
      else if (isObject(cur)) cur = cur[s];
      else throw fail(`doc is missing path: "/${segs.join("/")}": missing value`);
      if (cur === undefined) throw fail(`doc is missing path: "/${segs.join("/")}": missing value`);
    }
    return { parent: cur, last: segs.at(-1) ?? "" };
  };
  const get = (segs: string[]): unknown => {
    if (segs.length === 0) return doc;
    const { parent, last } = parentOf(segs);
    return Array.isArray(parent) ? parent[Number(last)] : isObject(parent) ? parent[last] : undefined;
  };
  const remove = (segs: string[]): unknown => {
    const { parent, last } = parentOf(segs);
    if (Array.isArray(parent)) return parent.splice(Number(last), 1)[0];
    if (isObject(parent) && last in parent) {
      const v = parent[last];
      delete parent[last];
      return v;
    }
    throw fail(`doc is missing key: /${segs.join("/")}: missing value`);
  };
  const add = (segs: string[], value: unknown, replace: boolean): void => {
    if (segs.length === 0) {
      doc = value;
      return;
    }
    const { parent, last } = parentOf(segs);
    if (Array.isArray(parent)) {
      const i = last === "-" ? parent.length : Number(last);
      if (replace) parent[i] = value;
      else parent.splice(i, 0, value);
    } else if (isObject(parent)) {
      if (replace && !(last in parent)) throw fail(`doc is missing key: /${segs.join("/")}: missing value`);
      parent[last] = value;
    } else throw fail(`doc is missing path: "/${segs.join("/")}": missing value`);
  };
  for (const raw of ops) {
    const op = isObject(raw) ? raw : {};
    const path = parse(op.path);
    switch (op.op) {
      case "add":
        add(path, structuredClone(op.value), false);
        break;
      case "replace":
        add(path, structuredClone(op.value), true);
        break;
      case "remove":
        remove(path);
        break;
      case "test":
        if (!deepEqual(get(path), op.value))
          throw fail(`testing value /${path.join("/")} failed: test failed`);
        break;
      case "move":
        add(path, remove(parse(op.from)), false);
        break;
      case "copy":
        add(path, structuredClone(get(parse(op.from))), false);
        break;
      default:
        throw fail(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

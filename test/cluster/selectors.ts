// Label and field selectors as list/watch/deletecollection accept them: parsing with the API server's
// error messages (a bad selector is a 400), and matching against objects. Field selectors are limited
// to the fields each real resource supports, so a selector the real server rejects is rejected here.

import type { ResourceKind } from "./resources.js";
import { ApiError, type KubeObject } from "./store.js";

export type Operator = "=" | "==" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

function badSelector(message: string): ApiError {
  return new ApiError({ code: 400, reason: "BadRequest", message });
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string, raw: string): void {
  const slash = key.indexOf("/");
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const prefix = slash >= 0 ? key.slice(0, slash) : "";
  const okName = name.length > 0 && name.length <= 63 && QUALIFIED_NAME.test(name);
  const okPrefix =
    slash < 0 ||
    (prefix.length > 0 && prefix.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix));
  if (!okName || !okPrefix) {
    throw badSelector(
      `unable to parse requirement: values[0][${raw}]: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    );
  }
}

function checkValue(key: string, value: string): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw badSelector(
      `unable to parse requirement: values[0][${key}]: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    );
  }
}

/** Splits on commas that are not inside an `in (...)` value list. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts.map((p) => p.trim());
}

export function parseLabelSelector(selector: string): Requirement[] {
  if (selector.trim() === "") return [];
  const out: Requirement[] = [];
  for (const part of splitTopLevel(selector)) {
    if (part === "") throw badSelector(`found '', expected: !, identifier, or 'end of string'`);
    let m = /^!\s*([^\s!=<>(),]+)$/.exec(part);
    if (m?.[1]) {
      checkKey(m[1], m[1]);
      out.push({ key: m[1], operator: "!", values: [] });
      continue;
    }
    m = /^([^\s!=<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
    if (m?.[1] && m[2] && m[3] !== undefined) {
      checkKey(m[1], m[1]);
      const values = m[3].split(",").map((v) => v.trim());
      if (values.length === 1 && values[0] === "" && m[2] === "in") {
        throw badSelector(`for 'in', 'notin' operators, values set can't be empty`);
      }
      for (const v of values) checkValue(m[1], v);
      out.push({ key: m[1], operator: m[2] as Operator, values });
      continue;
    }
    m = /^([^\s!=<>(),]+)\s*(==|!=|=|>|<)\s*([^\s!=<>(),]*)$/.exec(part);
    if (m?.[1] && m[2] && m[3] !== undefined) {
      checkKey(m[1], m[1]);
      const op = m[2] === ">" ? "gt" : m[2] === "<" ? "lt" : (m[2] as Operator);
      if ((op === "gt" || op === "lt") && !/^-?\d+$/.test(m[3])) {
        throw badSelector(
          `unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`,
        );
      }
      if (op !== "gt" && op !== "lt") checkValue(m[1], m[3]);
      out.push({ key: m[1], operator: op, values: [m[3]] });
      continue;
    }
    m = /^([^\s!=<>(),]+)$/.exec(part);
    if (m?.[1]) {
      checkKey(m[1], m[1]);
      out.push({ key: m[1], operator: "exists", values: [] });
      continue;
    }
    throw badSelector(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`);
  }
  return out;
}

export function matchesLabelSelector(reqs: readonly Requirement[], labels: Record<string, string>): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.operator) {
      case "=":
      case "==":
      case "in":
        return has && r.values.includes(v ?? "");
      case "!=":
      case "notin":
        return !has || !r.values.includes(v ?? "");
      case "exists":
        return has;
      case "!":
        return !has;
      case "gt":
      case "lt": {
        if (!has || !/^-?\d+$/.test(v ?? "")) return false;
        const n = Number(v);
        const bound = Number(r.values[0]);
        return r.operator === "gt" ? n > bound : n < bound;
      }
    }
    return false;
  });
}

/** A structured selector (`matchLabels` + `matchExpressions`), as Deployments and PDBs carry one. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export function matchesStructuredSelector(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key] ?? "";
    const values = e.values ?? [];
    if (e.operator === "In" && !(has && values.includes(value))) return false;
    if (e.operator === "NotIn" && has && values.includes(value)) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

// ---- field selectors ---------------------------------------------------------------------------

export interface FieldRequirement {
  field: string;
  negate: boolean;
  value: string;
}

/** Fields each resource's real field-label conversion accepts, beyond metadata.name/namespace. */
const EXTRA_FIELDS: Record<string, readonly string[]> = {
  Pod: [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  Secret: ["type"],
  Event: [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
  ],
  Namespace: ["status.phase"],
  Node: ["spec.unschedulable"],
  ReplicaSet: ["status.replicas"],
};

export function supportedFields(k: ResourceKind): string[] {
  return ["metadata.name", "metadata.namespace", ...(EXTRA_FIELDS[k.kind] ?? [])];
}

export function parseFieldSelector(k: ResourceKind, selector: string): FieldRequirement[] {
  if (selector.trim() === "") return [];
  const out: FieldRequirement[] = [];
  for (const part of selector.split(",").map((p) => p.trim())) {
    const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(part);
    if (!m?.[1] || !m[2] || m[3] === undefined) {
      throw badSelector(`invalid selector: '${selector}'; can't understand '${part}'`);
    }
    const field = m[1].trim();
    if (!supportedFields(k).includes(field)) {
      throw badSelector(`field label not supported: ${field}`);
    }
    out.push({ field, negate: m[2] === "!=", value: m[3].trim() });
  }
  return out;
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const seg of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur === undefined || cur === null ? "" : String(cur);
}

export function matchesFieldSelector(
  _k: ResourceKind,
  reqs: readonly FieldRequirement[],
  obj: KubeObject,
): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}

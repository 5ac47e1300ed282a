// What the API server checks before it stores an object: the real OpenAPI schemas (through the
// kubernetes-models / gateway-api validators), field shapes for unknown-field detection and server-side
// apply, the name rules, the handful of Go-side validations Slipway's manifests can trip (selector vs
// template labels, container basics, immutable fields), and the defaulting the controllers rely on.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as client from "@kubernetes/client-node";
import { Gateway } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Lease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Event } from "kubernetes-models/v1/Event";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Node } from "kubernetes-models/v1/Node";
import { Pod } from "kubernetes-models/v1/Pod";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { parseQuantity } from "./quantity.js";
import type { ResourceKind } from "./resources.js";
import { matchesStructuredSelector } from "./selectors.js";
import { ApiError, deepEqual, invalid, type KubeObject, type StatusCause } from "./store.js";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

// ---- shapes: the structure of each kind, for unknown fields and field ownership ------------------

export type Shape =
  | { type: "struct"; name: string; fields: () => ReadonlyMap<string, Shape> }
  | { type: "map"; value: Shape }
  | { type: "list"; item: Shape; listType: "atomic" | "set" | "map"; keys: readonly string[] }
  | { type: "scalar" }
  | { type: "any" };

const SCALAR: Shape = { type: "scalar" };
const ANY: Shape = { type: "any" };

/**
 * Associative lists of the built-in types (`x-kubernetes-list-type: map` with these
 * `x-kubernetes-list-map-keys` in the Kubernetes OpenAPI), keyed by the Go item type.
 */
const LIST_MAP_KEYS: Record<string, readonly string[]> = {
  V1Container: ["name"],
  V1EphemeralContainer: ["name"],
  V1ContainerPort: ["containerPort", "protocol"],
  V1EnvVar: ["name"],
  V1Volume: ["name"],
  V1VolumeMount: ["mountPath"],
  V1LocalObjectReference: ["name"],
  V1ServicePort: ["port", "protocol"],
  V1OwnerReference: ["uid"],
  V1DeploymentCondition: ["type"],
  V1ReplicaSetCondition: ["type"],
  V1PodCondition: ["type"],
  V1NamespaceCondition: ["type"],
  V2HorizontalPodAutoscalerCondition: ["type"],
  V1Condition: ["type"],
  V1TopologySpreadConstraint: ["topologyKey", "whenUnsatisfiable"],
  V1HostAlias: ["ip"],
};

/** Lists the Kubernetes OpenAPI marks `x-kubernetes-list-type: set`, by owning type and field. */
const SET_LISTS = new Set(["V1ObjectMeta.finalizers"]);

/** Key fields the server defaults before it computes an item's identity (ports default to TCP). */
export const LIST_KEY_DEFAULTS: Record<string, unknown> = { protocol: "TCP" };

type ModelClass = { getAttributeTypeMap(): { name: string; baseName: string; type: string }[] };

function clientModel(name: string): ModelClass | undefined {
  const candidate = (client as unknown as Record<string, unknown>)[name];
  if (typeof candidate === "function" && "getAttributeTypeMap" in candidate)
    return candidate as unknown as ModelClass;
  return undefined;
}

const clientShapes = new Map<string, Shape>();

function clientShape(typeName: string, owner?: string, field?: string): Shape {
  const arr = /^Array<(.+)>$/.exec(typeName);
  if (arr?.[1]) {
    const itemName = arr[1];
    const keys = LIST_MAP_KEYS[itemName];
    const isSet = owner !== undefined && SET_LISTS.has(`${owner}.${field}`);
    return {
      type: "list",
      item: clientShape(itemName),
      listType: keys ? "map" : isSet ? "set" : "atomic",
      keys: keys ?? [],
    };
  }
  if (/^\{ \[key: string\]: (string|Date); \}$/.test(typeName)) return { type: "map", value: SCALAR };
  if (typeName === "any" || typeName === "object") return ANY;
  const model = clientModel(typeName);
  if (model === undefined) return SCALAR;
  const cached = clientShapes.get(typeName);
  if (cached) return cached;
  let fields: Map<string, Shape> | undefined;
  const shape: Shape = {
    type: "struct",
    name: typeName,
    fields: () => {
      fields ??= new Map(
        model.getAttributeTypeMap().map((a) => [a.baseName, clientShape(a.type, typeName, a.baseName)]),
      );
      return fields;
    },
  };
  clientShapes.set(typeName, shape);
  return shape;
}

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  default?: unknown;
  oneOf?: JsonSchema[];
  $ref?: string;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
}

/**
 * The Gateway API package keeps each CRD's structural schema as a literal in its module; reading it
 * gives the same field structure (and CRD defaults) the real apiextensions server works from.
 */
function gatewaySchema(kindName: string): JsonSchema {
  const url = import.meta.resolve(`@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/${kindName}`);
  const text = readFileSync(fileURLToPath(url), "utf8");
  const start = text.indexOf("const schema = ");
  const end = text.indexOf("};\n", start);
  if (start < 0 || end < 0) throw new Error(`cannot locate the ${kindName} schema`);
  return JSON.parse(text.slice(start + "const schema = ".length, end + 1)) as JsonSchema;
}

function schemaShape(s: JsonSchema, name: string): Shape {
  if (s.$ref?.includes("ObjectMeta") || s.oneOf?.some((o) => o.$ref?.includes("ObjectMeta"))) {
    return clientShape("V1ObjectMeta");
  }
  if (s["x-kubernetes-preserve-unknown-fields"]) return ANY;
  if (s.type === "array" && s.items) {
    const lt = s["x-kubernetes-list-type"];
    return {
      type: "list",
      item: schemaShape(s.items, `${name}[]`),
      listType: lt === "map" ? "map" : lt === "set" ? "set" : "atomic",
      keys: s["x-kubernetes-list-map-keys"] ?? [],
    };
  }
  if (s.properties) {
    const props = s.properties;
    let fields: Map<string, Shape> | undefined;
    return {
      type: "struct",
      name,
      fields: () => {
        fields ??= new Map(Object.entries(props).map(([k, v]) => [k, schemaShape(v, `${name}.${k}`)]));
        return fields;
      },
    };
  }
  if (typeof s.additionalProperties === "object")
    return { type: "map", value: schemaShape(s.additionalProperties, name) };
  if (s.type === "object") return ANY;
  return SCALAR;
}

const CLIENT_TYPE: Record<string, string> = {
  Namespace: "V1Namespace",
  Pod: "V1Pod",
  Service: "V1Service",
  Secret: "V1Secret",
  ConfigMap: "V1ConfigMap",
  Event: "CoreV1Event",
  Deployment: "V1Deployment",
  ReplicaSet: "V1ReplicaSet",
  HorizontalPodAutoscaler: "V2HorizontalPodAutoscaler",
  PodDisruptionBudget: "V1PodDisruptionBudget",
  Ingress: "V1Ingress",
  Lease: "V1Lease",
  Node: "V1Node",
  ServiceAccount: "V1ServiceAccount",
  Role: "V1Role",
  RoleBinding: "V1RoleBinding",
  ClusterRole: "V1ClusterRole",
  ClusterRoleBinding: "V1ClusterRoleBinding",
};

const schemas = new Map<string, JsonSchema>();
const shapes = new Map<string, Shape>();

function crdSchema(k: ResourceKind): JsonSchema {
  let s = schemas.get(k.kind);
  if (s === undefined) {
    s = gatewaySchema(k.kind);
    schemas.set(k.kind, s);
  }
  return s;
}

export function shapeOf(k: ResourceKind): Shape {
  let s = shapes.get(k.kind);
  if (s === undefined) {
    const typeName = CLIENT_TYPE[k.kind];
    s = typeName ? clientShape(typeName) : schemaShape(crdSchema(k), k.kind);
    shapes.set(k.kind, s);
  }
  return s;
}

/** Drops fields the schema does not declare; returns their paths as the server reports them. */
export function pruneUnknownFields(k: ResourceKind, obj: KubeObject): string[] {
  const found: string[] = [];
  prune(shapeOf(k), obj, "", found);
  return found;
}

function prune(shape: Shape, value: unknown, path: string, found: string[]): void {
  if (value === null || typeof value !== "object") return;
  if (shape.type === "struct") {
    if (Array.isArray(value)) return;
    const fields = shape.fields();
    const rec = value as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      const child = fields.get(key);
      const childPath = path === "" ? key : `${path}.${key}`;
      if (child === undefined) {
        found.push(childPath);
        delete rec[key];
      } else {
        prune(child, rec[key], childPath, found);
      }
    }
  } else if (shape.type === "map" && !Array.isArray(value)) {
    for (const [key, v] of Object.entries(value)) prune(shape.value, v, `${path}.${key}`, found);
  } else if (shape.type === "list" && Array.isArray(value)) {
    value.forEach((v, i) => {
      prune(shape.item, v, `${path}[${i}]`, found);
    });
  }
}

// ---- names ---------------------------------------------------------------------------------------

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function nameErrors(rule: ResourceKind["nameRule"], name: string): string[] {
  const errs: string[] = [];
  switch (rule) {
    case "dns1123Label":
      if (name.length > 63) errs.push("must be no more than 63 characters");
      if (!DNS1123_LABEL.test(name)) {
        errs.push(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        );
      }
      break;
    case "dns1035Label":
      if (name.length > 63) errs.push("must be no more than 63 characters");
      if (!DNS1035_LABEL.test(name)) {
        errs.push(
          "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        );
      }
      break;
    case "dns1123Subdomain":
      if (name.length > 253) errs.push("must be no more than 253 characters");
      if (!DNS1123_SUBDOMAIN.test(name)) {
        errs.push(
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        );
      }
      break;
    case "pathSegment":
      if (name === "." || name === "..") errs.push(`may not be '${name}'`);
      for (const bad of ["/", "%"]) if (name.includes(bad)) errs.push(`may not contain '${bad}'`);
      break;
  }
  return errs;
}

// ---- schema validation ---------------------------------------------------------------------------

type Validatable = { validate(): void };
const MODELS: Record<string, (data: KubeObject) => Validatable> = {
  Namespace: (d) => new Namespace(d as never),
  Pod: (d) => new Pod(d as never),
  Service: (d) => new Service(d as never),
  Secret: (d) => new Secret(d as never),
  ConfigMap: (d) => new ConfigMap(d as never),
  Event: (d) => new Event(d as never),
  Deployment: (d) => new Deployment(d as never),
  ReplicaSet: (d) => new ReplicaSet(d as never),
  HorizontalPodAutoscaler: (d) => new HorizontalPodAutoscaler(d as never),
  PodDisruptionBudget: (d) => new PodDisruptionBudget(d as never),
  Ingress: (d) => new Ingress(d as never),
  Lease: (d) => new Lease(d as never),
  Node: (d) => new Node(d as never),
  ServiceAccount: (d) => new ServiceAccount(d as never),
  Role: (d) => new Role(d as never),
  RoleBinding: (d) => new RoleBinding(d as never),
  ClusterRole: (d) => new ClusterRole(d as never),
  ClusterRoleBinding: (d) => new ClusterRoleBinding(d as never),
  Gateway: (d) => new Gateway(d as never),
  HTTPRoute: (d) => new HTTPRoute(d as never),
};

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
}

function isAjvErrorList(x: unknown): x is AjvError[] {
  return Array.isArray(x) && x.every((e) => e !== null && typeof e === "object" && "instancePath" in e);
}

/** "/spec/template/spec/containers/0/image" → "spec.template.spec.containers[0].image" */
export function fieldPath(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/** Go's `%v`-ish rendering the API server uses in `Invalid value: ...`. */
export function showValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return "null";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return "number";
  if (typeof v === "object") return "object";
  return typeof v;
}

function valueAt(obj: unknown, pointer: string): unknown {
  let cur = obj;
  for (const raw of pointer.split("/").slice(1)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[raw.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  return cur;
}

function schemaErrors(k: ResourceKind, obj: KubeObject): AjvError[] {
  const make = MODELS[k.kind];
  if (make === undefined) return [];
  try {
    make(obj).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: unknown }).errors;
    if (isAjvErrorList(errors)) return errors;
    throw err;
  }
}

function schemaCause(obj: KubeObject, e: AjvError): StatusCause {
  const missing = typeof e.params.missingProperty === "string" ? e.params.missingProperty : undefined;
  const pointer = missing ? `${e.instancePath}/${missing}` : e.instancePath;
  const field = fieldPath(pointer);
  const value = e.data !== undefined ? e.data : valueAt(obj, pointer);
  switch (e.keyword) {
    case "required":
      return { reason: "FieldValueRequired", message: "Required value", field };
    case "enum": {
      const allowed = Array.isArray(e.params.allowedValues) ? e.params.allowedValues : [];
      return {
        reason: "FieldValueNotSupported",
        message: `Unsupported value: ${showValue(value)}: supported values: ${allowed.map(showValue).join(", ")}`,
        field,
      };
    }
    case "type":
      return {
        reason: "FieldValueTypeInvalid",
        message: `Invalid value: ${showValue(jsonType(value))}: ${field} in body must be of type ${String(e.params.type)}: ${showValue(jsonType(value))}`,
        field,
      };
    case "maxItems":
      return {
        reason: "FieldValueTooMany",
        message: `Too many: ${Array.isArray(value) ? value.length : "?"}: must have at most ${String(e.params.limit)} items`,
        field,
      };
    case "pattern":
      return {
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(value)}: ${field} in body should match '${String(e.params.pattern)}'`,
        field,
      };
    case "minimum":
    case "maximum":
      return {
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(value)}: ${field} in body should be ${e.keyword === "minimum" ? "greater" : "less"} than or equal to ${String(e.params.limit)}`,
        field,
      };
    default:
      return {
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(value)}: ${e.message ?? e.keyword}`,
        field,
      };
  }
}

// ---- the validation entry point ------------------------------------------------------------------

/**
 * Validates a fully defaulted object about to be stored (`old` on updates). Throws the `Status` the
 * real server returns: 400 when a built-in kind's JSON cannot even be decoded into its Go type (wrong
 * JSON type), 422 Invalid with one cause per field otherwise.
 */
export function validateObject(k: ResourceKind, obj: KubeObject, old: KubeObject | undefined): void {
  const name = obj.metadata.name ?? "";
  const errors = schemaErrors(k, obj).filter((e) => e.keyword !== "oneOf" && e.keyword !== "if");
  const typeErrors = errors.filter((e) => e.keyword === "type");
  if (!k.custom && typeErrors.length > 0) {
    const e = typeErrors[0] as AjvError;
    const value = e.data !== undefined ? e.data : valueAt(obj, e.instancePath);
    throw new ApiError({
      code: 400,
      reason: "BadRequest",
      message: `${k.kind} in version "${k.version}" cannot be handled as a ${k.kind}: json: cannot unmarshal ${jsonType(value)} into Go struct field ${goField(k, e.instancePath)} of type ${goType(e)}`,
    });
  }
  const causes: StatusCause[] = [];
  if (name === "") {
    causes.push({
      reason: "FieldValueRequired",
      message: "Required value: name or generateName is required",
      field: "metadata.name",
    });
  } else {
    for (const msg of nameErrors(k.nameRule, name)) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(name)}: ${msg}`,
        field: "metadata.name",
      });
    }
  }
  causes.push(...metadataCauses(obj));
  const seen = new Set<string>();
  for (const e of errors) {
    const c = schemaCause(obj, e);
    const id = `${c.field}|${c.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      causes.push(c);
    }
  }
  causes.push(...kindCauses(k, obj, old));
  if (causes.length > 0) throw invalid(k, name, causes);
}

function goField(k: ResourceKind, pointer: string): string {
  const segs = pointer.split("/").slice(1);
  let shape: Shape | undefined = shapeOf(k);
  let owner = CLIENT_TYPE[k.kind] ?? k.kind;
  const path: string[] = [];
  for (const seg of segs) {
    if (shape?.type === "list") {
      shape = shape.item;
      continue;
    }
    if (shape?.type === "struct") {
      owner = shape.name;
      shape = shape.fields().get(seg);
      path.push(seg);
    } else if (shape?.type === "map") {
      shape = shape.value;
      path.push(seg);
    }
  }
  return `${owner.replace(/^(Core)?V\d+(beta\d+|alpha\d+)?/, "")}.${path.join(".")}`;
}

function goType(e: AjvError): string {
  const t = String(e.params.type);
  return t === "integer"
    ? "int32"
    : t === "object"
      ? "struct"
      : t === "array"
        ? "slice"
        : t === "boolean"
          ? "bool"
          : t;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function labelCauses(labels: unknown, field: string): StatusCause[] {
  if (labels === null || typeof labels !== "object") return [];
  const out: StatusCause[] = [];
  for (const [key, value] of Object.entries(labels as Record<string, unknown>)) {
    const slash = key.indexOf("/");
    const namePart = slash >= 0 ? key.slice(slash + 1) : key;
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    if (
      namePart.length === 0 ||
      namePart.length > 63 ||
      !QUALIFIED_NAME.test(namePart) ||
      (prefix !== undefined && !DNS1123_SUBDOMAIN.test(prefix))
    ) {
      out.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
        field,
      });
    }
    if (typeof value === "string" && (value.length > 63 || !LABEL_VALUE.test(value))) {
      out.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
        field,
      });
    }
  }
  return out;
}

function metadataCauses(obj: KubeObject): StatusCause[] {
  return labelCauses(obj.metadata.labels, "metadata.labels");
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The volume sources in the order the API server's validateVolumeSource checks them, with the path it
 * names when a second one is set (its spelling, typos included: "cephFS", "downwarAPI").
 */
const VOLUME_SOURCES: readonly (readonly [field: string, forbiddenAs: string])[] = [
  ["emptyDir", "emptyDir"],
  ["hostPath", "hostPath"],
  ["gitRepo", "gitRepo"],
  ["gcePersistentDisk", "gcePersistentDisk"],
  ["awsElasticBlockStore", "awsElasticBlockStore"],
  ["secret", "secret"],
  ["nfs", "nfs"],
  ["iscsi", "iscsi"],
  ["glusterfs", "glusterfs"],
  ["flocker", "flocker"],
  ["persistentVolumeClaim", "persistentVolumeClaim"],
  ["rbd", "rbd"],
  ["cinder", "cinder"],
  ["cephfs", "cephFS"],
  ["quobyte", "quobyte"],
  ["downwardAPI", "downwarAPI"],
  ["fc", "fc"],
  ["flexVolume", "flexVolume"],
  ["configMap", "configMap"],
  ["azureFile", "azureFile"],
  ["vsphereVolume", "vsphereVolume"],
  ["photonPersistentDisk", "photonPersistentDisk"],
  ["portworxVolume", "portworxVolume"],
  ["azureDisk", "azureDisk"],
  ["storageos", "storageos"],
  ["projected", "projected"],
  ["scaleIO", "scaleIO"],
  ["csi", "csi"],
  ["ephemeral", "ephemeral"],
  ["image", "image"],
];

/** The volume source fields of a Volume, in the API server's order. */
export const VOLUME_SOURCE_FIELDS: readonly string[] = VOLUME_SOURCES.map(([f]) => f);

const FILE_MODE_MESSAGE = "must be a number between 0 and 0777 (octal), both inclusive";
const required = (field: string, detail = ""): StatusCause => ({
  reason: "FieldValueRequired",
  message: detail === "" ? "Required value" : `Required value: ${detail}`,
  field,
});
const invalidValue = (field: string, value: unknown, detail: string): StatusCause => ({
  reason: "FieldValueInvalid",
  message: `Invalid value: ${showValue(value)}: ${detail}`,
  field,
});
const isEmpty = (v: unknown): boolean => typeof v !== "string" || v === "";

/** validateLocalDescendingPath: relative, no ".." element. */
function descendingPathCauses(path: string, field: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (path.startsWith("/")) out.push(invalidValue(field, path, "must be a relative path"));
  if (path.split("/").includes("..")) out.push(invalidValue(field, path, "must not contain '..'"));
  return out;
}

/** ValidateLocalNonReservedPath: a descending path that does not start with "..". */
function nonReservedPathCauses(path: string, field: string): StatusCause[] {
  const out = descendingPathCauses(path, field);
  if (path.startsWith("..") && !path.startsWith("../"))
    out.push(invalidValue(field, path, "must not start with '..'"));
  return out;
}

function fileModeCauses(mode: unknown, field: string): StatusCause[] {
  return typeof mode === "number" && (mode < 0 || mode > 0o777)
    ? [invalidValue(field, mode, FILE_MODE_MESSAGE)]
    : [];
}

/** configMap / secret volume sources: name, defaultMode, items (validateKeyToPath). */
function projectionSourceCauses(src: Rec, at: string, nameField: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (isEmpty(src[nameField])) out.push(required(`${at}.${nameField}`));
  out.push(...fileModeCauses(src.defaultMode, `${at}.defaultMode`));
  arr(src.items).forEach((raw, i) => {
    const item = rec(raw);
    const itemAt = `${at}.items[${i}]`;
    if (isEmpty(item.key)) out.push(required(`${itemAt}.key`));
    if (isEmpty(item.path)) out.push(required(`${itemAt}.path`));
    out.push(...nonReservedPathCauses(typeof item.path === "string" ? item.path : "", `${itemAt}.path`));
    out.push(...fileModeCauses(item.mode, `${itemAt}.mode`));
  });
  return out;
}

function volumeSourceCauses(vol: Rec, at: string): StatusCause[] {
  const out: StatusCause[] = [];
  let count = 0;
  for (const [field, forbiddenAs] of VOLUME_SOURCES) {
    const src = vol[field];
    if (src === undefined || src === null) continue;
    if (count > 0) {
      out.push({
        reason: "FieldValueForbidden",
        message: "Forbidden: may not specify more than 1 volume type",
        field: `${at}.${forbiddenAs}`,
      });
      continue;
    }
    count++;
    const s = rec(src);
    if (field === "configMap") out.push(...projectionSourceCauses(s, `${at}.configMap`, "name"));
    else if (field === "secret") out.push(...projectionSourceCauses(s, `${at}.secret`, "secretName"));
    else if (field === "hostPath" && isEmpty(s.path)) out.push(required(`${at}.hostPath.path`));
    else if (field === "persistentVolumeClaim" && isEmpty(s.claimName))
      out.push(required(`${at}.persistentVolumeClaim.claimName`));
  }
  if (count === 0) out.push(required(at, "must specify a volume type"));
  return out;
}

/** ValidateVolumes: causes, and the names mounts may refer to (only volumes without errors count). */
function volumeCauses(spec: Rec, at: string): { causes: StatusCause[]; names: Set<string> } {
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  arr(spec.volumes).forEach((raw, i) => {
    const vol = rec(raw);
    const volAt = `${at}.volumes[${i}]`;
    const name = typeof vol.name === "string" ? vol.name : "";
    const errs = volumeSourceCauses(vol, volAt);
    if (name === "") errs.push(required(`${volAt}.name`));
    else
      for (const msg of nameErrors("dns1123Label", name)) errs.push(invalidValue(`${volAt}.name`, name, msg));
    if (names.has(name)) {
      errs.push({
        reason: "FieldValueDuplicate",
        message: `Duplicate value: ${showValue(name)}`,
        field: `${volAt}.name`,
      });
    }
    if (errs.length === 0) names.add(name);
    else causes.push(...errs);
  });
  return { causes, names };
}

/** ValidateVolumeMounts for one container. */
function volumeMountCauses(c: Rec, cAt: string, volumes: ReadonlySet<string>): StatusCause[] {
  const out: StatusCause[] = [];
  const mountPaths = new Set<string>();
  // The API server names subPath errors after the list, not the item (fldPath.Child("subPath")).
  const listAt = `${cAt}.volumeMounts`;
  arr(c.volumeMounts).forEach((raw, i) => {
    const m = rec(raw);
    const mAt = `${listAt}[${i}]`;
    const name = typeof m.name === "string" ? m.name : "";
    const mountPath = typeof m.mountPath === "string" ? m.mountPath : "";
    if (name === "") out.push(required(`${mAt}.name`));
    if (!volumes.has(name)) {
      out.push({
        reason: "FieldValueNotFound",
        message: `Not found: ${showValue(name)}`,
        field: `${mAt}.name`,
      });
    }
    if (mountPath === "") out.push(required(`${mAt}.mountPath`));
    if (mountPaths.has(mountPath)) out.push(invalidValue(`${mAt}.mountPath`, mountPath, "must be unique"));
    mountPaths.add(mountPath);
    const subPath = typeof m.subPath === "string" ? m.subPath : "";
    const subPathExpr = typeof m.subPathExpr === "string" ? m.subPathExpr : "";
    if (subPath !== "") out.push(...descendingPathCauses(subPath, `${listAt}.subPath`));
    if (subPathExpr !== "") {
      if (subPath !== "") {
        out.push(
          invalidValue(`${mAt}.subPathExpr`, subPathExpr, "subPathExpr and subPath are mutually exclusive"),
        );
      }
      out.push(...descendingPathCauses(subPathExpr, `${listAt}.subPathExpr`));
    }
  });
  return out;
}

/** validateContainerCommon: what regular and init containers share. */
function containerCommonCauses(c: Rec, cAt: string, volumes: ReadonlySet<string>): StatusCause[] {
  const out: StatusCause[] = [];
  const name = typeof c.name === "string" ? c.name : "";
  if (name === "") out.push(required(`${cAt}.name`));
  else for (const msg of nameErrors("dns1123Label", name)) out.push(invalidValue(`${cAt}.name`, name, msg));
  if (typeof c.image !== "string" || c.image.trim() === "") out.push(required(`${cAt}.image`));
  arr(c.ports).forEach((p, j) => {
    const port = rec(p).containerPort;
    if (typeof port === "number" && (port < 1 || port > 65535)) {
      out.push(
        invalidValue(`${cAt}.ports[${j}].containerPort`, port, "must be between 1 and 65535, inclusive"),
      );
    }
  });
  out.push(...volumeMountCauses(c, cAt, volumes));
  out.push(...resourceCauses(c, cAt));
  return out;
}

/** helper.IsOvercommitAllowed: native resources (no domain, or a kubernetes.io one) except hugepages. */
function overcommitAllowed(name: string): boolean {
  return (!name.includes("/") || name.includes("kubernetes.io/")) && !name.startsWith("hugepages-");
}

/**
 * ValidateResourceRequirements (pkg/apis/core/validation): quantities are non-negative, extended
 * resources (e.g. nvidia.com/gpu) whole numbers; a request may not exceed its limit, and for resources
 * that cannot be overcommitted it must equal it and a limit is required
 * (https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#extended-resources).
 */
function resourceCauses(c: Rec, cAt: string): StatusCause[] {
  const out: StatusCause[] = [];
  const resources = rec(c.resources);
  const limits = rec(resources.limits);
  const requests = rec(resources.requests);
  const amount = (q: unknown): number | undefined => {
    try {
      return typeof q === "string" || typeof q === "number" ? parseQuantity(q) : undefined;
    } catch {
      return undefined;
    }
  };
  const valueCauses = (name: string, q: unknown, field: string) => {
    const v = amount(q);
    if (v === undefined) return;
    if (v < 0) out.push(invalidValue(field, String(q), "must be greater than or equal to 0"));
    const extended = name.includes("/") && !name.includes("kubernetes.io/") && !name.startsWith("requests.");
    if (extended && Math.round(v * 1000) % 1000 !== 0)
      out.push(invalidValue(field, String(q), "must be an integer"));
  };
  for (const [name, q] of Object.entries(limits)) valueCauses(name, q, `${cAt}.resources.limits[${name}]`);
  for (const [name, q] of Object.entries(requests)) {
    const field = `${cAt}.resources.requests[${name}]`;
    valueCauses(name, q, field);
    const request = amount(q);
    const limit = amount(limits[name]);
    if (limits[name] !== undefined) {
      if (request === undefined || limit === undefined) continue;
      if (request !== limit && !overcommitAllowed(name)) {
        out.push(invalidValue(field, String(q), `must be equal to ${name} limit of ${String(limits[name])}`));
      } else if (request > limit) {
        out.push(
          invalidValue(
            field,
            String(q),
            `must be less than or equal to ${name} limit of ${String(limits[name])}`,
          ),
        );
      }
    } else if (!overcommitAllowed(name)) {
      out.push(
        required(`${cAt}.resources.limits[${name}]`, "Limit must be set for non overcommitable resources"),
      );
    }
  }
  return out;
}

const NEGATIVE = "must be greater than or equal to 0";
const forbidden = (field: string, detail: string): StatusCause => ({
  reason: "FieldValueForbidden",
  message: `Forbidden: ${detail}`,
  field,
});

function portCauses(port: unknown, field: string): StatusCause[] {
  return typeof port === "number" && (port < 1 || port > 65535)
    ? [invalidValue(field, port, "must be between 1 and 65535, inclusive")]
    : [];
}

/**
 * validateHandler: exactly one handler type, each checked (exec needs a command, ports in range). A
 * `sleep` action (lifecycle hooks only; PodLifecycleSleepAction, on by default since 1.30) must last more
 * than 0 and at most terminationGracePeriodSeconds seconds: PodLifecycleSleepActionAllowZero is alpha and
 * off in 1.32, so 0 is refused, with the 1.32 server's message. Without a grace period (a spec that was not
 * defaulted) the sleep is not checked, as the real validation skips it.
 */
function handlerCauses(
  h: Rec,
  at: string,
  types: readonly string[],
  grace: number | undefined,
): StatusCause[] {
  const out: StatusCause[] = [];
  let count = 0;
  for (const type of types) {
    if (h[type] === undefined || h[type] === null) continue;
    if (count > 0) {
      out.push(forbidden(`${at}.${type}`, "may not specify more than 1 handler type"));
      continue;
    }
    count++;
    const a = rec(h[type]);
    if (type === "exec" && arr(a.command).length === 0) out.push(required(`${at}.exec.command`));
    if (type === "httpGet" || type === "tcpSocket" || type === "grpc")
      out.push(...portCauses(a.port, `${at}.${type}.port`));
    if (type === "sleep" && grace !== undefined && typeof a.seconds === "number") {
      if (a.seconds <= 0 || a.seconds > grace) {
        out.push(
          invalidValue(
            `${at}.sleep`,
            a.seconds,
            `must be greater than 0 and less than terminationGracePeriodSeconds (${grace}). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.`,
          ),
        );
      }
    }
  }
  if (count === 0) out.push(required(at, "must specify a handler type"));
  return out;
}

const PROBE_HANDLERS = ["exec", "httpGet", "tcpSocket", "grpc"] as const;
const LIFECYCLE_HANDLERS = ["exec", "httpGet", "tcpSocket", "sleep"] as const;

/** validateLifecycle and validate{Liveness,Readiness,Startup}Probe, for containers that may have them. */
function lifecycleAndProbeCauses(c: Rec, cAt: string, grace: number | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  const lifecycle = rec(c.lifecycle);
  for (const hook of ["postStart", "preStop"]) {
    if (lifecycle[hook] === undefined || lifecycle[hook] === null) continue;
    out.push(...handlerCauses(rec(lifecycle[hook]), `${cAt}.lifecycle.${hook}`, LIFECYCLE_HANDLERS, grace));
  }
  for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    if (c[kind] === undefined || c[kind] === null) continue;
    const probe = rec(c[kind]);
    const at = `${cAt}.${kind}`;
    out.push(...handlerCauses(probe, at, PROBE_HANDLERS, grace));
    for (const f of [
      "initialDelaySeconds",
      "timeoutSeconds",
      "periodSeconds",
      "successThreshold",
      "failureThreshold",
    ]) {
      const v = probe[f];
      if (typeof v === "number" && v < 0) out.push(invalidValue(`${at}.${f}`, v, NEGATIVE));
    }
    const tgps = probe.terminationGracePeriodSeconds;
    if (typeof tgps === "number" && tgps <= 0)
      out.push(invalidValue(`${at}.terminationGracePeriodSeconds`, tgps, "must be greater than 0"));
    if (kind !== "readinessProbe" && probe.successThreshold !== undefined && probe.successThreshold !== 1)
      out.push(invalidValue(`${at}.successThreshold`, probe.successThreshold, "must be 1"));
    if (kind === "readinessProbe" && tgps !== undefined && tgps !== null)
      out.push(
        invalidValue(`${at}.terminationGracePeriodSeconds`, tgps, "must not be set for readinessProbes"),
      );
  }
  return out;
}

function podSpecCauses(spec: Rec, at: string, restartAlways: boolean): StatusCause[] {
  const { causes: out, names: volumes } = volumeCauses(spec, at);
  const grace =
    typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : undefined;
  const containers = arr(spec.containers);
  if (containers.length === 0) out.push(required(`${at}.containers`));
  const names = new Set<string>();
  containers.forEach((raw, i) => {
    const c = rec(raw);
    const cAt = `${at}.containers[${i}]`;
    out.push(...containerCommonCauses(c, cAt, volumes));
    const name = typeof c.name === "string" ? c.name : "";
    if (names.has(name)) {
      out.push({
        reason: "FieldValueDuplicate",
        message: `Duplicate value: ${showValue(name)}`,
        field: `${cAt}.name`,
      });
    }
    names.add(name);
    out.push(...lifecycleAndProbeCauses(c, cAt, grace));
    if (c.restartPolicy !== undefined && c.restartPolicy !== null) {
      out.push({
        reason: "FieldValueForbidden",
        message: "Forbidden: may not be set for non-init containers",
        field: `${cAt}.restartPolicy`,
      });
    }
  });
  // Init container names must be unique across init and regular containers.
  arr(spec.initContainers).forEach((raw, i) => {
    const c = rec(raw);
    const cAt = `${at}.initContainers[${i}]`;
    out.push(...containerCommonCauses(c, cAt, volumes));
    const sidecar = c.restartPolicy === "Always";
    if (c.restartPolicy !== undefined && c.restartPolicy !== null && !sidecar) {
      out.push({
        reason: "FieldValueNotSupported",
        message: `Unsupported value: ${showValue(c.restartPolicy)}: supported values: "Always"`,
        field: `${cAt}.restartPolicy`,
      });
    }
    const name = typeof c.name === "string" ? c.name : "";
    if (names.has(name)) {
      out.push({
        reason: "FieldValueDuplicate",
        message: `Duplicate value: ${showValue(name)}`,
        field: `${cAt}.name`,
      });
    } else if (name !== "") names.add(name);
    if (sidecar) out.push(...lifecycleAndProbeCauses(c, cAt, grace));
    if (!sidecar) {
      for (const field of ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"]) {
        if (c[field] === undefined || c[field] === null) continue;
        out.push({
          reason: "FieldValueForbidden",
          message: "Forbidden: may not be set for init containers without restartPolicy=Always",
          field: `${cAt}.${field}`,
        });
      }
    }
  });
  if (restartAlways && spec.restartPolicy !== undefined && spec.restartPolicy !== "Always") {
    out.push({
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${showValue(spec.restartPolicy)}: supported values: "Always"`,
      field: `${at}.restartPolicy`,
    });
  }
  return out;
}

function workloadCauses(k: ResourceKind, obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = rec(obj.spec);
  if (typeof spec.replicas === "number" && spec.replicas < 0) {
    out.push({
      reason: "FieldValueInvalid",
      message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0`,
      field: "spec.replicas",
    });
  }
  const selector = spec.selector;
  const template = rec(spec.template);
  const templateLabels = rec(rec(template.metadata).labels) as Record<string, string>;
  if (selector === undefined || selector === null) {
    out.push({ reason: "FieldValueRequired", message: "Required value", field: "spec.selector" });
  } else {
    const sel = rec(selector);
    if (Object.keys(rec(sel.matchLabels)).length === 0 && arr(sel.matchExpressions).length === 0) {
      out.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(sel)}: empty selector is invalid for deployment`,
        field: "spec.selector",
      });
    } else if (!matchesStructuredSelector(sel, templateLabels)) {
      out.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(templateLabels)}: \`selector\` does not match template \`labels\``,
        field: "spec.template.metadata.labels",
      });
    }
    if (old !== undefined && !deepEqual(rec(old.spec).selector, selector)) {
      out.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(sel)}: field is immutable`,
        field: "spec.selector",
      });
    }
  }
  out.push(...labelCauses(rec(template.metadata).labels, "spec.template.metadata.labels"));
  out.push(...podSpecCauses(rec(template.spec), "spec.template.spec", true));
  if (k.kind === "Deployment") {
    const strategy = rec(spec.strategy);
    if (strategy.type === "Recreate" && strategy.rollingUpdate !== undefined) {
      out.push({
        reason: "FieldValueForbidden",
        message: "Forbidden: may not be specified when strategy `type` is 'Recreate'",
        field: "spec.strategy.rollingUpdate",
      });
    }
    const ru = rec(strategy.rollingUpdate);
    if (isZero(ru.maxSurge) && isZero(ru.maxUnavailable) && strategy.type === "RollingUpdate") {
      out.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${showValue(ru.maxUnavailable)}: may not be 0 when \`maxSurge\` is 0`,
        field: "spec.strategy.rollingUpdate.maxUnavailable",
      });
    }
  }
  return out;
}

function isZero(v: unknown): boolean {
  return v === 0 || v === "0%" || v === "0";
}

function kindCauses(k: ResourceKind, obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const spec = rec(obj.spec);
  switch (k.kind) {
    case "Deployment":
    case "ReplicaSet":
      return workloadCauses(k, obj, old);
    case "Pod": {
      const out = podSpecCauses(spec, "spec", false);
      if (old !== undefined && !deepEqual(withoutImages(old.spec), withoutImages(obj.spec))) {
        out.push({
          reason: "FieldValueForbidden",
          message:
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
          field: "spec",
        });
      }
      return out;
    }
    case "Service": {
      const out: StatusCause[] = [];
      const ports = arr(spec.ports);
      const headless = spec.clusterIP === "None" || spec.type === "ExternalName";
      if (ports.length === 0 && !headless)
        out.push({ reason: "FieldValueRequired", message: "Required value", field: "spec.ports" });
      ports.forEach((p, i) => {
        const port = rec(p);
        if (ports.length > 1 && (typeof port.name !== "string" || port.name === "")) {
          out.push({
            reason: "FieldValueRequired",
            message: "Required value",
            field: `spec.ports[${i}].name`,
          });
        }
        if (typeof port.port === "number" && (port.port < 1 || port.port > 65535)) {
          out.push({
            reason: "FieldValueInvalid",
            message: `Invalid value: ${port.port}: must be between 1 and 65535, inclusive`,
            field: `spec.ports[${i}].port`,
          });
        }
      });
      if (old !== undefined) {
        const was = rec(old.spec).clusterIP;
        if (was !== undefined && spec.clusterIP !== was) {
          out.push({
            reason: "FieldValueInvalid",
            message: `Invalid value: ${showValue(spec.clusterIP)}: field is immutable`,
            field: "spec.clusterIPs[0]",
          });
        }
      }
      out.push(...labelCauses(spec.selector, "spec.selector"));
      return out;
    }
    case "HorizontalPodAutoscaler": {
      const out: StatusCause[] = [];
      const min = typeof spec.minReplicas === "number" ? spec.minReplicas : 1;
      if (typeof spec.maxReplicas === "number" && spec.maxReplicas < 1) {
        out.push({
          reason: "FieldValueInvalid",
          message: `Invalid value: ${spec.maxReplicas}: must be greater than or equal to 1`,
          field: "spec.maxReplicas",
        });
      }
      if (typeof spec.maxReplicas === "number" && spec.maxReplicas < min) {
        out.push({
          reason: "FieldValueInvalid",
          message: `Invalid value: ${spec.maxReplicas}: must be greater than or equal to \`minReplicas\``,
          field: "spec.maxReplicas",
        });
      }
      return out;
    }
    case "PodDisruptionBudget":
      if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined) {
        return [
          {
            reason: "FieldValueInvalid",
            message: `Invalid value: ${showValue(spec)}: minAvailable and maxUnavailable cannot be both set`,
            field: "spec",
          },
        ];
      }
      return [];
    case "ConfigMap":
    case "Secret": {
      const out: StatusCause[] = k.kind === "Secret" ? secretTypeCauses(obj) : [];
      for (const field of ["data", "binaryData"]) {
        for (const key of Object.keys(rec(obj[field]))) {
          if (!/^[-._a-zA-Z0-9]+$/.test(key) || key.length > 253) {
            out.push({
              reason: "FieldValueInvalid",
              message: `Invalid value: ${showValue(key)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
              field: `${field}[${key}]`,
            });
          }
        }
      }
      return out;
    }
    default:
      return [];
  }
}

/**
 * ValidateSecret's checks for the registry credential types: the key must be there and hold JSON (the
 * value is never echoed). A pull secret the kubelet could not read is refused here, as the real server does.
 */
function secretTypeCauses(obj: KubeObject): StatusCause[] {
  const type = (obj as Rec).type;
  const key =
    type === "kubernetes.io/dockerconfigjson"
      ? ".dockerconfigjson"
      : type === "kubernetes.io/dockercfg"
        ? ".dockercfg"
        : undefined;
  if (key === undefined) return [];
  const value = rec((obj as Rec).data)[key];
  if (typeof value !== "string") return [required(`data[${key}]`)];
  const detail = jsonMapError(Buffer.from(value, "base64").toString("utf8"));
  return detail === undefined ? [] : [invalidValue(`data[${key}]`, "<secret contents redacted>", detail)];
}

/**
 * Why Go's json.Unmarshal into a map would fail on `text`, in its words for the common cases, and never
 * quoting the text (it is a credential): undefined when it would succeed (an object, or null).
 */
function jsonMapError(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const first = text.trimStart()[0];
    if (first === undefined) return "unexpected end of JSON input";
    if (!/[{["tfn0-9-]/.test(first)) return `invalid character '${first}' looking for beginning of value`;
    return "invalid JSON";
  }
  if (parsed === null || (typeof parsed === "object" && !Array.isArray(parsed))) return undefined;
  const kind = Array.isArray(parsed) ? "array" : typeof parsed === "boolean" ? "bool" : typeof parsed;
  return `json: cannot unmarshal ${kind} into Go value of type map[string]interface {}`;
}

function withoutImages(spec: unknown): unknown {
  const copy = structuredClone(rec(spec));
  for (const list of ["containers", "initContainers"]) {
    for (const c of arr(copy[list])) delete rec(c).image;
  }
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  return copy;
}

// ---- defaulting ------------------------------------------------------------------------------------

function setDefault(o: Rec, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

function defaultContainer(c: Rec): void {
  const image = typeof c.image === "string" ? c.image : "";
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const tagged = lastSegment.includes(":") && !lastSegment.endsWith(":latest");
  setDefault(c, "imagePullPolicy", image.includes("@") || tagged ? "IfNotPresent" : "Always");
  setDefault(c, "terminationMessagePath", "/dev/termination-log");
  setDefault(c, "terminationMessagePolicy", "File");
  setDefault(c, "resources", {});
  for (const p of arr(c.ports)) setDefault(rec(p), "protocol", "TCP");
  // SetDefaults_Probe (a 0 counts as unset) and SetDefaults_HTTPGetAction, for probes and hooks alike.
  const httpGet = (h: Rec) => {
    if (h.httpGet === undefined || h.httpGet === null) return;
    const g = rec(h.httpGet);
    if (g.path === undefined || g.path === "") g.path = "/";
    if (g.scheme === undefined || g.scheme === "") g.scheme = "HTTP";
  };
  for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    if (c[kind] === undefined || c[kind] === null) continue;
    const probe = rec(c[kind]);
    for (const [f, v] of [
      ["timeoutSeconds", 1],
      ["periodSeconds", 10],
      ["successThreshold", 1],
      ["failureThreshold", 3],
    ] as const) {
      if (probe[f] === undefined || probe[f] === null || probe[f] === 0) probe[f] = v;
    }
    httpGet(probe);
  }
  const lifecycle = rec(c.lifecycle);
  for (const hook of ["postStart", "preStop"]) if (lifecycle[hook]) httpGet(rec(lifecycle[hook]));
}

function defaultPodSpec(spec: Rec): void {
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "schedulerName", "default-scheduler");
  setDefault(spec, "securityContext", {});
  for (const list of ["containers", "initContainers"])
    for (const c of arr(spec[list])) defaultContainer(rec(c));
}

/**
 * A Pod's container requests default to its limits where only limits are set (SetDefaults_Pod in
 * pkg/apis/core/v1/defaults.go; Pods only, never templates), so a limits-only `nvidia.com/gpu: 1` is
 * requested too: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits
 */
function defaultRequestsToLimits(spec: Rec): void {
  for (const list of ["containers", "initContainers"]) {
    for (const raw of arr(spec[list])) {
      const resources = rec(rec(raw).resources);
      if (resources.limits === undefined || resources.limits === null) continue;
      const requests = { ...rec(resources.requests) };
      for (const [name, value] of Object.entries(rec(resources.limits)))
        if (requests[name] === undefined) requests[name] = value;
      resources.requests = requests;
    }
  }
}

function defaultFromSchema(schema: JsonSchema, value: unknown): void {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    if (schema.items) for (const v of value) defaultFromSchema(schema.items, v);
    return;
  }
  const o = value as Rec;
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    if (o[key] === undefined && sub.default !== undefined) o[key] = structuredClone(sub.default);
    if (o[key] !== undefined) defaultFromSchema(sub, o[key]);
  }
}

/** The defaults the real API server fills in on every write (so later diffs and SSA see them). */
export function applyDefaults(k: ResourceKind, obj: KubeObject, old: KubeObject | undefined): void {
  const spec = obj.spec === undefined ? undefined : rec(obj.spec);
  switch (k.kind) {
    case "Namespace":
      obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name };
      obj.spec = { finalizers: ["kubernetes"], ...rec(obj.spec) };
      break;
    case "Deployment":
      if (spec) {
        setDefault(spec, "replicas", 1);
        setDefault(spec, "revisionHistoryLimit", 10);
        setDefault(spec, "progressDeadlineSeconds", 600);
        setDefault(spec, "strategy", {});
        const strategy = rec(spec.strategy);
        setDefault(strategy, "type", "RollingUpdate");
        if (strategy.type === "RollingUpdate") {
          setDefault(strategy, "rollingUpdate", {});
          const ru = rec(strategy.rollingUpdate);
          setDefault(ru, "maxUnavailable", "25%");
          setDefault(ru, "maxSurge", "25%");
        }
        defaultPodSpec(rec(rec(spec.template).spec));
      }
      break;
    case "ReplicaSet":
      if (spec) {
        setDefault(spec, "replicas", 1);
        defaultPodSpec(rec(rec(spec.template).spec));
      }
      break;
    case "Pod":
      if (spec) {
        defaultPodSpec(spec);
        defaultRequestsToLimits(spec);
      }
      if (old === undefined) obj.status = { phase: "Pending", qosClass: "BestEffort", ...rec(obj.status) };
      break;
    case "Service":
      if (spec) {
        setDefault(spec, "type", "ClusterIP");
        setDefault(spec, "sessionAffinity", "None");
        if (spec.type !== "ExternalName") {
          setDefault(spec, "ipFamilies", ["IPv4"]);
          setDefault(spec, "ipFamilyPolicy", "SingleStack");
          setDefault(spec, "internalTrafficPolicy", "Cluster");
        }
        for (const p of arr(spec.ports)) {
          const port = rec(p);
          setDefault(port, "protocol", "TCP");
          setDefault(port, "targetPort", port.port);
        }
        const was = old === undefined ? undefined : rec(old.spec);
        if (was?.clusterIP !== undefined && spec.clusterIP === undefined) {
          spec.clusterIP = was.clusterIP;
          spec.clusterIPs = was.clusterIPs;
        }
      }
      if (obj.status === undefined) obj.status = { loadBalancer: {} };
      break;
    case "Secret": {
      setDefault(obj as Rec, "type", "Opaque");
      // stringData is write-only: the server folds it into data and never stores it.
      const stringData = rec(obj.stringData);
      if (obj.stringData !== undefined) {
        const data = rec(obj.data);
        for (const [key, v] of Object.entries(stringData))
          data[key] = Buffer.from(String(v)).toString("base64");
        obj.data = data;
        delete obj.stringData;
      }
      break;
    }
    case "HorizontalPodAutoscaler":
      if (spec) setDefault(spec, "minReplicas", 1);
      break;
    case "Gateway":
    case "HTTPRoute":
      defaultFromSchema(crdSchema(k), obj);
      break;
  }
}

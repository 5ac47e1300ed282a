// Decodes the Kubernetes protobuf bodies kubectl's typed generators send (`kubectl create namespace`,
// `create secret`, `create configmap`, `create serviceaccount`, `create role`/`rolebinding`/
// `clusterrole`/`clusterrolebinding`) into the JSON object the real server would have decoded, so they
// go through the same create path as JSON. The envelope is the one in
// https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding: the magic
// `k8s\x00`, then a runtime.Unknown {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2,
// contentEncoding = 3, contentType = 4}, raw holding the object itself.
//
// protobufjs (declared as a devDependency; the Docker client's gRPC stack installs it anyway) reads the
// wire format; the field tables below are written by hand from the field numbers in the published
// generated.proto files (k8s.io/api/core/v1, rbac/v1, authentication/v1 and
// k8s.io/apimachinery/pkg/apis/meta/v1), which are the `protobuf:"…,N,…"` tags of the Go types. Only the kinds in TYPES decode; a field number a table
// does not know is refused rather than dropped, so nothing a client sent is silently lost.

import protobuf from "protobufjs/minimal.js";

type Scalar = "string" | "bytes" | "bool" | "int32" | "int64";

type Field =
  | { readonly name: string; readonly type: Scalar; readonly repeated?: boolean }
  | {
      readonly name: string;
      readonly type: "message";
      readonly message: Message;
      readonly repeated?: boolean;
    }
  | { readonly name: string; readonly type: "map"; readonly value: "string" | "bytes" }
  | { readonly name: string; readonly type: "time" };

interface Message {
  readonly name: string;
  readonly fields: Readonly<Record<number, Field>>;
}

export class UndecodableProtobuf extends Error {}

// ---- k8s.io/apimachinery/pkg/apis/meta/v1 --------------------------------------------------------

const OWNER_REFERENCE: Message = {
  name: "OwnerReference",
  fields: {
    1: { name: "kind", type: "string" },
    3: { name: "name", type: "string" },
    4: { name: "uid", type: "string" },
    5: { name: "apiVersion", type: "string" },
    6: { name: "controller", type: "bool" },
    7: { name: "blockOwnerDeletion", type: "bool" },
  },
};

const OBJECT_META: Message = {
  name: "ObjectMeta",
  fields: {
    1: { name: "name", type: "string" },
    2: { name: "generateName", type: "string" },
    3: { name: "namespace", type: "string" },
    4: { name: "selfLink", type: "string" },
    5: { name: "uid", type: "string" },
    6: { name: "resourceVersion", type: "string" },
    7: { name: "generation", type: "int64" },
    8: { name: "creationTimestamp", type: "time" },
    9: { name: "deletionTimestamp", type: "time" },
    10: { name: "deletionGracePeriodSeconds", type: "int64" },
    11: { name: "labels", type: "map", value: "string" },
    12: { name: "annotations", type: "map", value: "string" },
    13: { name: "ownerReferences", type: "message", message: OWNER_REFERENCE, repeated: true },
    14: { name: "finalizers", type: "string", repeated: true },
  },
};

const LABEL_SELECTOR: Message = {
  name: "LabelSelector",
  fields: {
    1: { name: "matchLabels", type: "map", value: "string" },
    2: {
      name: "matchExpressions",
      type: "message",
      repeated: true,
      message: {
        name: "LabelSelectorRequirement",
        fields: {
          1: { name: "key", type: "string" },
          2: { name: "operator", type: "string" },
          3: { name: "values", type: "string", repeated: true },
        },
      },
    },
  },
};

const metadata: Field = { name: "metadata", type: "message", message: OBJECT_META };

// ---- k8s.io/api/core/v1 ----------------------------------------------------------------------------

const NAMESPACE: Message = {
  name: "Namespace",
  fields: {
    1: metadata,
    2: {
      name: "spec",
      type: "message",
      message: {
        name: "NamespaceSpec",
        fields: { 1: { name: "finalizers", type: "string", repeated: true } },
      },
    },
    3: {
      name: "status",
      type: "message",
      message: { name: "NamespaceStatus", fields: { 1: { name: "phase", type: "string" } } },
    },
  },
};

const SECRET: Message = {
  name: "Secret",
  fields: {
    1: metadata,
    2: { name: "data", type: "map", value: "bytes" },
    3: { name: "type", type: "string" },
    4: { name: "stringData", type: "map", value: "string" },
    5: { name: "immutable", type: "bool" },
  },
};

const CONFIG_MAP: Message = {
  name: "ConfigMap",
  fields: {
    1: metadata,
    2: { name: "data", type: "map", value: "string" },
    3: { name: "binaryData", type: "map", value: "bytes" },
    4: { name: "immutable", type: "bool" },
  },
};

const OBJECT_REFERENCE: Message = {
  name: "ObjectReference",
  fields: {
    1: { name: "kind", type: "string" },
    2: { name: "namespace", type: "string" },
    3: { name: "name", type: "string" },
    4: { name: "uid", type: "string" },
    5: { name: "apiVersion", type: "string" },
    6: { name: "resourceVersion", type: "string" },
    7: { name: "fieldPath", type: "string" },
  },
};

const SERVICE_ACCOUNT: Message = {
  name: "ServiceAccount",
  fields: {
    1: metadata,
    2: { name: "secrets", type: "message", message: OBJECT_REFERENCE, repeated: true },
    3: {
      name: "imagePullSecrets",
      type: "message",
      repeated: true,
      message: { name: "LocalObjectReference", fields: { 1: { name: "name", type: "string" } } },
    },
    4: { name: "automountServiceAccountToken", type: "bool" },
  },
};

// ---- k8s.io/api/rbac/v1 ----------------------------------------------------------------------------

const POLICY_RULE: Message = {
  name: "PolicyRule",
  fields: {
    // rbac/v1 numbers (v1beta1 kept 2 for the old attributeRestrictions and shifts the rest by one).
    1: { name: "verbs", type: "string", repeated: true },
    2: { name: "apiGroups", type: "string", repeated: true },
    3: { name: "resources", type: "string", repeated: true },
    4: { name: "resourceNames", type: "string", repeated: true },
    5: { name: "nonResourceURLs", type: "string", repeated: true },
  },
};

const SUBJECT: Message = {
  name: "Subject",
  fields: {
    1: { name: "kind", type: "string" },
    2: { name: "apiGroup", type: "string" },
    3: { name: "name", type: "string" },
    4: { name: "namespace", type: "string" },
  },
};

const ROLE_REF: Message = {
  name: "RoleRef",
  fields: {
    1: { name: "apiGroup", type: "string" },
    2: { name: "kind", type: "string" },
    3: { name: "name", type: "string" },
  },
};

const ROLE: Message = {
  name: "Role",
  fields: { 1: metadata, 2: { name: "rules", type: "message", message: POLICY_RULE, repeated: true } },
};

const CLUSTER_ROLE: Message = {
  name: "ClusterRole",
  fields: {
    1: metadata,
    2: { name: "rules", type: "message", message: POLICY_RULE, repeated: true },
    3: {
      name: "aggregationRule",
      type: "message",
      message: {
        name: "AggregationRule",
        fields: {
          1: { name: "clusterRoleSelectors", type: "message", message: LABEL_SELECTOR, repeated: true },
        },
      },
    },
  },
};

const BINDING_FIELDS = {
  1: metadata,
  2: { name: "subjects", type: "message", message: SUBJECT, repeated: true },
  3: { name: "roleRef", type: "message", message: ROLE_REF },
} as const satisfies Record<number, Field>;

// ---- k8s.io/api/authentication/v1 (kubectl create token) ---------------------------------------------

const TOKEN_REQUEST: Message = {
  name: "TokenRequest",
  fields: {
    1: metadata,
    2: {
      name: "spec",
      type: "message",
      message: {
        name: "TokenRequestSpec",
        fields: {
          1: { name: "audiences", type: "string", repeated: true },
          3: {
            name: "boundObjectRef",
            type: "message",
            message: {
              name: "BoundObjectReference",
              fields: {
                1: { name: "kind", type: "string" },
                2: { name: "apiVersion", type: "string" },
                3: { name: "name", type: "string" },
                4: { name: "uid", type: "string" },
              },
            },
          },
          4: { name: "expirationSeconds", type: "int64" },
        },
      },
    },
    3: {
      name: "status",
      type: "message",
      message: {
        name: "TokenRequestStatus",
        fields: { 1: { name: "token", type: "string" }, 2: { name: "expirationTimestamp", type: "time" } },
      },
    },
  },
};

/** The kinds this server decodes from protobuf, by apiVersion/kind. */
const TYPES: Readonly<Record<string, Message>> = {
  "v1/Namespace": NAMESPACE,
  "v1/Secret": SECRET,
  "v1/ConfigMap": CONFIG_MAP,
  "v1/ServiceAccount": SERVICE_ACCOUNT,
  "rbac.authorization.k8s.io/v1/Role": ROLE,
  "rbac.authorization.k8s.io/v1/ClusterRole": CLUSTER_ROLE,
  "rbac.authorization.k8s.io/v1/RoleBinding": { name: "RoleBinding", fields: BINDING_FIELDS },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": { name: "ClusterRoleBinding", fields: BINDING_FIELDS },
  "authentication.k8s.io/v1/TokenRequest": TOKEN_REQUEST,
};

export function decodesProtobuf(apiVersion: string, kind: string): boolean {
  return TYPES[`${apiVersion}/${kind}`] !== undefined;
}

// ---- the wire ----------------------------------------------------------------------------------------

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

function int64(r: protobuf.Reader): number {
  return Number(r.int64().toString());
}

function readScalar(r: protobuf.Reader, type: Scalar): unknown {
  switch (type) {
    case "string":
      return r.string();
    case "bytes":
      return Buffer.from(r.bytes()).toString("base64");
    case "bool":
      return r.bool();
    case "int32":
      return r.int32();
    case "int64":
      return int64(r);
  }
}

/** metav1.Time {seconds = 1, nanos = 2} as the RFC 3339 string its JSON form is; the zero time is absent. */
function readTime(bytes: Uint8Array): string | undefined {
  const r = protobuf.Reader.create(bytes);
  let seconds = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) seconds = int64(r);
    else r.skipType(tag & 7);
  }
  return seconds === 0 ? undefined : `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`;
}

function readMapEntry(bytes: Uint8Array, value: "string" | "bytes"): [string, string] {
  const r = protobuf.Reader.create(bytes);
  let k = "";
  let v = "";
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) k = r.string();
    else if (tag >>> 3 === 2) v = value === "string" ? r.string() : Buffer.from(r.bytes()).toString("base64");
    else r.skipType(tag & 7);
  }
  return [k, v];
}

/**
 * One message as its Go type marshals to JSON: gogo-protobuf writes non-pointer fields even when empty,
 * and those zero values are what `omitempty` leaves out of the JSON, so empty strings, false and 0 are
 * dropped; empty nested messages stay (Go marshals a struct field as `{}`).
 */
function readMessage(bytes: Uint8Array, message: Message): Record<string, unknown> {
  const r = protobuf.Reader.create(bytes);
  const out: Record<string, unknown> = {};
  while (r.pos < r.len) {
    const tag = r.uint32();
    const number = tag >>> 3;
    const field = message.fields[number];
    if (field === undefined) {
      throw new UndecodableProtobuf(`field ${number} of ${message.name} is not decoded by this test server`);
    }
    let value: unknown;
    if (field.type === "message") value = readMessage(r.bytes(), field.message);
    else if (field.type === "time") value = readTime(r.bytes());
    else if (field.type === "map") {
      const [k, v] = readMapEntry(r.bytes(), field.value);
      const map = (out[field.name] ?? {}) as Record<string, string>;
      map[k] = v;
      out[field.name] = map;
      continue;
    } else value = readScalar(r, field.type);
    if ("repeated" in field && field.repeated) {
      out[field.name] = [...((out[field.name] as unknown[] | undefined) ?? []), value];
    } else if (value !== undefined && value !== "" && value !== false && value !== 0) {
      out[field.name] = value;
    }
  }
  return out;
}

/**
 * The object in a `k8s\x00` protobuf body, as JSON would have carried it (apiVersion and kind from the
 * envelope's TypeMeta). Throws UndecodableProtobuf for a body that is not such an envelope, for kinds
 * outside TYPES, and for fields the tables do not know.
 */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new UndecodableProtobuf("the protobuf body does not start with the k8s\\x00 envelope");
  }
  const r = protobuf.Reader.create(body.subarray(MAGIC.length));
  let apiVersion = "";
  let kind = "";
  let raw: Uint8Array = new Uint8Array();
  let contentEncoding = "";
  let contentType = "";
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      switch (tag >>> 3) {
        case 1: {
          const tm = protobuf.Reader.create(r.bytes());
          while (tm.pos < tm.len) {
            const t = tm.uint32();
            if (t >>> 3 === 1) apiVersion = tm.string();
            else if (t >>> 3 === 2) kind = tm.string();
            else tm.skipType(t & 7);
          }
          break;
        }
        case 2:
          raw = r.bytes();
          break;
        case 3:
          contentEncoding = r.string();
          break;
        case 4:
          contentType = r.string();
          break;
        default:
          r.skipType(tag & 7);
      }
    }
    if (
      contentEncoding !== "" ||
      (contentType !== "" && contentType !== "application/vnd.kubernetes.protobuf")
    ) {
      throw new UndecodableProtobuf(
        `runtime.Unknown with contentEncoding "${contentEncoding}", contentType "${contentType}"`,
      );
    }
    const message = TYPES[`${apiVersion}/${kind}`];
    if (message === undefined)
      throw new UndecodableProtobuf(`${apiVersion}/${kind} is not decoded from protobuf here`);
    return { apiVersion, kind, ...readMessage(raw, message) };
  } catch (e) {
    if (e instanceof UndecodableProtobuf) throw e;
    // protobufjs throws RangeError on truncated input.
    throw new UndecodableProtobuf(`malformed protobuf: ${(e as Error).message}`);
  }
}

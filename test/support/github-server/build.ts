// Answers built to the description's response schemas: the fields the server knows (an overlay) are
// kept, every other required field is filled from the schema (its enum, default or example when they
// fit, a placeholder of the right type and format otherwise), so an answer has every field GitHub's
// would have and the server need only state what its behaviour decides.
import type { Schema } from "./openapi.js";

const PLACEHOLDER_TIME = "2024-01-01T00:00:00Z";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeOf(schema: Schema): string | undefined {
  const t = schema.type;
  if (typeof t === "string") return t;
  if (schema.properties) return "object";
  return undefined;
}

function mergeAllOf(schema: Schema): Schema {
  const all = schema.allOf as Schema[] | undefined;
  if (!all) return schema;
  const properties: Record<string, Schema> = {};
  const required = new Set<string>();
  for (const part of all.map(mergeAllOf)) {
    Object.assign(properties, part.properties ?? {});
    for (const r of (part.required as string[] | undefined) ?? []) required.add(r);
  }
  const { allOf: _drop, ...rest } = schema;
  return {
    ...rest,
    type: "object",
    properties: { ...properties, ...((rest.properties as object) ?? {}) },
    required: [...required],
  };
}

function pickBranch(schema: Schema, overlay: unknown): Schema {
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (!branches) return schema;
  const want =
    overlay === undefined
      ? undefined
      : isObject(overlay)
        ? "object"
        : Array.isArray(overlay)
          ? "array"
          : typeof overlay;
  const found =
    branches.find((b) => {
      const t = typeOf(mergeAllOf(b));
      return want === undefined || t === want || (want === "number" && t === "integer");
    }) ?? branches[0];
  return found ?? {};
}

function placeholder(schema: Schema): unknown {
  if (schema.nullable === true) return null;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  switch (typeOf(schema)) {
    case "string":
      if (schema.format === "date-time") return PLACEHOLDER_TIME;
      if (schema.format === "uri") return "https://github.test/placeholder";
      if (schema.format === "repo.nwo") return "octo/placeholder";
      return typeof schema.example === "string" && !schema.format ? schema.example : "placeholder";
    case "integer":
      return Number.isInteger(schema.example) ? schema.example : 1;
    case "number":
      return typeof schema.example === "number" ? schema.example : 1;
    case "boolean":
      return false;
    case "array":
      return [];
    default:
      return {};
  }
}

/** An instance of `schema` carrying `overlay`'s values, with the required rest filled in. */
export function build(schema: Schema | undefined, overlay?: unknown): unknown {
  if (!schema) return overlay;
  const s = mergeAllOf(pickBranch(schema, overlay));
  if (overlay === null) return null;
  const type = typeOf(s);
  if (type === "array" && Array.isArray(overlay)) {
    return overlay.map((item) => build(s.items as Schema | undefined, item));
  }
  if (type === "object" && (isObject(overlay) || overlay === undefined)) {
    if (overlay === undefined && s.nullable === true) return null;
    const props = (s.properties as Record<string, Schema> | undefined) ?? {};
    const out: Record<string, unknown> = {};
    const keys = new Set([...((s.required as string[] | undefined) ?? []), ...Object.keys(overlay ?? {})]);
    for (const key of keys) {
      const value = overlay?.[key];
      if (value === undefined && overlay && key in overlay) continue;
      out[key] = build(props[key], value);
    }
    return out;
  }
  return overlay === undefined ? placeholder(s) : overlay;
}

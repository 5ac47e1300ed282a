// The published JSON Schema (schema/slipway.schema.json) compiled once; turns its validation
// errors into located, human messages. Editors validate with the same file.
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import schema from "../../schema/slipway.schema.json" with { type: "json" };
import { suggestion } from "./did-you-mean.js";
import { quote, redactUserinfo } from "./quote.js";

export type SchemaDefinition = "endpoint" | "deployment";

/** A schema problem before it is given a place in the file. */
export interface SchemaIssue {
  /** JSON path within the entry, e.g. ["files", 0, "path"]. */
  path: (string | number)[];
  /** Point at the key named by the last path element rather than its value. */
  atKey: boolean;
  message: string;
}

const validators = new Map<SchemaDefinition, ValidateFunction>();

function validatorFor(definition: SchemaDefinition): ValidateFunction {
  let validate = validators.get(definition);
  if (!validate) {
    const ajv = new Ajv.default({
      allErrors: true,
      strict: true,
      strictTypes: false,
      strictRequired: false,
      verbose: true,
    });
    ajv.addSchema(schema);
    validate = ajv.getSchema(`${schema.$id}#/definitions/${definition}`);
    if (!validate) throw new Error(`schema definition ${definition} is missing`);
    validators.set(definition, validate);
  }
  return validate;
}

function decodePath(instancePath: string, value: unknown): (string | number)[] {
  if (instancePath === "") return [];
  const out: (string | number)[] = [];
  let cursor: unknown = value;
  for (const raw of instancePath.slice(1).split("/")) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cursor)) {
      const index = Number(segment);
      out.push(index);
      cursor = cursor[index];
    } else {
      out.push(segment);
      cursor =
        cursor !== null && typeof cursor === "object"
          ? (cursor as Record<string, unknown>)[segment]
          : undefined;
    }
  }
  return out;
}

function valueAt(value: unknown, path: readonly (string | number)[]): unknown {
  let cursor = value;
  for (const segment of path) {
    if (cursor === null || typeof cursor !== "object") return undefined;
    cursor = (cursor as Record<string | number, unknown>)[segment];
  }
  return cursor;
}

function dotted(path: readonly (string | number)[]): string {
  let out = "";
  for (const segment of path)
    out += typeof segment === "number" ? `[${segment}]` : out ? `.${segment}` : segment;
  return out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") {
    const shown = redactUserinfo(value);
    return `string ${JSON.stringify(shown.length > 40 ? `${shown.slice(0, 40)}…` : shown)}`;
  }
  return `${typeof value} ${String(value)}`;
}

const typeNames: Record<string, string> = {
  string: "a string",
  integer: "a whole number",
  number: "a number",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
};

/** Messages for patterns, by the last key of the path: a regex alone tells a user little. */
const patternMessages: Record<string, (v: string) => string> = {
  name: (v) =>
    `name ${quote(v)} is invalid: it must be lowercase, start with a letter and contain only letters, digits and dashes (^[a-z][a-z0-9-]+$)`,
  wsgi: (v) =>
    `wsgi ${quote(v)} is invalid: write it as 'package.module' or 'package.module:callable', the callable a Python name such as 'app' or a call such as 'create_app()'`,
  "node-selector": (v) => `node-selector ${quote(v)} is invalid: write it as 'key=value'`,
  "base-url": (v) =>
    `base-url ${quote(v)} is invalid: use an http(s) URL without credentials, query or fragment, e.g. https://ml.example.com`,
  registry: (v) =>
    `registry ${quote(v)} is invalid: write a repository prefix such as ghcr.io/acme, without credentials (they belong in registry-password) or spaces`,
  namespace: (v) =>
    `namespace ${quote(v)} is invalid: use lowercase letters, digits and dashes, starting and ending with a letter or digit`,
  ttl: (v) => `${quote(v)} is not a duration: write e.g. 90s, 30m, 72h, 7d or 1h30m`,
  window: (v) => `${quote(v)} is not a duration: write e.g. 90s, 30m, 72h, 7d or 1h30m`,
};

const oneOfMessages: Record<string, string> = {
  "server-command": "'server-command' must be a command string or a list of command strings",
  router: "'router' must be 'gateway-api', 'ingress', or a mapping with 'kind' (and optionally 'gateway')",
  "promote-on": "each 'promote-on' item must be 'command', '{ push: <branch> }' or '{ release: <tag> }'",
};

function lastKey(path: readonly (string | number)[]): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const segment = path[i];
    if (typeof segment === "string") return segment;
  }
  return "";
}

function messageFor(error: ErrorObject, path: (string | number)[], value: unknown): SchemaIssue {
  const where = dotted(path);
  const key = lastKey(path);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties": {
      const extra = String(params.additionalProperty);
      const known = Object.keys(
        (error.parentSchema as { properties?: object } | undefined)?.properties ?? {},
      );
      const inside = where ? ` in ${quote(where)}` : "";
      return {
        path: [...path, extra],
        atKey: true,
        message: `unknown key ${quote(extra)}${inside}${suggestion(extra, known)}`,
      };
    }
    case "required": {
      const missing = String(params.missingProperty);
      const inside = where ? ` in ${quote(where)}` : "";
      return { path, atKey: true, message: `missing required key ${quote(missing)}${inside}` };
    }
    case "type": {
      const expected = String(params.type)
        .split(",")
        .map((t) => typeNames[t] ?? t)
        .join(" or ");
      return { path, atKey: false, message: `${quote(where)} must be ${expected}, got ${describe(value)}` };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum": {
      if (key === "port") {
        return {
          path,
          atKey: false,
          message: `port ${String(value)} is out of range: use a port from 1025 to 65535`,
        };
      }
      const comparison = String(params.comparison);
      return {
        path,
        atKey: false,
        message: `${quote(where)} must be ${comparison} ${String(params.limit)}, got ${String(value)}`,
      };
    }
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const list = allowed.map((a) => `'${a}'`).join(", ");
      return {
        path,
        atKey: false,
        message: `${quote(where)} must be one of ${list}, got ${describe(value)}${typeof value === "string" ? suggestion(value, allowed) : ""}`,
      };
    }
    case "const":
      return { path, atKey: false, message: `${quote(where)} must be '${String(params.allowedValue)}'` };
    case "pattern": {
      const custom = patternMessages[key];
      if (custom && typeof value === "string") return { path, atKey: false, message: custom(value) };
      return { path, atKey: false, message: `${quote(where)} does not match ${String(params.pattern)}` };
    }
    case "minLength":
    case "minItems":
      return { path, atKey: false, message: `${quote(where)} must not be empty` };
    case "maxLength":
      return {
        path,
        atKey: false,
        message: `${quote(where)} must be at most ${String(params.limit)} characters long`,
      };
    case "propertyNames": {
      const name = String(params.propertyName);
      return {
        path: [...path, name],
        atKey: true,
        message: `${where === "environments" ? "environment" : "key"} name ${quote(name)} is invalid: use lowercase letters, digits and dashes, starting with a letter, at most 40 characters`,
      };
    }
    case "oneOf": {
      const custom = oneOfMessages[key] ?? oneOfMessages[lastKey(path.slice(0, -1))];
      return { path, atKey: false, message: custom ?? `${quote(where)} does not match any allowed form` };
    }
    default:
      return { path, atKey: false, message: `${quote(where || "entry")} ${error.message ?? "is invalid"}` };
  }
}

/** The first `depth` segments of a JSON pointer. */
function truncatePointer(pointer: string, depth: number): string {
  let end = 0;
  for (let i = 0; i < depth; i++) {
    const next = pointer.indexOf("/", end + 1);
    if (next < 0) return pointer;
    end = next;
  }
  return depth === 0 ? "" : pointer.slice(0, end);
}

/**
 * Each oneOf error's branch errors: those below it in the schema and in the instance. Found by
 * lookup, not by comparing every error with every oneOf, so a list of thousands of bad items costs
 * linear time. The schema is not recursive, so every oneOf at one schema path sits at one depth.
 */
export function innerErrors(errors: readonly ErrorObject[]): Map<ErrorObject, ErrorObject[]> {
  const owners = new Map<string, ErrorObject>();
  const depths = new Map<string, number>();
  for (const error of errors) {
    if (error.keyword !== "oneOf") continue;
    owners.set(`${error.schemaPath}\u0000${error.instancePath}`, error);
    depths.set(error.schemaPath, error.instancePath === "" ? 0 : error.instancePath.split("/").length - 1);
  }
  const inner = new Map<ErrorObject, ErrorObject[]>();
  if (owners.size === 0) return inner;
  for (const error of errors) {
    for (const [schemaPath, depth] of depths) {
      if (!error.schemaPath.startsWith(`${schemaPath}/`)) continue;
      const owner = owners.get(`${schemaPath}\u0000${truncatePointer(error.instancePath, depth)}`);
      if (!owner) continue;
      const list = inner.get(owner);
      if (list) list.push(error);
      else inner.set(owner, [error]);
    }
  }
  return inner;
}

/**
 * Validates one entry's value against its schema definition. oneOf errors are resolved to the branch
 * whose type matches when there is exactly one (so a list with a bad item says what is wrong with
 * the item); otherwise to one message for the whole choice.
 * `skipOneOfAt` names instance paths whose oneOf is checked by hand (with better messages).
 */
export function validateEntry(
  definition: SchemaDefinition,
  value: unknown,
  skipOneOfAt: (path: (string | number)[]) => boolean,
): SchemaIssue[] {
  const validate = validatorFor(definition);
  if (validate(value)) return [];
  const errors = validate.errors ?? [];
  const issues: SchemaIssue[] = [];
  const suppressed = new Set<string>();
  const handled = new Set<ErrorObject>();
  const inner = innerErrors(errors);

  for (const error of errors) {
    if (error.keyword !== "oneOf") continue;
    const path = decodePath(error.instancePath, value);
    const prefix = `${error.schemaPath}/`;
    if (skipOneOfAt(path)) {
      suppressed.add(prefix);
      handled.add(error);
      continue;
    }
    const branches = new Map<string, ErrorObject[]>();
    for (const e of inner.get(error) ?? []) {
      const branch = e.schemaPath.slice(prefix.length).split("/")[0] ?? "";
      const list = branches.get(branch);
      if (list) list.push(e);
      else branches.set(branch, [e]);
    }
    const typeMatched = [...branches.values()].filter(
      (errs) =>
        !errs.some(
          (e) => e.instancePath === error.instancePath && (e.keyword === "type" || e.keyword === "const"),
        ),
    );
    suppressed.add(prefix);
    if (typeMatched.length === 1 && typeMatched[0]) {
      for (const e of typeMatched[0]) {
        const innerPath = decodePath(e.instancePath, value);
        issues.push(messageFor(e, innerPath, valueAt(value, innerPath)));
      }
      handled.add(error);
    }
  }

  const prefixes = [...suppressed];
  for (const error of errors) {
    if (handled.has(error)) continue;
    if (prefixes.some((prefix) => error.schemaPath.startsWith(prefix))) continue;
    const path = decodePath(error.instancePath, value);
    issues.push(messageFor(error, path, valueAt(value, path)));
  }
  // One message per place and text: oneOf branches can repeat each other.
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const id = `${dotted(issue.path)}\u0000${issue.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Keys the schema knows for a definition, for "did you mean" on entry kinds. */
export const KNOWN_KINDS = Object.keys(schema.definitions.entry.properties);

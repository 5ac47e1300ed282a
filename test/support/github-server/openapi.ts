// GitHub's published REST description (@octokit/openapi's api.github.com, dereferenced) as the test
// server's judge: which routes exist, which query parameters and bodies each operation takes, and what
// its answers look like. Loaded once per process, lazily; only the operations the server implements keep
// their schemas, every other path keeps just its methods (so an unimplemented but real route is told
// apart from one GitHub does not have).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import Ajv, { type ValidateFunction } from "ajv";

export type Schema = { [key: string]: unknown };

export interface Parameter {
  readonly name: string;
  readonly in: "path" | "query" | "header" | "cookie";
  readonly required?: boolean;
  readonly schema?: Schema;
}

export interface Operation {
  readonly method: string;
  readonly route: string;
  readonly operationId: string;
  readonly parameters: readonly Parameter[];
  readonly requestBody?: Schema;
  readonly requestBodyRequired: boolean;
  /** Response schemas by status ("200", "201", …); undefined for a status without a JSON body. */
  readonly responses: ReadonlyMap<string, Schema | undefined>;
}

export interface Description {
  /** Route templates of the whole description with their methods. */
  readonly routes: ReadonlyMap<string, ReadonlySet<string>>;
  operation(method: string, route: string): Operation | undefined;
  validator(schema: Schema): ValidateFunction;
}

const IMPLEMENTED = new Set([
  "/repos/{owner}/{repo}",
  "/repos/{owner}/{repo}/pulls",
  "/repos/{owner}/{repo}/pulls/{pull_number}",
  "/repos/{owner}/{repo}/issues/{issue_number}/comments",
  "/repos/{owner}/{repo}/issues/comments/{comment_id}",
  "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
  "/repos/{owner}/{repo}/deployments",
  "/repos/{owner}/{repo}/deployments/{deployment_id}",
  "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
  "/repos/{owner}/{repo}/collaborators/{username}/permission",
]);

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

let loaded: Description | undefined;

export function githubDescription(): Description {
  loaded ??= load();
  return loaded;
}

function load(): Description {
  const require = createRequire(import.meta.url);
  const file = require.resolve("@octokit/openapi/generated/api.github.com.deref.json");
  const doc = JSON.parse(readFileSync(file, "utf8")) as { paths: Record<string, Record<string, unknown>> };
  const routes = new Map<string, Set<string>>();
  const operations = new Map<string, Operation>();
  for (const [route, item] of Object.entries(doc.paths)) {
    const methods = new Set(METHODS.filter((m) => m in item).map((m) => m.toUpperCase()));
    routes.set(route, methods);
    if (!IMPLEMENTED.has(route)) continue;
    const shared = (item.parameters as Parameter[] | undefined) ?? [];
    for (const m of methods) {
      const op = item[m.toLowerCase()] as {
        operationId: string;
        parameters?: Parameter[];
        requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
        responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
      };
      const responses = new Map<string, Schema | undefined>();
      for (const [status, r] of Object.entries(op.responses)) {
        responses.set(status, r.content?.["application/json"]?.schema);
      }
      const body = op.requestBody?.content?.["application/json"]?.schema;
      operations.set(`${m} ${route}`, {
        method: m,
        route,
        operationId: op.operationId,
        parameters: [...shared, ...(op.parameters ?? [])],
        ...(body ? { requestBody: body } : {}),
        requestBodyRequired: op.requestBody?.required === true,
        responses,
      });
    }
  }

  // OpenAPI 3.0 schemas: `nullable` is understood by ajv; `example`, `x-github` and the like are not JSON
  // Schema keywords, hence strict: false. The formats the description uses are declared here.
  const ajv = new Ajv.default({ strict: false, allErrors: true, coerceTypes: false });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat("int32", {
    type: "number",
    validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31,
  });
  // GitHub answers "" for URLs never set (a deployment status's environment_url, log_url, target_url:
  // their request schemas say `default: ""`) although the response schema says `format: uri`.
  ajv.addFormat("uri", /^(?:[a-z][a-z0-9+.-]*:[^\s]*)?$/i);
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  ajv.addFormat("repo.nwo", /^[^/\s]+\/[^/\s]+$/);
  ajv.addFormat("email", /^[^@\s]+@[^@\s]+$/);
  const compiled = new WeakMap<Schema, ValidateFunction>();

  return {
    routes,
    operation: (method, route) => operations.get(`${method.toUpperCase()} ${route}`),
    validator(schema) {
      let v = compiled.get(schema);
      if (!v) {
        v = ajv.compile(schema);
        compiled.set(schema, v);
      }
      return v;
    },
  };
}

/** The description's route a concrete path belongs to, with its path parameters; literal segments win. */
export function matchRoute(
  routes: ReadonlyMap<string, ReadonlySet<string>>,
  path: string,
): { route: string; params: Record<string, string> } | undefined {
  const parts = path.split("/");
  let best: { route: string; params: Record<string, string>; literals: number } | undefined;
  for (const route of routes.keys()) {
    const segs = route.split("/");
    if (segs.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    let ok = true;
    for (let i = 0; i < segs.length && ok; i++) {
      const seg = segs[i] ?? "";
      const part = parts[i] ?? "";
      const param = /^\{([^}]+)\}$/.exec(seg);
      if (param?.[1]) {
        if (part === "") ok = false;
        else params[param[1]] = decodeURIComponent(part);
      } else if (seg === part) literals += 1;
      else ok = false;
    }
    if (ok && (!best || literals > best.literals)) best = { route, params, literals };
  }
  return best && { route: best.route, params: best.params };
}

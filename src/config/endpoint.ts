// Valohai's `endpoint` entry → Endpoint: the schema first, then one small rule per setting the
// schema cannot fully check; an endpoint with any error is reported and left out.
import { isScalar, type Node, type Pair, type YAMLMap } from "yaml";
import { isRecord } from "../util/record.js";
import { DEFAULT_PORT, DEFAULT_WSGI_CALLABLE } from "./defaults.js";
import { labelKeyProblem, labelValueProblem } from "./labels.js";
import type { EntryScope } from "./problems.js";
import { quote } from "./quote.js";
import { repoPath } from "./repo-path.js";
import { validateEntry } from "./schema.js";
import type {
  Endpoint,
  EndpointFile,
  EndpointResources,
  EndpointServer,
  ResourceRange,
  Toleration,
} from "./types.js";

type Raw = Record<string, unknown>;

/** How an endpoint is named in messages before its name is known to be valid. */
export function endpointSubject(value: Raw, index: number): string {
  return typeof value.name === "string" ? `endpoint ${quote(value.name)}` : `endpoint #${index + 1}`;
}

export function readEndpoint(scope: EntryScope, value: Raw): Endpoint | undefined {
  const before = scope.errorCount;
  // The server choice and toleration items are checked by hand below, with clearer messages than oneOf's.
  scope.schema(
    validateEntry(
      "endpoint",
      value,
      (path) => path.length === 0 || (path[0] === "tolerations" && path.length === 2),
    ),
  );
  const server = serverRule(scope, value);
  const files = filesRule(scope, value);
  const nodeSelector = nodeSelectorRule(scope, value);
  const resources = resourcesRule(scope, value);
  const tolerations = tolerationsRule(scope, value);

  const name = typeof value.name === "string" ? value.name : undefined;
  if (scope.errorCount > before || !name || typeof value.image !== "string" || !server) return undefined;
  const endpoint: Endpoint = {
    name,
    image: value.image,
    port: typeof value.port === "number" ? value.port : DEFAULT_PORT,
    server,
    files,
    tolerations,
    location: scope.location(),
  };
  if (typeof value.description === "string") endpoint.description = value.description;
  if (resources) endpoint.resources = resources;
  if (nodeSelector) endpoint.nodeSelector = nodeSelector;
  return endpoint;
}

/** Exactly one of `server-command` and `wsgi`. */
function serverRule(scope: EntryScope, value: Raw): EndpointServer | undefined {
  const command = value["server-command"];
  const hasCommand = command !== undefined;
  const hasWsgi = value.wsgi !== undefined;
  if (hasCommand && hasWsgi) {
    const second = ((scope.node as YAMLMap).items as Pair[]).filter(
      (p) => isScalar(p.key) && (p.key.value === "wsgi" || p.key.value === "server-command"),
    )[1];
    scope.atNode(
      (second?.key as Node | undefined) ?? scope.entryKey,
      "has both 'server-command' and 'wsgi'; an endpoint starts its server in exactly one way: keep one",
    );
    return undefined;
  }
  if (!hasCommand && !hasWsgi) {
    scope.atNode(
      scope.entryKey,
      "needs a way to start its server: add 'server-command' (a command) or 'wsgi' (module:callable)",
    );
    return undefined;
  }
  if (typeof command === "string") return { kind: "command", command };
  if (Array.isArray(command)) return { kind: "command", command: command.map(String) };
  if (typeof value.wsgi !== "string") return undefined;
  const colon = value.wsgi.indexOf(":");
  return {
    kind: "wsgi",
    module: colon >= 0 ? value.wsgi.slice(0, colon) : value.wsgi,
    callable: colon >= 0 ? value.wsgi.slice(colon + 1) : DEFAULT_WSGI_CALLABLE,
  };
}

/** Declared files: paths inside the repository naming a file, names unique per endpoint. */
function filesRule(scope: EntryScope, value: Raw): EndpointFile[] {
  const files: EndpointFile[] = [];
  if (!Array.isArray(value.files)) return files;
  const seenNames = new Map<string, number>();
  value.files.forEach((raw, i) => {
    if (!isRecord(raw)) return;
    if (typeof raw.path === "string" && raw.path.length > 0) {
      const written = raw.path;
      const path = repoPath(written);
      const at = ["files", i, "path"];
      if (!path.ok && path.reason === "absolute") {
        scope.at(at, `file path ${quote(written)} is absolute; write it relative to the repository root`);
      } else if (!path.ok && path.reason === "outside") {
        scope.at(at, `file path ${quote(written)} points outside the repository`);
      } else if (!path.ok && path.reason === "git") {
        scope.at(
          at,
          `file path ${quote(written)} is inside .git, where git keeps the checkout's credentials; declare a file of the project`,
        );
      } else if (!path.ok) {
        scope.at(at, `file path ${quote(written)} names a directory; name the file itself`);
      } else if (typeof raw.name === "string") {
        const file: EndpointFile = { name: raw.name, path: path.path, location: scope.location(at) };
        if (typeof raw.description === "string") file.description = raw.description;
        files.push(file);
      }
    }
    if (typeof raw.name === "string") {
      const first = seenNames.get(raw.name);
      if (first !== undefined) {
        scope.at(
          ["files", i, "name"],
          `file name ${quote(raw.name)} is declared twice (also files[${first}]); file names must be unique`,
        );
      } else seenNames.set(raw.name, i);
    }
  });
  return files;
}

/** Valohai's single `key=value` selector, in Kubernetes label syntax on both sides. */
function nodeSelectorRule(scope: EntryScope, value: Raw): Endpoint["nodeSelector"] {
  const text = value["node-selector"];
  if (typeof text !== "string" || !text.includes("=")) return undefined;
  const eq = text.indexOf("=");
  const key = text.slice(0, eq).trim();
  const selectorValue = text.slice(eq + 1).trim();
  const problem = labelKeyProblem(key) ?? labelValueProblem(selectorValue);
  if (problem) {
    scope.at(["node-selector"], `node-selector ${problem}`);
    return undefined;
  }
  return { key, value: selectorValue };
}

function range(raw: unknown): ResourceRange | undefined {
  if (!isRecord(raw)) return undefined;
  const out: ResourceRange = {};
  if (typeof raw.min === "number") out.min = raw.min;
  if (typeof raw.max === "number") out.max = raw.max;
  return out;
}

/** Requests and limits with min ≤ max; device names in label-key syntax. */
function resourcesRule(scope: EntryScope, value: Raw): EndpointResources | undefined {
  const r = value.resources;
  if (!isRecord(r)) return undefined;
  const resources: EndpointResources = {};
  for (const [yamlKey, field] of [
    ["cpu", "cpu"],
    ["memory", "memory"],
    ["ephemeral-storage", "ephemeralStorage"],
  ] as const) {
    const parsed = range(r[yamlKey]);
    if (!parsed) continue;
    if (parsed.min !== undefined && parsed.max !== undefined && parsed.min > parsed.max) {
      scope.at(
        ["resources", yamlKey, "min"],
        `resources.${yamlKey}.min (${parsed.min}) is greater than its max (${parsed.max})`,
      );
    }
    resources[field] = parsed;
  }
  if (isRecord(r.devices)) {
    const devices: Record<string, number> = {};
    for (const [device, count] of Object.entries(r.devices)) {
      const keyProblem = labelKeyProblem(device);
      if (keyProblem) scope.at(["resources", "devices", device], `device ${keyProblem}`, true);
      if (typeof count === "number") devices[device] = count;
    }
    resources.devices = devices;
  }
  return resources;
}

/** Kubernetes' toleration rules: no key needs `Exists`, and `Exists` takes no value. */
function tolerationsRule(scope: EntryScope, value: Raw): Toleration[] {
  const tolerations: Toleration[] = [];
  if (!Array.isArray(value.tolerations)) return tolerations;
  value.tolerations.forEach((t, i) => {
    if (!isRecord(t)) return;
    if (t.key === undefined && t.operator !== "Exists") {
      scope.at(
        ["tolerations", i],
        `tolerations[${i}] has no 'key'; a toleration without a key must use 'operator: Exists'`,
      );
    }
    if (t.operator === "Exists" && t.value !== undefined && t.value !== "") {
      scope.at(["tolerations", i], `tolerations[${i}] uses 'operator: Exists', so its 'value' must be empty`);
    }
    const out: Toleration = {};
    if (typeof t.key === "string") out.key = t.key;
    if (t.operator === "Exists" || t.operator === "Equal") out.operator = t.operator;
    if (typeof t.value === "string") out.value = t.value;
    if (t.effect === "NoSchedule" || t.effect === "PreferNoSchedule" || t.effect === "NoExecute")
      out.effect = t.effect;
    tolerations.push(out);
  });
  return tolerations;
}

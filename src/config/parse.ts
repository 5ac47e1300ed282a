// Reads a valohai.yaml: Valohai's `endpoint` entries and Slipway's `deployment` entry, every
// problem found in one pass with its place, and the normalised config when there are none.
import { posix } from "node:path";
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from "yaml";
import { didYouMean, suggestion } from "./did-you-mean.js";
import { parseDuration } from "./duration.js";
import { KNOWN_KINDS, type SchemaIssue, validateEntry } from "./schema.js";
import { positionOf, readSource, type SourceDocument, toPlain } from "./source.js";
import type {
  CanarySettings,
  ConfigProblem,
  DeploymentSettings,
  Endpoint,
  EndpointFile,
  EndpointResources,
  Environment,
  PreviewSettings,
  PromotionTrigger,
  ResourceRange,
  SlipwayConfig,
  SourceLocation,
  Toleration,
} from "./types.js";

export interface ParseResult {
  /** Present only when there is no error (warnings may remain). */
  config?: SlipwayConfig;
  problems: ConfigProblem[];
}

/** Valohai entry kinds Slipway accepts and leaves alone. */
const IGNORED_KINDS = new Set(["step", "pipeline", "blueprint", "task"]);

export const DEFAULT_PORT = 8000;
export const DEFAULT_WSGI_CALLABLE = "application";
export const DEFAULT_CANARY: CanarySettings = { stages: 10, windowSeconds: 30 * 60, maxErrorRate: 0.01 };
export const DEFAULT_DEPLOYMENT_NAME = "default";
export const DEFAULT_PREVIEW: PreviewSettings = {
  enabled: true,
  alias: "pr-{number}",
  ttlSeconds: 72 * 3600,
  replicas: 1,
};

type Raw = Record<string, unknown>;

class Collector {
  readonly problems: ConfigProblem[] = [];
  constructor(readonly source: SourceDocument) {}

  at(node: Node | null | undefined, message: string, severity: "error" | "warning" = "error"): void {
    const pos = positionOf(this.source, node);
    this.problems.push({ file: this.source.file, line: pos.line, column: pos.column, severity, message });
  }

  get errorCount(): number {
    return this.problems.filter((p) => p.severity === "error").length;
  }
}

function pairFor(map: YAMLMap, key: string | number): Pair | undefined {
  return (map.items as Pair[]).find((p) => isScalar(p.key) && p.key.value === key);
}

/** The YAML node at a JSON path below `root`, as close as the path exists; its key when `atKey`. */
function nodeAt(root: Node, path: readonly (string | number)[], atKey: boolean): Node {
  let node: Node = root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string | number;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = pairFor(node, segment);
      if (!pair) return node;
      if (last && atKey && pair.key) return pair.key as Node;
      if (!pair.value) return (pair.key as Node) ?? node;
      node = pair.value as Node;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      if (!item) return node;
      node = item;
    } else {
      return node;
    }
  }
  return node;
}

function report(c: Collector, root: Node, issues: SchemaIssue[], subject: string): void {
  for (const issue of issues) c.at(nodeAt(root, issue.path, issue.atKey), `${subject}: ${issue.message}`);
}

function range(raw: unknown): ResourceRange | undefined {
  if (!raw || typeof raw !== "object") return undefined;
  const r = raw as Raw;
  const out: ResourceRange = {};
  if (typeof r.min === "number") out.min = r.min;
  if (typeof r.max === "number") out.max = r.max;
  return out;
}

// Kubernetes' own rules for label keys and values: a node selector that breaks them would
// only fail at deploy time, after the image is built.
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key prefix '${prefix}' must be a DNS subdomain (lowercase, dots and dashes)`;
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `label key '${key}' must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

function checkEndpoint(
  c: Collector,
  entryKey: Node,
  node: Node,
  value: Raw,
  index: number,
): Endpoint | undefined {
  const name = typeof value.name === "string" ? value.name : undefined;
  const subject = name ? `endpoint '${name}'` : `endpoint #${index + 1}`;
  const before = c.errorCount;

  report(
    c,
    node,
    validateEntry(
      "endpoint",
      value,
      (path) => path.length === 0 || (path[0] === "tolerations" && path.length === 2),
    ),
    subject,
  );

  const hasCommand = value["server-command"] !== undefined;
  const hasWsgi = value.wsgi !== undefined;
  if (hasCommand && hasWsgi) {
    const map = node as YAMLMap;
    const second = (map.items as Pair[]).filter(
      (p) => isScalar(p.key) && (p.key.value === "wsgi" || p.key.value === "server-command"),
    )[1];
    c.at(
      (second?.key as Node | undefined) ?? entryKey,
      `${subject}: has both 'server-command' and 'wsgi'; an endpoint starts its server in exactly one way: keep one`,
    );
  } else if (!hasCommand && !hasWsgi) {
    c.at(
      entryKey,
      `${subject}: needs a way to start its server: add 'server-command' (a command) or 'wsgi' (module:callable)`,
    );
  }

  const files: EndpointFile[] = [];
  if (Array.isArray(value.files)) {
    const seenNames = new Map<string, number>();
    value.files.forEach((raw, i) => {
      if (!raw || typeof raw !== "object") return;
      const file = raw as Raw;
      if (typeof file.path === "string" && file.path.length > 0) {
        const where = nodeAt(node, ["files", i, "path"], false);
        const p = file.path;
        const normal = posix.normalize(p.replace(/\\/g, "/"));
        if (p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p)) {
          c.at(where, `${subject}: file path '${p}' is absolute; write it relative to the repository root`);
        } else if (normal === ".." || normal.startsWith("../")) {
          c.at(where, `${subject}: file path '${p}' points outside the repository`);
        } else if (normal === "." || normal.endsWith("/")) {
          c.at(where, `${subject}: file path '${p}' names a directory; name the file itself`);
        } else if (typeof file.name === "string") {
          const out: EndpointFile = { name: file.name, path: normal };
          if (typeof file.description === "string") out.description = file.description;
          files.push(out);
        }
      }
      if (typeof file.name === "string") {
        const first = seenNames.get(file.name);
        if (first !== undefined) {
          c.at(
            nodeAt(node, ["files", i, "name"], false),
            `${subject}: file name '${file.name}' is declared twice (also files[${first}]); file names must be unique`,
          );
        } else seenNames.set(file.name, i);
      }
    });
  }

  let nodeSelector: { key: string; value: string } | undefined;
  if (typeof value["node-selector"] === "string" && value["node-selector"].includes("=")) {
    const text = value["node-selector"];
    const eq = text.indexOf("=");
    const key = text.slice(0, eq).trim();
    const selectorValue = text.slice(eq + 1).trim();
    const where = nodeAt(node, ["node-selector"], false);
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) c.at(where, `${subject}: node-selector ${keyProblem}`);
    else if (selectorValue.length > 63 || (selectorValue !== "" && !LABEL_NAME.test(selectorValue))) {
      c.at(
        where,
        `${subject}: node-selector value '${selectorValue}' must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
      );
    } else nodeSelector = { key, value: selectorValue };
  }

  let resources: EndpointResources | undefined;
  if (value.resources && typeof value.resources === "object") {
    const r = value.resources as Raw;
    resources = {};
    for (const [yamlKey, field] of [
      ["cpu", "cpu"],
      ["memory", "memory"],
      ["ephemeral-storage", "ephemeralStorage"],
    ] as const) {
      const parsed = range(r[yamlKey]);
      if (!parsed) continue;
      if (parsed.min !== undefined && parsed.max !== undefined && parsed.min > parsed.max) {
        c.at(
          nodeAt(node, ["resources", yamlKey, "min"], false),
          `${subject}: resources.${yamlKey}.min (${parsed.min}) is greater than its max (${parsed.max})`,
        );
      }
      resources[field] = parsed;
    }
    if (r.devices && typeof r.devices === "object") {
      const devices: Record<string, number> = {};
      for (const [device, count] of Object.entries(r.devices as Raw)) {
        const keyProblem = labelKeyProblem(device);
        if (keyProblem)
          c.at(nodeAt(node, ["resources", "devices", device], true), `${subject}: device ${keyProblem}`);
        if (typeof count === "number") devices[device] = count;
      }
      resources.devices = devices;
    }
  }

  const tolerations: Toleration[] = [];
  if (Array.isArray(value.tolerations)) {
    value.tolerations.forEach((raw, i) => {
      if (!raw || typeof raw !== "object") return;
      const t = raw as Raw;
      const where = nodeAt(node, ["tolerations", i], false);
      if (t.key === undefined && t.operator !== "Exists") {
        c.at(
          where,
          `${subject}: tolerations[${i}] has no 'key'; a toleration without a key must use 'operator: Exists'`,
        );
      }
      if (t.operator === "Exists" && t.value !== undefined && t.value !== "") {
        c.at(where, `${subject}: tolerations[${i}] uses 'operator: Exists', so its 'value' must be empty`);
      }
      const out: Toleration = {};
      if (typeof t.key === "string") out.key = t.key;
      if (t.operator === "Exists" || t.operator === "Equal") out.operator = t.operator;
      if (typeof t.value === "string") out.value = t.value;
      if (t.effect === "NoSchedule" || t.effect === "PreferNoSchedule" || t.effect === "NoExecute")
        out.effect = t.effect;
      tolerations.push(out);
    });
  }

  if (c.errorCount > before || !name || typeof value.image !== "string") return undefined;
  const command = value["server-command"];
  const wsgi = typeof value.wsgi === "string" ? value.wsgi : "";
  const colon = wsgi.indexOf(":");
  const endpoint: Endpoint = {
    name,
    image: value.image,
    port: typeof value.port === "number" ? value.port : DEFAULT_PORT,
    server:
      typeof command === "string" || Array.isArray(command)
        ? { kind: "command", command: typeof command === "string" ? command : command.map(String) }
        : {
            kind: "wsgi",
            module: colon >= 0 ? wsgi.slice(0, colon) : wsgi,
            callable: colon >= 0 ? wsgi.slice(colon + 1) : DEFAULT_WSGI_CALLABLE,
          },
    files,
    tolerations,
    location: { file: c.source.file, ...positionOf(c.source, entryKey) },
  };
  if (typeof value.description === "string") endpoint.description = value.description;
  if (resources) endpoint.resources = resources;
  if (nodeSelector) endpoint.nodeSelector = nodeSelector;
  return endpoint;
}

function canaryFrom(raw: unknown, defaults: CanarySettings): CanarySettings {
  if (!raw || typeof raw !== "object") return defaults;
  const r = raw as Raw;
  return {
    stages: typeof r.stages === "number" ? r.stages : defaults.stages,
    windowSeconds:
      typeof r.window === "string"
        ? (parseDuration(r.window) ?? defaults.windowSeconds)
        : defaults.windowSeconds,
    maxErrorRate: typeof r["max-error-rate"] === "number" ? r["max-error-rate"] : defaults.maxErrorRate,
  };
}

function checkDeployment(
  c: Collector,
  entryKey: Node,
  node: Node,
  value: Raw,
): DeploymentSettings | undefined {
  const before = c.errorCount;
  const subject = typeof value.name === "string" ? `deployment '${value.name}'` : "deployment";
  report(
    c,
    node,
    validateEntry("deployment", value, () => false),
    subject,
  );

  const canary = canaryFrom(value.canary, DEFAULT_CANARY);
  const checkCanary = (settings: CanarySettings, path: (string | number)[]) => {
    if (settings.windowSeconds < settings.stages) {
      c.at(
        nodeAt(node, [...path, "window"], false),
        `${subject}: canary window of ${settings.windowSeconds}s is shorter than its ${settings.stages} stages; give each stage at least one second`,
      );
    }
  };
  if (value.canary && typeof value.canary === "object") checkCanary(canary, ["canary"]);

  const preview = (value.preview && typeof value.preview === "object" ? value.preview : {}) as Raw;
  const previewAlias = typeof preview.alias === "string" ? preview.alias : DEFAULT_PREVIEW.alias;
  const previewPattern = new RegExp(`^${previewAlias.replace(/[-]/g, "\\-").replace("{number}", "[0-9]+")}$`);

  const environments: Environment[] = [];
  const rawEnvs = (
    value.environments && typeof value.environments === "object" ? value.environments : {}
  ) as Raw;
  const envNames = Object.keys(rawEnvs);
  for (const [envName, rawEnv] of Object.entries(rawEnvs)) {
    const envKey = nodeAt(node, ["environments", envName], true);
    if (previewPattern.test(envName)) {
      c.at(
        envKey,
        `${subject}: environment '${envName}' looks like a preview alias ('${previewAlias}'); choose another name`,
      );
    }
    const env = (rawEnv && typeof rawEnv === "object" ? rawEnv : {}) as Raw;
    const requires = Array.isArray(env.requires)
      ? env.requires.filter((r): r is string => typeof r === "string")
      : [];
    requires.forEach((required, i) => {
      const where = nodeAt(node, ["environments", envName, "requires", i], false);
      if (required === envName) c.at(where, `${subject}: environment '${envName}' cannot require itself`);
      else if (!envNames.includes(required)) {
        c.at(
          where,
          `${subject}: environment '${envName}' requires unknown environment '${required}'${suggestion(required, envNames)}`,
        );
      }
    });
    const promoteOn: PromotionTrigger[] = [];
    if (Array.isArray(env["promote-on"])) {
      for (const trigger of env["promote-on"]) {
        if (trigger === "command") promoteOn.push({ kind: "command" });
        else if (trigger && typeof trigger === "object") {
          const t = trigger as Raw;
          if (typeof t.push === "string") promoteOn.push({ kind: "push", branch: t.push });
          if (typeof t.release === "string") promoteOn.push({ kind: "release", tag: t.release });
        }
      }
    } else {
      promoteOn.push({ kind: "command" });
    }
    const environment: Environment = {
      name: envName,
      promoteOn,
      requires,
      replicas: typeof env.replicas === "number" ? env.replicas : 1,
      location: { file: c.source.file, ...positionOf(c.source, envKey) },
    };
    if (env.canary === true) environment.canary = canary;
    else if (env.canary && typeof env.canary === "object") {
      environment.canary = canaryFrom(env.canary, canary);
      checkCanary(environment.canary, ["environments", envName, "canary"]);
    }
    environments.push(environment);
  }
  // A cycle in `requires` would make every environment on it unreachable.
  const byName = new Map(environments.map((e) => [e.name, e]));
  for (const env of environments) {
    const seen = new Set<string>();
    const stack = [...env.requires];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (next === env.name) {
        c.at(
          nodeAt(node, ["environments", env.name, "requires"], true),
          `${subject}: environment '${env.name}' requires itself through a cycle`,
        );
        break;
      }
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(byName.get(next)?.requires ?? []));
    }
  }

  if (typeof value.dockerfile === "string") {
    const normal = posix.normalize(value.dockerfile.replace(/\\/g, "/"));
    if (value.dockerfile.startsWith("/") || normal === ".." || normal.startsWith("../")) {
      c.at(
        nodeAt(node, ["dockerfile"], false),
        `${subject}: dockerfile '${value.dockerfile}' must be a path inside the repository`,
      );
    } else if (value.builder !== "docker") {
      c.at(
        nodeAt(node, ["dockerfile"], true),
        `${subject}: 'dockerfile' is used by the docker builder only: add 'builder: docker'`,
      );
    }
  }

  if (c.errorCount > before) return undefined;
  const router = value.router;
  const settings: DeploymentSettings = {
    name: typeof value.name === "string" ? value.name : DEFAULT_DEPLOYMENT_NAME,
    builder: value.builder === "docker" ? "docker" : "registry",
    router:
      router && typeof router === "object"
        ? (() => {
            const r = router as Raw;
            const out: DeploymentSettings["router"] = {
              kind: r.kind === "ingress" ? "ingress" : "gateway-api",
            };
            if (r.gateway && typeof r.gateway === "object") {
              const g = r.gateway as Raw;
              out.gateway = { name: String(g.name) };
              if (typeof g.namespace === "string") out.gateway.namespace = g.namespace;
            }
            return out;
          })()
        : { kind: router === "ingress" ? "ingress" : "gateway-api" },
    preview: {
      enabled: preview.enabled !== false,
      alias: previewAlias,
      ttlSeconds:
        typeof preview.ttl === "string"
          ? (parseDuration(preview.ttl) ?? DEFAULT_PREVIEW.ttlSeconds)
          : DEFAULT_PREVIEW.ttlSeconds,
      replicas: typeof preview.replicas === "number" ? preview.replicas : DEFAULT_PREVIEW.replicas,
    },
    environments,
    canary,
    location: { file: c.source.file, ...positionOf(c.source, entryKey) },
  };
  const defaults = value.defaults as Raw | undefined;
  if (defaults && typeof defaults.target === "string") settings.target = defaults.target;
  if (typeof value["base-url"] === "string") settings.baseUrl = value["base-url"].replace(/\/+$/, "");
  if (typeof value.namespace === "string") settings.namespace = value.namespace;
  if (typeof value.registry === "string") settings.registry = value.registry.replace(/\/+$/, "");
  if (typeof value.dockerfile === "string") settings.dockerfile = posix.normalize(value.dockerfile);
  return settings;
}

/** Parses config text or bytes; pure: the file name is used only in messages. */
export function parseConfig(input: Uint8Array | string, file: string): ParseResult {
  const read = readSource(input, file);
  if (!read.ok) return { problems: read.problems };
  const source = read.source;
  const c = new Collector(source);
  const root = source.doc.contents as Node | null;

  if (root === null || (isScalar(root) && root.value === null)) {
    c.at(root, "config file has no entries (only comments?): expected a list such as '- endpoint: …'");
    return { problems: c.problems };
  }
  if (!isSeq(root)) {
    const got = isMap(root) ? "a mapping" : "a single value";
    c.at(root, `the config must be a list of entries such as '- endpoint: …', got ${got}`);
    return { problems: c.problems };
  }

  const endpoints: Endpoint[] = [];
  const firstByName = new Map<string, SourceLocation>();
  let deployment: DeploymentSettings | undefined;
  let deploymentKey: Node | undefined;
  let sawEndpoint = false;

  root.items.forEach((item, index) => {
    const entry = item as Node | null;
    if (!isMap(entry) || entry.items.length === 0) {
      c.at(
        entry ?? root,
        `entry #${index + 1} must be a mapping with one key such as 'endpoint:' or 'step:'`,
      );
      return;
    }
    const kinds = (entry.items as Pair[]).map((p) => (isScalar(p.key) ? String(p.key.value) : ""));
    if (entry.items.length > 1) {
      c.at(
        (entry.items[1] as Pair).key as Node,
        `entry #${index + 1} has ${entry.items.length} keys (${kinds.join(", ")}); each list item holds exactly one entry: start each with its own '-'`,
      );
      return;
    }
    const pair = entry.items[0] as Pair;
    const keyNode = pair.key as Node;
    const kind = kinds[0] ?? "";
    // `endpoint:` with nothing after it has an empty value node at the end of the line; the key is where to point.
    const valueNode =
      pair.value && !(isScalar(pair.value) && pair.value.value === null) ? (pair.value as Node) : keyNode;
    if (IGNORED_KINDS.has(kind)) return;
    if (kind !== "endpoint" && kind !== "deployment") {
      const hint = didYouMean(kind, KNOWN_KINDS);
      c.at(
        keyNode,
        `unknown entry kind '${kind}' is ignored${hint ? `; did you mean '${hint}'?` : " (Slipway reads 'endpoint' and 'deployment' entries)"}`,
        "warning",
      );
      return;
    }
    const plain = valueNode === keyNode ? ({ ok: true, value: null } as const) : toPlain(source, valueNode);
    if (!plain.ok) {
      c.problems.push(plain.problem);
      return;
    }
    if (plain.value === null || typeof plain.value !== "object" || Array.isArray(plain.value)) {
      c.at(
        valueNode,
        `'${kind}' must be a mapping of its settings, got ${plain.value === null ? "nothing" : "a single value or list"}`,
      );
      if (kind === "endpoint") sawEndpoint = true;
      return;
    }
    const value = plain.value as Raw;
    if (kind === "deployment") {
      if (deploymentKey) {
        const first = positionOf(source, deploymentKey);
        c.at(
          keyNode,
          `a second 'deployment' entry (the first is at line ${first.line}); Slipway reads one per file`,
        );
        return;
      }
      deploymentKey = keyNode;
      deployment = checkDeployment(c, keyNode, valueNode, value);
      return;
    }
    sawEndpoint = true;
    const endpoint = checkEndpoint(c, keyNode, valueNode, value, index);
    const name = typeof value.name === "string" ? value.name : undefined;
    if (name !== undefined) {
      const first = firstByName.get(name);
      if (first) {
        c.at(
          nodeAt(valueNode, ["name"], false),
          `duplicate endpoint name '${name}' (first defined at ${first.file}:${first.line}:${first.column}); Valohai silently keeps the last definition, Slipway refuses the ambiguity: rename or remove one`,
        );
        return;
      }
      // The first place of a name counts even when that endpoint has other problems.
      firstByName.set(name, endpoint?.location ?? { file, ...positionOf(source, keyNode) });
    }
    if (endpoint) endpoints.push(endpoint);
  });

  if (!sawEndpoint) c.at(root, "the config has no 'endpoint' entries: there is nothing to deploy");

  // Reported in file order, as a compiler would.
  c.problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (c.errorCount > 0) return { problems: c.problems };
  return {
    config: {
      file,
      deployment: deployment ?? {
        name: DEFAULT_DEPLOYMENT_NAME,
        builder: "registry",
        router: { kind: "gateway-api" },
        preview: DEFAULT_PREVIEW,
        environments: [],
        canary: DEFAULT_CANARY,
      },
      endpoints,
    },
    problems: c.problems,
  };
}

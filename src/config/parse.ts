// Reads a valohai.yaml: Valohai's `endpoint` entries and Slipway's `deployment` entry, every
// problem found in one pass with its place, and the normalised config when there are none.
// This module walks the entries; each kind's rules live in its own module (endpoint.ts,
// deployment.ts), every default in defaults.ts.
import { isMap, isScalar, isSeq, type Node, type Pair } from "yaml";
import { isRecord } from "../util/record.js";
import { defaultDeployment } from "./defaults.js";
import { deploymentSubject, readDeployment } from "./deployment.js";
import { didYouMean } from "./did-you-mean.js";
import { endpointSubject, readEndpoint } from "./endpoint.js";
import { nodeAt } from "./node-at.js";
import { Collector, EntryScope } from "./problems.js";
import { quote } from "./quote.js";
import { readRuntime } from "./runtime.js";
import { KNOWN_KINDS } from "./schema.js";
import { positionOf, readSource, toPlain } from "./source.js";
import type { ConfigProblem, DeploymentSettings, Endpoint, SlipwayConfig, SourceLocation } from "./types.js";

export interface ParseResult {
  /** Present only when there is no error (warnings may remain). */
  config?: SlipwayConfig;
  problems: ConfigProblem[];
}

/** Valohai entry kinds Slipway accepts and leaves alone. */
const IGNORED_KINDS = new Set(["step", "pipeline", "blueprint", "task"]);

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
  // Runtime settings name endpoints that may come later in the file: read once every entry was seen.
  let deploymentRuntime: { scope: EntryScope; value: Record<string, unknown> } | undefined;
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
    // Named in messages, so quoted (cut short, printable) the way every value from the file is.
    const kinds = (entry.items as Pair[]).map((p) => (isScalar(p.key) ? String(p.key.value) : ""));
    const kindsShown = kinds.slice(0, 5).map((k) => quote(k).slice(1, -1));
    if (entry.items.length > 1) {
      c.at(
        (entry.items[1] as Pair).key as Node,
        `entry #${index + 1} has ${entry.items.length} keys (${kindsShown.join(", ")}${kinds.length > 5 ? ", …" : ""}); each list item holds exactly one entry: start each with its own '-'`,
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
        `unknown entry kind ${quote(kind)} is ignored${hint ? `; did you mean '${hint}'?` : " (Slipway reads 'endpoint' and 'deployment' entries)"}`,
        "warning",
      );
      return;
    }
    if (kind === "endpoint") sawEndpoint = true;
    const plain = valueNode === keyNode ? ({ ok: true, value: null } as const) : toPlain(source, valueNode);
    if (!plain.ok) {
      c.add(plain.problem);
      return;
    }
    if (!isRecord(plain.value)) {
      c.at(
        valueNode,
        `${quote(kind)} must be a mapping of its settings, got ${plain.value === null ? "nothing" : "a single value or list"}`,
      );
      if (kind === "endpoint") sawEndpoint = true;
      return;
    }
    const value = plain.value;
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
      const scope = new EntryScope(c, keyNode, valueNode, deploymentSubject(value));
      deployment = readDeployment(scope, value);
      deploymentRuntime = { scope, value };
      return;
    }
    const endpoint = readEndpoint(
      new EntryScope(c, keyNode, valueNode, endpointSubject(value, index)),
      value,
    );
    const name = typeof value.name === "string" ? value.name : undefined;
    if (name !== undefined) {
      const first = firstByName.get(name);
      if (first) {
        c.at(
          nodeAt(valueNode, ["name"], false),
          `duplicate endpoint name ${quote(name)} (first defined at ${first.file}:${first.line}:${first.column}); Valohai silently keeps the last definition, Slipway refuses the ambiguity: rename or remove one`,
        );
        return;
      }
      // The first place of a name counts even when that endpoint has other problems.
      firstByName.set(name, endpoint?.location ?? c.location(keyNode));
    }
    if (endpoint) endpoints.push(endpoint);
  });

  if (!sawEndpoint) c.at(root, "the config has no 'endpoint' entries: there is nothing to deploy");
  const settings = deployment ?? defaultDeployment();
  const names = [...firstByName.keys()];
  const runtime = deploymentRuntime
    ? readRuntime(deploymentRuntime.scope, deploymentRuntime.value, names)
    : {
        runtime: settings.runtime,
        endpointRuntime: Object.fromEntries(names.map((n) => [n, settings.runtime])),
      };

  // Reported in file order, as a compiler would.
  c.problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (c.errorCount > 0) return { problems: c.problems };
  return { config: { file, deployment: { ...settings, ...runtime }, endpoints }, problems: c.problems };
}

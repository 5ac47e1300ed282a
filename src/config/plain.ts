// YAML nodes → plain values, with aliases resolved once for the whole file. The yaml library's
// own toJS looks up every alias and every merge key by walking the document again, which makes a
// file of many aliases or `<<:` merges cost quadratic time; here each anchor is found in one walk,
// each node's expanded size and height are computed once, and an alias shares its anchor's value.
// Runs only after the syntax tree's depth is checked (source.ts), so recursing is safe.
import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
} from "yaml";
import { isRecord } from "../util/record.js";

/** What the walk learnt about aliases, and the problems no entry may have. */
export interface AliasIndex {
  /** Each alias's anchored node: the last one of its name before it, as YAML (and the yaml library) resolve. */
  targets: Map<Alias, Node>;
  /** Nodes each node stands for with its aliases expanded (saturating: a bomb does not overflow). */
  sizes: Map<Node, number>;
}

export interface NodeProblem {
  node: Node;
  message: string;
}

const SATURATED = 2 ** 40;

/**
 * Walks the document once: resolves aliases and refuses recursive ones and ones that nest too deep,
 * and applies the rules every value of the file obeys whatever entry it is in (keys are plain
 * values, merge sources are mappings, no NUL characters).
 */
export function walkDocument(
  doc: Document.Parsed,
  maxDepth: number,
): { index: AliasIndex; problems: NodeProblem[] } {
  const targets = new Map<Alias, Node>();
  const sizes = new Map<Node, number>();
  const heights = new Map<Node, number>();
  const latest = new Map<string, Node>();
  const open = new Set<Node>();
  const problems: NodeProblem[] = [];
  const resolved = (n: unknown): unknown => (isAlias(n) ? targets.get(n) : n);

  /** `depth`: collections around the node. */
  function walk(n: Node, depth: number): void {
    if (n.anchor) latest.set(n.anchor, n);
    let size = 1;
    let height = 0;
    if (isAlias(n)) {
      const target = latest.get(n.source);
      if (target && open.has(target)) {
        problems.push({
          node: n,
          message: `YAML alias '*${n.source}' refers to a node it is part of: a recursive structure cannot be a setting`,
        });
      } else if (target) {
        targets.set(n, target);
        size = sizes.get(target) ?? 1;
        height = heights.get(target) ?? 0;
        if (depth + height > maxDepth) {
          problems.push({
            node: n,
            message: `YAML alias '*${n.source}' here expands to nesting deeper than ${maxDepth} levels; Slipway reads configs nested at most ${maxDepth} deep`,
          });
        }
      }
    } else if (isMap(n) || isSeq(n)) {
      open.add(n);
      if (isMap(n)) uniqueKeysRule(n);
      for (const item of n.items as unknown[]) {
        for (const child of isPair(item) ? [item.key, item.value] : [item]) {
          if (!child || typeof child !== "object") continue;
          walk(child as Node, depth + 1);
          size = Math.min(SATURATED, size + (sizes.get(child as Node) ?? 1));
          height = Math.max(height, heights.get(child as Node) ?? 0);
        }
        if (isPair(item)) pairRules(item);
      }
      open.delete(n);
      height += 1;
    } else if (isScalar(n) && typeof n.value === "string" && n.value.includes("\0")) {
      problems.push({
        node: n,
        message: "a value holds a NUL character ('\\0'), which no setting can contain: remove it",
      });
    }
    sizes.set(n, size);
    heights.set(n, height);
  }

  /** Equal scalar keys (`1` and `"1"` differ, as in the yaml library; merge keys may repeat). */
  function uniqueKeysRule(map: YAMLMap): void {
    const seen = new Set<string>();
    for (const pair of map.items as Pair[]) {
      const key = pair.key;
      if (!isScalar(key) || typeof key.value === "symbol") continue;
      const id = `${typeof key.value}:${String(key.value)}`;
      if (seen.has(id)) problems.push({ node: key, message: "YAML syntax: Map keys must be unique" });
      seen.add(id);
    }
  }

  /** After the pair's nodes are walked, so their aliases are resolved. */
  function pairRules(pair: Pair): void {
    const key = resolved(pair.key);
    // PyYAML refuses them ("found unhashable key"); a plain object could only hold them stringified.
    if (isMap(key) || isSeq(key)) {
      problems.push({
        node: pair.key as Node,
        message: "a mapping key must be a plain value, not a list or a mapping",
      });
    }
    if (isMergeKey(pair.key)) {
      const source = resolved(pair.value);
      const sources = isSeq(source) ? source.items.map(resolved) : [source];
      if (!sources.every((s) => isMap(s))) {
        problems.push({
          node: (pair.value as Node | null) ?? (pair.key as Node),
          message: "a merge key ('<<') takes a mapping, an alias of one, or a list of them",
        });
      }
    }
  }

  if (doc.contents) walk(doc.contents, 0);
  return { index: { targets, sizes }, problems };
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === "symbol" && key.value.description === "<<";
}

/** A mapping key as a JavaScript property name, as the yaml library makes it. */
function keyOf(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function define(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, so a key named `__proto__` is an own property rather than the prototype.
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

export class AliasBudgetExceeded extends Error {
  constructor(readonly alias: Alias) {
    super("alias budget exceeded");
  }
}

/**
 * The plain value of `node`. Nodes that aliases bring in count against `budget` by their expanded
 * size; crossing it throws AliasBudgetExceeded naming the alias, as the expansion would be what
 * every later reader (schema, rules) walks.
 */
export function plainValue(node: Node, index: AliasIndex, budget: number): unknown {
  const shared = new Map<Node, unknown>();
  let spent = 0;
  // Inside an alias's target the aliases are already counted: a node's size includes them expanded.
  let insideAlias = 0;

  function value(n: unknown): unknown {
    if (n === null || n === undefined) return null;
    if (isAlias(n)) {
      const target = index.targets.get(n);
      if (!target) return null;
      if (insideAlias === 0) {
        spent += index.sizes.get(target) ?? 1;
        if (spent > budget) throw new AliasBudgetExceeded(n);
      }
      if (!shared.has(target)) {
        insideAlias++;
        shared.set(target, value(target));
        insideAlias--;
      }
      return shared.get(target);
    }
    if (isScalar(n)) return (n as Scalar).value;
    if (isSeq(n)) return n.items.map((item) => value(item));
    if (isMap(n)) {
      const out: Record<string, unknown> = {};
      for (const pair of n.items as Pair[]) {
        if (!isMergeKey(pair.key)) {
          define(out, keyOf(value(pair.key)), value(pair.value));
          continue;
        }
        // Merge keys (YAML 1.1): a merged key never replaces one already there, and a later
        // explicit key replaces a merged one, so explicit keys win and earlier sources beat later ones.
        const merged = value(pair.value);
        for (const one of Array.isArray(merged) ? merged : [merged]) {
          if (!isRecord(one)) continue;
          for (const [key, v] of Object.entries(one)) if (!Object.hasOwn(out, key)) define(out, key, v);
        }
      }
      return out;
    }
    return null;
  }

  return value(node);
}

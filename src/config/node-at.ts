// Finds the YAML node a JSON path names, so problems found on plain values point into the file.
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from "yaml";

export type JsonPath = readonly (string | number)[];

/** Each map's pairs by scalar key, built on first use: rules look up one key per problem, and a
 * map may have many thousands of keys with a problem each. */
const pairIndex = new WeakMap<YAMLMap, Map<unknown, Pair>>();

export function pairFor(map: YAMLMap, key: string | number): Pair | undefined {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    // The first pair of a key, as a search from the start would find.
    for (const pair of map.items as Pair[]) {
      if (isScalar(pair.key) && !index.has(pair.key.value)) index.set(pair.key.value, pair);
    }
    pairIndex.set(map, index);
  }
  return index.get(key);
}

/** The YAML node at a JSON path below `root`, as close as the path exists; its key when `atKey`. */
export function nodeAt(root: Node, path: JsonPath, atKey: boolean): Node {
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

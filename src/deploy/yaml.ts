// Objects as one YAML stream (`---` between documents): what `slipway manifests` prints for GitOps
// and what the golden files hold. Key order is the objects' own, so the same objects give the same
// bytes. Pure.

import { stringify } from "yaml";
import type { KubeObject } from "./types.js";

export function manifestsYaml(objects: readonly KubeObject[]): string {
  // lineWidth 0: never fold long values (image digests, JSON) onto several lines. No anchors and
  // aliases for repeated values: every document reads on its own, as kubectl would show it.
  return objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n");
}

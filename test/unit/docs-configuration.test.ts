// docs/configuration.md documents every key the published schema accepts.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import schema from "../../schema/slipway.schema.json" with { type: "json" };

const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

function keys(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const item of node) keys(item, out);
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "properties" && value && typeof value === "object") {
        for (const name of Object.keys(value)) out.add(name);
      }
      keys(value, out);
    }
  }
  return out;
}

it.each([...keys(schema.definitions)])("documents `%s`", (key) => {
  expect(doc).toMatch(new RegExp(`\`(?:[a-z-]+\\.)?${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[\`:]`));
});

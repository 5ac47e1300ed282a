// Regenerates the README's input and output tables from action.yml (`npm run docs`); the same
// rendering is used by a test that fails when the README has drifted.
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";

interface ActionYml {
  inputs: Record<string, { description: string; default?: string }>;
  outputs: Record<string, { description: string }>;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();

export function renderTables(actionYml: string): { inputs: string; outputs: string } {
  const action = parse(actionYml) as ActionYml;
  const inputs = [
    "| input | default | description |",
    "| --- | --- | --- |",
    ...Object.entries(action.inputs).map(
      ([name, spec]) =>
        `| \`${name}\` | ${spec.default ? `\`${spec.default}\`` : ""} | ${cell(spec.description)} |`,
    ),
  ];
  const outputs = [
    "| output | description |",
    "| --- | --- |",
    ...Object.entries(action.outputs).map(([name, spec]) => `| \`${name}\` | ${cell(spec.description)} |`),
  ];
  return { inputs: inputs.join("\n"), outputs: outputs.join("\n") };
}

export function updateReadme(readme: string, actionYml: string): string {
  const tables = renderTables(actionYml);
  let out = readme;
  for (const section of ["inputs", "outputs"] as const) {
    const re = new RegExp(`(<!-- ${section}:start[^>]*-->\\n)[\\s\\S]*?(\\n<!-- ${section}:end -->)`);
    if (!re.test(out)) throw new Error(`README.md has no ${section}:start/${section}:end markers`);
    out = out.replace(re, `$1${tables[section]}$2`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readme = readFileSync("README.md", "utf8");
  writeFileSync("README.md", updateReadme(readme, readFileSync("action.yml", "utf8")));
}

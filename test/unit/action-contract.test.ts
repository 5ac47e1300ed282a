// action.yml and the code describe the same Action: the same inputs, the same outputs, the same runtime.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { INPUT_NAMES, InputError, OUTPUT_NAMES, readInputs } from "../../src/inputs.js";

interface ActionYml {
  inputs: Record<string, { description?: string; default?: string }>;
  outputs: Record<string, { description?: string }>;
  runs: { using: string; main: string };
}

const root = new URL("../../", import.meta.url);
const action = parse(readFileSync(new URL("action.yml", root), "utf8")) as ActionYml;

describe("action.yml", () => {
  it("declares exactly the inputs src/inputs.ts reads", () => {
    expect(Object.keys(action.inputs).sort()).toEqual([...INPUT_NAMES].sort());
  });

  it("describes every input and output", () => {
    for (const [name, spec] of [...Object.entries(action.inputs), ...Object.entries(action.outputs)]) {
      expect(spec.description, name).toMatch(/\S{3,}/);
    }
  });

  it("declares exactly the outputs src/inputs.ts registers (the only names main.ts can set)", () => {
    expect(Object.keys(action.outputs).sort()).toEqual([...OUTPUT_NAMES].sort());
  });

  it("runs the bundle on node24", () => {
    expect(action.runs).toEqual({ using: "node24", main: "dist/index.js" });
  });

  it("uses the defaults action.yml documents", () => {
    // `${{ … }}` defaults are filled in by the runner, not by the Action.
    const defaults = readInputs((name) => {
      const value = action.inputs[name]?.default ?? "";
      return value.startsWith("${{") ? "" : value;
    });
    expect(defaults).toEqual({ config: "valohai.yaml", dryRun: false });
  });
});

describe("readInputs", () => {
  const from = (values: Record<string, string>) => (name: string) => values[name] ?? "";

  it("reads and trims every input", () => {
    expect(
      readInputs(
        from({
          config: " ml/valohai.yaml ",
          "dry-run": "true",
          environment: "staging",
          "base-url": "https://ml.example.com",
        }),
      ),
    ).toEqual({
      config: "ml/valohai.yaml",
      dryRun: true,
      environment: "staging",
      baseUrl: "https://ml.example.com",
    });
  });

  it("masks the registry password as soon as it is read, spaces and all", () => {
    const masked: string[] = [];
    const settings = readInputs(from({ "registry-username": "bot", "registry-password": " s3cret " }), (s) =>
      masked.push(s),
    );
    expect(masked).toEqual([" s3cret "]);
    expect(settings).toMatchObject({ registryUsername: "bot", registryPassword: " s3cret " });
  });

  it.each([
    [{ builder: "kaniko" }, "input 'builder' must be 'registry' or 'docker', got 'kaniko'"],
    [{ "dry-run": "yes" }, "input 'dry-run' must be true or false, got 'yes'"],
    [{ "base-url": "ml.example.com" }, "input 'base-url' must be an http(s) URL"],
  ])("refuses %j", (values, message) => {
    expect(() => readInputs(from(values))).toThrow(InputError);
    expect(() => readInputs(from(values))).toThrow(message);
  });
});

describe("README", () => {
  it("shows the inputs and outputs tables exactly as action.yml defines them (npm run docs)", async () => {
    const { updateReadme } = await import("../../scripts/docs.js");
    const readme = readFileSync(new URL("README.md", root), "utf8");
    expect(updateReadme(readme, readFileSync(new URL("action.yml", root), "utf8"))).toBe(readme);
  });
});

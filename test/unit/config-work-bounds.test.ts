// The config reader's cost is linear in its input whatever the input holds. Each bound is stated
// as work that can be counted (bytes read, expressions compiled, library calls made, recursion
// used), never as time: a test that times code passes or fails with the machine's load. The
// timeouts only keep a regression from hanging the run.

import type { ErrorObject } from "ajv";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Alias } from "yaml";
import { environmentsOnCycles } from "../../src/config/environments.js";
import { parseConfig } from "../../src/config/parse.js";
import { isPreviewAlias } from "../../src/config/preview.js";
import { innerErrors } from "../../src/config/schema.js";
import { firstTextProblem } from "../../src/config/text.js";
import type { Environment } from "../../src/config/types.js";

const ok = "- endpoint:\n    name: good-one\n    image: python:3.11\n    wsgi: app\n";

/** The bytes, as an ArrayLike that counts every element read. */
function counted(bytes: Uint8Array): { view: ArrayLike<number>; reads: () => number } {
  let reads = 0;
  const view = new Proxy(bytes, {
    get(target, key) {
      if (typeof key === "string" && /^[0-9]+$/.test(key)) reads++;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { view, reads: () => reads };
}

afterEach(() => vi.restoreAllMocks());

describe("the text check reads each byte at most once", { timeout: 60_000 }, () => {
  it("for 250,000 U+FFFD written in the file (once one pass per character: 24 s)", () => {
    const bytes = Buffer.from(`${ok}    description: ${"\uFFFD".repeat(250_000)}\n`);
    const { view, reads } = counted(bytes);
    expect(firstTextProblem(view)).toBeUndefined();
    expect(reads()).toBeLessThanOrEqual(bytes.length);
  });

  it("for the same with a byte that is not UTF-8 at the end", () => {
    const bytes = Buffer.concat([
      Buffer.from(`${ok}    description: ${"\uFFFD".repeat(250_000)}`),
      Buffer.from([0xff]),
    ]);
    const { view, reads } = counted(bytes);
    expect(firstTextProblem(view)).toEqual({ kind: "invalid-utf8", line: 5, column: 250_018 });
    expect(reads()).toBeLessThanOrEqual(bytes.length);
  });

  it("counts columns in UTF-16 code units and lines at LF, CRLF and lone CR", () => {
    const bytes = Buffer.concat([Buffer.from("a\r\nb\rc\n\u{1F600}x"), Buffer.from([0x00])]);
    expect(firstTextProblem(bytes)).toEqual({ kind: "control", line: 4, column: 4, codePoint: 0 });
  });
});

describe("the preview alias pattern is never compiled into a regular expression", { timeout: 60_000 }, () => {
  it("so '(a|a)*{number}' cannot backtrack (once a hang at 100% CPU)", () => {
    const compiled: string[] = [];
    const NativeRegExp = RegExp;
    vi.spyOn(globalThis, "RegExp").mockImplementation(function (this: unknown, ...args: unknown[]) {
      compiled.push(String(args[0]));
      return new NativeRegExp(...(args as [string, string?]));
    } as unknown as () => RegExp);
    const env = "a".repeat(34);
    const r = parseConfig(
      `${ok}- deployment:\n    name: demo\n    preview: {alias: '(a|a)*{number}'}\n    environments: {${env}: {}}\n`,
      "valohai.yaml",
    );
    expect(r.problems.map((p) => p.message)).toEqual([
      expect.stringContaining("preview alias '(a|a)*{number}'"),
    ]);
    expect(compiled.filter((source) => source.includes("(a|a)"))).toEqual([]);
  });

  it("matches names by comparing strings, in one pass over the name", () => {
    expect(isPreviewAlias("pr-{number}", "pr-42")).toBe(true);
    expect(isPreviewAlias("pr-{number}", "pr-")).toBe(false);
    expect(isPreviewAlias("pr-{number}", "pr-4a")).toBe(false);
    expect(isPreviewAlias("pr-{number}-x", "pr-7-x")).toBe(true);
    expect(isPreviewAlias("(a|a)*{number}", "a".repeat(40))).toBe(false);
    expect(isPreviewAlias("pr-{number}-{number}", "pr-1-2")).toBe(false);
  });
});

describe("aliases and merge keys are resolved in one walk of the document", { timeout: 60_000 }, () => {
  // The yaml library's Alias.resolve walks the whole document on each call; merge keys call it
  // without a cache. 2,000 merges took 33 s that way;
  // any merge at all calls it.
  it("never calls the library's per-alias document walk", () => {
    const resolve = vi.spyOn(Alias.prototype, "resolve");
    let text = "- step: &d {image: python:3.11, wsgi: app}\n";
    for (let i = 0; i < 300; i++) text += `- endpoint: {<<: *d, name: e${i}x}\n`;
    const r = parseConfig(text, "valohai.yaml");
    expect(r.problems).toEqual([]);
    expect(r.config?.endpoints).toHaveLength(300);
    expect(r.config?.endpoints[299]).toMatchObject({ name: "e299x", image: "python:3.11" });
    expect(resolve).not.toHaveBeenCalled();
  });
});

describe("requires cycles are found without recursion", { timeout: 60_000 }, () => {
  const chain = (n: number, closed: boolean): Environment[] =>
    Array.from({ length: n }, (_, i) => ({
      name: `e${i}`,
      promoteOn: [],
      requires: i + 1 < n ? [`e${i + 1}`] : closed ? ["e0"] : [],
      replicas: 1,
      location: { file: "valohai.yaml", line: 1, column: 1 },
    }));

  it("in a chain of 30,000 environments, past the depth a recursive search could reach", () => {
    expect(environmentsOnCycles(chain(30_000, false)).size).toBe(0);
    expect(environmentsOnCycles(chain(30_000, true)).size).toBe(30_000);
  });

  it("naming exactly the environments on a cycle, and self-requirements", () => {
    const envs = chain(4, false);
    (envs[3] as Environment).requires = ["e2"];
    (envs[0] as Environment).requires = ["e0", "e1"];
    expect([...environmentsOnCycles(envs)].sort()).toEqual(["e0", "e2", "e3"]);
  });
});

describe("schema errors are attributed to their oneOf by lookup", { timeout: 60_000 }, () => {
  // Each oneOf error once took every branch error of every item as its own: 2,000 bad
  // 'promote-on' items took 131 s, and 4,000 took 458 s.
  it("so each branch error belongs to its own item's oneOf only: n attributions, not n²", () => {
    const n = 3000;
    const validate = () => {
      let text = `${ok}- deployment:\n    name: demo\n    environments:\n      s:\n        promote-on:\n`;
      for (let i = 0; i < n; i++) text += "          - 3\n";
      return parseConfig(text, "valohai.yaml");
    };
    const r = validate();
    expect(r.problems).toHaveLength(n);
    expect(r.problems[n - 1]).toMatchObject({ line: 10 + n - 1, column: 13 });

    const oneOf = "#/definitions/environment/properties/promote-on/items/oneOf";
    const errors: ErrorObject[] = [];
    for (let i = 0; i < n; i++) {
      const at = `/environments/s/promote-on/${i}`;
      for (const branch of [0, 1, 2]) {
        errors.push({ keyword: "type", instancePath: at, schemaPath: `${oneOf}/${branch}/type`, params: {} });
      }
      errors.push({ keyword: "oneOf", instancePath: at, schemaPath: oneOf, params: {} });
    }
    const inner = innerErrors(errors);
    expect(inner.size).toBe(n);
    expect([...inner.values()].reduce((sum, list) => sum + list.length, 0)).toBe(3 * n);
    expect(inner.get(errors[3] as ErrorObject)?.map((e) => e.instancePath)).toEqual([
      "/environments/s/promote-on/0",
      "/environments/s/promote-on/0",
      "/environments/s/promote-on/0",
    ]);
  });
});

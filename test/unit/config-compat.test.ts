// What Valohai's own reader (PyYAML) accepts, Slipway accepts too, and what would only fail at
// run time is refused with its place: merge keys, line endings, documents, tags, wsgi targets.
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import schema from "../../schema/slipway.schema.json" with { type: "json" };
import { formatProblem } from "../../src/config/errors.js";
import { parseConfig } from "../../src/config/parse.js";
import { previewAliasProblem } from "../../src/config/preview.js";

const lines = (...l: string[]) => `${l.join("\n")}\n`;

describe("YAML merge keys, which PyYAML and so Valohai read", () => {
  const text = lines(
    "- step:",
    "    name: defaults",
    "    x-endpoint: &endpoint",
    "      image: python:3.11",
    "      port: 8080",
    "      resources: {cpu: {max: 1}}",
    "    x-gpu: &gpu",
    "      resources: {devices: {nvidia.com/gpu: 1}}",
    "- endpoint:",
    "    <<: *endpoint",
    "    name: predict",
    "    wsgi: app",
    "- endpoint:",
    "    <<: [*gpu, *endpoint]",
    "    name: predict-gpu",
    "    port: 9000",
    "    wsgi: app",
  );

  it("are accepted: explicit keys win, then earlier merge sources over later ones", () => {
    const r = parseConfig(text, "valohai.yaml");
    expect(r.problems).toEqual([]);
    expect(r.config?.endpoints.map((e) => [e.name, e.image, e.port, e.resources])).toEqual([
      ["predict", "python:3.11", 8080, { cpu: { max: 1 } }],
      ["predict-gpu", "python:3.11", 9000, { devices: { "nvidia.com/gpu": 1 } }],
    ]);
  });

  it("work as docs/configuration.md shows: one endpoint built on another", () => {
    const r = parseConfig(
      lines(
        "- endpoint: &predict",
        "    name: predict",
        "    image: python:3.11",
        "    port: 8080",
        "    wsgi: predict:app",
        "- endpoint:",
        "    <<: *predict",
        "    name: predict-v2",
        "    wsgi: predict_v2:app",
      ),
      "valohai.yaml",
    );
    expect(r.problems).toEqual([]);
    expect(r.config?.endpoints.map((e) => [e.name, e.image, e.port, e.server])).toEqual([
      ["predict", "python:3.11", 8080, { kind: "wsgi", module: "predict", callable: "app" }],
      ["predict-v2", "python:3.11", 8080, { kind: "wsgi", module: "predict_v2", callable: "app" }],
    ]);
  });

  it("keep positions: the entry's own keys where they are, merged values at the merge key", () => {
    const bad = text.replace("port: 8080", 'port: "8080"').replace("name: predict\n", "name: Predict\n");
    const r = parseConfig(bad, "valohai.yaml");
    expect(r.problems.map(formatProblem)).toEqual([
      `valohai.yaml:10:5: endpoint 'Predict': 'port' must be a whole number, got string "8080"`,
      "valohai.yaml:11:11: endpoint 'Predict': name 'Predict' is invalid: it must be lowercase, start with a letter and contain only letters, digits and dashes (^[a-z][a-z0-9-]+$)",
    ]);
  });
});

describe("aliases within the budget of 100 nodes an entry may bring in", () => {
  // `&m {a: 1, b: 2}` is 5 nodes (the mapping, two keys, two values), counted once per alias even
  // when it holds aliases itself.
  const text = (refs: number) =>
    lines(
      "- step: {x: &s 1, m: &m {a: *s, b: 2}}",
      "- endpoint:",
      "    name: ab",
      "    image: x",
      "    wsgi: app",
      `    files: [${Array.from({ length: refs }, () => "*m").join(", ")}]`,
    );

  it("are read: 20 aliases of 5 nodes", () => {
    const r = parseConfig(text(20), "valohai.yaml");
    expect(r.problems.map((p) => p.message)).not.toContainEqual(expect.stringContaining("YAML aliases"));
  });

  it("and the 21st is refused at its place", () => {
    const r = parseConfig(text(21), "valohai.yaml");
    expect(r.problems.map((p) => [p.line, p.column, p.message])).toEqual([
      [
        6,
        13 + 4 * 20,
        "YAML aliases here expand to more than 100 nodes: the document would grow out of proportion",
      ],
    ]);
  });
});

describe("line endings", () => {
  const lf = lines(
    "- endpoint:",
    "    name: Bad-name",
    "    image: x",
    "    wsgi: app",
    "- deployment: {name: demo, environments: {staging: {requires: [prod]}}}",
  );

  // YAML 1.2 (§5.4) and PyYAML end a line at LF, CRLF or a lone CR (classic Mac OS files). The yaml
  // library knows only the first two, so a lone CR is read as LF: same offsets, same positions.
  it.each([
    ["CRLF", lf.replace(/\n/g, "\r\n")],
    ["CR alone", lf.replace(/\n/g, "\r")],
  ])("%s reads exactly as LF, problems and places included", (_name, text) => {
    const expected = parseConfig(lf, "valohai.yaml");
    expect(expected.problems.map((p) => p.line)).toEqual([2, 5]);
    expect(parseConfig(text, "valohai.yaml")).toEqual(expected);
  });
});

describe("documents and tags", () => {
  it("accepts a single document that starts with '---', and YAML's own tags", () => {
    const r = parseConfig(
      lines("---", "- endpoint: {name: ab, image: !!str 3.11, wsgi: app}"),
      "valohai.yaml",
    );
    expect(r.problems).toEqual([]);
    expect(r.config?.endpoints[0]?.image).toBe("3.11");
  });
});

describe("wsgi targets, as gunicorn reads them (module:variable, the variable a name or a call)", () => {
  const endpoint = (wsgi: string) => `- endpoint: {name: ww, image: x, wsgi: '${wsgi}'}\n`;
  it.each([
    ["app", { module: "app", callable: "application" }],
    ["pkg.predict", { module: "pkg.predict", callable: "application" }],
    ["pkg.predict:app", { module: "pkg.predict", callable: "app" }],
    ["pkg:create_app()", { module: "pkg", callable: "create_app()" }],
    ['pkg:create_app("prod", debug=False)', { module: "pkg", callable: 'create_app("prod", debug=False)' }],
  ])("accepts %s", (wsgi, server) => {
    const r = parseConfig(endpoint(wsgi), "valohai.yaml");
    expect(r.problems).toEqual([]);
    expect(r.config?.endpoints[0]?.server).toEqual({ kind: "wsgi", ...server });
  });

  it.each(["a:b:c", "pkg:", ":app", "pkg.:app", "pkg:app.attr", "pkg:make()()", "my-pkg:app", "pkg:app "])(
    "refuses %s",
    (wsgi) => {
      const r = parseConfig(endpoint(wsgi), "valohai.yaml");
      expect(r.problems.map((p) => [p.line, p.column, p.message])).toEqual([
        [1, 40, expect.stringContaining(`wsgi '${wsgi}' is invalid`)],
      ]);
    },
  );
});

describe("the published schema and the parser agree on preview aliases", () => {
  const ajv = new Ajv.default({ allErrors: true, strictRequired: false });
  const validate = ajv.compile(schema);
  const withAlias = (alias: string) => [
    { endpoint: { name: "ab", image: "x", wsgi: "app" } },
    { deployment: { name: "d", preview: { alias } } },
  ];
  it.each([
    "pr-{number}",
    "{number}",
    "pr{number}x",
    "pr-{number}-",
    "pr-{number}-{number}",
    "preview",
    "Pr-{number}",
    "pr-({number}",
    `p${"r".repeat(52)}{number}`,
    `p${"r".repeat(53)}{number}`,
  ])("%s", (alias) => {
    expect(validate(withAlias(alias))).toBe(previewAliasProblem(alias) === undefined);
  });
});

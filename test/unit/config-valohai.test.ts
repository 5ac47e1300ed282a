// Valohai's own endpoint example and a full valohai.yaml are read exactly as Valohai defines them.
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import schema from "../../schema/slipway.schema.json" with { type: "json" };
import { parseConfig } from "../../src/config/parse.js";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url));

describe("Valohai's endpoint example", () => {
  const result = parseConfig(read("fixtures/valohai/endpoint-example.yaml"), "valohai.yaml");

  it("parses without problems", () => {
    expect(result.problems).toEqual([]);
    expect(result.config?.endpoints.map((e) => e.name)).toEqual([
      "server-endpoint",
      "wsgi-endpoint",
      "limited-endpoint",
      "accelerated-endpoint",
      "tolerant-endpoint",
      "ephemeral-storage-endpoint",
    ]);
  });

  it("reads every endpoint field for field", () => {
    const [server, wsgi, limited, accelerated, tolerant, ephemeral] = result.config?.endpoints ?? [];
    const at = (line: number) => ({ file: "valohai.yaml", line, column: 3 });
    expect(server).toEqual({
      name: "server-endpoint",
      image: "python:3.6",
      port: 1453,
      server: { kind: "command", command: "python run_server.py" },
      files: [],
      tolerations: [],
      location: at(1),
    });
    expect(wsgi).toEqual({
      name: "wsgi-endpoint",
      description: "predict digits from image inputs",
      image: "tensorflow/tensorflow:1.3.0-py3",
      port: 8000,
      server: { kind: "wsgi", module: "predict_wsgi", callable: "predict_wsgi" },
      files: [
        {
          name: "model",
          description: "Model output file from TensorFlow",
          path: "model.pb",
          // Where the file's path is written: plan's on-disk checks point there.
          location: { file: "valohai.yaml", line: 15, column: 15 },
        },
      ],
      tolerations: [],
      location: at(7),
    });
    expect(limited).toEqual({
      name: "limited-endpoint",
      image: "python:3.9",
      port: 8000,
      server: { kind: "command", command: ["python run_server.py"] },
      files: [],
      resources: { cpu: { min: 0.1, max: 1 }, memory: { min: 50, max: 100 } },
      tolerations: [],
      location: at(17),
    });
    expect(accelerated).toEqual({
      name: "accelerated-endpoint",
      image: "python:3.6",
      port: 8000,
      server: { kind: "command", command: "python run_server.py" },
      files: [],
      nodeSelector: { key: "accelerator", value: "tesla-v100" },
      resources: { devices: { "nvidia.com/gpu": 1 } },
      tolerations: [],
      location: at(30),
    });
    expect(tolerant).toEqual({
      name: "tolerant-endpoint",
      image: "python:3.6",
      port: 8000,
      server: { kind: "command", command: "python run_server.py" },
      files: [],
      tolerations: [{ key: "key1", operator: "Equal", value: "value1", effect: "NoSchedule" }],
      location: at(39),
    });
    expect(ephemeral).toEqual({
      name: "ephemeral-storage-endpoint",
      image: "python:3.9",
      port: 8000,
      server: { kind: "command", command: "python run_server.py" },
      files: [],
      resources: { memory: { max: 64 }, ephemeralStorage: { min: 2048, max: 4096 } },
      tolerations: [],
      location: at(49),
    });
  });

  it("defaults the wsgi callable to 'application', as gunicorn does", () => {
    const r = parseConfig("- endpoint: {name: ww, image: x, wsgi: pkg.app}\n", "valohai.yaml");
    expect(r.config?.endpoints[0]?.server).toEqual({
      kind: "wsgi",
      module: "pkg.app",
      callable: "application",
    });
  });
});

describe("a whole valohai.yaml", () => {
  const result = parseConfig(read("fixtures/sample-repo/valohai.yaml"), "valohai.yaml");

  it("accepts steps and pipelines next to endpoints, and ignores them", () => {
    expect(result.problems).toEqual([]);
    expect(result.config?.endpoints.map((e) => e.name)).toEqual(["predict-digits", "health-check"]);
  });

  it("reads Slipway's deployment settings with their defaults", () => {
    const d = result.config?.deployment;
    expect(d).toMatchObject({
      name: "mnist",
      baseUrl: "https://ml.example.com",
      namespace: "ml-previews",
      registry: "ghcr.io/acme/mnist",
      builder: "registry",
      router: { kind: "gateway-api" },
      preview: { enabled: true, alias: "pr-{number}", ttlSeconds: 72 * 3600, replicas: 1 },
      canary: { stages: 10, windowSeconds: 1800, maxErrorRate: 0.01 },
    });
    expect(
      d?.environments.map((e) => [e.name, e.promoteOn, e.requires, e.canary?.stages, e.replicas]),
    ).toEqual([
      ["staging", [{ kind: "push", branch: "main" }], [], undefined, 1],
      ["production", [{ kind: "release", tag: "v*" }, { kind: "command" }], ["staging"], 10, 2],
    ]);
  });

  it("warns about unknown entry kinds without failing, suggesting the closest", () => {
    const r = parseConfig(
      "- endpoint: {name: ok, image: x, wsgi: app}\n- endpont: {name: typo}\n- notebook: {}\n",
      "valohai.yaml",
    );
    expect(r.config).toBeDefined();
    expect(r.problems.map((p) => [p.severity, p.line, p.column, p.message])).toEqual([
      ["warning", 2, 3, "unknown entry kind 'endpont' is ignored; did you mean 'endpoint'?"],
      [
        "warning",
        3,
        3,
        "unknown entry kind 'notebook' is ignored (Slipway reads 'endpoint' and 'deployment' entries)",
      ],
    ]);
  });

  it("reports every problem of a file in one run", () => {
    const r = parseConfig(
      [
        "- endpoint: {name: Server-endpoint, image: x, wsgi: app}",
        "- endpoint: {name: 3-server-endpoint, image: x, wsgi: app}",
        "- endpoint: {name: server@endpoint, image: x, wsgi: app}",
        "- endpoint: {name: wsgi_endpoint, image: x, wsgi: app}",
      ].join("\n"),
      "valohai.yaml",
    );
    expect(r.problems.map((p) => `${p.line}:${p.column}`)).toEqual(["1:20", "2:20", "3:20", "4:20"]);
  });
});

describe("the published JSON Schema", () => {
  const ajv = new Ajv.default({ allErrors: true, strictRequired: false });
  const validate = ajv.compile(schema);

  it.each(["fixtures/valohai/endpoint-example.yaml", "fixtures/sample-repo/valohai.yaml"])(
    "accepts %s, as an editor would",
    (file) => {
      const ok = validate(parseYaml(read(file).toString("utf8")));
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    },
  );

  it("rejects what Slipway rejects, e.g. a bad endpoint name", () => {
    expect(validate([{ endpoint: { name: "Bad", image: "x", wsgi: "app" } }])).toBe(false);
  });
});

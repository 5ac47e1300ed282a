// Runtime settings on the deployment entry and per endpoint: resolved values, and located problems.
import { describe, expect, it } from "vitest";
import { DEFAULT_RUNTIME } from "../../src/config/defaults.js";
import { parseConfig } from "../../src/config/index.js";

const endpoints = [
  "- endpoint:",
  "    name: predict",
  "    image: python:3.12",
  "    wsgi: app",
  "- endpoint:",
  "    name: health",
  "    image: python:3.12",
  "    server-command: python3 -m http.server 8000",
];

function parse(...deployment: string[]) {
  return parseConfig(
    [...endpoints, "- deployment:", "    name: demo", ...deployment].join("\n"),
    "valohai.yaml",
  );
}

describe("runtime settings", () => {
  it("default for every endpoint without a deployment entry", () => {
    const { config } = parseConfig(endpoints.join("\n"), "valohai.yaml");
    expect(config?.deployment.endpointRuntime).toEqual({ predict: DEFAULT_RUNTIME, health: DEFAULT_RUNTIME });
  });

  it("are read from the deployment entry, and each endpoint's overrides apply to it alone", () => {
    const { config, problems } = parse(
      "    env: { LOG_LEVEL: info, WORKERS: 2 }",
      "    secrets:",
      "      - { env: API_KEY, secret: model-keys, key: api-key }",
      "      - { secret: shared-env }",
      "    startup-timeout: 20m",
      "    timeout: 2m",
      "    endpoints:",
      "      predict:",
      "        strip-prefix: true",
      "        health-path: /healthz",
      "        env: { WORKERS: 4 }",
      "        shm-size: 2048",
      "        replicas: 2",
    );
    expect(problems).toEqual([]);
    const { runtime, endpointRuntime } = config?.deployment ?? {};
    expect(runtime).toMatchObject({
      env: { LOG_LEVEL: "info", WORKERS: "2" },
      secrets: [
        { kind: "key", env: "API_KEY", secret: "model-keys", key: "api-key" },
        { kind: "all", secret: "shared-env" },
      ],
      startupTimeoutSeconds: 1200,
      requestTimeoutSeconds: 120,
      stripPrefix: false,
    });
    expect(endpointRuntime?.predict).toMatchObject({
      env: { LOG_LEVEL: "info", WORKERS: "4" },
      stripPrefix: true,
      healthPath: "/healthz",
      shmSizeMB: 2048,
      replicas: 2,
      startupTimeoutSeconds: 1200,
    });
    expect(endpointRuntime?.health).toEqual(runtime);
  });

  it.each([
    [
      ["    endpoints:", "      predcit: { replicas: 2 }"],
      12,
      7,
      "endpoints.predcit names no endpoint of this file: the endpoints are predict, health",
    ],
    [
      ["    secrets:", "      - { secret: keys, key: api-key }"],
      12,
      9,
      "secret 'keys' key 'api-key' needs 'env', the variable it is read into",
    ],
    [
      ["    secrets:", "      - { secret: keys, env: API_KEY }"],
      12,
      9,
      "secret 'keys' into 'API_KEY' needs 'key', the Secret's key to read",
    ],
    [["    startup-timeout: 0s"], 11, 22, "startup-timeout must be longer than 0s"],
    [
      ["    env: { 1BAD: x }"],
      11,
      12,
      "env name '1BAD' is invalid: use letters, digits and underscores, not starting with a digit",
    ],
    [["    replicas: 0"], 11, 15, "'replicas' must be >= 1, got 0"],
    [
      ["    endpoints:", "      predict: { replicas: 2, wsgi: other }"],
      12,
      31,
      "unknown key 'wsgi' in 'endpoints.predict'",
    ],
  ])("%j is refused with its place", (lines, line, column, message) => {
    const { config, problems } = parse(...lines);
    expect(config).toBeUndefined();
    const errors = problems.filter((p) => p.severity === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line, column });
    expect(errors[0]?.message).toContain(message);
  });
});

// The plan: Kubernetes-safe names and Valohai-style URLs, from config and run context.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse.js";
import type { SlipwayConfig } from "../../src/config/types.js";
import { dnsLabel, labelValue } from "../../src/plan/names.js";
import { PlanError, planDeployment } from "../../src/plan/plan.js";

function config(yaml: string): SlipwayConfig {
  const r = parseConfig(yaml, "valohai.yaml");
  if (!r.config) throw new Error(r.problems.map((p) => p.message).join("\n"));
  return r.config;
}

const sample = config(`
- endpoint: {name: predict, image: python:3.11, wsgi: app}
- endpoint: {name: health, image: python:3.11, port: 8080, server-command: python s.py}
- deployment:
    name: mnist
    base-url: https://ml.example.com/
    environments:
      staging: {}
      production: {requires: [staging]}
`);
const commit = "3F2A9C1D0B7E55AA12FF00112233445566778899";

describe("dnsLabel", () => {
  const valid = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  it.each([
    [["mnist", "abc123", "predict"], "mnist-abc123-predict"],
    [["My_Deploy", "v1"], /^my-deploy-v1-[0-9a-f]{8}$/],
    [["a".repeat(40), "b".repeat(40)], /^a{40}-b{13}-[0-9a-f]{8}$/],
    [["--"], /^x-[0-9a-f]{8}$/],
  ] as const)("%j → %s", (parts, expected) => {
    const name = dnsLabel(...parts);
    expect(name).toMatch(valid);
    expect(name.length).toBeLessThanOrEqual(63);
    if (typeof expected === "string") expect(name).toBe(expected);
    else expect(name).toMatch(expected);
  });

  it("keeps distinct long names distinct and stable", () => {
    const a = dnsLabel("x".repeat(70), "one");
    const b = dnsLabel("x".repeat(70), "two");
    expect(a).not.toBe(b);
    expect(dnsLabel("x".repeat(70), "one")).toBe(a);
  });

  it("leaves valid label values alone and shortens long ones", () => {
    expect(labelValue("Acme_Corp.v1")).toBe("Acme_Corp.v1");
    expect(labelValue("y".repeat(80))).toHaveLength(63);
  });
});

describe("planDeployment", () => {
  it("gives each endpoint a version URL under <base>/<owner>/<project>/<deployment>/<version>", () => {
    const plan = planDeployment(sample, { owner: "Acme", repo: "Digits", commit });
    expect(plan.version).toBe("3f2a9c1d0b7e");
    expect(plan.versionPath).toBe("/acme/digits/mnist/3f2a9c1d0b7e");
    expect(plan.namespace).toBe("slipway");
    expect(
      plan.endpoints.map((e) => [e.name, e.url, e.scriptName, e.resourceName, e.imageRepository, e.port]),
    ).toEqual([
      [
        "predict",
        "https://ml.example.com/acme/digits/mnist/3f2a9c1d0b7e/predict",
        "/acme/digits/mnist/3f2a9c1d0b7e/predict",
        "mnist-3f2a9c1d0b7e-predict",
        "ghcr.io/acme/digits/predict",
        8000,
      ],
      [
        "health",
        "https://ml.example.com/acme/digits/mnist/3f2a9c1d0b7e/health",
        "/acme/digits/mnist/3f2a9c1d0b7e/health",
        "mnist-3f2a9c1d0b7e-health",
        "ghcr.io/acme/digits/health",
        8080,
      ],
    ]);
  });

  it("adds the pull request's preview alias and the target environment", () => {
    const plan = planDeployment(sample, {
      owner: "acme",
      repo: "digits",
      commit,
      pullRequest: 42,
      environment: "staging",
    });
    expect(plan.aliases.map((a) => [a.name, a.kind, a.url])).toEqual([
      ["pr-42", "preview", "https://ml.example.com/acme/digits/mnist/pr-42"],
      ["staging", "environment", "https://ml.example.com/acme/digits/mnist/staging"],
    ]);
    expect(plan.endpoints[0]?.aliases.map((a) => a.url)).toEqual([
      "https://ml.example.com/acme/digits/mnist/pr-42/predict",
      "https://ml.example.com/acme/digits/mnist/staging/predict",
    ]);
  });

  it("labels every endpoint's objects with owner, project, deployment, version and endpoint", () => {
    const plan = planDeployment(sample, { owner: "acme", repo: "digits", commit });
    expect(plan.endpoints[0]?.labels).toEqual({
      "app.kubernetes.io/managed-by": "slipway",
      "slipway.dev/owner": "acme",
      "slipway.dev/project": "digits",
      "slipway.dev/deployment": "mnist",
      "slipway.dev/version": "3f2a9c1d0b7e",
      "slipway.dev/endpoint": "predict",
    });
  });

  it("shows paths when no base URL is known, and honours overrides", () => {
    const bare = config("- endpoint: {name: predict, image: x, wsgi: app}\n");
    const plan = planDeployment(bare, {
      owner: "o",
      repo: "r",
      commit,
      version: "release-1",
      registry: "127.0.0.1:5000/ml",
      namespace: "ml",
    });
    expect(plan.endpoints[0]).toMatchObject({
      path: "/o/r/default/release-1/predict",
      imageRepository: "127.0.0.1:5000/ml/predict",
    });
    expect(plan.endpoints[0]?.url).toBeUndefined();
    expect(plan.namespace).toBe("ml");
    expect(
      planDeployment(bare, { owner: "o", repo: "r", commit, baseUrl: "http://127.0.0.1:8080" }).endpoints[0]
        ?.url,
    ).toBe(`http://127.0.0.1:8080/o/r/default/${commit.slice(0, 12).toLowerCase()}/predict`);
  });

  it("truncates long Kubernetes names with a stable hash suffix", () => {
    const long = config(
      `- endpoint: {name: ${"e".repeat(50)}, image: x, wsgi: app}\n- deployment: {name: ${"d".repeat(40)}}\n`,
    );
    const name = planDeployment(long, { owner: "o", repo: "r", commit }).endpoints[0]?.resourceName ?? "";
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^d{40}-3f2a9c1d0b7e-[0-9a-f]{8}$/);
  });

  it.each([
    [
      { environment: "prod" },
      "environment 'prod' is not in the config: known environments are staging, production",
    ],
    [{ version: "Release 1" }, "version 'Release 1' is invalid"],
    [{ commit: "not-a-sha" }, "commit 'not-a-sha' is not a hexadecimal commit SHA"],
    [{ pullRequest: 0 }, "pull request number 0 is invalid"],
    [{ owner: "" }, "the repository owner and name are required"],
  ])("refuses %j", (override, message) => {
    expect(() => planDeployment(sample, { owner: "acme", repo: "digits", commit, ...override })).toThrow(
      new PlanError(message).message,
    );
  });
});

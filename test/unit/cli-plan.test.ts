// `slipway plan` as a user runs it: table, JSON, located problems, exit codes.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoFromRemote } from "../../src/intent/local-context.js";
import { runCli } from "../support/run-cli.js";

const root = new URL("../../", import.meta.url).pathname;

function run(argv: string[], cwd = root, env: NodeJS.ProcessEnv = {}) {
  return runCli(argv, cwd, env);
}

const sampleArgs = [
  "plan",
  "--config",
  "fixtures/sample-repo/valohai.yaml",
  "--repo",
  "acme/mnist",
  "--commit",
  "0123456789abcdef0123",
];

describe("slipway plan", () => {
  it("prints a table of endpoints, names and URLs", async () => {
    const { code, stdout, stderr } = await run([...sampleArgs, "--pr", "42"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("Deployment  mnist (namespace ml-previews)");
    expect(stdout).toContain("Version     0123456789ab (commit 0123456789abcdef0123)");
    expect(stdout).toMatch(
      /predict-digits\s+8000\s+mnist-0123456789ab-predict-digits\s+ghcr\.io\/acme\/mnist\/predict-digits\s+https:\/\/ml\.example\.com\/acme\/mnist\/mnist\/0123456789ab\/predict-digits/,
    );
    expect(stdout).toContain("pr-42: https://ml.example.com/acme/mnist/mnist/pr-42/predict-digits");
  });

  it("prints the plan as JSON with --json", async () => {
    const { code, stdout } = await run([...sampleArgs, "--json", "--environment", "staging"]);
    expect(code).toBe(0);
    const plan = JSON.parse(stdout) as {
      version: string;
      aliases: { name: string }[];
      endpoints: { name: string; url: string }[];
    };
    expect(plan.version).toBe("0123456789ab");
    expect(plan.aliases.map((a) => a.name)).toEqual(["staging"]);
    expect(plan.endpoints.map((e) => e.name)).toEqual(["predict-digits", "health-check"]);
  });

  it("reads the repository and commit from the Actions environment", async () => {
    const { code, stdout } = await run(
      ["plan", "--config", "fixtures/sample-repo/valohai.yaml", "--json"],
      root,
      {
        GITHUB_REPOSITORY: "octo/models",
        GITHUB_SHA: "fedcba9876543210fedcba9876543210fedcba98",
      },
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ owner: "octo", project: "models", version: "fedcba987654" });
  });

  it("prints every problem as file:line:column: message and exits 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-plan-"));
    writeFileSync(
      join(dir, "valohai.yaml"),
      [
        "- endpoint:",
        "    name: Bad_Name",
        "    image: x",
        "    port: 80",
        "    wsgi: app",
        "- endpont: {}",
      ].join("\n"),
    );
    const { code, stdout, stderr } = await run(["plan", "--repo", "a/b", "--commit", "abcdef0"], dir);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.split("\n")).toEqual([
      "valohai.yaml:6:3: warning: unknown entry kind 'endpont' is ignored; did you mean 'endpoint'?",
      "valohai.yaml:2:11: endpoint 'Bad_Name': name 'Bad_Name' is invalid: it must be lowercase, start with a letter and contain only letters, digits and dashes (^[a-z][a-z0-9-]+$)",
      "valohai.yaml:4:11: endpoint 'Bad_Name': port 80 is out of range: use a port from 1025 to 65535",
      "slipway: 2 problems in valohai.yaml; nothing was built or deployed",
      "",
    ]);
  });

  it.each([
    [["plan", "--bogus"], 2, "Unknown option '--bogus'"],
    [["frobnicate"], 2, "unknown command 'frobnicate'"],
    [
      ["plan", "--config", "fixtures/sample-repo/valohai.yaml", "--repo", "nope", "--commit", "abcdef0"],
      2,
      "--repo 'nope' must be written as owner/name",
    ],
    [[...sampleArgs, "--environment", "prod"], 1, "environment 'prod' is not in the config"],
    [[...sampleArgs, "--pr", "x"], 2, "--pr 'x' must be a pull request number"],
  ])("%j exits %i", async (argv, exit, message) => {
    const { code, stderr } = await run(argv);
    expect(code).toBe(exit);
    expect(stderr).toContain(message);
  });
});

describe("repoFromRemote", () => {
  it.each([
    ["https://github.com/acme/mnist.git", { owner: "acme", repo: "mnist" }],
    ["https://github.com/acme/mnist", { owner: "acme", repo: "mnist" }],
    ["git@github.com:acme/mnist.git", { owner: "acme", repo: "mnist" }],
    ["ssh://git@github.com/acme/mnist.git", { owner: "acme", repo: "mnist" }],
    ["/some/local/path", undefined],
  ])("%s", (url, expected) => {
    expect(repoFromRemote(url)).toEqual(expected);
  });
});

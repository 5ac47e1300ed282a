// The CLI outside a GitHub checkout, and its flags held to the same rules as the Action's inputs.
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/run-cli.js";

const root = new URL("../../", import.meta.url).pathname;

function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return runCli(argv, cwd, env);
}

/** The sample repository copied into a folder that is not a git checkout. */
function plainFolder(): string {
  const dir = join(mkdtempSync(join(tmpdir(), "slipway-nogit-")), "My Models");
  cpSync(join(root, "fixtures/sample-repo"), dir, { recursive: true });
  return dir;
}

describe("slipway outside a git checkout", () => {
  it("plans with stand-in names and one warning saying what to pass", async () => {
    const { code, stdout, stderr } = await run(["plan", "--json"], plainFolder());
    expect(code).toBe(0);
    const plan = JSON.parse(stdout) as { owner: string; project: string; version: string };
    expect(plan).toMatchObject({ owner: "local", project: "my-models", version: "local" });
    const warnings = stderr.trim().split("\n");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^slipway: warning: .* is not a GitHub checkout git can read: planned with stand-ins for the repository \(local\/my-models; pass --repo owner\/name\) and the version \(local; pass --commit <sha> or --version <name>\)$/,
    );
  });

  it("plans without a warning once --repo and --commit say what git cannot", async () => {
    const { code, stderr } = await run(
      ["plan", "--repo", "acme/mnist", "--commit", "abcdef0"],
      plainFolder(),
    );
    expect(code).toBe(0);
    expect(stderr).toBe("");
  });

  it("refuses to build from stand-in names, before touching any registry", async () => {
    const { code, stderr } = await run(["build", "--registry", "127.0.0.1:1/x"], plainFolder());
    expect(code).toBe(2);
    expect(stderr).toContain("nothing can be published from stand-in names");
  });
});

describe("slipway plan and build agree on declared files", () => {
  it("plan refuses a declared file that links out of the checkout, at its place in the config", async () => {
    const dir = plainFolder();
    const outside = mkdtempSync(join(tmpdir(), "slipway-outside-"));
    writeFileSync(join(outside, "credentials.json"), "{}");
    rmSync(join(dir, "models", "model.json"));
    symlinkSync(join(outside, "credentials.json"), join(dir, "models", "model.json"));
    const { code, stderr } = await run(["plan", "--repo", "acme/mnist", "--commit", "abcdef0"], dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^valohai\.yaml:\d+:\d+: .*models\/model\.json.*outside/m);
    expect(stderr).toContain("nothing was built or deployed");
  });
});

describe("CLI flags follow the rules of the Action's inputs", () => {
  const sample = [
    "plan",
    "--config",
    "fixtures/sample-repo/valohai.yaml",
    "--repo",
    "acme/mnist",
    "--commit",
    "abcdef0",
  ];
  it.each([
    [
      ["--base-url", "not a url?x#y"],
      "--base-url must be an http(s) URL without credentials, query or fragment, got 'not a url?x#y'",
    ],
    [
      ["--base-url", "https://user:hunter2@ml.example.com"],
      "--base-url must be an http(s) URL without credentials, query or fragment, got 'https://***@ml.example.com'",
    ],
    [
      ["--registry", "https://ghcr.io/acme"],
      "--registry must be an image repository prefix such as ghcr.io/acme/models, without scheme or credentials",
    ],
    [["--registry", "user:hunter2@ghcr.io/acme"], "got '***@ghcr.io/acme'"],
    [["--registry", "ghcr.io/Acme Models"], "--registry is not an image repository prefix"],
    [["--namespace", "Prod_NS"], "--namespace must be a Kubernetes namespace name"],
  ])("%j is refused", async (flags, message) => {
    const { code, stdout, stderr } = await run([...sample, ...flags], root);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain(message);
    expect(stderr).not.toContain("hunter2");
  });
});

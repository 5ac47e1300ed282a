// `slipway build` end to end through cli(): plan names, registry push, per-endpoint references and
// bytes, a zero-byte second run, and a missing declared file reported with endpoint and file.

import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../../src/cli.js";
import { env } from "./build-helpers.js";

const FIXTURE = path.resolve("fixtures/build-sample");
let repo: string;
let cacheDir: string;

beforeAll(async () => {
  repo = await mkdtemp(path.join(tmpdir(), "slipway-build-cli-"));
  cacheDir = await mkdtemp(path.join(tmpdir(), "slipway-build-cli-cache-"));
  await cp(FIXTURE, repo, { recursive: true });
  const yaml = await readFile(path.join(repo, "valohai.yaml"), "utf8");
  await writeFile(
    path.join(repo, "valohai.yaml"),
    yaml.replaceAll("127.0.0.1:5000/slipway-test/python:bookworm", env("SLIPWAY_TEST_PYTHON_IMAGE")),
  );
});

afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
  await rm(cacheDir, { recursive: true, force: true });
});

async function slipway(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await cli(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { ...process.env, GITHUB_REPOSITORY: "Acme/Sample" },
    cwd: repo,
  });
  return { code, stdout, stderr };
}

describe("slipway build", () => {
  const prefix = () => `${env("SLIPWAY_TEST_REGISTRY")}/build-cli-${process.pid}`;
  const commit = "abcdef0123456789abcdef0123456789abcdef01";

  it("pushes every endpoint and prints references with digests and bytes uploaded", async () => {
    const args = ["build", "--registry", prefix(), "--commit", commit, "--cache-dir", cacheDir];
    const first = await slipway(...args, "--json");
    expect(first.stderr).not.toMatch(/slipway:/);
    expect(first.code).toBe(0);
    const out = JSON.parse(first.stdout) as {
      version: string;
      images: Array<{ endpoint: string; reference: string; tag: string; uploadedBytes: number }>;
    };
    expect(out.version).toBe("abcdef012345");
    expect(out.images.map((i) => i.reference.replace(/@sha256:[0-9a-f]{64}$/, ""))).toEqual([
      `${prefix()}/predict-wsgi`,
      `${prefix()}/predict-command`,
    ]);
    expect(out.images[0]?.uploadedBytes).toBeGreaterThan(0);

    const second = await slipway(...args);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`predict-wsgi     ${out.images[0]?.reference}  0 B uploaded`);
    expect(second.stdout).toMatch(/version abcdef012345: 0 B uploaded/);
  });

  it("fails with the endpoint and the file when a declared file is missing", async () => {
    await rm(path.join(repo, "models/model.txt"));
    const r = await slipway("build", "--registry", prefix(), "--commit", commit, "--cache-dir", cacheDir);
    expect(r.code).toBe(1);
    // Found while planning, with the build's rules, at its place in the config.
    expect(r.stderr).toMatch(
      /^valohai\.yaml:\d+:\d+: endpoint 'predict-wsgi' declares file 'models\/model\.txt', but it is not in the checkout$/m,
    );
  });

  it("rejects an unknown builder as a usage error", async () => {
    const r = await slipway("build", "--builder", "kaniko", "--commit", commit);
    expect(r.code).toBe(2);
  });
});

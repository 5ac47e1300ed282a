// `slipway teardown` and `slipway housekeeping`, the CLI's edges over the clean-up flows the Action
// runs on a closed pull request and on schedule: a preview deployed with --pr is removed with its
// versions; removing it again changes nothing; housekeeping removes the preview of a pull request
// no longer open and needs the list of open ones, even empty.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { runCli } from "../support/run-cli.js";
import { type SampleRepo, sampleRepoFor, withoutEndpoint } from "../support/sample-deploy.js";

let cluster: TestCluster;
let cacheDir: string;
let sample: SampleRepo;

function slipway(...argv: string[]) {
  return runCli(argv, sample.dir, { HOME: cacheDir, PATH: process.env.PATH, USER: "tester" });
}

const target = () => [
  "--config",
  sample.config,
  "--kubeconfig",
  cluster.kubeconfigPath,
  "--repo",
  "acme/mnist",
];

/** One endpoint is enough to clean up. */
function onlyHealth(config: string): string {
  return withoutEndpoint(config, "predict-digits");
}

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  cacheDir = mkdtempSync(join(tmpdir(), "slipway-layers-"));
  sample = sampleRepoFor(cluster, onlyHealth);
});

afterAll(async () => {
  await cluster?.stop();
});

describe("the CLI's clean-up commands", () => {
  it("teardown removes a pull request's alias and its versions; a second teardown changes nothing", async () => {
    for (const [pr, commit] of [
      ["4", "4".repeat(40)],
      ["5", "5".repeat(40)],
    ] as const) {
      const r = await slipway("deploy", ...target(), "--pr", pr, "--commit", commit, "--cache-dir", cacheDir);
      expect(r.code, r.stderr).toBe(0);
    }
    const removed = await slipway("teardown", ...target(), "--pr", "4");
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`removed pr-4, version ${"4".repeat(12)}\n`);
    const again = await slipway("teardown", ...target(), "--pr", "4");
    expect(again.stdout).toBe("pull request #4's preview is already gone\n");
    const listed = await slipway("versions", ...target());
    expect(listed.stdout).toContain("5".repeat(12));
    expect(listed.stdout).not.toContain("4".repeat(12));
  });

  it("housekeeping needs the open pull requests, then removes the previews of the others", async () => {
    const refused = await slipway("housekeeping", ...target());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("housekeeping needs --open");
    const kept = await slipway("housekeeping", ...target(), "--open", "5");
    expect(kept.stdout).toBe("nothing to remove\n");
    const removed = await slipway("housekeeping", ...target(), "--open", "");
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`removed pr-5 (#5, closed)\nretired version ${"5".repeat(12)}\n`);
    expect((await slipway("versions", ...target())).stdout).toContain("no versions");
  });
});

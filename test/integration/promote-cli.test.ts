// `slipway promote`, `slipway rollback` and `slipway status` on the local test cluster: versions
// deployed once are pointed at by staging and production without a build; production refuses a version
// staging does not serve; a rollback goes back along the alias's history; a promotion another run holds
// the lock for is refused naming that run; status shows where every alias points.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { acquireLock, createKubeClient, type KubeClient } from "../../src/kube/index.js";
import { decodeHistory } from "../../src/route/alias-history.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { runCli } from "../support/run-cli.js";
import { type SampleRepo, sampleRepoFor, withoutEndpoint } from "../support/sample-deploy.js";

const NAMESPACE = "ml-previews";
const V1 = "1a".repeat(20);
const V2 = "2b".repeat(20);
const version = (commit: string) => commit.slice(0, 12);
/** The Gateway picks a moved route up shortly after the apply. */
const POLL = { timeout: 15_000, interval: 250 };

let cluster: TestCluster;
let admin: KubeClient;
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

/** One endpoint, the one that answers with its SCRIPT_NAME. */
function onlyPredict(config: string): string {
  return withoutEndpoint(config, "health-check");
}

/** The version an alias serves, as the app behind it says (its version path). */
async function served(alias: string): Promise<string | number> {
  const response = await fetch(`${cluster.gatewayUrl}/acme/mnist/mnist/${alias}/predict-digits/`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 200) return response.status;
  const body = (await response.json()) as { script_name: string };
  return body.script_name.replace(/^\/acme\/mnist\/mnist\/([^/]+)\/predict-digits$/, "$1");
}

async function route(alias: string) {
  return admin.get({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    name: `mnist-alias-${alias}`,
    namespace: NAMESPACE,
  });
}

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  admin = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
  cacheDir = mkdtempSync(join(tmpdir(), "slipway-layers-"));
  sample = sampleRepoFor(cluster, onlyPredict);
  for (const more of [
    ["--commit", V1],
    ["--commit", V2, "--pr", "7"],
  ]) {
    const r = await slipway("deploy", ...target(), ...more, "--cache-dir", cacheDir);
    expect(r.code, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  admin?.close();
  await cluster?.stop();
});

describe("the CLI's promotion commands", () => {
  it("production refuses a version staging does not serve, and nothing moves", async () => {
    const r = await slipway("promote", "production", "--version", version(V1), ...target());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `slipway: version ${version(V1)} is not live on staging: a version must be live on staging before production`,
    );
    expect(await route("production")).toBeUndefined();
    expect(await route("staging")).toBeUndefined();
  });

  it("promotes staging to a version, then to what a preview serves, and rolls back along the history", async () => {
    const first = await slipway("promote", "staging", "--version", version(V1), ...target());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(`staging: nothing -> ${version(V1)}\n`);
    await expect.poll(() => served("staging"), POLL).toBe(version(V1));

    const again = await slipway("promote", "staging", "--version", version(V1), ...target());
    expect(again.stdout).toBe(`staging already serves ${version(V1)}\n`);

    const fromPreview = await slipway("promote", "staging", "--from", "pr-7", ...target());
    expect(fromPreview.code, fromPreview.stderr).toBe(0);
    expect(fromPreview.stdout).toBe(`staging: ${version(V1)} -> ${version(V2)}\n`);
    await expect.poll(() => served("staging"), POLL).toBe(version(V2));

    const back = await slipway("rollback", "staging", ...target());
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe(`staging: ${version(V2)} -> ${version(V1)}\n`);
    await expect.poll(() => served("staging"), POLL).toBe(version(V1));

    const history = decodeHistory(
      (await route("staging"))?.metadata?.annotations?.["slipway.dev/history"] ?? "",
    );
    expect(history.ok && history.value.map((e) => [e.version, e.why, e.by])).toEqual([
      [version(V1), "promote", "tester"],
      [version(V2), "promote", "tester"],
      [version(V1), "rollback", "tester"],
    ]);
  });

  it("a promotion another run holds the lock for is refused, naming that run", async () => {
    const held = await acquireLock(admin, {
      namespace: NAMESPACE,
      name: "mnist-promote-staging",
      labels: { "app.kubernetes.io/managed-by": "slipway" },
      holder: "octocat via run 4242",
      durationSeconds: 60,
    });
    expect(held.acquired).toBe(true);
    try {
      const r = await slipway("promote", "staging", "--version", version(V2), ...target());
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("slipway: octocat via run 4242 is moving staging now");
      await expect.poll(() => served("staging"), POLL).toBe(version(V1));
    } finally {
      if (held.acquired) await held.lock.release();
    }
  });

  it("status lists every environment and preview, the version each serves and its last move", async () => {
    const table = await slipway("status", ...target());
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ALIAS\s+KIND\s+VERSION\s+SPLIT\s+LAST MOVE$/);
    expect(lines[1]).toMatch(
      new RegExp(`^staging\\s+environment\\s+${version(V1)}\\s+-\\s+rollback by tester at `),
    );
    expect(lines[2]).toMatch(/^production\s+environment\s+-\s+-\s+-$/);
    expect(lines[3]).toMatch(new RegExp(`^pr-7\\s+preview\\s+${version(V2)}\\s+-\\s+-$`));

    const json = await slipway("status", "--json", ...target());
    const status = JSON.parse(json.stdout) as { aliases: { alias: string; version?: string }[] };
    expect(status.aliases.map((a) => [a.alias, a.version ?? null])).toEqual([
      ["staging", version(V1)],
      ["production", null],
      ["pr-7", version(V2)],
    ]);
  });
});

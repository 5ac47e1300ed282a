// A version that cannot run, deployed over a good one on the local test cluster: a missing image, a
// crashing server, a cpu request no node can meet. Each is reported with the cluster's own reason
// (the registry's pull error, the crash's last log lines, the scheduler's message) long before the
// deadline, how long after the cluster knew it; the failed version is scaled to zero with its reason
// on its record, `slipway versions` shows it failed, and the alias keeps serving the good version.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { planRequest } from "../../src/commands/plan-request.js";
import { ANNOTATION_FAILURE, deployVersion } from "../../src/flows/deploy.js";
import { planVersion } from "../../src/flows/plan.js";
import { createKubeClient, type KubeClient, RolloutFailed } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { runCli } from "../support/run-cli.js";
import { type SampleRepo, sampleRepoFor } from "../support/sample-deploy.js";

const NAMESPACE = "ml-previews";
const GOOD = "a1".repeat(20);
const NO_IMAGE = "c3".repeat(20);
const CRASH = "d4".repeat(20);
const NO_CPU = "e5".repeat(20);
const version = (commit: string) => commit.slice(0, 12);
const CRASH_LINE = "predict.server: cannot load weights from /models/digits.bin";

let cluster: TestCluster;
let kube: KubeClient;
let cacheDir: string;
let good: SampleRepo;
let goodImages: Record<string, string>;
/** Per failure, how long after the cluster knew Slipway reported it, as the deploy printed it. */
const delays: Record<string, number> = {};

function slipway(repo: SampleRepo, ...argv: string[]) {
  return runCli(argv, repo.dir, { HOME: cacheDir, PATH: process.env.PATH, USER: "tester" });
}

// The layer cache lives outside the checkout: inside it, it would be part of the next version's code.
const common = () => ["--kubeconfig", cluster.kubeconfigPath, "--repo", "acme/mnist"];
const deployFlags = (commit: string) => [
  "deploy",
  ...common(),
  "--cache-dir",
  cacheDir,
  "--commit",
  commit,
  "--alias",
  "staging",
  "--timeout",
  "10m",
];

async function get(path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${cluster.gatewayUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

/** The delay the deploy printed: "noticed 0.4s after the cluster reported it". */
function printedDelay(output: string): number {
  const match = /noticed (\d+\.\d)s after the cluster reported it/.exec(output);
  expect(match, output).not.toBeNull();
  return Number(match?.[1]);
}

/** Everything that must hold after a failed deploy of `commit`, whatever the failure. */
async function expectFailedAndContained(commit: string, reason: string): Promise<void> {
  // The alias still serves the good version, through the gateway.
  const viaAlias = await get("/acme/mnist/mnist/staging/predict-digits/");
  expect(viaAlias.status).toBe(200);
  expect(JSON.parse(viaAlias.body).script_name).toBe(`/acme/mnist/mnist/${version(GOOD)}/predict-digits`);
  // The failed version runs nothing and keeps its objects for inspection.
  const deployments = await kube.list<{ spec?: { replicas?: number } } & { metadata?: { name?: string } }>(
    { apiVersion: "apps/v1", kind: "Deployment" },
    NAMESPACE,
    { labelSelector: `slipway.dev/version=${version(commit)}` },
  );
  expect(deployments.items.length).toBe(2);
  for (const d of deployments.items) expect(d.spec?.replicas, d.metadata?.name).toBe(0);
  // Its record says why.
  const records = await kube.list({ apiVersion: "v1", kind: "ConfigMap" }, NAMESPACE, {
    labelSelector: `slipway.dev/version=${version(commit)},app.kubernetes.io/component=version-record`,
  });
  expect(records.items).toHaveLength(1);
  expect(records.items[0]?.metadata?.annotations?.[ANNOTATION_FAILURE]).toMatch(new RegExp(`^${reason}: `));
  // And `slipway versions` shows it failed with that reason, no alias on it.
  const listed = await slipway(good, "versions", ...common(), "--json");
  expect(listed.code, listed.stderr).toBe(0);
  const versions = JSON.parse(listed.stdout) as {
    version: string;
    state: { kind: string; reason?: string };
    aliases: string[];
  }[];
  const failed = versions.find((v) => v.version === version(commit));
  expect(failed?.state.kind).toBe("failed");
  expect(failed?.state.reason).toMatch(new RegExp(`^${reason}: `));
  expect(failed?.aliases).toEqual([]);
  expect(versions.find((v) => v.version === version(GOOD))?.aliases).toEqual(["staging"]);
}

beforeAll(async () => {
  // Two cores: a cpu request of 16 fits on no node.
  cluster = await startTestCluster({ stack: inject("slipwayStack"), node: { cpu: "2" } });
  kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
  cacheDir = mkdtempSync(join(tmpdir(), "slipway-layers-"));
  good = sampleRepoFor(cluster);
});

afterAll(async () => {
  kube?.close();
  await cluster?.stop();
  console.log(`cluster knew → Slipway reported: ${JSON.stringify(delays)}`);
});

describe("a version that cannot run", () => {
  it("deploys the good version first, with the staging alias", async () => {
    const r = await slipway(good, ...deployFlags(GOOD), "--json");
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { endpoints: { name: string; image: string }[] };
    goodImages = Object.fromEntries(result.endpoints.map((e) => [e.name, e.image]));
    expect((await get("/acme/mnist/mnist/staging/predict-digits/")).status).toBe(200);
  });

  it("a missing image: ErrImagePull or ImagePullBackOff, naming the image, with the registry's words", async () => {
    const missing = `${cluster.registry}/acme/mnist/predict-digits@sha256:${"0".repeat(64)}`;
    const lines: string[] = [];
    const io = {
      stdout: { write: () => true },
      stderr: { write: (t: string) => lines.push(t) },
      env: { HOME: cacheDir, PATH: process.env.PATH, USER: "tester" },
      cwd: good.dir,
    };
    const planned = await planVersion(
      await planRequest(
        { config: "valohai.yaml", repo: "acme/mnist", commit: NO_IMAGE, alias: "staging" },
        io,
      ),
    );
    const error = await deployVersion(
      {
        planned,
        images: { ...goodImages, "predict-digits": missing },
        deployedBy: "tester",
        timeoutSeconds: 600,
        log: (line) => lines.push(line),
      },
      { kube },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RolloutFailed);
    const failure = error as RolloutFailed;
    expect(["ErrImagePull", "ImagePullBackOff"]).toContain(failure.reason);
    expect(failure.endpoint).toBe("predict-digits");
    expect(failure.image).toBe(missing);
    expect(failure.message).toContain(missing);
    // The registry's own answer for a manifest it does not have.
    expect(failure.message).toMatch(/not found|manifest unknown/i);
    delays["missing image"] = printedDelay(lines.join("\n"));
    await expectFailedAndContained(NO_IMAGE, failure.reason);
  });

  it("a crashing server: CrashLoopBackOff with its last log lines", async () => {
    const crashing = sampleRepoFor(cluster, (config) =>
      config.replace(
        "server-command: python3 -m predict.server",
        `server-command: "echo '${CRASH_LINE}'; exit 3"`,
      ),
    );
    const r = await slipway(crashing, ...deployFlags(CRASH));
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toMatch(
      /slipway: deployment "ml-previews\/[^"]*health-check" \(endpoint health-check\) failed: CrashLoopBackOff: /,
    );
    expect(r.stderr).toContain("last exit code 3");
    expect(r.stderr).toMatch(new RegExp(`last log lines:\\n(.*\\n)*${CRASH_LINE.replaceAll(".", "\\.")}`));
    expect(r.stderr).not.toMatch(/timed out|Timeout/);
    delays.crash = printedDelay(r.stderr);
    await expectFailedAndContained(CRASH, "CrashLoopBackOff");
  });

  it("a cpu request no node can meet: Unschedulable with the scheduler's message", async () => {
    const greedy = sampleRepoFor(cluster, (config) =>
      config.replace("cpu:\n        min: 0.25\n        max: 1", "cpu:\n        min: 16\n        max: 16"),
    );
    const r = await slipway(greedy, ...deployFlags(NO_CPU));
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toMatch(
      /slipway: deployment "ml-previews\/[^"]*predict-digits" \(endpoint predict-digits\) failed: Unschedulable: /,
    );
    expect(r.stderr).toContain("0/1 nodes are available: 1 Insufficient cpu");
    expect(r.stderr).not.toMatch(/timed out|Timeout/);
    delays.unschedulable = printedDelay(r.stderr);
    await expectFailedAndContained(NO_CPU, "Unschedulable");
  });
});

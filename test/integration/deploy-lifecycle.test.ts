// What inference servers need from their manifests, shown on the test cluster with real containers: a
// model that takes 40 s to load becomes ready and is never restarted (the startup probe's budget holds
// the liveness probe off), and retiring a version while its alias moves away drops no request (preStop
// pause, graceful termination, the router's propagation delay).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKubeClient } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { runCli } from "../support/run-cli.js";
import { type SampleRepo, sampleRepoFor } from "../support/sample-deploy.js";

let cluster: TestCluster;
let cacheDir: string;

function slipway(sample: SampleRepo, ...argv: string[]) {
  return runCli(argv, sample.dir, { HOME: cacheDir, PATH: process.env.PATH, USER: "tester" });
}

const args = (sample: SampleRepo, commit: string) => [
  "--config",
  sample.config,
  "--kubeconfig",
  cluster.kubeconfigPath,
  "--repo",
  "acme/mnist",
  "--commit",
  commit,
  "--cache-dir",
  cacheDir,
];

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  cacheDir = mkdtempSync(join(tmpdir(), "slipway-layers-"));
});

afterAll(async () => {
  await cluster?.stop();
});

describe("inference servers on the cluster", () => {
  it("a server that loads its model for 40 s becomes ready and is never restarted", async () => {
    const sample = sampleRepoFor(cluster, (c) =>
      c.replace(
        "server-command: python3 -m predict.server",
        "server-command: sleep 40 && python3 -m predict.server",
      ),
    );
    const commit = "5".repeat(40);
    const r = await slipway(sample, "deploy", ...args(sample, commit), "--json");
    expect(r.code, r.stderr).toBe(0);
    const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
    const pods = await kube.list<
      { status?: { containerStatuses?: { restartCount?: number; ready?: boolean }[] } } & Record<
        string,
        unknown
      >
    >({ apiVersion: "v1", kind: "Pod" }, "ml-previews", {
      labelSelector: `slipway.dev/version=${commit.slice(0, 12)},slipway.dev/endpoint=health-check`,
    });
    kube.close();
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]?.status?.containerStatuses).toEqual([
      expect.objectContaining({ ready: true, restartCount: 0 }),
    ]);
    const response = await fetch(
      `${cluster.gatewayUrl}/acme/mnist/mnist/${commit.slice(0, 12)}/health-check/`,
    );
    expect(await response.text()).toBe("ok\n");
  }, 300_000);

  it("a steady stream on the alias sees no failed request while it moves to a new version and the old one is retired", async () => {
    const sample = sampleRepoFor(cluster);
    const [a, b] = ["6".repeat(40), "7".repeat(40)];
    expect((await slipway(sample, "deploy", ...args(sample, a), "--alias", "live")).code).toBe(0);
    const url = `${cluster.gatewayUrl}/acme/mnist/mnist/live/predict-digits/`;
    // Until the alias answers, nothing has been promised; from then on every request must succeed.
    for (let i = 0; i < 100 && (await fetch(url)).status !== 200; i++)
      await new Promise((r) => setTimeout(r, 200));
    const failures: string[] = [];
    let sent = 0;
    let streaming = true;
    const stream = (async () => {
      // Bounded: stops when told, and after 3 minutes whatever happens.
      const until = Date.now() + 180_000;
      while (streaming && Date.now() < until) {
        sent++;
        try {
          const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
          const body = await response.text();
          if (response.status !== 200) failures.push(`${response.status} ${body.slice(0, 80)}`);
        } catch (error) {
          failures.push(String(error));
        }
      }
    })();
    try {
      expect((await slipway(sample, "deploy", ...args(sample, b), "--alias", "live")).code).toBe(0);
      const retired = await slipway(
        sample,
        "retire",
        a.slice(0, 12),
        "--config",
        sample.config,
        "--kubeconfig",
        cluster.kubeconfigPath,
        "--repo",
        "acme/mnist",
      );
      expect(retired.code, retired.stderr).toBe(0);
      // Long enough for the old pods' whole termination: preStop pause, SIGTERM, drain.
      await new Promise((r) => setTimeout(r, 12_000));
    } finally {
      streaming = false;
      await stream;
    }
    expect(sent).toBeGreaterThan(50);
    expect(failures).toEqual([]);
  }, 300_000);
});

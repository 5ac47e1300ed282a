// `slipway deploy` on the local test cluster, as a user runs it: the sample repository's two endpoints
// (its wsgi model server and its server-command endpoint) built, deployed and answering through the
// gateway with the app's own responses; an alias; two versions side by side; a re-run that changes
// nothing; versions and retire.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKubeClient, type KubeObject } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { runCli } from "../support/run-cli.js";
import { type SampleRepo, sampleRepoFor } from "../support/sample-deploy.js";

const COMMIT_A = "a1".repeat(20);
const COMMIT_B = "b2".repeat(20);
let cluster: TestCluster;
let sample: SampleRepo;

function slipway(...argv: string[]) {
  return runCli(argv, sample.dir, { HOME: cacheDir, PATH: process.env.PATH, USER: "tester" });
}

// The layer cache lives outside the checkout: inside it, it would be part of the next version's code.
let cacheDir: string;
const common = () => [
  "--kubeconfig",
  cluster.kubeconfigPath,
  "--repo",
  "acme/mnist",
  "--cache-dir",
  cacheDir,
];

async function get(path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${cluster.gatewayUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  sample = sampleRepoFor(cluster);
  cacheDir = mkdtempSync(join(tmpdir(), "slipway-layers-"));
});

afterAll(async () => {
  await cluster?.stop();
});

describe("slipway deploy", () => {
  let first: { endpoints: { name: string; url: string; aliases: { name: string; url: string }[] }[] };

  it("deploys both endpoints; each answers at its version URL with the app's own response", async () => {
    const r = await slipway("deploy", ...common(), "--commit", COMMIT_A, "--json");
    expect(r.stderr).not.toContain("Error");
    expect(r.code, r.stderr).toBe(0);
    first = JSON.parse(r.stdout);
    const version = COMMIT_A.slice(0, 12);
    const predict = await get(`/acme/mnist/mnist/${version}/predict-digits/`);
    expect(predict.status).toBe(200);
    expect(JSON.parse(predict.body)).toEqual({
      model: "digits-v1",
      prediction: expect.anything(),
      script_name: `/acme/mnist/mnist/${version}/predict-digits`,
      path: "/",
      forwarded_prefix: `/acme/mnist/mnist/${version}/predict-digits`,
    });
    expect(await get(`/acme/mnist/mnist/${version}/health-check/`)).toEqual({ status: 200, body: "ok\n" });
    expect(first.endpoints.map((e) => e.url)).toEqual([
      `${cluster.gatewayUrl}/acme/mnist/mnist/${version}/predict-digits`,
      `${cluster.gatewayUrl}/acme/mnist/mnist/${version}/health-check`,
    ]);
  });

  it("changes nothing when run again with the same inputs: no resourceVersion moves", async () => {
    const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
    const snapshot = async () => {
      const kinds = [
        { apiVersion: "v1", kind: "ConfigMap" },
        { apiVersion: "v1", kind: "Service" },
        { apiVersion: "apps/v1", kind: "Deployment" },
        { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
      ];
      const lists = await Promise.all(
        kinds.map((k) =>
          kube.list<KubeObject>(k, "ml-previews", { labelSelector: "app.kubernetes.io/managed-by=slipway" }),
        ),
      );
      return Object.fromEntries(
        lists
          .flatMap((l) => l.items)
          .map((o) => [`${o.kind}/${o.metadata?.name}`, o.metadata?.resourceVersion]),
      );
    };
    const before = await snapshot();
    const r = await slipway("deploy", ...common(), "--commit", COMMIT_A, "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).applies).toMatchObject({ changed: 0, changedObjects: [] });
    expect(await snapshot()).toEqual(before);
    kube.close();
  });

  it("points an alias only once the version is ready; the alias reaches the same pods, rewritten, with X-Forwarded-Prefix", async () => {
    const r = await slipway("deploy", ...common(), "--commit", COMMIT_A, "--alias", "staging", "--json");
    expect(r.code, r.stderr).toBe(0);
    const version = COMMIT_A.slice(0, 12);
    const viaAlias = await get("/acme/mnist/mnist/staging/predict-digits/");
    expect(viaAlias.status).toBe(200);
    expect(JSON.parse(viaAlias.body)).toMatchObject({
      script_name: `/acme/mnist/mnist/${version}/predict-digits`,
      path: "/",
      forwarded_prefix: "/acme/mnist/mnist/staging/predict-digits",
    });
  });

  it("serves two versions side by side at their own URLs, and moves the alias to the newer one", async () => {
    const r = await slipway("deploy", ...common(), "--commit", COMMIT_B, "--alias", "staging", "--json");
    expect(r.code, r.stderr).toBe(0);
    const [a, b] = [COMMIT_A.slice(0, 12), COMMIT_B.slice(0, 12)];
    for (const v of [a, b]) {
      const response = await get(`/acme/mnist/mnist/${v}/predict-digits/`);
      expect(JSON.parse(response.body).script_name).toBe(`/acme/mnist/mnist/${v}/predict-digits`);
    }
    // The alias is one object moved at once; the router's data plane takes a moment to follow, as a
    // real Gateway's does (the test cluster lags by its propagation delay).
    const bPath = `/acme/mnist/mnist/${b}/predict-digits`;
    let answered = "";
    for (let i = 0; i < 100 && JSON.parse(answered || "{}").script_name !== bPath; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200));
      answered = (await get("/acme/mnist/mnist/staging/predict-digits/")).body;
    }
    expect(JSON.parse(answered).script_name).toBe(bPath);
  });

  it("lists the versions with their state and aliases, and retires one no alias points at", async () => {
    const listed = await slipway("versions", ...common().slice(0, 4), "--json");
    expect(listed.code, listed.stderr).toBe(0);
    const versions = JSON.parse(listed.stdout) as {
      version: string;
      state: { kind: string };
      aliases: string[];
    }[];
    const [a, b] = [COMMIT_A.slice(0, 12), COMMIT_B.slice(0, 12)];
    expect(versions.map((v) => [v.version, v.state.kind, v.aliases]).sort()).toEqual([
      [a, "ready", []],
      [b, "ready", ["staging"]],
    ]);
    const refused = await slipway("retire", b, ...common().slice(0, 4));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`version ${b} is what staging points at`);
    const retired = await slipway("retire", a, ...common().slice(0, 4));
    expect(retired.code, retired.stderr).toBe(0);
    // The record's owned objects go with it, through the garbage collector.
    const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
    for (let i = 0; i < 100; i++) {
      const left = await kube.list({ apiVersion: "apps/v1", kind: "Deployment" }, "ml-previews", {
        labelSelector: `slipway.dev/version=${a}`,
      });
      if (left.items.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const left = await kube.list({ apiVersion: "apps/v1", kind: "Deployment" }, "ml-previews", {
      labelSelector: `slipway.dev/version=${a}`,
    });
    expect(left.items).toEqual([]);
    kube.close();
    expect((await get("/acme/mnist/mnist/staging/predict-digits/")).status).toBe(200);
  });
});

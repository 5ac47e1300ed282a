// Ending previews and housekeeping on the test cluster, with versions deployed as `slipway deploy
// --pr` deploys them: a pull request's superseded versions retired, its preview torn down (only its
// own objects go; a version `staging` also points at stays; a second teardown changes nothing), then
// housekeeping removing a closed pull request's preview and an expired one, retiring versions beyond
// the kept number, and deleting orphaned images unless a live version has the same digest. Each
// reads with one list call per kind, counted by the client's request counters. Objects of another
// repository and another deployment, labelled with the same pull request, are never touched.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type HousekeepingReport, housekeeping } from "../../src/flows/housekeeping.js";
import { ANNOTATION_COMMENT_ID, retireSuperseded, teardownPreview } from "../../src/flows/teardown.js";
import { createKubeClient, type KubeClient } from "../../src/kube/index.js";
import { createRegistryClient } from "../../src/registry/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { runCli } from "../support/run-cli.js";
import { type SampleRepo, sampleRepoFor } from "../support/sample-deploy.js";

const NAMESPACE = "ml-previews";
const SCOPE = { namespace: NAMESPACE, owner: "acme", project: "mnist", deployment: "mnist" };
const COMMITS = {
  a1: "a1".repeat(20),
  a2: "a2".repeat(20),
  a3: "a3".repeat(20),
  b1: "b1".repeat(20),
  c1: "c1".repeat(20),
  n1: "d1".repeat(20),
  n2: "d2".repeat(20),
};
const V = {
  ...(Object.fromEntries(Object.entries(COMMITS).map(([k, c]) => [k, c.slice(0, 12)])) as Record<
    keyof typeof COMMITS,
    string
  >),
  /** Built from a1's commit under another name: the same images, the same digests. */
  twin: "twin",
};
const ROUTE = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" };
const CONFIG_MAP = { apiVersion: "v1", kind: "ConfigMap" };

let cluster: TestCluster;
let kube: KubeClient;
let cacheDir: string;
let sample: SampleRepo;
/** Where this file's version images go, apart from other files' in the shared registry. */
let repositoryPrefix: string;

async function deploy(repo: SampleRepo, commit: string, ...extra: string[]): Promise<void> {
  const r = await runCli(
    [
      "deploy",
      "--config",
      repo.config,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--repo",
      "acme/mnist",
      "--commit",
      commit,
      "--cache-dir",
      cacheDir,
      ...extra,
    ],
    repo.dir,
    { HOME: cacheDir, PATH: process.env.PATH, USER: "tester" },
  );
  expect(r.code, r.stderr).toBe(0);
}

/** Requests this client sends while `run` runs: all, and of those the writes. */
async function counted<T>(run: () => Promise<T>): Promise<{ result: T; reads: number; writes: number }> {
  const before = kube.counters;
  const result = await run();
  const after = kube.counters;
  return {
    result,
    reads: after.requests - after.writes - (before.requests - before.writes),
    writes: after.writes - before.writes,
  };
}

async function names(type: { apiVersion: string; kind: string }, selector: string): Promise<string[]> {
  const list = await kube.list(type, NAMESPACE, { labelSelector: selector });
  return list.items.map((o) => o.metadata?.name ?? "").sort();
}

const records = () => names(CONFIG_MAP, "app.kubernetes.io/component=version-record");
const aliasRoutes = () => names(ROUTE, "app.kubernetes.io/component=alias");

/** Until the garbage collector has deleted what a deleted version record owned. */
async function ownedGone(version: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const left = await kube.list({ apiVersion: "apps/v1", kind: "Deployment" }, NAMESPACE, {
      labelSelector: `slipway.dev/version=${version}`,
    });
    if (left.items.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the Deployments of ${version} are still there`);
}

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  cacheDir = mkdtempSync(join(tmpdir(), "slipway-layers-"));
  repositoryPrefix = `${cluster.registry}/acme/preview-teardown`;
  const ownRegistry = (c: string) =>
    c.replace(`registry: ${cluster.registry}/acme/mnist`, `registry: ${repositoryPrefix}`);
  sample = sampleRepoFor(cluster, ownRegistry);
  kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });

  await deploy(sample, COMMITS.a1, "--pr", "1", "--alias", "staging");
  await deploy(sample, COMMITS.a2, "--pr", "1");
  await deploy(sample, COMMITS.a3, "--pr", "1");
  await deploy(sample, COMMITS.b1, "--pr", "2");
  await deploy(sample, COMMITS.c1, "--pr", "3");
  await deploy(sample, COMMITS.n1);
  await deploy(sample, COMMITS.a1, "--version", V.twin);
  await deploy(sample, COMMITS.n2);

  // The preview's comment, as the Action keeps it on the alias route (a field manager of its own).
  await kube.apply(
    {
      ...ROUTE,
      metadata: {
        name: "mnist-alias-pr-1",
        namespace: NAMESPACE,
        annotations: { [ANNOTATION_COMMENT_ID]: "4711" },
      },
    },
    { fieldManager: "slipway-comment" },
  );
  // Pull request 1 of another repository, and of another deployment of this one, pointing at a2 too.
  const decoy = (extra: Record<string, string>) => ({
    "app.kubernetes.io/managed-by": "slipway",
    "slipway.dev/owner": "acme",
    "slipway.dev/project": "mnist",
    "slipway.dev/deployment": "mnist",
    "slipway.dev/pull-request": "1",
    ...extra,
  });
  await kube.apply({
    ...CONFIG_MAP,
    metadata: {
      name: `other-${V.a2}`,
      namespace: NAMESPACE,
      labels: decoy({ "slipway.dev/project": "other", "app.kubernetes.io/component": "version-record" }),
    },
    data: { version: V.a2, "deployed-at": "2020-01-01T00:00:00.000Z" },
  });
  await kube.apply({
    ...ROUTE,
    metadata: {
      name: "second-alias-pr-1",
      namespace: NAMESPACE,
      labels: decoy({
        "slipway.dev/deployment": "second",
        "app.kubernetes.io/component": "alias",
        "slipway.dev/alias": "pr-1",
      }),
      annotations: { "slipway.dev/target-version": V.a2, "slipway.dev/backends": `${V.a2}=100` },
    },
    spec: { parentRefs: [{ name: cluster.gateway.name, namespace: cluster.gateway.namespace }] },
  });
}, 900_000);

afterAll(async () => {
  kube?.close();
  await cluster?.stop();
});

describe("a pull request's versions and preview", () => {
  it("retires the superseded versions nothing points at, keeping the new one and what staging serves", async () => {
    const { result, reads } = await counted(() =>
      retireSuperseded({ ...SCOPE, pullRequest: 1, version: V.a3 }, { kube }),
    );
    expect(result).toEqual([V.a2]);
    expect(reads).toBe(2);
    await ownedGone(V.a2);
    expect(await records()).toContain(`mnist-${V.a1}`);
  });

  it("tears down only the pull request's own preview: its alias and the versions no other alias points at", async () => {
    const { result, reads, writes } = await counted(() =>
      teardownPreview({ ...SCOPE, pullRequest: 1 }, { kube }),
    );
    expect(result).toEqual({
      aliases: ["pr-1"],
      versions: [V.a3],
      kept: [{ version: V.a1, aliases: ["staging"] }],
      commentId: "4711",
    });
    // One list per kind; one delete per object.
    expect({ reads, writes }).toEqual({ reads: 2, writes: 2 });
    await ownedGone(V.a3);
    expect(await aliasRoutes()).toEqual([
      "mnist-alias-pr-2",
      "mnist-alias-pr-3",
      "mnist-alias-staging",
      "second-alias-pr-1",
    ]);
    expect(await records()).toEqual(
      [V.a1, V.b1, V.c1, V.n1, V.twin, V.n2]
        .map((v) => `mnist-${v}`)
        .concat(`other-${V.a2}`)
        .sort(),
    );
    const staging = await fetch(`${cluster.gatewayUrl}/acme/mnist/mnist/staging/health-check/`);
    expect(await staging.text()).toBe("ok\n");
  });

  it("a second teardown deletes nothing", async () => {
    const { result, reads, writes } = await counted(() =>
      teardownPreview({ ...SCOPE, pullRequest: 1 }, { kube }),
    );
    expect(result).toEqual({ aliases: [], versions: [], kept: [{ version: V.a1, aliases: ["staging"] }] });
    expect({ reads, writes }).toEqual({ reads: 2, writes: 0 });
  });
});

describe("housekeeping", () => {
  let report: HousekeepingReport;
  const registry = createRegistryClient({ timeoutMs: 10_000 });
  const endpoints = ["predict-digits", "health-check"];

  it("removes closed and expired previews and what only they served, and versions beyond the kept number", async () => {
    const counts = await counted(() =>
      housekeeping(
        {
          ...SCOPE,
          openPullRequests: new Set([3]),
          previewTtlSeconds: 3600,
          keepVersions: 1,
          // Two hours on: pull request 3's version has outlived the one-hour TTL.
          now: new Date(Date.now() + 2 * 3600 * 1000),
          imageRepositories: endpoints.map((e) => `${repositoryPrefix}/${e}`),
        },
        { kube, registry },
      ),
    );
    report = counts.result;
    expect(report.previewsRemoved).toEqual([
      { pullRequest: 2, alias: "pr-2", why: "closed" },
      { pullRequest: 3, alias: "pr-3", why: "expired" },
    ]);
    expect(report.versionsRetired).toEqual([V.b1, V.c1, V.n1, V.twin].sort());
    // One list per kind, by label selector; one delete per object.
    expect({ reads: counts.reads, writes: counts.writes }).toEqual({ reads: 2, writes: 6 });
    await Promise.all([V.b1, V.c1, V.n1, V.twin].map(ownedGone));
    expect(await aliasRoutes()).toEqual(["mnist-alias-staging", "second-alias-pr-1"]);
    expect(await records()).toEqual([`mnist-${V.a1}`, `mnist-${V.n2}`, `other-${V.a2}`].sort());
  });

  it("deletes the images of the versions it retired, unless a live version has the same digest; lists other orphans", async () => {
    for (const endpoint of endpoints) {
      const repository = `${repositoryPrefix}/${endpoint}`;
      const of = Object.fromEntries(
        report.tags.filter((t) => t.repository === repository).map((t) => [t.tag, t]),
      );
      // Tags of every version deleted so far; a1 and n2 live on.
      expect(Object.keys(of).sort()).toEqual([V.a2, V.a3, V.b1, V.c1, V.n1, V.twin].sort());
      for (const v of [V.b1, V.c1, V.n1])
        expect(of[v]).toMatchObject({ deleted: true, digest: expect.stringMatching(/^sha256:/) });
      // Retired before this run (by a teardown): another namespace may run them, so they are listed only.
      for (const v of [V.a2, V.a3])
        expect(of[v]).toMatchObject({ deleted: false, reason: expect.stringContaining("listed only") });
      expect(of[V.twin]).toMatchObject({
        deleted: false,
        reason: `kept: live version ${V.a1} has the same image (${of[V.twin]?.digest})`,
      });
      const where = { registry: cluster.registry, repository: repository.slice(cluster.registry.length + 1) };
      expect((await registry.listTags(where)).sort()).toEqual([V.a1, V.a2, V.a3, V.n2, V.twin].sort());
    }
  });
});

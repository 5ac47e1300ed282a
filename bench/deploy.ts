// Benchmark: Slipway's deploy (deployVersion, in-process) against the obvious alternative — `kubectl
// apply -f` of the same manifests (what `slipway manifests` prints) and `kubectl rollout status` for
// each Deployment — on one local test cluster in the same run, with the sample repository's two
// endpoints. Measures, per tool:
//   - Kubernetes requests per endpoint for a new version (total, writes sent, and writes that changed
//     an object): Slipway's from its kube client's counters, kubectl's counted at a loopback proxy in
//     front of the API server;
//   - a no-change re-run: wall time, requests, and objects changed (resourceVersions that moved);
//   - readiness latency: from the moment the API server stored the status that completed the last
//     Deployment's rollout (an in-process watch on the cluster's store, millisecond clock) to Slipway
//     noticing it (RolloutResult.timing.noticedAt) and to the last `kubectl rollout status` returning.
// Prints the numbers, the ratios and the targets; asserts nothing.
//
// Run: npm run bench:deploy   (brings the test stack up if it is not running and leaves it running,
// as bench:build does; starts its own test cluster and stops it, also when interrupted)
//
// Slipway runs inside this process (no process start-up), kubectl as a process per command, as a
// workflow step runs it; one process start of each (kubectl, the Slipway CLI) is printed for
// reference. The test cluster's API server and controllers share this process's event loop with
// Slipway. The tools take turns going first for new versions, so neither always finds the node's
// image cache warm.

import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { cliBuild } from "../src/commands/kube-flags.js";
import { planRequest } from "../src/commands/plan-request.js";
import { manifestsYaml, versionManifests } from "../src/deploy/index.js";
import { type DeployResult, deployVersion, versionInput } from "../src/flows/deploy.js";
import { type PlannedVersion, planVersion } from "../src/flows/plan.js";
import { createKubeClient, type RequestCounters } from "../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../test/cluster/cluster.js";
import type { KubeObject } from "../test/cluster/store.js";
import { sampleRepoFor } from "../test/support/sample-deploy.js";
import { ensureStack } from "../test/support/stack.js";

const exec = promisify(execFile);
const root = new URL("../", import.meta.url).pathname;
const KUBECTL = "/usr/bin/kubectl";
/** Fresh versions per tool: each a new rollout of both endpoints. */
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 3);
/** No-change re-runs per tool. */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
/** Every wait is bounded: a rollout, a kubectl command. */
const STEP_TIMEOUT_SECONDS = 300;
const verbose = process.env.BENCH_VERBOSE === "1";
const progress = (line: string) =>
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${line}\n`);
const NAMESPACE = "ml-previews";
const KINDS = [
  { apiVersion: "v1", kind: "ConfigMap" },
  { apiVersion: "v1", kind: "Secret" },
  { apiVersion: "v1", kind: "Service" },
  { apiVersion: "apps/v1", kind: "Deployment" },
  { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
];

interface Requests {
  requests: number;
  writes: number;
  watches: number;
  /** Of the requests, discovery and OpenAPI documents (kubectl's; Slipway's counters do not split). */
  discovery?: number;
}

/** A loopback proxy in front of the API server that counts what passes through it. */
async function countingProxy(
  upstream: string,
): Promise<{ url: string; take: () => Requests; close: () => Promise<void> }> {
  const target = new URL(upstream);
  const empty = (): Requests => ({ requests: 0, writes: 0, watches: 0, discovery: 0 });
  let counts = empty();
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    counts.requests++;
    if (["POST", "PUT", "PATCH", "DELETE"].includes(req.method ?? "GET")) counts.writes++;
    if (/[?&]watch=(true|1)/.test(req.url ?? "")) counts.watches++;
    const p = (req.url ?? "").split("?")[0] ?? "";
    if (p.startsWith("/openapi") || /^\/(api|apis)(\/[^/]+){0,2}\/?$/.test(p) || p === "/version")
      counts.discovery = (counts.discovery ?? 0) + 1;
    const up = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        // A watch's headers go out at once, as the API server sends them: client-go's informer cannot
        // stop a watch still waiting for its headers, and kubectl would hang after its last line.
        res.flushHeaders();
        upRes.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    take: () => {
      const taken = counts;
      counts = empty();
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** When the API server stored, for each Deployment, the status that completes its rollout. */
function watchRolloutsComplete(cluster: TestCluster): { completedAt: Map<string, number>; stop: () => void } {
  const completedAt = new Map<string, number>();
  const stop = cluster.store.watch(
    "apps/v1",
    "Deployment",
    (e) => {
      const name = e.object.metadata.name;
      if (e.type === "DELETED" || completedAt.has(name)) return;
      if (rolloutComplete(e.object)) completedAt.set(name, Date.now());
    },
    { namespace: NAMESPACE },
  );
  return { completedAt, stop };
}

/**
 * `kubectl rollout status`'s test for a Deployment (kubectl pkg/polymorphichelpers/rollout_status.go,
 * DeploymentStatusViewer): the controller saw this generation, every replica is updated, no old one
 * is left, and every updated one is available.
 */
function rolloutComplete(d: KubeObject): boolean {
  const spec = d.spec as { replicas?: number } | undefined;
  const status = d.status as
    | {
        observedGeneration?: number;
        replicas?: number;
        updatedReplicas?: number;
        availableReplicas?: number;
        conditions?: { type: string; reason?: string }[];
      }
    | undefined;
  if (!status || (d.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) return false;
  if (status.conditions?.some((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded"))
    return false;
  const updated = status.updatedReplicas ?? 0;
  if (spec?.replicas !== undefined && updated < spec.replicas) return false;
  if ((status.replicas ?? 0) > updated) return false;
  return (status.availableReplicas ?? 0) >= updated;
}

/** resourceVersion of every object of a version, read from the store (no request counted). */
function versionSnapshot(cluster: TestCluster, version: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of KINDS) {
    for (const o of cluster.store.list(k.apiVersion, k.kind, {
      namespace: NAMESPACE,
      labelSelector: `slipway.dev/version=${version}`,
    })) {
      out.set(`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion ?? "");
    }
  }
  return out;
}

function changedBetween(before: Map<string, string>, after: Map<string, string>): number {
  let n = 0;
  for (const [k, rv] of after) if (before.get(k) !== rv) n++;
  for (const k of before.keys()) if (!after.has(k)) n++;
  return n;
}

async function timedMs(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const stack = await ensureStack();
  const cluster = await startTestCluster({ stack });
  const work = await mkdtemp(path.join(tmpdir(), "slipway-bench-deploy-"));
  const proxy = await countingProxy(cluster.apiUrl);
  const watcher = watchRolloutsComplete(cluster);
  let cleaned: Promise<void> | undefined;
  const cleanUp = () => {
    cleaned ??= (async () => {
      watcher.stop();
      await proxy.close();
      await cluster.stop();
      await rm(work, { recursive: true, force: true });
    })();
    return cleaned;
  };
  // Interrupted, it still removes its cluster's containers from the shared engine.
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await run(cluster, work, proxy, watcher.completedAt);
  } finally {
    await cleanUp();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function run(
  cluster: TestCluster,
  work: string,
  proxy: Awaited<ReturnType<typeof countingProxy>>,
  completedAt: Map<string, number>,
): Promise<void> {
  const sample = sampleRepoFor(cluster);
  const kubectlHome = path.join(work, "kubectl-home");
  const proxyKubeconfig = path.join(work, "kubeconfig-proxy");
  const kc = parseYaml(cluster.kubeconfig) as { clusters: { cluster: { server: string } }[] };
  for (const c of kc.clusters) c.cluster.server = proxy.url;
  await writeFile(proxyKubeconfig, stringifyYaml(kc), { mode: 0o600 });
  const kubectlEnv = { PATH: process.env.PATH ?? "", HOME: kubectlHome, KUBECONFIG: proxyKubeconfig };
  const kubectl = async (...args: string[]): Promise<void> => {
    if (verbose) progress(`kubectl ${args.join(" ")}`);
    await exec(KUBECTL, args, {
      env: kubectlEnv,
      maxBuffer: 16 * 1024 * 1024,
      timeout: STEP_TIMEOUT_SECONDS * 1000,
    });
  };
  const io = {
    stdout: { write: () => true },
    stderr: { write: () => true },
    env: { HOME: work, PATH: process.env.PATH, USER: "bench" },
    cwd: sample.dir,
  };
  const plan = async (version: string): Promise<PlannedVersion> =>
    planVersion(
      await planRequest({ config: "valohai.yaml", repo: "acme/mnist", commit: "a1".repeat(20), version }, io),
    );

  // One build: every version below runs the same images, named by digest.
  progress("building the sample's images…");
  const build = await cliBuild(await plan("bench-build"), { "cache-dir": path.join(work, "layers") }, io);
  const images = Object.fromEntries(build.images.map((i) => [i.endpoint, i.reference]));
  const endpoints = build.images.length;

  const slipwayDeploy = async (planned: PlannedVersion) => {
    const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
    try {
      const t = performance.now();
      const startedAt = Date.now();
      const result: DeployResult = await deployVersion(
        {
          planned,
          images,
          deployedBy: "bench",
          log: verbose ? (l) => progress(`slipway: ${l}`) : () => {},
          timeoutSeconds: STEP_TIMEOUT_SECONDS,
        },
        { kube },
      );
      return {
        ms: performance.now() - t,
        startedAt,
        result,
        counters: kube.counters as RequestCounters,
      };
    } finally {
      kube.close();
    }
  };
  const kubectlFiles = new Map<string, { file: string; deployments: string[] }>();
  const kubectlManifests = async (version: string) => {
    const objects = versionManifests(
      versionInput({ planned: await plan(version), images, deployedBy: "bench" }, new Date()),
    );
    const file = path.join(work, `${version}.yaml`);
    await writeFile(file, manifestsYaml(objects));
    const deployments = objects.filter((o) => o.kind === "Deployment").map((o) => o.metadata?.name ?? "");
    kubectlFiles.set(version, { file, deployments });
    return { file, deployments };
  };
  const kubectlDeploy = async (version: string) => {
    const m = kubectlFiles.get(version) ?? (await kubectlManifests(version));
    const t = performance.now();
    const startedAt = Date.now();
    await kubectl("apply", "-f", m.file);
    for (const d of m.deployments)
      await kubectl(
        "rollout",
        "status",
        `deployment/${d}`,
        "-n",
        NAMESPACE,
        `--timeout=${STEP_TIMEOUT_SECONDS}s`,
      );
    return { ms: performance.now() - t, startedAt, endedAt: Date.now(), deployments: m.deployments };
  };
  const retire = async (version: string) => {
    const admin = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
    try {
      for (const k of KINDS) {
        const list = await admin.list(k, NAMESPACE, { labelSelector: `slipway.dev/version=${version}` });
        for (const o of list.items)
          await admin.delete({ ...k, name: o.metadata?.name ?? "", namespace: NAMESPACE });
      }
      // Wait (bounded) for its pods to go, so the next rollout does not share the cores with them.
      for (let i = 0; i < 600; i++) {
        const pods = cluster.store.list("v1", "Pod", {
          namespace: NAMESPACE,
          labelSelector: `slipway.dev/version=${version}`,
        });
        if (pods.length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      admin.close();
    }
  };

  // kubectl keeps discovery and OpenAPI in ~/.kube/cache, as on a runner that used it before: the
  // counts below are with that cache warm.
  const kubectlStartMs = await timedMs(() => kubectl("version", "--client"));
  const slipwayStartMs = await timedMs(() =>
    exec(process.execPath, [path.join(root, "bin/slipway.js"), "--help"], { timeout: 60_000 }),
  );
  await kubectl("api-resources");
  // Both tools deploy into a namespace that exists: creating it is once per cluster, not per version.
  const admin = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
  await admin.ensureNamespace(NAMESPACE);
  admin.close();
  proxy.take();

  const fresh = { slipway: [] as Requests[], kubectl: [] as Requests[] };
  const freshCreated = { slipway: [] as number[], kubectl: [] as number[] };
  const latency = { slipway: [] as number[], kubectl: [] as number[] };
  const freshMs = { slipway: [] as number[], kubectl: [] as number[] };
  /** From the tool's start to the cluster's readiness: pod start-up, mostly. */
  const readyAfter = { slipway: [] as number[], kubectl: [] as number[] };
  const lastReadyAt = (deployments: readonly string[]) =>
    Math.max(...deployments.map((d) => completedAt.get(d) ?? Number.NaN));
  const newSlipwayVersion = async (version: string) => {
    const s = await slipwayDeploy(await plan(version));
    fresh.slipway.push(s.counters);
    freshCreated.slipway.push(versionSnapshot(cluster, version).size);
    freshMs.slipway.push(s.ms);
    const ready = lastReadyAt(s.result.rollout.deployments.map((d) => d.target.deployment));
    latency.slipway.push(s.result.rollout.timing.noticedAt.getTime() - ready);
    readyAfter.slipway.push(ready - s.startedAt);
  };
  const newKubectlVersion = async (version: string) => {
    await kubectlManifests(version);
    proxy.take();
    const k = await kubectlDeploy(version);
    fresh.kubectl.push(proxy.take());
    freshCreated.kubectl.push(versionSnapshot(cluster, version).size);
    freshMs.kubectl.push(k.ms);
    latency.kubectl.push(k.endedAt - lastReadyAt(k.deployments));
    readyAfter.kubectl.push(lastReadyAt(k.deployments) - k.startedAt);
  };
  let lastS = "";
  let lastK = "";
  for (let i = 0; i < ITERATIONS; i++) {
    progress(`new version ${i + 1}/${ITERATIONS}…`);
    const [sVersion, kVersion] = [`bench-s${i}`, `bench-k${i}`];
    if (i % 2 === 0) {
      await newSlipwayVersion(sVersion);
      await newKubectlVersion(kVersion);
    } else {
      await newKubectlVersion(kVersion);
      await newSlipwayVersion(sVersion);
    }
    if (i < ITERATIONS - 1) {
      await retire(sVersion);
      await retire(kVersion);
    } else {
      [lastS, lastK] = [sVersion, kVersion];
    }
  }

  progress(`no-change re-runs ×${REPEATS}…`);
  const rerun = {
    slipway: [] as { ms: number; requests: Requests; changed: number; reported: number }[],
    kubectl: [] as { ms: number; requests: Requests; changed: number }[],
  };
  const lastPlan = await plan(lastS);
  for (let i = 0; i < REPEATS; i++) {
    if (verbose) progress(`re-run ${i + 1}/${REPEATS}`);
    const beforeS = versionSnapshot(cluster, lastS);
    const s = await slipwayDeploy(lastPlan);
    rerun.slipway.push({
      ms: s.ms,
      requests: s.counters,
      changed: changedBetween(beforeS, versionSnapshot(cluster, lastS)),
      reported: s.result.applies.changed,
    });
    const beforeK = versionSnapshot(cluster, lastK);
    proxy.take();
    const k = await kubectlDeploy(lastK);
    rerun.kubectl.push({
      ms: k.ms,
      requests: proxy.take(),
      changed: changedBetween(beforeK, versionSnapshot(cluster, lastK)),
    });
  }
  await retire(lastS);
  await retire(lastK);

  // ---- report ----
  const per = (n: number) => (n / endpoints).toFixed(1);
  const med = (rs: readonly Requests[], key: keyof Requests) => median(rs.map((r) => r[key] ?? 0));
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
  const requestRow = (rs: readonly Requests[], discovery: boolean) => ({
    requests: per(med(rs, "requests")),
    "of which discovery/OpenAPI": discovery ? per(med(rs, "discovery")) : "-",
    "writes sent": per(med(rs, "writes")),
    watches: per(med(rs, "watches")),
  });
  process.stdout.write(
    `\nbench/deploy: the sample repository's ${endpoints} endpoints on the local test cluster; ${ITERATIONS} new versions and ${REPEATS} no-change re-runs per tool, medians; ${KUBECTL} with its cache warm\n`,
  );
  process.stdout.write("\nA new version, per endpoint (the namespace exists):\n");
  console.table({
    slipway: {
      ...requestRow(fresh.slipway, false),
      "objects created": per(median(freshCreated.slipway)),
      "cluster ready after": ms(median(readyAfter.slipway)),
      "wall time (whole version)": ms(median(freshMs.slipway)),
    },
    "kubectl apply + rollout status": {
      ...requestRow(fresh.kubectl, true),
      "objects created": per(median(freshCreated.kubectl)),
      "cluster ready after": ms(median(readyAfter.kubectl)),
      "wall time (whole version)": ms(median(freshMs.kubectl)),
    },
  });
  const list = (xs: readonly number[]) => xs.map((n) => (n / 1000).toFixed(1)).join(", ");
  process.stdout.write(
    `  cluster ready after (s): slipway ${list(readyAfter.slipway)}; kubectl ${list(readyAfter.kubectl)} (the same pods starting; the node probes them periodically)\n`,
  );
  const sRe = median(rerun.slipway.map((r) => r.ms));
  const kRe = median(rerun.kubectl.map((r) => r.ms));
  process.stdout.write("\nA no-change re-run, per endpoint (wall time for the whole version):\n");
  console.table({
    slipway: {
      ...requestRow(
        rerun.slipway.map((r) => r.requests),
        false,
      ),
      "objects changed": per(Math.max(...rerun.slipway.map((r) => r.changed))),
      "wall time": ms(sRe),
    },
    "kubectl apply + rollout status": {
      ...requestRow(
        rerun.kubectl.map((r) => r.requests),
        true,
      ),
      "objects changed": per(Math.max(...rerun.kubectl.map((r) => r.changed))),
      "wall time": ms(kRe),
    },
  });
  process.stdout.write(
    `  runs: slipway ${rerun.slipway.map((r) => r.ms.toFixed(0)).join(", ")} ms (changes it reported: ${Math.max(...rerun.slipway.map((r) => r.reported))}); kubectl ${rerun.kubectl.map((r) => r.ms.toFixed(0)).join(", ")} ms\n` +
      `  one process start: kubectl ${ms(kubectlStartMs)} (the re-run starts 3), the Slipway CLI ${ms(slipwayStartMs)} (slipway ran in-process)\n`,
  );
  const sLat = median(latency.slipway);
  const kLat = median(latency.kubectl);
  process.stdout.write(
    "\nFrom the API server storing the last Deployment's completed rollout to the tool noticing:\n" +
      `  slipway (RolloutResult.timing.noticedAt): ${latency.slipway.map((n) => n.toFixed(0)).join(", ")} ms, median ${ms(sLat)}\n` +
      `  kubectl rollout status returning:         ${latency.kubectl.map((n) => n.toFixed(0)).join(", ")} ms, median ${ms(kLat)}\n`,
  );
  process.stdout.write(
    `\nratios (kubectl / slipway): requests for a new version ${ratio(med(fresh.kubectl, "requests"), med(fresh.slipway, "requests"))}, ` +
      `no-change re-run time ${ratio(kRe, sRe)}, readiness noticed ${ratio(kLat, Math.max(sLat, 1))}\n`,
  );

  const writesPer = med(fresh.slipway, "writes") / endpoints;
  const changing = Math.max(...rerun.slipway.map((r) => r.changed));
  const lines = [
    `≤ 4 writes per endpoint → ${writesPer.toFixed(1)} ${writesPer <= 4 ? "met" : "MISSED"}`,
    `0 changing writes on a re-run → ${changing} ${changing === 0 ? "met" : "MISSED"}`,
    `readiness noticed within 100 ms → ${ms(sLat)} ${sLat <= 100 ? "met" : "MISSED"}`,
    `no-change re-run faster than kubectl's → ${ratio(kRe, sRe)} ${sRe < kRe ? "met" : "MISSED"}`,
  ];
  process.stdout.write(`\ntargets:\n${lines.map((l) => `  ${l}`).join("\n")}\n`);
}

await main();

// `npm start`: Slipway's main job, end to end, on this machine. Brings up the local stack (a Docker
// engine and an OCI registry) and the Kubernetes test cluster, deploys fixtures/sample-repo with the
// real CLI (its wsgi model endpoint and its server-command endpoint), calls every URL and prints the
// apps' own answers, points the `staging` alias at the version and calls it, lists the versions,
// then retires the version and stops everything it started.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestCluster, type TestCluster } from "../test/cluster/cluster.js";
import { sampleRepoFor } from "../test/support/sample-deploy.js";
import { ensureStack, readStack, stopStack } from "../test/support/stack.js";

const root = new URL("../", import.meta.url).pathname;
const COMMIT = "3f2a9c1d0b7e55aa12ff00112233445566778899";
const VERSION = COMMIT.slice(0, 12);
const STEP_TIMEOUT_MS = 15 * 60_000;

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m==> ${text}\x1b[0m\n`);
}

/** Runs the bundled CLI as a user would, its output shown as it comes. */
function slipway(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  process.stdout.write(`$ slipway ${args.join(" ")}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "bin/slipway.js"), ...args], { stdio: "inherit", env });
    const timer = setTimeout(() => child.kill("SIGTERM"), STEP_TIMEOUT_MS);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`slipway ${args[0]} ended with ${signal ?? `exit code ${code}`}`));
    });
  });
}

async function call(url: string): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  process.stdout.write(`GET ${url}\n  ${response.status} ${(await response.text()).trim()}\n`);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
}

async function main(): Promise<void> {
  const stackWasUp = (await readStack()) !== undefined;
  let cluster: TestCluster | undefined;
  const work = mkdtempSync(join(tmpdir(), "slipway-demo-"));
  const stop = async () => {
    await cluster?.stop();
    cluster = undefined;
    if (!stackWasUp) await stopStack();
    rmSync(work, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    void stop().finally(() => process.exit(130));
  });
  try {
    say("Local stack: Docker engine, OCI registry, base images (the first run installs and builds them)");
    const stack = await ensureStack();
    say("Kubernetes test cluster: API server, controllers, a node running pods as containers, a gateway");
    cluster = await startTestCluster({ stack });
    process.stdout.write(`API server ${cluster.apiUrl}, gateway ${cluster.gatewayUrl}\n`);

    const sample = sampleRepoFor(cluster);
    const env = { PATH: process.env.PATH, HOME: work, USER: "demo", XDG_CACHE_HOME: join(work, "cache") };
    const common = [
      "--config",
      sample.config,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--repo",
      "acme/mnist",
      "--commit",
      COMMIT,
    ];

    say("Deploy the sample repository: build the version images, apply, wait until ready");
    await slipway(["deploy", ...common], env);
    say("Call each endpoint at its version URL");
    const base = `${cluster.gatewayUrl}/acme/mnist/mnist`;
    await call(`${base}/${VERSION}/predict-digits/`);
    await call(`${base}/${VERSION}/health-check/`);

    say("Point the staging alias at the version (nothing is rebuilt or re-applied) and call it");
    await slipway(["deploy", ...common, "--alias", "staging"], env);
    await call(`${base}/staging/predict-digits/`);

    say("The deployment's versions in the cluster");
    await slipway(
      ["versions", "--config", sample.config, "--kubeconfig", cluster.kubeconfigPath, "--repo", "acme/mnist"],
      env,
    );

    say("Tear down: retire the version, stop the cluster and everything the demo started");
    await slipway(
      [
        "retire",
        VERSION,
        "--force",
        "--config",
        sample.config,
        "--kubeconfig",
        cluster.kubeconfigPath,
        "--repo",
        "acme/mnist",
      ],
      env,
    );
  } finally {
    await stop();
  }
  say("Done: nothing left running.");
}

main().catch((error: unknown) => {
  process.stderr.write(`\nnpm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

// `npm start`: Slipway's main job, end to end, on this machine. Brings up the local stack (a Docker
// engine and an OCI registry), the Kubernetes test cluster and the GitHub API test server, then plays
// a pull request's life with the bundled Action run as GitHub's runner runs it: opened (a preview
// deployed, the sticky comment printed as GitHub shows it, its URLs called), a second push (the same
// comment edited, the alias moved), the versions as the CLI lists them, closed (everything torn
// down). Stops everything it started.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestCluster, type TestCluster } from "../test/cluster/cluster.js";
import { pullRequestEvent } from "../test/support/github-events.js";
import { type GitHubServer, startGitHubServer } from "../test/support/github-server.js";
import { PullRequestWorkspace, runPreviewAction, stickyComments } from "../test/support/pr-workspace.js";
import type { ActionRun } from "../test/support/run-action.js";
import { ensureStack, readStack, stopStack } from "../test/support/stack.js";

const root = new URL("../", import.meta.url).pathname;
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

/** The Action's log as the runner shows it: workflow commands (masks, outputs) left out. */
function showLog(run: ActionRun): void {
  for (const line of run.stdout.split("\n")) {
    if (line.startsWith("::add-mask::") || line.startsWith("::set-output") || line.trim() === "") continue;
    process.stdout.write(`  ${line.replace(/^::(\w+)[^:]*::/, "$1: ")}\n`);
  }
  if (run.code !== 0) throw new Error(`the Action failed (exit code ${run.code}):\n${run.stderr}`);
}

/** The sticky comment as GitHub renders it, near enough for a terminal: hidden markers and tags left out. */
function showComment(gh: GitHubServer, number: number): string {
  const [comment] = stickyComments(gh, number);
  if (!comment) throw new Error(`pull request #${number} has no Slipway comment`);
  process.stdout.write(
    `--- comment ${comment.id} on pull request #${number} (edited ${comment.updatedAt}) ---\n`,
  );
  for (const line of comment.body.split("\n")) {
    if (/^<!--.*-->$/.test(line.trim())) continue;
    process.stdout.write(`  ${line.replace(/<\/?(sub|details|summary|code)[^>]*>/g, "")}\n`);
  }
  return comment.body;
}

const NUMBER = 1;

async function main(): Promise<void> {
  const stackWasUp = (await readStack()) !== undefined;
  let cluster: TestCluster | undefined;
  let gh: GitHubServer | undefined;
  const work = mkdtempSync(join(tmpdir(), "slipway-demo-"));
  const stop = async () => {
    await gh?.close();
    gh = undefined;
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
    say(
      "GitHub API test server (every request checked against GitHub's OpenAPI description), Node 24 for the Action",
    );
    gh = await startGitHubServer({ owner: "acme", repo: "mnist" });
    process.stdout.write(`GitHub API ${gh.url}\n`);

    const workspace = new PullRequestWorkspace(cluster);
    const first = workspace.commit("Digits model v1");
    gh.addPullRequest({ number: NUMBER, headSha: first, headRef: "better-digits" });
    const event = (action: string, headSha: string) =>
      pullRequestEvent(action, { number: NUMBER, headSha, headRef: "better-digits", baseRepo: "acme/mnist" });
    const action = (name: string, headSha: string) =>
      runPreviewAction({
        cluster: cluster as TestCluster,
        gh: gh as GitHubServer,
        workspace,
        eventName: "pull_request",
        event: event(name, headSha),
      });

    say(
      `Pull request #${NUMBER} opened: the bundled Action runs on the pull_request event as the runner runs it`,
    );
    showLog(await action("opened", first));
    say("The pull request's comment");
    const body = showComment(gh, NUMBER);
    say("Call the preview URLs the comment shows");
    const base = `${cluster.gatewayUrl}/acme/mnist/mnist`;
    for (const url of new Set(body.match(new RegExp(`${base}/pr-${NUMBER}/[a-z-]+`, "g")) ?? []))
      await call(url);

    say(
      "A second push: the same comment is edited, the alias moves to the new version, the old one is retired",
    );
    workspace.setModel("digits-v2");
    const second = workspace.commit("Digits model v2");
    gh.setHead(NUMBER, second);
    showLog(await action("synchronize", second));
    showComment(gh, NUMBER);
    await call(`${base}/pr-${NUMBER}/predict-digits/`);

    say("The deployment's versions in the cluster, as the CLI lists them");
    const env = { PATH: process.env.PATH, HOME: work, USER: "demo", XDG_CACHE_HOME: join(work, "cache") };
    const listing = [
      "versions",
      "--config",
      join(workspace.dir, "valohai.yaml"),
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--repo",
      "acme/mnist",
    ];
    await slipway(listing, env);

    say(`Pull request #${NUMBER} closed: the preview is torn down`);
    showLog(await action("closed", second));
    showComment(gh, NUMBER);
    await slipway(listing, env);
    const deployments = gh.deployments().map(
      (d) =>
        `${d.environment} ${d.sha.slice(0, 7)}: ${gh
          ?.statuses(d.id)
          .map((s) => s.state)
          .join(" → ")}`,
    );
    process.stdout.write(`GitHub Deployments:\n${deployments.map((d) => `  ${d}`).join("\n")}\n`);
    if (gh.violations.length > 0)
      throw new Error(`requests GitHub would refuse:\n${gh.violations.join("\n")}`);
  } finally {
    await stop();
  }
  say("Done: nothing left running.");
}

main().catch((error: unknown) => {
  process.stderr.write(`\nnpm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

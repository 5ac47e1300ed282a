// What the pull-request tests of the bundled Action share: a git checkout of the sample repository
// whose commits are the pull request's, and the Action run as a workflow on one of GitHub's events
// would run it (the runner's environment, the GitHub API test server's URL and token, the cluster's
// kubeconfig, the stack's registry).
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestCluster } from "../cluster/cluster.js";
import type { GitHubServer } from "./github-server.js";
import { type ActionRun, runAction } from "./run-action.js";
import { sampleRepoFor } from "./sample-deploy.js";

export class PullRequestWorkspace {
  readonly dir: string;

  constructor(cluster: TestCluster, edit?: (config: string) => string) {
    const sample = sampleRepoFor(cluster, edit);
    this.dir = mkdtempSync(join(tmpdir(), "slipway-pr-"));
    cpSync(sample.dir, this.dir, { recursive: true });
    this.git("init", "-q");
  }

  git(...args: string[]): string {
    return execFileSync("git", args, { cwd: this.dir, encoding: "utf8" }).trim();
  }

  /** Commits the checkout as it is; the commit's SHA. */
  commit(message: string): string {
    this.git("add", "-A");
    this.git("-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", message);
    return this.git("rev-parse", "HEAD");
  }

  /** Checks out a commit, as actions/checkout does for the SHA a workflow asks for. */
  checkout(sha: string): void {
    this.git("checkout", "-q", sha);
  }

  /** The model's name, which the sample app answers with: tells versions apart through the gateway. */
  setModel(name: string): void {
    const file = join(this.dir, "models/model.json");
    const model = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, `${JSON.stringify({ ...model, name })}\n`);
  }

  write(path: string, text: string): void {
    writeFileSync(join(this.dir, path), text);
  }
}

let runId = 5000;

export interface PreviewActionOptions {
  cluster: TestCluster;
  gh: GitHubServer;
  workspace: PullRequestWorkspace;
  eventName: string;
  event: unknown;
  inputs?: Record<string, string>;
  actor?: string;
}

export function runPreviewAction(options: PreviewActionOptions): Promise<ActionRun> {
  const { cluster, gh } = options;
  return runAction(
    {
      "dry-run": "false",
      registry: `${cluster.registry}/acme/mnist`,
      kubeconfig: readFileSync(cluster.kubeconfigPath, "utf8"),
      "github-token": gh.token,
      timeout: "3m",
      ...options.inputs,
    },
    options.workspace.dir,
    options.event,
    {
      GITHUB_REPOSITORY: `${gh.owner}/${gh.repo}`,
      GITHUB_EVENT_NAME: options.eventName,
      GITHUB_API_URL: gh.url,
      GITHUB_SERVER_URL: "https://github.com",
      GITHUB_RUN_ID: String(++runId),
      GITHUB_ACTOR: options.actor ?? "octocat",
    },
  );
}

/** The sticky comments on a pull request (exactly one, when all is well). */
export function stickyComments(gh: GitHubServer, number: number) {
  return gh.comments(number).filter((c) => c.body.startsWith("<!-- slipway:preview -->"));
}

export async function fetchText(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

/**
 * The status a URL answers once it answers `status`, polled for at most `timeoutMs`: a route the
 * gateway dropped stops answering only after its propagation delay and the pods' drain.
 */
export async function untilStatus(url: string, status: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = (await fetchText(url).catch(() => ({ status: 0 }))).status;
    if (last === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return last;
}

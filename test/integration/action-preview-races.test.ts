// Ten pushes to one pull request in quick succession, each starting its own run of the bundled Action
// while earlier runs are still going (as a workflow without a `concurrency:` group does): in the end
// there is one comment, it shows the newest commit, and the alias serves the newest commit's version;
// versions nothing points at are gone.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKubeClient, type KubeClient, type KubeObject } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { pullRequestEvent, scheduleEvent } from "../support/github-events.js";
import { type GitHubServer, startGitHubServer } from "../support/github-server.js";
import {
  fetchText,
  PullRequestWorkspace,
  runPreviewAction,
  stickyComments,
  untilStatus,
} from "../support/pr-workspace.js";
import type { ActionRun } from "../support/run-action.js";
import { withoutEndpoint } from "../support/sample-deploy.js";

const OWNER = "acme";
const REPO = "digits";
const NUMBER = 21;
const PUSHES = 10;
/** Runs in flight at once: enough to overlap every run with others on a two-core machine. */
const IN_FLIGHT = 4;

let cluster: TestCluster;
let gh: GitHubServer;
let admin: KubeClient;
let workspace: PullRequestWorkspace;

/** One endpoint is enough to race on; the sample's second endpoint only doubles the pods. */
function onlyPredict(config: string): string {
  return withoutEndpoint(config, "health-check");
}

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  gh = await startGitHubServer({ owner: OWNER, repo: REPO });
  admin = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
  workspace = new PullRequestWorkspace(cluster, onlyPredict);
});

afterAll(async () => {
  admin?.close();
  await gh?.close();
  await cluster?.stop();
});

describe("ten rapid pushes to one pull request", () => {
  it("end with one comment showing the newest commit and the alias on its version", async () => {
    const commits: string[] = [];
    for (let i = 1; i <= PUSHES; i++) {
      workspace.setModel(`race-${i}`);
      commits.push(workspace.commit(`push ${i}`));
    }
    const newest = commits.at(-1) as string;
    gh.addPullRequest({ number: NUMBER, headSha: commits[0] as string, headRef: "feature/race" });
    const runs: Promise<ActionRun>[] = [];
    const inFlight = new Set<Promise<ActionRun>>();
    for (const sha of commits) {
      // Each push moves the head, then its run starts; runs of older pushes are still going.
      gh.setHead(NUMBER, sha);
      const run = runPreviewAction({
        cluster,
        gh,
        workspace,
        eventName: "pull_request",
        event: pullRequestEvent(sha === commits[0] ? "opened" : "synchronize", {
          number: NUMBER,
          headSha: sha,
          headRef: "feature/race",
          baseRepo: `${OWNER}/${REPO}`,
        }),
      });
      runs.push(run);
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run));
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    const results = await Promise.all(runs);
    // Older runs end as superseded (success) or, when a newer run retired their version under them, stop
    // without touching the preview.
    for (const run of results) expect(run.code, run.stdout + run.stderr).toBe(0);
    // The runs did overlap: some found a newer commit being previewed and left the preview to it.
    expect(results.filter((r) => r.stdout.includes("left the preview to it")).length).toBeGreaterThan(0);

    const comments = stickyComments(gh, NUMBER);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain("Preview ready");
    expect(comments[0]?.body).toContain(newest.slice(0, 7));
    const answer = await fetchText(
      `${cluster.gatewayUrl}/${OWNER}/${REPO}/mnist/pr-${NUMBER}/predict-digits`,
    );
    expect(JSON.parse(answer.body)).toMatchObject({ model: `race-${PUSHES}` });
    const records = await admin.list<KubeObject & { data?: Record<string, string> }>(
      { apiVersion: "v1", kind: "ConfigMap" },
      "ml-previews",
      { labelSelector: "app.kubernetes.io/component=version-record" },
    );
    expect(records.items.map((r) => r.data?.commit)).toEqual([newest]);
    expect(gh.violations).toEqual([]);
  });

  it("a scheduled run removes the preview once the pull request is closed without its close event, and its image", async () => {
    const newest = stickyComments(gh, NUMBER)[0]?.body.match(/[0-9a-f]{12}/)?.[0] ?? "";
    gh.addPullRequest({ number: NUMBER, headSha: "0".repeat(40), headRef: "feature/race", state: "closed" });
    const run = await runPreviewAction({
      cluster,
      gh,
      workspace,
      eventName: "schedule",
      event: scheduleEvent(),
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`pr-${NUMBER} (#${NUMBER}): closed`);
    expect(run.stdout).toMatch(new RegExp(`image [^ ]*/acme/mnist/predict-digits:${newest} deleted`));
    const records = await admin.list({ apiVersion: "v1", kind: "ConfigMap" }, "ml-previews", {
      labelSelector: "app.kubernetes.io/component=version-record",
    });
    expect(records.items).toEqual([]);
    expect(
      await untilStatus(`${cluster.gatewayUrl}/${OWNER}/${REPO}/mnist/pr-${NUMBER}/predict-digits`, 404),
    ).toBe(404);
    expect(gh.violations).toEqual([]);
  });
});

// A pull request's life as the runner plays it: the bundled Action (dist/index.js under Node 24) with
// the runner's environment and real webhook payloads, against the GitHub API test server (every
// request checked against GitHub's OpenAPI description), the local registry and the Kubernetes test
// cluster. Opened → one sticky comment whose URLs answer through the gateway, a Deployment in the
// PR's own environment; synchronize → the same comment edited, a new version, the alias moved and
// the old version retired, in at most six GitHub requests; a broken commit → the comment says why
// with the app's logs while the previous version keeps serving; closed → everything gone, the
// Deployment inactive, the comment torn down; closed again → nothing changes. A push to the branch
// `staging` promotes on deploys it there, with a GitHub Deployment of its own.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKubeClient, type KubeClient, type KubeObject } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { pullRequestEvent, pushEvent } from "../support/github-events.js";
import { type GitHubServer, startGitHubServer } from "../support/github-server.js";
import {
  fetchText,
  PullRequestWorkspace,
  runPreviewAction,
  stickyComments,
  untilStatus,
} from "../support/pr-workspace.js";
import { type ActionRun, actionOutputs } from "../support/run-action.js";
import { expectNoSecret } from "../support/secret-scan.js";

const OWNER = "acme";
const REPO = "digits";
const NUMBER = 7;
const ALIAS = `pr-${NUMBER}`;
const NAMESPACE = "ml-previews";
const PREFIX = `/${OWNER}/${REPO}/mnist`;

let cluster: TestCluster;
let gh: GitHubServer;
let admin: KubeClient;
let workspace: PullRequestWorkspace;

function act(action: string, headSha: string, extra: { merged?: boolean } = {}): Promise<ActionRun> {
  const event = pullRequestEvent(action, {
    number: NUMBER,
    headSha,
    headRef: "feature/better-digits",
    baseRepo: `${OWNER}/${REPO}`,
    ...(extra.merged !== undefined ? { merged: extra.merged } : {}),
  });
  return runPreviewAction({ cluster, gh, workspace, eventName: "pull_request", event });
}

async function get(url: string): Promise<{ status: number; body: string }> {
  expect(url.startsWith(cluster.gatewayUrl), url).toBe(true);
  return fetchText(url);
}

/** The preview URLs the comment shows: every http URL under the alias's path. */
function previewUrls(body: string): string[] {
  return [...new Set(body.match(/https?:\/\/[^\s<>)"'`]+/g) ?? [])].filter((u) =>
    u.includes(`${PREFIX}/${ALIAS}/`),
  );
}

async function versionsInCluster(): Promise<string[]> {
  const records = await admin.list<KubeObject & { data?: Record<string, string> }>(
    { apiVersion: "v1", kind: "ConfigMap" },
    NAMESPACE,
    { labelSelector: "app.kubernetes.io/component=version-record" },
  );
  return records.items.map((r) => r.data?.version ?? "").sort();
}

function expectClean(run: ActionRun): void {
  expect(gh.violations).toEqual([]);
  expectNoSecret(run, [gh.token]);
  for (const c of gh.comments(NUMBER)) expect(c.body.includes(gh.token)).toBe(false);
}

const commit = (message: string) => workspace.commit(message);

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  gh = await startGitHubServer({ owner: OWNER, repo: REPO });
  admin = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
  workspace = new PullRequestWorkspace(cluster);
});

afterAll(async () => {
  admin?.close();
  await gh?.close();
  await cluster?.stop();
});

describe("a pull request's preview through the bundled Action", () => {
  let first: string;
  let second: string;
  let broken: string;
  let opened: ActionRun;
  let commentId: number;

  it("opened: deploys the head commit, comments once with URLs that answer, and records a Deployment", async () => {
    first = commit("digits v1");
    gh.addPullRequest({ number: NUMBER, headSha: first, headRef: "feature/better-digits" });
    opened = await act("opened", first);
    expect(opened.code, opened.stdout + opened.stderr).toBe(0);
    expectClean(opened);

    const comments = stickyComments(gh, NUMBER);
    expect(comments).toHaveLength(1);
    const body = comments[0]?.body ?? "";
    commentId = comments[0]?.id ?? 0;
    expect(body).toContain("Preview ready");
    expect(body).toContain(first.slice(0, 7));
    expect(body).toContain("curl");
    const urls = previewUrls(body);
    expect(urls.length).toBeGreaterThanOrEqual(2);
    for (const url of urls) expect((await get(url)).status).toBe(200);
    const predict = urls.find((u) => u.endsWith("/predict-digits")) ?? "";
    expect(JSON.parse((await get(predict)).body)).toMatchObject({ model: "digits-v1" });

    const deployments = gh.deployments().filter((d) => d.environment === `preview/${ALIAS}`);
    expect(deployments).toHaveLength(1);
    expect(deployments[0]).toMatchObject({ sha: first, transient: true, production: false });
    const states = gh.statuses(deployments[0]?.id ?? 0).map((s) => s.state);
    expect(states).toContain("in_progress");
    expect(states.at(-1)).toBe("success");
    expect(gh.statuses(deployments[0]?.id ?? 0).at(-1)?.environmentUrl).toBe(
      `${cluster.gatewayUrl}${PREFIX}/${ALIAS}/predict-digits`,
    );

    const out = actionOutputs(opened.output);
    expect(out.version).toBe(first.slice(0, 12));
    expect(out["environment-url"]).toBe(`${cluster.gatewayUrl}${PREFIX}/${ALIAS}/predict-digits`);
    expect(JSON.parse(out.urls ?? "{}")).toHaveProperty("predict-digits");
    expect(opened.summary).toContain("Preview ready");
  });

  it("synchronize: edits the same comment, moves the alias to the new version, retires the old one, in at most six GitHub requests", async () => {
    workspace.setModel("digits-v2");
    second = commit("digits v2");
    gh.setHead(NUMBER, second);
    const before = gh.requests.length;
    const run = await act("synchronize", second);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expectClean(run);
    expect(gh.requests.length - before).toBeLessThanOrEqual(6);

    const comments = stickyComments(gh, NUMBER);
    expect(comments.map((c) => c.id)).toEqual([commentId]);
    expect(comments[0]?.body).toContain(second.slice(0, 7));
    const predict = `${cluster.gatewayUrl}${PREFIX}/${ALIAS}/predict-digits`;
    expect(JSON.parse((await get(predict)).body)).toMatchObject({
      model: "digits-v2",
      script_name: `${PREFIX}/${second.slice(0, 12)}/predict-digits`,
    });
    expect(await versionsInCluster()).toEqual([second.slice(0, 12)]);
    expect(
      await untilStatus(`${cluster.gatewayUrl}${PREFIX}/${first.slice(0, 12)}/predict-digits`, 404),
    ).toBe(404);
  });

  it("a broken commit: the comment says failed with the reason and the app's logs; the preview keeps serving the previous version", async () => {
    workspace.write("predict/app.py", `raise SystemExit("cannot load weights: digits.bin is truncated")\n`);
    broken = commit("broken");
    gh.setHead(NUMBER, broken);
    const run = await act("synchronize", broken);
    expect(run.code).not.toBe(0);
    expectClean(run);
    const comments = stickyComments(gh, NUMBER);
    expect(comments.map((c) => c.id)).toEqual([commentId]);
    const body = comments[0]?.body ?? "";
    expect(body).toContain("Preview failed");
    expect(body).toContain(broken.slice(0, 7));
    expect(body).toMatch(/CrashLoopBackOff|Error/);
    expect(body).toContain("<details>");
    expect(body).toContain("digits.bin is truncated");
    expect(body).toContain(second.slice(0, 12));
    const predict = `${cluster.gatewayUrl}${PREFIX}/${ALIAS}/predict-digits`;
    expect(JSON.parse((await get(predict)).body)).toMatchObject({ model: "digits-v2" });
    const latest = gh.deployments().at(-1);
    expect(gh.statuses(latest?.id ?? 0).map((s) => s.state)).toContain("failure");
  });

  it("closed: the alias and every version gone, the Deployments inactive, the comment torn down", async () => {
    const run = await act("closed", broken, { merged: false });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expectClean(run);
    const routes = await admin.list(
      { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
      NAMESPACE,
      {
        labelSelector: "app.kubernetes.io/managed-by=slipway",
      },
    );
    expect(routes.items).toEqual([]);
    expect(await versionsInCluster()).toEqual([]);
    expect(await untilStatus(`${cluster.gatewayUrl}${PREFIX}/${ALIAS}/predict-digits`, 404)).toBe(404);
    for (const d of gh.deployments().filter((d) => d.environment === `preview/${ALIAS}`)) {
      expect(gh.statuses(d.id).at(-1)?.state).toBe("inactive");
    }
    const comments = stickyComments(gh, NUMBER);
    expect(comments.map((c) => c.id)).toEqual([commentId]);
    expect(comments[0]?.body).toContain("torn down");
  });

  it("closed again: changes nothing", async () => {
    const before = gh.requests.filter((r) => r.method !== "GET").length;
    const body = stickyComments(gh, NUMBER)[0]?.body;
    const run = await act("closed", broken, { merged: false });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(gh.requests.filter((r) => r.method !== "GET").length).toBe(before);
    expect(stickyComments(gh, NUMBER)[0]?.body).toBe(body);
    expect(run.stdout).toContain("already torn down");
  });

  it("a push to the branch staging promotes on: deployed, staging moved, a staging Deployment recorded", async () => {
    workspace.git("checkout", first, "--", "predict/app.py");
    const fixed = commit("fixed");
    const run = await runPreviewAction({
      cluster,
      gh,
      workspace,
      eventName: "push",
      event: pushEvent({ ref: "refs/heads/main", after: fixed, repo: `${OWNER}/${REPO}` }),
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expectClean(run);
    const staging = `${cluster.gatewayUrl}${PREFIX}/staging/predict-digits`;
    expect(JSON.parse((await get(staging)).body)).toMatchObject({
      script_name: `${PREFIX}/${fixed.slice(0, 12)}/predict-digits`,
    });
    const deployment = gh.deployments().find((d) => d.environment === "staging");
    expect(deployment).toMatchObject({ sha: fixed, transient: false, production: false });
    const statuses = gh.statuses(deployment?.id ?? 0);
    expect(statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
    expect(statuses.at(-1)?.environmentUrl).toBe(staging);
  });
});

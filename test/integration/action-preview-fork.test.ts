// A fork's pull request through the bundled Action: on `pull_request_target` (the base repository's
// workflow, with its token) nothing of the fork is built or deployed, and the comment says that a
// maintainer's `/preview` deploys it. `/preview` from a reader is refused and changes nothing; from
// a writer it deploys the head commit as the API gives it at that moment, only when the checkout is
// that commit; a push after the approval is not deployed until someone approves again.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKubeClient, type KubeClient, type KubeObject } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { issueCommentEvent, pullRequestEvent } from "../support/github-events.js";
import { type GitHubServer, startGitHubServer } from "../support/github-server.js";
import {
  fetchText,
  PullRequestWorkspace,
  runPreviewAction,
  stickyComments,
} from "../support/pr-workspace.js";
import { actionOutputs } from "../support/run-action.js";

const OWNER = "acme";
const REPO = "digits";
const NUMBER = 12;
const ALIAS = `pr-${NUMBER}`;
const PREFIX = `/${OWNER}/${REPO}/mnist`;

let cluster: TestCluster;
let gh: GitHubServer;
let admin: KubeClient;
let workspace: PullRequestWorkspace;

function forkEvent(action: string, headSha: string) {
  return pullRequestEvent(action, {
    number: NUMBER,
    headSha,
    headRef: "patch-1",
    baseRepo: `${OWNER}/${REPO}`,
    fork: true,
  });
}

function comment(login: string, body: string) {
  const posted = gh.addComment(NUMBER, body, login);
  return {
    posted,
    event: issueCommentEvent({
      number: NUMBER,
      body,
      login,
      commentId: posted.id,
      repo: `${OWNER}/${REPO}`,
    }),
  };
}

async function records(): Promise<readonly KubeObject[]> {
  const list = await admin.list({ apiVersion: "v1", kind: "ConfigMap" }, "ml-previews", {
    labelSelector: "app.kubernetes.io/component=version-record",
  });
  return list.items;
}

const aliasUrl = () => `${cluster.gatewayUrl}${PREFIX}/${ALIAS}/predict-digits`;

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  gh = await startGitHubServer({ owner: OWNER, repo: REPO });
  gh.setPermission("maintainer", "write");
  gh.setPermission("stranger", "read");
  admin = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
  workspace = new PullRequestWorkspace(cluster);
});

afterAll(async () => {
  admin?.close();
  await gh?.close();
  await cluster?.stop();
});

describe("a fork's pull request", () => {
  let head: string;

  it("is planned, never built or deployed; the comment explains /preview", async () => {
    workspace.setModel("fork-v1");
    head = workspace.commit("a stranger's change");
    gh.addPullRequest({ number: NUMBER, headSha: head, headRef: "patch-1", fork: true, user: "stranger" });
    const run = await runPreviewAction({
      cluster,
      gh,
      workspace,
      eventName: "pull_request_target",
      event: forkEvent("opened", head),
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("a fork's code is planned, never built or deployed");
    expect(actionOutputs(run.output).images).toBeUndefined();
    expect(await records()).toEqual([]);
    const comments = stickyComments(gh, NUMBER);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain("/preview");
    expect(comments[0]?.body).toContain("needs approval");
    expect(gh.violations).toEqual([]);
  });

  it("/preview from someone with read permission is refused and changes nothing", async () => {
    const { posted, event } = comment("stranger", "/preview");
    const run = await runPreviewAction({ cluster, gh, workspace, eventName: "issue_comment", event });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(await records()).toEqual([]);
    const reply = gh.comments(NUMBER).at(-1);
    expect(reply?.body).toMatch(/needs write permission.*you have read/);
    expect(gh.reactions(posted.id).map((r) => r.content)).toEqual(["eyes", "confused"]);
    expect(gh.violations).toEqual([]);
  });

  it("/preview from a writer deploys the head commit", async () => {
    const { posted, event } = comment("maintainer", "/preview");
    const run = await runPreviewAction({ cluster, gh, workspace, eventName: "issue_comment", event });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`approves ${head}`);
    const answer = await fetchText(aliasUrl());
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ model: "fork-v1" });
    expect(stickyComments(gh, NUMBER)[0]?.body).toContain("Preview ready");
    expect(gh.reactions(posted.id).map((r) => r.content)).toEqual(["eyes", "rocket"]);
    expect(gh.violations).toEqual([]);
  });

  it("a push after the approval is not deployed until approved again", async () => {
    workspace.setModel("fork-v2");
    const pushed = workspace.commit("a later change");
    gh.setHead(NUMBER, pushed);
    const run = await runPreviewAction({
      cluster,
      gh,
      workspace,
      eventName: "pull_request_target",
      event: forkEvent("synchronize", pushed),
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect((await records()).map((r) => (r as { data?: { commit?: string } }).data?.commit)).toEqual([head]);
    expect(JSON.parse((await fetchText(aliasUrl())).body)).toMatchObject({ model: "fork-v1" });
    expect(stickyComments(gh, NUMBER)[0]?.body).toContain("needs approval");
  });

  it("/preview is refused when the checkout is not the pull request's head", async () => {
    const { event } = comment("maintainer", "/preview");
    workspace.checkout(head);
    const run = await runPreviewAction({ cluster, gh, workspace, eventName: "issue_comment", event });
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toContain(`refs/pull/${NUMBER}/head`);
    expect(JSON.parse((await fetchText(aliasUrl())).body)).toMatchObject({ model: "fork-v1" });
    expect(gh.violations).toEqual([]);
  });
});

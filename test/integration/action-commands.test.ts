// Comment commands on a pull request through the bundled Action (issue_comment payloads, the GitHub API
// test server, the test cluster): `/promote staging --no-canary` from a writer moves staging to what
// the pull request's preview serves, no build; `/status` replies with every environment; `/promote`
// by a reader is refused and changes nothing; `/promote production` (canary configured) and a
// `/rollback` with nothing to go back to are answered, nothing changed.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { issueCommentEvent, pullRequestEvent } from "../support/github-events.js";
import { type GitHubServer, startGitHubServer } from "../support/github-server.js";
import { fetchText, PullRequestWorkspace, runPreviewAction, untilStatus } from "../support/pr-workspace.js";
import { withoutEndpoint } from "../support/sample-deploy.js";

const OWNER = "acme";
const REPO = "digits";
const NUMBER = 31;
const PREFIX = `/${OWNER}/${REPO}/mnist`;

let cluster: TestCluster;
let gh: GitHubServer;
let workspace: PullRequestWorkspace;
let head: string;

/** One endpoint is enough to promote; staging also moves on a comment. */
function onlyPredict(config: string): string {
  return withoutEndpoint(config, "health-check").replace(
    "        promote-on:\n          - push: main\n",
    "        promote-on:\n          - push: main\n          - command\n",
  );
}

async function command(login: string, body: string) {
  const posted = gh.addComment(NUMBER, body, login);
  const run = await runPreviewAction({
    cluster,
    gh,
    workspace,
    eventName: "issue_comment",
    event: issueCommentEvent({ number: NUMBER, body, login, commentId: posted.id, repo: `${OWNER}/${REPO}` }),
  });
  expect(run.code, run.stdout + run.stderr).toBe(0);
  expect(gh.violations).toEqual([]);
  return {
    reply: gh.comments(NUMBER).at(-1)?.body ?? "",
    reactions: gh.reactions(posted.id).map((r) => r.content),
  };
}

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  gh = await startGitHubServer({ owner: OWNER, repo: REPO });
  gh.setPermission("maintainer", "write");
  gh.setPermission("reader", "read");
  workspace = new PullRequestWorkspace(cluster, onlyPredict);
  head = workspace.commit("digits");
  gh.addPullRequest({ number: NUMBER, headSha: head, headRef: "feature" });
  const opened = await runPreviewAction({
    cluster,
    gh,
    workspace,
    eventName: "pull_request",
    event: pullRequestEvent("opened", {
      number: NUMBER,
      headSha: head,
      headRef: "feature",
      baseRepo: `${OWNER}/${REPO}`,
    }),
  });
  expect(opened.code, opened.stdout + opened.stderr).toBe(0);
});

afterAll(async () => {
  await gh?.close();
  await cluster?.stop();
});

describe("comment commands", () => {
  it("/promote by a reader is refused and changes nothing", async () => {
    const { reply, reactions } = await command("reader", "/promote staging --no-canary");
    expect(reply).toMatch(/needs write permission.*you have read/);
    expect(reactions).toEqual(["eyes", "confused"]);
    expect((await fetchText(`${cluster.gatewayUrl}${PREFIX}/staging/predict-digits`)).status).toBe(404);
  });

  it("/promote staging --no-canary from a writer moves staging to the preview's version", async () => {
    const { reply, reactions } = await command("maintainer", "/promote staging --no-canary");
    expect(reply).toContain(`to version ${head.slice(0, 12)}`);
    expect(reactions).toEqual(["eyes", "rocket"]);
    const staging = `${cluster.gatewayUrl}${PREFIX}/staging/predict-digits`;
    expect(await untilStatus(staging, 200)).toBe(200);
    expect(JSON.parse((await fetchText(staging)).body)).toMatchObject({
      script_name: `${PREFIX}/${head.slice(0, 12)}/predict-digits`,
    });
  });

  it("/status replies with every environment and what it serves", async () => {
    const { reply } = await command("maintainer", "/status");
    expect(reply).toContain("staging");
    expect(reply).toContain("production");
    expect(reply).toContain(head.slice(0, 12));
  });

  it("/promote production with a canary configured, and /rollback with nothing before: answered, nothing changed", async () => {
    const canary = await command("maintainer", "/promote production");
    expect(canary.reply).toContain("canary");
    expect(canary.reactions).toEqual(["eyes", "confused"]);
    const back = await command("maintainer", "/rollback staging");
    expect(back.reply).toContain("Nothing was changed");
    expect(back.reactions).toEqual(["eyes", "confused"]);
    expect(
      JSON.parse((await fetchText(`${cluster.gatewayUrl}${PREFIX}/staging/predict-digits`)).body),
    ).toMatchObject({
      script_name: `${PREFIX}/${head.slice(0, 12)}/predict-digits`,
    });
  });
});

// The GitHub client against the GitHub API test server: the sticky comment, deployments, permissions,
// pull requests and reactions as Slipway uses them, and the client's own policy — both plugins loaded,
// which requests are repeated, timeouts, and errors without the token.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  countRequests,
  createDeployment,
  createGitHubClient,
  deactivateEnvironment,
  findStickyComment,
  type GitHubClientOptions,
  GitHubRequestError,
  hasPermission,
  MAX_COMMENT_LENGTH,
  openPullRequestNumbers,
  pullRequestHead,
  react,
  replyToPullRequest,
  repositoryPermission,
  STICKY_MARKER,
  setDeploymentStatus,
  upsertStickyComment,
} from "../../src/github/index.js";
import { type GitHubServer, startGitHubServer } from "../support/github-server.js";

const SHA = "c0ffee".padEnd(40, "0");
const PR = 12;
let gh: GitHubServer;
let lines: string[] = [];

// Short waits for tests: retry-after seconds count as 20 ms, 5xx backoff 10 ms, writes unspaced.
const client = (overrides: Partial<GitHubClientOptions> = {}) =>
  createGitHubClient({
    token: gh.token,
    baseUrl: gh.url,
    log: (line) => lines.push(line),
    timeoutMs: 5_000,
    throttle: { retryAfterBaseMs: 20, writeIntervalMs: 0, notificationIntervalMs: 0 },
    retry: { backoffMs: 10 },
    ...overrides,
  });
const repo = () => ({ owner: gh.owner, repo: gh.repo });
const requestsTo = (method: string, route: string) =>
  gh.requests.filter((r) => r.method === method && r.route === route);

beforeAll(async () => {
  gh = await startGitHubServer();
  gh.addPullRequest({ number: PR, headSha: SHA, headRef: "model-v2" });
}, 30_000);
afterEach(() => {
  const seen = gh.violations.splice(0);
  lines = [];
  expect(seen).toEqual([]);
});
afterAll(() => gh.close());

describe("sticky comment", () => {
  it("is created once, then edited in place", async () => {
    const octokit = await client();
    gh.addComment(PR, "looks good", "reviewer");
    const first = await upsertStickyComment(octokit, { ...repo(), issueNumber: PR, body: "Deploying…" });
    expect(first.created).toBe(true);
    const second = await upsertStickyComment(octokit, { ...repo(), issueNumber: PR, body: "Ready" });
    expect(second).toEqual({ id: first.id, created: false });
    const mine = gh.comments(PR).filter((c) => c.body.startsWith(STICKY_MARKER));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.body).toBe(`${STICKY_MARKER}\nReady`);
    expect(await findStickyComment(octokit, { ...repo(), issueNumber: PR })).toMatchObject({ id: first.id });
  });

  it("two runs racing on the same PR leave exactly one comment, the oldest", async () => {
    gh.addPullRequest({ number: 13, headSha: SHA, headRef: "race" });
    const [a, b] = await Promise.all([
      upsertStickyComment(await client(), { ...repo(), issueNumber: 13, body: "run A" }),
      upsertStickyComment(await client(), { ...repo(), issueNumber: 13, body: "run B" }),
    ]);
    const left = gh.comments(13);
    expect(left).toHaveLength(1);
    expect(a.id).toBe(left[0]?.id);
    expect(b.id).toBe(left[0]?.id);
  });

  it("with a known comment id is one request", async () => {
    const octokit = await client();
    const { id } = await upsertStickyComment(octokit, { ...repo(), issueNumber: PR, body: "v1" });
    const before = countRequests(octokit);
    expect(
      await upsertStickyComment(octokit, { ...repo(), issueNumber: PR, body: "v2", knownCommentId: id }),
    ).toEqual({
      id,
      created: false,
    });
    expect(countRequests(octokit).requests - before.requests).toBe(1);
  });

  it("falls back to finding or creating it when the known comment is gone (404)", async () => {
    gh.addPullRequest({ number: 14, headSha: SHA, headRef: "gone" });
    const octokit = await client();
    const { id } = await upsertStickyComment(octokit, { ...repo(), issueNumber: 14, body: "v1" });
    const result = await upsertStickyComment(octokit, {
      ...repo(),
      issueNumber: 14,
      body: "v2",
      knownCommentId: 1,
    });
    expect(result).toEqual({ id, created: false });
    expect(gh.comments(14).map((c) => c.body)).toEqual([`${STICKY_MARKER}\nv2`]);
  });

  it("cuts a body over GitHub's limit at a line end", async () => {
    gh.addPullRequest({ number: 15, headSha: SHA, headRef: "long" });
    const body = "row of a long table\n".repeat(5000);
    await upsertStickyComment(await client(), { ...repo(), issueNumber: 15, body });
    const stored = gh.comments(15)[0]?.body ?? "";
    expect(stored.length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH);
    expect(stored).toMatch(/row of a long table\n\n… \(cut: the report was \d+ characters/);
  });
});

describe("deployments", () => {
  it("create, set statuses and deactivate only the named environment", async () => {
    const octokit = await client();
    const deploy = async (environment: string) => {
      const { id } = await createDeployment(octokit, {
        ...repo(),
        ref: SHA,
        environment,
        transient: true,
        production: false,
        description: "preview",
      });
      await setDeploymentStatus(octokit, { ...repo(), deploymentId: id, state: "in_progress" });
      await setDeploymentStatus(octokit, {
        ...repo(),
        deploymentId: id,
        state: "success",
        environmentUrl: "https://pr-12.models.example/",
        logUrl: "https://github.test/octo/models/actions/runs/1",
        description: "x".repeat(300),
      });
      return id;
    };
    const a1 = await deploy("preview/pr-12");
    const a2 = await deploy("preview/pr-12");
    const other = await deploy("preview/pr-99");
    expect(gh.statuses(a2).at(-1)?.description).toHaveLength(140);

    expect(await deactivateEnvironment(octokit, { ...repo(), environment: "preview/pr-12" })).toBe(2);
    expect(gh.statuses(a1).at(-1)?.state).toBe("inactive");
    expect(gh.statuses(a2).at(-1)?.state).toBe("inactive");
    expect(gh.statuses(other).map((s) => s.state)).toEqual(["in_progress", "success"]);
    // Already inactive: nothing more to do.
    expect(await deactivateEnvironment(octokit, { ...repo(), environment: "preview/pr-12" })).toBe(0);
    const sent = gh.deployments().find((d) => d.id === a1);
    expect(sent).toMatchObject({ sha: SHA, transient: true, production: false });
  });

  it("refuses a ref that is not a full commit SHA", async () => {
    await expect(
      createDeployment(await client(), {
        ...repo(),
        ref: "main",
        environment: "e",
        transient: true,
        production: false,
        description: "",
      }),
    ).rejects.toThrow(/full commit SHA/);
  });
});

describe("permissions", () => {
  it.each([
    ["admin", "admin", true],
    ["maintain", "maintain", true],
    ["write", "write", true],
    ["triage", "triage", false],
    ["read", "read", false],
    ["none", "none", false],
  ] as const)("a %s collaborator is %s and may deploy: %s", async (role, level, mayDeploy) => {
    gh.setPermission(`user-${role}`, role);
    const actual = await repositoryPermission(await client(), { ...repo(), username: `user-${role}` });
    expect(actual).toBe(level);
    expect(hasPermission(actual, "write")).toBe(mayDeploy);
  });

  it("a user who is not a collaborator (404) has none", async () => {
    expect(await repositoryPermission(await client(), { ...repo(), username: "stranger" })).toBe("none");
  });

  it.each([
    ["admin", "read", true],
    ["read", "admin", false],
    ["maintain", "write", true],
    ["triage", "write", false],
    ["none", "none", true],
  ] as const)("hasPermission(%s, %s) is %s", (actual, required, expected) => {
    expect(hasPermission(actual, required)).toBe(expected);
  });
});

describe("pull requests and reactions", () => {
  it("reads a PR's head, including a fork that was deleted", async () => {
    gh.addPullRequest({
      number: 20,
      headSha: SHA,
      headRef: "f",
      fork: "deleted",
      state: "closed",
      merged: true,
    });
    gh.addPullRequest({ number: 21, headSha: SHA, headRef: "f", fork: true, user: "forker" });
    const octokit = await client();
    expect(await pullRequestHead(octokit, { ...repo(), number: 20 })).toEqual({
      sha: SHA,
      state: "closed",
      merged: true,
      headRepository: undefined,
      baseRepository: `${gh.owner}/${gh.repo}`,
    });
    gh.setHead(21, "d".repeat(40));
    expect(await pullRequestHead(octokit, { ...repo(), number: 21 })).toMatchObject({
      sha: "d".repeat(40),
      headRepository: `forker/${gh.repo}`,
    });
  });

  it("lists open PR numbers across pages", async () => {
    for (let n = 100; n < 230; n++) gh.addPullRequest({ number: n, headSha: SHA, headRef: `b${n}` });
    gh.addPullRequest({ number: 300, headSha: SHA, headRef: "closed", state: "closed" });
    const open = await openPullRequestNumbers(await client(), repo());
    expect(open.has(229)).toBe(true);
    expect(open.has(100)).toBe(true);
    expect(open.has(300)).toBe(false);
    expect(open.has(20)).toBe(false);
    expect(requestsTo("GET", "/repos/{owner}/{repo}/pulls").length).toBeGreaterThanOrEqual(2);
  });

  it("replies and reacts (201 new, 200 again)", async () => {
    const octokit = await client();
    const reply = await replyToPullRequest(octokit, { ...repo(), number: PR, body: "Deployed" });
    expect(await react(octokit, { ...repo(), commentId: reply.id, content: "rocket" })).toMatchObject({
      created: true,
    });
    expect(await react(octokit, { ...repo(), commentId: reply.id, content: "rocket" })).toMatchObject({
      created: false,
    });
    expect(gh.reactions(reply.id)).toEqual([{ content: "rocket", user: gh.actor }]);
  });
});

describe("client policy", () => {
  const PULL = "/repos/{owner}/{repo}/pulls/{pull_number}";
  const COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments";

  it("retries a GET answered 500 (retry plugin)", async () => {
    gh.failNext({ method: "GET", route: PULL, status: 500 });
    const before = requestsTo("GET", PULL).length;
    expect((await pullRequestHead(await client(), { ...repo(), number: PR })).sha).toBe(SHA);
    expect(
      requestsTo("GET", PULL)
        .slice(before)
        .map((r) => r.status),
    ).toEqual([500, 200]);
  });

  it.each([403, 429] as const)(
    "retries a POST answered with a secondary rate limit (%i) after the wait (throttling plugin)",
    async (status) => {
      gh.rateLimitNext({ method: "POST", route: COMMENTS, status, retryAfter: 3 });
      const before = requestsTo("POST", COMMENTS).length;
      const started = Date.now();
      await replyToPullRequest(await client(), { ...repo(), number: PR, body: "hello" });
      // retry-after: 3 at 20 ms a second.
      expect(Date.now() - started).toBeGreaterThanOrEqual(55);
      expect(
        requestsTo("POST", COMMENTS)
          .slice(before)
          .map((r) => r.status),
      ).toEqual([status, 201]);
      expect(lines.join("\n")).toMatch(/secondary rate limit on POST .*retrying in 3 s/);
    },
  );

  it("gives up after the bounded number of rate-limit retries", async () => {
    for (let i = 0; i < 3; i++) gh.rateLimitNext({ method: "POST", route: COMMENTS });
    const before = requestsTo("POST", COMMENTS).length;
    const error = await replyToPullRequest(
      await client({
        throttle: { maxRetries: 2, retryAfterBaseMs: 1, writeIntervalMs: 0, notificationIntervalMs: 0 },
      }),
      {
        ...repo(),
        number: PR,
        body: "x",
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubRequestError);
    expect(requestsTo("POST", COMMENTS).length - before).toBe(3);
  });

  it("never repeats a POST answered 500: it may have been acted on", async () => {
    gh.failNext({ method: "POST", route: COMMENTS, status: 500 });
    const before = requestsTo("POST", COMMENTS).length;
    const error = await replyToPullRequest(await client(), { ...repo(), number: PR, body: "x" }).catch(
      (e: unknown) => e,
    );
    expect(requestsTo("POST", COMMENTS).length - before).toBe(1);
    expect(error).toBeInstanceOf(GitHubRequestError);
    expect((error as Error).message).toBe(
      "GitHub POST /repos/{owner}/{repo}/issues/{issue_number}/comments answered 500: fault injected",
    );
  });

  it("abandons an attempt that gets no answer within the timeout", async () => {
    gh.hangNext({ method: "GET", route: PULL });
    gh.hangNext({ method: "GET", route: PULL });
    const started = Date.now();
    const error = await pullRequestHead(
      await client({ timeoutMs: 200, retry: { retries: 1, backoffMs: 10 } }),
      {
        ...repo(),
        number: PR,
      },
    ).catch((e: unknown) => e);
    const took = Date.now() - started;
    expect((error as Error).message).toBe(
      "GitHub GET /repos/{owner}/{repo}/pulls/{pull_number} got no answer: timed out after 200 ms",
    );
    // Two attempts of 200 ms and a 10 ms backoff.
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(2_000);
  });

  it("spaces comment writes by the notification interval", async () => {
    const octokit = await client({
      throttle: { retryAfterBaseMs: 20, writeIntervalMs: 0, notificationIntervalMs: 150 },
    });
    const started = Date.now();
    await Promise.all(
      [1, 2, 3].map((n) => replyToPullRequest(octokit, { ...repo(), number: PR, body: `n${n}` })),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("never puts the token in an error or a log line", async () => {
    const bad = await createGitHubClient({
      token: "ghp_wrongtoken123",
      baseUrl: gh.url,
      log: (l) => lines.push(l),
    });
    const error = await pullRequestHead(bad, { ...repo(), number: PR }).catch((e: unknown) => e);
    expect((error as GitHubRequestError).status).toBe(401);
    expect((error as Error).message).toBe(
      "GitHub GET /repos/{owner}/{repo}/pulls/{pull_number} answered 401: Bad credentials",
    );
    const seen: string[] = [];
    const masked = await client({ onSecret: (s) => seen.push(s) });
    gh.failNext({ method: "GET", route: PULL, status: 404, body: { message: `no such PR (${gh.token})` } });
    const echoed = await pullRequestHead(masked, { ...repo(), number: PR }).catch((e: unknown) => e);
    expect(seen).toEqual([gh.token]);
    for (const text of [String(error), String(echoed), JSON.stringify(echoed), ...lines]) {
      expect(text).not.toContain(gh.token);
      expect(text).not.toContain("ghp_wrongtoken123");
    }
  });
});

// The GitHub API test server judges requests by GitHub's REST description and builds its answers to it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitHubServer, startGitHubServer } from "../support/github-server.js";

let gh: GitHubServer;
beforeAll(async () => {
  gh = await startGitHubServer();
  gh.addPullRequest({ number: 7, headSha: "a".repeat(40), headRef: "feature" });
}, 30_000);
afterAll(() => gh.close());

const call = async (method: string, path: string, body?: unknown, auth = `Bearer ${gh.token}`) => {
  const res = await fetch(`${gh.url}${path}`, {
    method,
    headers: { authorization: auth, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
};

describe("GitHub API test server", () => {
  it("answers 401 without the token, as GitHub does", async () => {
    expect((await call("GET", `/repos/${gh.owner}/${gh.repo}`, undefined, "")).status).toBe(401);
    expect((await call("GET", `/repos/${gh.owner}/${gh.repo}`, undefined, "token wrong")).status).toBe(401);
  });

  it("takes valid requests and builds answers that match the description", async () => {
    const before = gh.violations.length;
    const created = await call("POST", `/repos/${gh.owner}/${gh.repo}/issues/7/comments`, { body: "hi" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ body: "hi", user: { login: gh.actor } });
    expect((await call("GET", `/repos/${gh.owner}/${gh.repo}/pulls/7`)).body).toMatchObject({
      head: { sha: "a".repeat(40), ref: "feature" },
    });
    expect((await call("GET", `/repos/${gh.owner}/${gh.repo}/pulls?state=open&per_page=10`)).status).toBe(
      200,
    );
    expect(gh.violations.slice(before)).toEqual([]);
  });

  it.each([
    ["a route GitHub does not have", "POST", "/repos/{o}/{r}/issues/7/comment", { body: "x" }, 404],
    ["a method the route does not take", "PUT", "/repos/{o}/{r}/issues/7/comments", { body: "x" }, 404],
    ["a field of the wrong type", "POST", "/repos/{o}/{r}/issues/7/comments", { body: 5 }, 422],
    ["a missing required field", "POST", "/repos/{o}/{r}/deployments", { environment: "pr-7" }, 422],
    ["a query parameter outside its enum", "GET", "/repos/{o}/{r}/pulls?state=merged", undefined, 422],
  ])("%s is a violation", async (_what, method, template, body, status) => {
    const before = gh.violations.length;
    const path = template.replace("{o}", gh.owner).replace("{r}", gh.repo);
    expect((await call(method, path, body)).status).toBe(status);
    expect(gh.violations.length).toBe(before + 1);
  });

  it.each([
    [
      "a body field the operation does not declare",
      "POST",
      "/repos/{o}/{r}/issues/7/comments",
      { body: "x", bdy: 1 },
      201,
    ],
    [
      "a query parameter the operation does not declare",
      "GET",
      "/repos/{o}/{r}/pulls?status=open",
      undefined,
      200,
    ],
  ])("%s is ignored, as GitHub ignores it", async (_what, method, template, body, status) => {
    const before = gh.violations.length;
    const path = template.replace("{o}", gh.owner).replace("{r}", gh.repo);
    expect((await call(method, path, body)).status).toBe(status);
    expect(gh.violations.length).toBe(before);
  });

  it("pages lists with Link headers", async () => {
    for (let i = 0; i < 5; i++) gh.addComment(7, `c${i}`);
    const first = await call("GET", `/repos/${gh.owner}/${gh.repo}/issues/7/comments?per_page=2`);
    expect(first.body).toHaveLength(2);
    expect(first.headers.get("link")).toMatch(/page=2>; rel="next"/);
    expect(gh.violations.filter((v) => v.includes("per_page=2"))).toEqual([]);
  });

  it("marks prior successful non-transient deployments of the same environment inactive on a new success", async () => {
    const deploy = async (environment: string, transient: boolean) => {
      const d = await call("POST", `/repos/${gh.owner}/${gh.repo}/deployments`, {
        ref: "b".repeat(40),
        environment,
        auto_merge: false,
        required_contexts: [],
        transient_environment: transient,
        production_environment: false,
      });
      const id = (d.body as { id: number }).id;
      await call("POST", `/repos/${gh.owner}/${gh.repo}/deployments/${id}/statuses`, { state: "success" });
      return id;
    };
    const before = gh.violations.length;
    const old = await deploy("staging", false);
    const other = await deploy("pr-8", false);
    const oldTransient = await deploy("staging", true);
    await deploy("staging", false);
    expect(gh.statuses(old).map((s) => s.state)).toEqual(["success", "inactive"]);
    expect(gh.statuses(other).map((s) => s.state)).toEqual(["success"]);
    expect(gh.statuses(oldTransient).map((s) => s.state)).toEqual(["success"]);
    expect(gh.violations.slice(before)).toEqual([]);
  });
});

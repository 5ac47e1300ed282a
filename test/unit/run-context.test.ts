// Where a run stands, read from real webhook payloads and the runner's environment.
import { describe, expect, it } from "vitest";
import { runContextFromEnv } from "../../src/intent/run-context.js";
import { webhookPayload } from "../support/run-action.js";

const env = { GITHUB_REPOSITORY: "Codertocat/Hello-World", GITHUB_SHA: "f".repeat(40) };

describe("runContextFromEnv", () => {
  it("builds a pull request's preview from its head commit, not GitHub's merge commit", () => {
    const payload = webhookPayload("pull_request", "synchronize") as {
      number: number;
      pull_request: { head: { sha: string } };
    };
    expect(runContextFromEnv({ ...env, GITHUB_EVENT_NAME: "pull_request" }, payload)).toEqual({
      owner: "Codertocat",
      repo: "Hello-World",
      commit: payload.pull_request.head.sha,
      pullRequest: payload.number,
      eventName: "pull_request",
    });
  });

  it.each([
    ["push", webhookPayload("push", undefined)],
    ["release", webhookPayload("release", "published")],
    ["workflow_dispatch", undefined],
  ])("uses GITHUB_SHA for a %s event, with no pull request", (eventName, payload) => {
    expect(runContextFromEnv({ ...env, GITHUB_EVENT_NAME: eventName }, payload)).toEqual({
      owner: "Codertocat",
      repo: "Hello-World",
      commit: "f".repeat(40),
      eventName,
    });
  });
});

describe("fork pull requests", () => {
  const pr = () =>
    structuredClone(webhookPayload("pull_request", "opened")) as {
      pull_request: { head: { repo: { full_name: string } | null } };
    };

  it("are recognised when the head branch lives in another repository", () => {
    const payload = pr();
    if (payload.pull_request.head.repo) payload.pull_request.head.repo.full_name = "stranger/Hello-World";
    expect(runContextFromEnv({ ...env, GITHUB_EVENT_NAME: "pull_request" }, payload).fork).toEqual({
      headRepository: "stranger/Hello-World",
    });
  });

  it("include a head repository that was deleted (null in the payload)", () => {
    const payload = pr();
    payload.pull_request.head.repo = null;
    expect(runContextFromEnv({ ...env, GITHUB_EVENT_NAME: "pull_request" }, payload).fork).toEqual({
      headRepository: "a deleted repository",
    });
  });

  it("are not forks when head and base are the same repository, whatever the case", () => {
    const payload = pr();
    if (payload.pull_request.head.repo) payload.pull_request.head.repo.full_name = "codertocat/hello-world";
    expect(runContextFromEnv({ ...env, GITHUB_EVENT_NAME: "pull_request" }, payload).fork).toBeUndefined();
  });
});

// What a run is asked to do, from real webhook payloads (test/support/github-events.ts) and the
// config's environments.
import { describe, expect, it } from "vitest";
import type { Environment } from "../../src/config/types.js";
import { InputError } from "../../src/errors.js";
import { intentFor, type RoutingConfig } from "../../src/intent/intent.js";
import { matchGlob } from "../../src/intent/match-glob.js";
import {
  issueCommentEvent,
  pullRequestEvent,
  pushEvent,
  releaseEvent,
  scheduleEvent,
  workflowDispatchEvent,
} from "../support/github-events.js";

const location = { file: "valohai.yaml", line: 1, column: 1 };
function env(name: string, promoteOn: Environment["promoteOn"]): Environment {
  return { name, promoteOn, requires: [], replicas: 1, location };
}

const config: RoutingConfig = {
  environments: [
    env("staging", [{ kind: "push", branch: "main" }, { kind: "command" }]),
    env("nightly", [{ kind: "push", branch: "release/*" }]),
    env("production", [{ kind: "release", tag: "v*" }, { kind: "command" }]),
    env("canary", [{ kind: "release", tag: "v*-rc*" }]),
  ],
  preview: { enabled: true, alias: "pr-{number}" },
};
const noPreviews: RoutingConfig = { ...config, preview: { enabled: false, alias: "pr-{number}" } };

const SHA = "a".repeat(40);
const pr = (action: string, extra: Partial<Parameters<typeof pullRequestEvent>[1]> = {}) =>
  pullRequestEvent(action, {
    number: 42,
    headSha: SHA,
    headRef: "feature/x",
    baseRepo: "acme/models",
    ...extra,
  });
const comment = (body: string, extra: Partial<Parameters<typeof issueCommentEvent>[0]> = {}) =>
  issueCommentEvent({ number: 42, body, login: "octocat", commentId: 7, repo: "acme/models", ...extra });

describe("pull request events", () => {
  it.each(["pull_request", "pull_request_target"])("%s previews the head commit", (event) => {
    for (const action of ["opened", "synchronize", "reopened", "ready_for_review"]) {
      expect(intentFor(event, pr(action), {}, config)).toEqual({
        kind: "preview",
        pullRequest: 42,
        commit: SHA,
        headRef: "feature/x",
      });
    }
  });

  it.each([
    [true, { headRepository: "stranger/models" }],
    ["deleted" as const, { headRepository: "a deleted repository" }],
  ])("marks a fork's pull request (fork: %j)", (fork, expected) => {
    const intent = intentFor("pull_request_target", pr("synchronize", { fork }), {}, config);
    expect(intent).toMatchObject({ kind: "preview", fork: expected });
  });

  it.each([
    [true, true],
    [false, false],
  ])("tears down a closed pull request (merged: %j)", (merged, expected) => {
    expect(intentFor("pull_request", pr("closed", { merged }), {}, config)).toEqual({
      kind: "teardown",
      pullRequest: 42,
      merged: expected,
    });
  });

  it("tears down even when previews are disabled", () => {
    expect(intentFor("pull_request", pr("closed"), {}, noPreviews).kind).toBe("teardown");
  });

  it.each(["labeled", "edited", "assigned", "converted_to_draft", "review_requested"])(
    "ignores a pull request that was %s",
    (action) => {
      const intent = intentFor("pull_request", pr(action), {}, config);
      expect(intent).toEqual({ kind: "ignore", reason: expect.stringContaining(`#42 was '${action}'`) });
    },
  );

  it("ignores a pull request when previews are disabled", () => {
    expect(intentFor("pull_request", pr("opened"), {}, noPreviews)).toEqual({
      kind: "ignore",
      reason: "Pull request #42: previews are disabled in the config (preview.enabled is false).",
    });
  });

  it("previews whatever environment the inputs name: a pull request's code goes nowhere else", () => {
    expect(intentFor("pull_request", pr("opened"), { environment: "production" }, config).kind).toBe(
      "preview",
    );
  });

  it("refuses a payload that is not a pull request's", () => {
    const payload = pr("opened");
    delete (payload.pull_request as { head: Record<string, unknown> }).head.sha;
    expect(() => intentFor("pull_request", payload, {}, config)).toThrow(
      new InputError("the pull_request event's payload has no pull_request.head.sha"),
    );
    expect(() => intentFor("pull_request", undefined, {}, config)).toThrow(InputError);
  });
});

describe("issue comments", () => {
  it.each([
    ["/preview", { name: "preview" }],
    ["/promote staging --canary 30m", { name: "promote", environment: "staging", canarySeconds: 1800 }],
    ["/rollback production", { name: "rollback", environment: "production" }],
    ["/status", { name: "status" }],
  ])("runs the command %j", (body, command) => {
    expect(intentFor("issue_comment", comment(body), {}, config)).toEqual({
      kind: "command",
      command,
      pullRequest: 42,
      commentId: 7,
      author: "octocat",
      authorType: "User",
    });
  });

  it.each([
    ["/promote stagin", "did you mean 'staging'?"],
    ["/promte staging", "did you mean '/promote'?"],
    ["/promote nightly", "environment 'nightly' is not promoted by comments"],
  ])("answers %j with a refusal", (body, part) => {
    expect(intentFor("issue_comment", comment(body), {}, config)).toEqual({
      kind: "command-invalid",
      message: expect.stringContaining(part),
      pullRequest: 42,
      commentId: 7,
      author: "octocat",
    });
  });

  it("refuses /preview when previews are disabled", () => {
    expect(intentFor("issue_comment", comment("/preview"), {}, noPreviews)).toMatchObject({
      kind: "command-invalid",
      message: "previews are disabled in the config (preview.enabled is false)",
    });
  });

  it.each([
    ["an edited comment", comment("/preview", { action: "edited" }), "was 'edited'"],
    ["a deleted comment", comment("/preview", { action: "deleted" }), "was 'deleted'"],
    ["a comment on an issue", comment("/preview", { pullRequest: false }), "issue #42, not a pull request"],
    ["a bot's comment", comment("/preview", { login: "ci", userType: "Bot" }), "a bot"],
    ["a GitHub App's comment", comment("/preview", { login: "slipway[bot]" }), "a bot"],
    ["a comment that is no command", comment("Nice work! /promote later?"), "is not a Slipway command"],
    ["another bot's command", comment("/retest"), "is not a Slipway command"],
  ])("ignores %s", (_, payload, part) => {
    expect(intentFor("issue_comment", payload, {}, config)).toEqual({
      kind: "ignore",
      reason: expect.stringContaining(part),
    });
  });

  it("is decided by the comment, not the inputs", () => {
    expect(intentFor("issue_comment", comment("/status"), { command: "deploy" }, config).kind).toBe(
      "command",
    );
  });
});

describe("pushes", () => {
  it.each([
    ["refs/heads/main", "main", ["staging"]],
    ["refs/heads/release/2024.1", "release/2024.1", ["nightly"]],
  ])("deploys a push to %s to the environments promoting on it", (ref, branch, environments) => {
    expect(intentFor("push", pushEvent({ ref, after: SHA }), {}, config)).toEqual({
      kind: "push-deploy",
      branch,
      commit: SHA,
      environments,
    });
  });

  it.each([
    [{ ref: "refs/heads/feature", after: SHA }, "no environment promotes on pushes to it"],
    [{ ref: "refs/heads/main", after: "0".repeat(40) }, "Branch 'main' was deleted"],
    [{ ref: "refs/tags/v1.0.0", after: SHA }, "Tag 'v1.0.0' was pushed"],
    [{ ref: "refs/tags/v1.0.0", after: "0".repeat(40) }, "Tag 'v1.0.0' was pushed"],
  ])("ignores %j", (options, part) => {
    expect(intentFor("push", pushEvent(options), {}, config)).toEqual({
      kind: "ignore",
      reason: expect.stringContaining(part),
    });
  });

  it("deploys as the workflow asks when it names an environment or alias", () => {
    const payload = pushEvent({ ref: "refs/heads/feature", after: SHA });
    expect(intentFor("push", payload, { environment: "staging" }, config)).toEqual({ kind: "deploy" });
    expect(intentFor("push", payload, { alias: "demo" }, config)).toEqual({ kind: "deploy" });
    // Inputs not given arrive as empty strings.
    expect(intentFor("push", payload, { environment: "", alias: "" }, config).kind).toBe("ignore");
  });
});

describe("releases", () => {
  it.each([
    ["v1.2.0", ["production"]],
    ["v2.0.0-rc1", ["production", "canary"]],
  ])("deploys release %s to the environments promoting on it", (tag, environments) => {
    expect(intentFor("release", releaseEvent({ tag }), {}, config)).toEqual({
      kind: "release",
      tag,
      prerelease: false,
      environments,
    });
  });

  it("names the commit when the release does", () => {
    const payload = releaseEvent({ tag: "v1.0.0", targetCommitish: SHA, prerelease: true });
    expect(intentFor("release", payload, {}, config)).toMatchObject({ commit: SHA, prerelease: true });
  });

  it.each([
    [releaseEvent({ tag: "1.0.0" }), "no environment promotes on releases matching it"],
    [releaseEvent({ tag: "v1.0.0", action: "created" }), "was 'created'"],
    [releaseEvent({ tag: "v1.0.0", action: "prereleased" }), "was 'prereleased'"],
  ])("ignores %#", (payload, part) => {
    expect(intentFor("release", payload, {}, config)).toEqual({
      kind: "ignore",
      reason: expect.stringContaining(part),
    });
  });
});

describe("workflow_dispatch, schedule and the rest", () => {
  it.each([
    [{}, { kind: "deploy" }],
    [{ command: "deploy" }, { kind: "deploy" }],
    [{ command: "housekeeping" }, { kind: "housekeeping" }],
    [{ command: "status" }, { kind: "dispatch", command: "status" }],
    [
      { command: "promote", environment: "production", version: "abc123" },
      { kind: "dispatch", command: "promote", environment: "production", version: "abc123" },
    ],
    [
      { command: "rollback", environment: "staging", version: "" },
      { kind: "dispatch", command: "rollback", environment: "staging" },
    ],
    [{ environment: "staging" }, { kind: "deploy" }],
  ])("workflow_dispatch with %j is %j", (inputs, expected) => {
    expect(intentFor("workflow_dispatch", workflowDispatchEvent(inputs), inputs, config)).toEqual(expected);
  });

  it.each([
    [{ command: "promot", environment: "staging" }, "input command is 'promot'; did you mean 'promote'?"],
    [{ command: "promote" }, "input command promote needs the environment input"],
    [{ command: "abort", environment: "prod" }, "input environment 'prod' is not an environment"],
  ])("refuses workflow_dispatch inputs %j", (inputs, part) => {
    expect(() => intentFor("workflow_dispatch", workflowDispatchEvent(inputs), inputs, config)).toThrow(part);
  });

  it("keeps house on a schedule", () => {
    expect(intentFor("schedule", scheduleEvent(), {}, config)).toEqual({ kind: "housekeeping" });
    expect(intentFor("schedule", scheduleEvent(), { environment: "staging" }, config)).toEqual({
      kind: "deploy",
    });
  });

  it.each([
    ["issues", "Slipway does not act on 'issues' events"],
    ["deployment_status", "Slipway does not act on 'deployment_status' events"],
    [undefined, "GITHUB_EVENT_NAME is not set"],
  ])("ignores %s", (event, part) => {
    expect(intentFor(event, {}, {}, config)).toEqual({
      kind: "ignore",
      reason: expect.stringContaining(part),
    });
  });
});

describe("matchGlob", () => {
  it.each([
    ["main", "main", true],
    ["main", "mainline", false],
    ["v*", "v1.2.3", true],
    ["v*", "v", true],
    ["v*", "1.2.3", false],
    ["release/*", "release/2024/1", true],
    ["*-rc*", "v2.0.0-rc1", true],
    ["*-rc*", "v2.0.0", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "acb", false],
    ["a*bc*bc", "abcbc", true],
    ["a*aa", "aa", false],
    ["*", "", true],
    ["**", "anything", true],
    ["v1.*", "v1x2", false],
    ["(a+)+", "aaaa", false],
  ])("%j matches %j: %j", (pattern, name, expected) => {
    expect(matchGlob(pattern, name)).toBe(expected);
  });

  it("answers a hostile pattern without backtracking", () => {
    expect(matchGlob(`*${"a*".repeat(1000)}${"a".repeat(50)}b*`, "a".repeat(100_000))).toBe(false);
    expect(matchGlob(`${"a*".repeat(1000)}`, "a".repeat(100_000))).toBe(true);
  });
});

describe("the test payloads", () => {
  it("name the base repository consistently, and a fork's head elsewhere", () => {
    const payload = pullRequestEvent("opened", {
      number: 7,
      headSha: SHA,
      baseRepo: "acme/models",
      fork: true,
    });
    const repository = payload.repository as {
      full_name: string;
      name: string;
      owner: { login: string };
      url: string;
    };
    const pull = payload.pull_request as {
      base: { repo: { full_name: string } };
      head: { repo: { full_name: string; fork: boolean } };
      url: string;
    };
    expect([repository.full_name, repository.name, repository.owner.login]).toEqual([
      "acme/models",
      "models",
      "acme",
    ]);
    expect(repository.url).toBe("https://api.github.com/repos/acme/models");
    expect(pull.base.repo.full_name).toBe("acme/models");
    expect(pull.head.repo).toMatchObject({ full_name: "stranger/models", fork: true });
    expect(pull.url).toBe("https://api.github.com/repos/acme/models/pulls/7");
    expect(JSON.stringify(payload)).not.toContain("Codertocat/Hello-World");
  });
});

// What a run is asked to do, from the event that started it, its payload, the workflow's inputs and
// the config's environments and previews: preview or tear down a pull request, run a comment's
// command, deploy a push or a release to the environments that promote on it, keep house, or
// nothing (with the reason the Action logs as a notice). Pure; with run-context.ts, the one place
// webhook payloads are narrowed.
//
// Precedence, first match wins:
// 1. pull_request, pull_request_target and issue_comment runs are decided by their payload alone.
//    The workflow's inputs are not consulted: a pull request's run previews it, and moving an
//    environment is a command's job, so no input can send a pull request's code to one.
// 2. A `command` input (workflow_dispatch inputs arrive as action inputs) is run: `deploy` and
//    `housekeeping` as themselves, the others as a dispatch with the `environment` and `version` inputs.
// 3. An `environment` or `alias` input: the workflow asked for a plain deploy, whatever the event.
// 4. The event: a push to a branch, or a published release whose tag, an environment promotes on;
//    a schedule keeps house; a workflow_dispatch without a command deploys. Anything else is ignored.

import { didYouMean, MAX_CANDIDATES, suggestion } from "../config/did-you-mean.js";
import { quote } from "../config/quote.js";
import type { Environment, PreviewSettings } from "../config/types.js";
import { InputError } from "../errors.js";
import { isRecord } from "../util/record.js";
import { matchGlob } from "./match-glob.js";
import { parseCommand, type SlashCommand } from "./parse-command.js";
import { forkOf } from "./run-context.js";

/** The workflow's inputs that route a run; empty strings (inputs not given) count as absent. */
export interface RoutingInputs {
  command?: string;
  environment?: string;
  version?: string;
  alias?: string;
}

export interface RoutingConfig {
  environments: readonly Environment[];
  preview: Pick<PreviewSettings, "enabled" | "alias">;
}

/** Commands a workflow_dispatch may name besides `deploy` and `housekeeping`. */
export const DISPATCH_COMMANDS = [
  "promote",
  "rollback",
  "deactivate",
  "activate",
  "abort",
  "status",
] as const;
export type DispatchCommand = (typeof DISPATCH_COMMANDS)[number];
const COMMAND_INPUTS = ["deploy", "housekeeping", ...DISPATCH_COMMANDS] as const;

export type Intent =
  | {
      kind: "preview";
      pullRequest: number;
      /** The head commit: what the author pushed, not GitHub's merge commit. */
      commit: string;
      headRef: string;
      fork?: { headRepository: string };
    }
  | { kind: "teardown"; pullRequest: number; merged: boolean }
  | { kind: "push-deploy"; branch: string; commit: string; environments: string[] }
  | {
      kind: "command";
      command: SlashCommand;
      pullRequest: number;
      commentId: number;
      author: string;
      /** The commenter's account type as GitHub gives it ("User", "Organization", …). */
      authorType: string;
    }
  | { kind: "command-invalid"; message: string; pullRequest: number; commentId: number; author: string }
  | { kind: "dispatch"; command: DispatchCommand; environment?: string; version?: string }
  | { kind: "deploy" }
  | { kind: "housekeeping" }
  | {
      kind: "release";
      tag: string;
      /** Set when the release names the commit its tag was made from. */
      commit?: string;
      prerelease: boolean;
      environments: string[];
    }
  | { kind: "ignore"; reason: string };

type Payload = Record<string, unknown>;

const PREVIEW_ACTIONS = new Set(["opened", "synchronize", "reopened", "ready_for_review"]);
const ENVIRONMENT_COMMANDS = new Set<DispatchCommand>([
  "promote",
  "rollback",
  "deactivate",
  "activate",
  "abort",
]);
const FULL_SHA = /^[0-9a-f]{40}$/;
const ZERO_SHA = "0".repeat(40);

const ignore = (reason: string): Intent => ({ kind: "ignore", reason });

function given(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

export function intentFor(
  eventName: string | undefined,
  payload: unknown,
  inputs: RoutingInputs,
  config: RoutingConfig,
): Intent {
  if (eventName === "pull_request" || eventName === "pull_request_target") {
    return pullRequestIntent(eventName, record(eventName, payload), config);
  }
  if (eventName === "issue_comment") return commentIntent(record(eventName, payload), config);
  const command = given(inputs.command);
  if (command !== undefined) return commandInputIntent(command, inputs, config);
  if (given(inputs.environment) !== undefined || given(inputs.alias) !== undefined) return { kind: "deploy" };
  switch (eventName) {
    case "push":
      return pushIntent(record(eventName, payload), config);
    case "release":
      return releaseIntent(record(eventName, payload), config);
    case "schedule":
      return { kind: "housekeeping" };
    case "workflow_dispatch":
      return { kind: "deploy" };
    case undefined:
      return ignore("No event started this run (GITHUB_EVENT_NAME is not set): Slipway does nothing.");
    default:
      return ignore(
        `Slipway does not act on ${quote(eventName)} events; it deploys pull requests, their comments' commands, pushes, releases, schedules and workflow_dispatch runs.`,
      );
  }
}

function record(eventName: string, payload: unknown): Payload {
  if (!isRecord(payload)) throw new InputError(`the ${eventName} event's payload is not a JSON object`);
  return payload;
}

function child(value: unknown): Payload | undefined {
  return isRecord(value) ? value : undefined;
}

/** `owner[key]` when it is a string, else the payload is not the event it claims: an error, never a guess. */
function text(eventName: string, owner: Payload | undefined, key: string, path: string): string {
  const value = owner?.[key];
  if (typeof value !== "string") throw new InputError(`the ${eventName} event's payload has no ${path}`);
  return value;
}

function integer(eventName: string, owner: Payload | undefined, key: string, path: string): number {
  const value = owner?.[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new InputError(`the ${eventName} event's payload has no ${path}`);
  }
  return value;
}

function pullRequestIntent(eventName: string, payload: Payload, config: RoutingConfig): Intent {
  const pr = child(payload.pull_request);
  const number = integer(eventName, pr, "number", "pull_request.number");
  const action = typeof payload.action === "string" ? payload.action : "";
  if (action === "closed") return { kind: "teardown", pullRequest: number, merged: pr?.merged === true };
  if (!PREVIEW_ACTIONS.has(action)) {
    return ignore(
      `Pull request #${number} was ${quote(action)}: previews are deployed when a pull request is opened, reopened, pushed to or ready for review, and torn down when it is closed.`,
    );
  }
  if (!config.preview.enabled) {
    return ignore(`Pull request #${number}: previews are disabled in the config (preview.enabled is false).`);
  }
  const head = child(pr?.head);
  const intent: Intent = {
    kind: "preview",
    pullRequest: number,
    commit: text(eventName, head, "sha", "pull_request.head.sha"),
    headRef: text(eventName, head, "ref", "pull_request.head.ref"),
  };
  const repository = child(payload.repository)?.full_name;
  const fork = forkOf(pr ?? {}, typeof repository === "string" ? repository : "");
  if (fork) intent.fork = fork;
  return intent;
}

function isBot(user: Payload | undefined): boolean {
  const login = user?.login;
  return user?.type === "Bot" || (typeof login === "string" && login.endsWith("[bot]"));
}

function commentIntent(payload: Payload, config: RoutingConfig): Intent {
  const issue = child(payload.issue);
  const number = integer("issue_comment", issue, "number", "issue.number");
  const action = typeof payload.action === "string" ? payload.action : "";
  if (action !== "created") {
    return ignore(`A comment on #${number} was ${quote(action)}: only new comments are read for commands.`);
  }
  if (!isRecord(issue?.pull_request)) {
    return ignore(`The comment is on issue #${number}, not a pull request: commands act on pull requests.`);
  }
  const comment = child(payload.comment);
  const user = child(comment?.user);
  const author = text("issue_comment", user, "login", "comment.user.login");
  if (isBot(user)) {
    return ignore(
      `The comment on #${number} is by ${quote(author)}, a bot: bots' comments are not commands.`,
    );
  }
  const commentId = integer("issue_comment", comment, "id", "comment.id");
  const body = typeof comment?.body === "string" ? comment.body : "";
  const environments = config.environments.map((e) => e.name);
  const parsed = parseCommand(body, environments);
  if (parsed.kind === "none") {
    return ignore(`The comment on #${number} by ${quote(author)} is not a Slipway command.`);
  }
  const invalid = (message: string): Intent => ({
    kind: "command-invalid",
    message,
    pullRequest: number,
    commentId,
    author,
  });
  if (parsed.kind === "invalid") return invalid(parsed.message);
  const { command } = parsed;
  if (command.name === "preview" && !config.preview.enabled) {
    return invalid("previews are disabled in the config (preview.enabled is false)");
  }
  if (command.name === "promote") {
    const env = config.environments.find((e) => e.name === command.environment);
    if (env && !env.promoteOn.some((t) => t.kind === "command")) {
      return invalid(
        `environment ${quote(env.name)} is not promoted by comments: its promote-on has no \`command\` (it moves on ${triggers(env)})`,
      );
    }
  }
  return {
    kind: "command",
    command,
    pullRequest: number,
    commentId,
    author,
    authorType: typeof user?.type === "string" ? user.type : "User",
  };
}

function triggers(env: Environment): string {
  const named = env.promoteOn.map((t) =>
    t.kind === "push"
      ? `pushes to ${quote(t.branch)}`
      : t.kind === "release"
        ? `releases ${quote(t.tag)}`
        : "",
  );
  return named.filter((t) => t !== "").join(", ") || "nothing";
}

function isCommandInput(command: string): command is (typeof COMMAND_INPUTS)[number] {
  return (COMMAND_INPUTS as readonly string[]).includes(command);
}

/** A refusal of the workflow's own inputs is the workflow author's to fix: an error, not a notice. */
function commandInputIntent(command: string, inputs: RoutingInputs, config: RoutingConfig): Intent {
  if (!isCommandInput(command)) {
    const near = didYouMean(command, COMMAND_INPUTS);
    throw new InputError(
      `input command is ${quote(command)}${near ? `; did you mean '${near}'?` : ""} It must be one of ${COMMAND_INPUTS.join(", ")}`,
    );
  }
  if (command === "deploy") return { kind: "deploy" };
  if (command === "housekeeping") return { kind: "housekeeping" };
  const environment = given(inputs.environment);
  const version = given(inputs.version);
  const names = config.environments.map((e) => e.name);
  if (ENVIRONMENT_COMMANDS.has(command)) {
    if (environment === undefined) {
      throw new InputError(
        `input command ${command} needs the environment input: one of ${names.join(", ") || "(none configured)"}`,
      );
    }
    if (!names.includes(environment)) {
      throw new InputError(
        `input environment ${quote(environment)} is not an environment of the config${suggestion(environment, names.slice(0, MAX_CANDIDATES))}`,
      );
    }
  }
  const intent: Intent = { kind: "dispatch", command };
  if (environment !== undefined) intent.environment = environment;
  if (version !== undefined) intent.version = version;
  return intent;
}

function pushIntent(payload: Payload, config: RoutingConfig): Intent {
  const ref = text("push", payload, "ref", "ref");
  if (ref.startsWith("refs/tags/")) {
    return ignore(
      `Tag ${quote(ref.slice("refs/tags/".length))} was pushed: tags are deployed when their release is published.`,
    );
  }
  if (!ref.startsWith("refs/heads/"))
    return ignore(`A push to ${quote(ref)}, not a branch: nothing to deploy.`);
  const branch = ref.slice("refs/heads/".length);
  const after = typeof payload.after === "string" ? payload.after : undefined;
  if (payload.deleted === true || after === ZERO_SHA) {
    return ignore(`Branch ${quote(branch)} was deleted: nothing to deploy.`);
  }
  if (after === undefined || !FULL_SHA.test(after))
    throw new InputError("the push event's payload has no after commit");
  const environments = config.environments
    .filter((e) => e.promoteOn.some((t) => t.kind === "push" && matchGlob(t.branch, branch)))
    .map((e) => e.name);
  if (environments.length === 0) {
    return ignore(`A push to branch ${quote(branch)}: no environment promotes on pushes to it.`);
  }
  return { kind: "push-deploy", branch, commit: after, environments };
}

function releaseIntent(payload: Payload, config: RoutingConfig): Intent {
  const release = child(payload.release);
  const tag = text("release", release, "tag_name", "release.tag_name");
  const action = typeof payload.action === "string" ? payload.action : "";
  if (action !== "published") {
    return ignore(
      `Release ${quote(tag)} was ${quote(action)}: releases are deployed when they are published.`,
    );
  }
  const environments = config.environments
    .filter((e) => e.promoteOn.some((t) => t.kind === "release" && matchGlob(t.tag, tag)))
    .map((e) => e.name);
  if (environments.length === 0) {
    return ignore(`Release ${quote(tag)} was published: no environment promotes on releases matching it.`);
  }
  const intent: Intent = { kind: "release", tag, prerelease: release?.prerelease === true, environments };
  const target = release?.target_commitish;
  // target_commitish is usually a branch name, which names no commit once the branch moves on.
  if (typeof target === "string" && FULL_SHA.test(target)) intent.commit = target;
  return intent;
}

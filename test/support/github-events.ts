// Webhook payloads for tests: real ones GitHub sent (@octokit/webhooks-examples), deep-copied, with
// only the values a test needs replaced. The repository a payload names is replaced everywhere it
// appears (full names inside URLs too), so repository, base and owner fields stay consistent.
import { createRequire } from "node:module";
import type { WebhookDefinition } from "@octokit/webhooks-examples";

// The package's entry point is a JSON file of real payloads GitHub sent.
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as WebhookDefinition[];

/** The repository every example payload is about. */
const EXAMPLE_REPO = "Codertocat/Hello-World";

type Json = Record<string, unknown>;

/** A real payload GitHub sent for `event` (with `action`, for events that have actions). */
export function webhookPayload(event: string, action: string | undefined, which = 0): unknown {
  const found = examples
    .find((e) => e.name === event)
    ?.examples.filter((e) => (e as { action?: string }).action === action)[which];
  if (!found) throw new Error(`no ${event}.${action} example`);
  return found;
}

function copy(event: string, action: string | undefined, which = 0): Json {
  return structuredClone(webhookPayload(event, action, which)) as Json;
}

function object(value: unknown, at: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`example payload has no object at ${at}`);
  }
  return value as Json;
}

/** Every string in `value` with `from` replaced by `to`, in place. */
function replaceStrings(value: unknown, from: string, to: string): unknown {
  if (typeof value === "string") return value.split(from).join(to);
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      value[i] = replaceStrings(v, from, to);
    });
  } else if (value !== null && typeof value === "object") {
    const record = value as Json;
    for (const key of Object.keys(record)) record[key] = replaceStrings(record[key], from, to);
  }
  return value;
}

/** Points the URLs of pull request or issue `from` (in `value`) at number `to`. */
function renumber(value: unknown, repo: string, from: unknown, to: number): void {
  for (const kind of ["pulls", "pull", "issues"]) {
    replaceStrings(value, `${repo}/${kind}/${String(from)}`, `${repo}/${kind}/${to}`);
  }
}

/** Names the payload's repository `repo` ("owner/name") wherever the example named its own. */
function retarget(payload: Json, repo: string): void {
  const [owner = "", name = ""] = repo.split("/");
  replaceStrings(payload, EXAMPLE_REPO, repo);
  setRepository(object(payload.repository, "repository"), owner, name);
}

function setRepository(repository: Json, owner: string, name: string): void {
  repository.full_name = `${owner}/${name}`;
  repository.name = name;
  object(repository.owner, "repository.owner").login = owner;
}

export interface PullRequestOptions {
  number: number;
  headSha: string;
  headRef?: string;
  /** "owner/repo": the repository the pull request is opened against. */
  baseRepo: string;
  /** The head branch lives in another repository; "deleted" when that repository no longer exists. */
  fork?: boolean | "deleted";
  merged?: boolean;
  sender?: string;
}

/**
 * A `pull_request` payload (also what `pull_request_target` carries: GitHub documents the same
 * payload for both). Actions without an example of their own reuse `opened`'s payload.
 */
export function pullRequestEvent(action: string, options: PullRequestOptions): Json {
  let payload: Json;
  try {
    payload = copy("pull_request", action);
  } catch {
    payload = copy("pull_request", "opened");
    payload.action = action;
  }
  retarget(payload, options.baseRepo);
  const [owner = "", name = ""] = options.baseRepo.split("/");
  const pr = object(payload.pull_request, "pull_request");
  const head = object(pr.head, "pull_request.head");
  const base = object(pr.base, "pull_request.base");
  renumber(payload, options.baseRepo, pr.number, options.number);
  payload.number = options.number;
  pr.number = options.number;
  head.sha = options.headSha;
  setRepository(object(base.repo, "pull_request.base.repo"), owner, name);
  if (options.headRef !== undefined) {
    head.ref = options.headRef;
    head.label = `${owner}:${options.headRef}`;
  }
  if (options.fork === "deleted") head.repo = null;
  else if (options.fork) {
    const headRepo = object(head.repo, "pull_request.head.repo");
    setRepository(headRepo, "stranger", name);
    headRepo.fork = true;
    head.label = `stranger:${String(head.ref)}`;
  } else {
    setRepository(object(head.repo, "pull_request.head.repo"), owner, name);
  }
  if (options.merged !== undefined) {
    pr.merged = options.merged;
    pr.merged_at = options.merged ? "2019-05-15T15:20:40Z" : null;
  }
  if (options.sender !== undefined) object(payload.sender, "sender").login = options.sender;
  return payload;
}

export interface IssueCommentOptions {
  number: number;
  body: string;
  login: string;
  /** The commenter's account type: "User", "Bot" or "Organization". */
  userType?: string;
  /** created (default), edited or deleted. */
  action?: string;
  /** Whether the issue is a pull request (default true): its payload then has `issue.pull_request`. */
  pullRequest?: boolean;
  commentId?: number;
  repo?: string;
}

/** An `issue_comment` payload; on a pull request unless `pullRequest: false`. */
export function issueCommentEvent(options: IssueCommentOptions): Json {
  const payload = copy("issue_comment", options.action ?? "created");
  const repo = options.repo ?? EXAMPLE_REPO;
  retarget(payload, repo);
  const issue = object(payload.issue, "issue");
  const comment = object(payload.comment, "comment");
  renumber(payload, repo, issue.number, options.number);
  issue.number = options.number;
  comment.body = options.body;
  if (options.commentId !== undefined) comment.id = options.commentId;
  for (const user of [object(comment.user, "comment.user"), object(payload.sender, "sender")]) {
    user.login = options.login;
    user.type = options.userType ?? "User";
  }
  if (options.pullRequest === false) delete issue.pull_request;
  else {
    // The shape GitHub's REST docs give an issue that is a pull request.
    const api = `https://api.github.com/repos/${repo}/pulls/${options.number}`;
    const html = `https://github.com/${repo}/pull/${options.number}`;
    issue.pull_request = {
      url: api,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      merged_at: null,
    };
  }
  return payload;
}

const ZERO_SHA = "0".repeat(40);

export interface PushOptions {
  /** Full ref: refs/heads/<branch> or refs/tags/<tag>. */
  ref: string;
  /** The commit the ref now points at; all zeros when the ref was deleted. */
  after: string;
  repo?: string;
}

/** A `push` payload, from GitHub's example of the same kind (branch or tag, created or deleted). */
export function pushEvent(options: PushOptions): Json {
  const isTag = options.ref.startsWith("refs/tags/");
  const deleted = options.after === ZERO_SHA;
  const candidates = examples.find((e) => e.name === "push")?.examples ?? [];
  const example = candidates.find((e) => {
    const p = e as { ref: string; deleted: boolean };
    return p.ref.startsWith("refs/tags/") === isTag && p.deleted === deleted;
  });
  // GitHub's examples have no deleted branch: a deleted tag's payload is the same shape.
  const payload = structuredClone(
    example ?? candidates.find((e) => (e as { deleted: boolean }).deleted === deleted),
  ) as Json;
  retarget(payload, options.repo ?? EXAMPLE_REPO);
  payload.ref = options.ref;
  payload.after = options.after;
  payload.deleted = deleted;
  payload.created = !deleted && payload.before === ZERO_SHA;
  return payload;
}

/**
 * A `schedule` run's event. GitHub sends no webhook for it; the runner's event file holds the cron
 * expression that fired (docs.github.com, "Events that trigger workflows", schedule).
 */
export function scheduleEvent(cron = "0 3 * * *"): Json {
  return { schedule: cron };
}

/** A `workflow_dispatch` payload with the inputs the run was started with. */
export function workflowDispatchEvent(inputs: Record<string, string>, repo = EXAMPLE_REPO): Json {
  const payload = copy("workflow_dispatch", undefined);
  retarget(payload, repo);
  payload.inputs = { ...inputs };
  return payload;
}

export interface ReleaseOptions {
  tag: string;
  /** published (default), created, released, … */
  action?: string;
  /** What the release's tag was made from: a branch name or a commit SHA. */
  targetCommitish?: string;
  prerelease?: boolean;
  repo?: string;
}

/** A `release` payload for `tag`. */
export function releaseEvent(options: ReleaseOptions): Json {
  const payload = copy("release", options.action ?? "published");
  retarget(payload, options.repo ?? EXAMPLE_REPO);
  const release = object(payload.release, "release");
  const oldTag = String(release.tag_name);
  replaceStrings(release, `/${oldTag}`, `/${options.tag}`);
  release.tag_name = options.tag;
  if (options.targetCommitish !== undefined) release.target_commitish = options.targetCommitish;
  if (options.prerelease !== undefined) release.prerelease = options.prerelease;
  return payload;
}

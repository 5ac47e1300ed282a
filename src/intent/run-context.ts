// Where a run stands — repository, commit, pull request — read from the GitHub Actions
// environment and event payload. The one place webhook payloads are narrowed.
import { InputError } from "../errors.js";
import { isRecord } from "../util/record.js";

export interface RunContext {
  owner: string;
  repo: string;
  commit: string;
  pullRequest?: number;
  eventName?: string;
  /** A pull request whose head branch lives in another repository: its code is a stranger's. */
  fork?: { headRepository: string };
  /** Set when owner, repo or commit are stand-ins (not a GitHub checkout): says what was assumed. */
  placeholder?: string;
}

const PULL_REQUEST_EVENTS = new Set(["pull_request", "pull_request_target"]);

function fullName(repo: unknown): string | undefined {
  return isRecord(repo) && typeof repo.full_name === "string" ? repo.full_name : undefined;
}

/**
 * For pull_request events GITHUB_SHA is the merge commit GitHub made; a preview must be built
 * from what the author pushed, the head commit.
 */
export function runContextFromEnv(env: NodeJS.ProcessEnv, payload: unknown): RunContext {
  const [owner = "", repo = ""] = (env.GITHUB_REPOSITORY ?? "").split("/");
  const event = isRecord(payload) ? payload : undefined;
  const pr = isRecord(event?.pull_request) ? event.pull_request : undefined;
  const head = isRecord(pr?.head) ? pr.head : undefined;
  const eventName = env.GITHUB_EVENT_NAME;
  if (
    eventName !== undefined &&
    PULL_REQUEST_EVENTS.has(eventName) &&
    (!pr || typeof head?.sha !== "string")
  ) {
    throw new InputError(
      `the ${eventName} event's payload has no pull_request.head.sha: it is not a pull request event`,
    );
  }
  const context: RunContext = {
    owner,
    repo,
    commit: typeof head?.sha === "string" ? head.sha : (env.GITHUB_SHA ?? ""),
  };
  if (typeof pr?.number === "number") context.pullRequest = pr.number;
  if (eventName) context.eventName = eventName;
  const fork = pr ? forkOf(pr, `${owner}/${repo}`) : undefined;
  if (fork) context.fork = fork;
  return context;
}

/**
 * The head repository of a pull request (its payload's `pull_request` object) when it is not the
 * base repository (`repository` when the payload names no base), compared without case as GitHub
 * compares names. A head repository that was deleted is null in the payload: its code is no more
 * trusted than a fork's.
 */
export function forkOf(
  pullRequest: Record<string, unknown>,
  repository: string,
): { headRepository: string } | undefined {
  const head = isRecord(pullRequest.head) ? pullRequest.head : undefined;
  const headRepository = fullName(head?.repo);
  const base = isRecord(pullRequest.base) ? fullName(pullRequest.base.repo) : undefined;
  if (headRepository !== undefined && headRepository.toLowerCase() === (base ?? repository).toLowerCase()) {
    return undefined;
  }
  return { headRepository: headRepository ?? "a deleted repository" };
}

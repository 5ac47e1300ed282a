// Where a run stands — repository, commit, pull request — read from the GitHub Actions
// environment and event payload. The one place webhook payloads are narrowed.
export interface RunContext {
  owner: string;
  repo: string;
  commit: string;
  pullRequest?: number;
  eventName?: string;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * For pull_request events GITHUB_SHA is the merge commit GitHub made; a preview must be built
 * from what the author pushed, the head commit.
 */
export function runContextFromEnv(env: NodeJS.ProcessEnv, payload: unknown): RunContext {
  const [owner = "", repo = ""] = (env.GITHUB_REPOSITORY ?? "").split("/");
  const event = record(payload);
  const pr = record(event?.pull_request);
  const head = record(pr?.head);
  const context: RunContext = {
    owner,
    repo,
    commit: typeof head?.sha === "string" ? head.sha : (env.GITHUB_SHA ?? ""),
  };
  if (typeof pr?.number === "number") context.pullRequest = pr.number;
  if (env.GITHUB_EVENT_NAME) context.eventName = env.GITHUB_EVENT_NAME;
  return context;
}

// Pull requests as Slipway needs them: a PR's head commit and where it comes from, the numbers of the
// open ones (to find previews whose PR has closed), and a plain reply for slash commands.
// https://docs.github.com/en/rest/pulls/pulls
import type { GitHubClient } from "./client.js";
import { listPages, PER_PAGE } from "./paginate.js";

type Pulls = GitHubClient["rest"]["pulls"];

export interface PullRequestHead {
  readonly sha: string;
  readonly state: "open" | "closed";
  readonly merged: boolean;
  /** `owner/name` of the head's repository; undefined when that repository (a fork) was deleted. */
  readonly headRepository: string | undefined;
  readonly baseRepository: string;
}

export async function pullRequestHead(
  octokit: { rest: { pulls: Pick<Pulls, "get"> } },
  input: { owner: string; repo: string; number: number },
): Promise<PullRequestHead> {
  const { data } = await octokit.rest.pulls.get({
    owner: input.owner,
    repo: input.repo,
    pull_number: input.number,
  });
  return {
    sha: data.head.sha,
    state: data.state === "open" ? "open" : "closed",
    merged: data.merged,
    headRepository: data.head.repo?.full_name ?? undefined,
    baseRepository: data.base.repo.full_name,
  };
}

/** Pages of open pull requests read (100 each). */
const MAX_PAGES = 50;

export async function openPullRequestNumbers(
  octokit: { rest: { pulls: Pick<Pulls, "list"> } },
  input: { owner: string; repo: string },
): Promise<Set<number>> {
  const { items, complete } = await listPages(
    (page) => octokit.rest.pulls.list({ ...input, state: "open", per_page: PER_PAGE, page }),
    MAX_PAGES,
  );
  // A partial set would make open PRs look closed and their previews look stale.
  if (!complete) {
    throw new Error(`more than ${MAX_PAGES * PER_PAGE} open pull requests in ${input.owner}/${input.repo}`);
  }
  return new Set(items.map((p) => p.number));
}

export async function replyToPullRequest(
  octokit: { rest: { issues: Pick<GitHubClient["rest"]["issues"], "createComment"> } },
  input: { owner: string; repo: string; number: number; body: string },
): Promise<{ id: number; url: string }> {
  const { data } = await octokit.rest.issues.createComment({
    owner: input.owner,
    repo: input.repo,
    issue_number: input.number,
    body: input.body,
  });
  return { id: data.id, url: data.html_url };
}

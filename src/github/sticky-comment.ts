// The one Slipway comment on a pull request: found by a hidden marker at the start of its body, edited in
// place, and kept single when two runs race to create it (the oldest survives, newer copies are deleted).
import type { GitHubClient } from "./client.js";
import { isNotFound } from "./errors.js";
import { listPages, PER_PAGE } from "./paginate.js";

type Issues = GitHubClient["rest"]["issues"];
export interface StickyCommentApi {
  rest: { issues: Pick<Issues, "listComments" | "createComment" | "updateComment" | "deleteComment"> };
}

/** Starts every Slipway preview comment; invisible in rendered Markdown. */
import {
  MAX_COMMENT_CHARS as MAX_COMMENT_LENGTH,
  PREVIEW_MARKER as STICKY_MARKER,
} from "../report/pr-comment.js";

export { MAX_COMMENT_LENGTH, STICKY_MARKER };

/** Comment pages read while looking for the marker (100 comments each). */
const MAX_PAGES = 30;

export interface CommentTarget {
  readonly owner: string;
  readonly repo: string;
  readonly issueNumber: number;
}

export interface StickyComment {
  readonly id: number;
  readonly body: string;
}

/** The marked body as it is sent: marker first, cut at a line end to GitHub's limit if it is longer. */
export function stickyBody(body: string): string {
  const full = body.startsWith(STICKY_MARKER) ? body : `${STICKY_MARKER}\n${body}`;
  if (full.length <= MAX_COMMENT_LENGTH) return full;
  const note = `\n\n… (cut: the report was ${full.length} characters; GitHub allows ${MAX_COMMENT_LENGTH})`;
  let end = MAX_COMMENT_LENGTH - note.length;
  const lineEnd = full.lastIndexOf("\n", end);
  if (lineEnd > STICKY_MARKER.length) end = lineEnd;
  // Never split a surrogate pair.
  const code = full.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return full.slice(0, end) + note;
}

async function markedComments(octokit: StickyCommentApi, t: CommentTarget): Promise<StickyComment[]> {
  const { items } = await listPages(
    (page) =>
      octokit.rest.issues.listComments({
        owner: t.owner,
        repo: t.repo,
        issue_number: t.issueNumber,
        per_page: PER_PAGE,
        page,
      }),
    MAX_PAGES,
  );
  return (
    items
      // Only an app's comment is adopted: anyone can post a comment starting with the marker, and a
      // stranger's comment that Slipway filled in would stay theirs to edit (links and all).
      .filter((c) => typeof c.body === "string" && c.body.startsWith(STICKY_MARKER) && c.user?.type === "Bot")
      .map((c) => ({ id: c.id, body: c.body ?? "" }))
      .sort((a, b) => a.id - b.id)
  );
}

/** The Slipway comment on the PR (the oldest if a race left several), or undefined. */
export async function findStickyComment(
  octokit: StickyCommentApi,
  target: CommentTarget,
): Promise<StickyComment | undefined> {
  return (await markedComments(octokit, target))[0];
}

export interface UpsertStickyComment extends CommentTarget {
  readonly body: string;
  /** The comment's id from an earlier run: edited directly, with no listing. */
  readonly knownCommentId?: number;
}

export async function upsertStickyComment(
  octokit: StickyCommentApi,
  input: UpsertStickyComment,
): Promise<{ id: number; created: boolean }> {
  const { owner, repo, issueNumber } = input;
  const body = stickyBody(input.body);
  const update = (id: number) => octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body });

  if (input.knownCommentId !== undefined) {
    try {
      await update(input.knownCommentId);
      return { id: input.knownCommentId, created: false };
    } catch (error) {
      // Deleted by someone since: look for it (or make it) below.
      if (!isNotFound(error)) throw error;
    }
  }

  const existing = await markedComments(octokit, input);
  const oldest = existing[0];
  if (oldest) {
    if (oldest.body !== body) await update(oldest.id);
    await deleteAll(octokit, input, existing.slice(1));
    return { id: oldest.id, created: false };
  }

  const { data: mine } = await octokit.rest.issues.createComment({
    owner,
    repo,
    issue_number: issueNumber,
    body,
  });
  // Another run may have created one between our listing and our create: both runs read again, and both
  // keep the oldest, so they agree on which one survives.
  const after = await markedComments(octokit, input);
  const keep = after[0] ?? { id: mine.id, body };
  if (keep.id !== mine.id && keep.body !== body) await update(keep.id);
  await deleteAll(
    octokit,
    input,
    after.filter((c) => c.id !== keep.id),
  );
  return { id: keep.id, created: keep.id === mine.id };
}

async function deleteAll(octokit: StickyCommentApi, t: CommentTarget, comments: readonly StickyComment[]) {
  for (const c of comments) {
    try {
      await octokit.rest.issues.deleteComment({ owner: t.owner, repo: t.repo, comment_id: c.id });
    } catch (error) {
      // The racing run deleted it first.
      if (!isNotFound(error)) throw error;
    }
  }
}

// A reaction on a slash command's comment, Slipway's acknowledgement that it saw the command.
// https://docs.github.com/en/rest/reactions/reactions#create-reaction-for-an-issue-comment
import type { GitHubClient } from "./client.js";

export type ReactionContent = "+1" | "-1" | "laugh" | "confused" | "heart" | "hooray" | "rocket" | "eyes";

export async function react(
  octokit: { rest: { reactions: Pick<GitHubClient["rest"]["reactions"], "createForIssueComment"> } },
  input: { owner: string; repo: string; commentId: number; content: ReactionContent },
): Promise<{ id: number; created: boolean }> {
  const response = await octokit.rest.reactions.createForIssueComment({
    owner: input.owner,
    repo: input.repo,
    comment_id: input.commentId,
    content: input.content,
  });
  // 200: this user had already reacted so; 201: new.
  return { id: response.data.id, created: response.status === 201 };
}

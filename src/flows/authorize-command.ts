// Who may command Slipway from a pull request comment: the commenter's permission on the repository,
// read through the API at the time of the command (a comment's `author_association` says how someone
// is related to the repository, not what they may do in it), against the required level. A refusal is
// a value the edge turns into a reply, not an exception.
import {
  type GitHubClient,
  hasPermission,
  type PermissionLevel as Permission,
  react,
  repositoryPermission,
} from "../github/index.js";
import type { Repository } from "./preview.js";

export const DEFAULT_COMMAND_PERMISSION: Permission = "write";

export type Authorization =
  | { allowed: true; permission: Permission }
  | { allowed: false; permission: Permission; reply: string };

export async function authorizeCommand(
  github: GitHubClient,
  request: Repository & { login: string; commentId: number; command: string; required?: Permission },
): Promise<Authorization> {
  const required = request.required ?? DEFAULT_COMMAND_PERMISSION;
  // Seen: the reaction says the command arrived before the (possibly long) work starts.
  await react(github, {
    owner: request.owner,
    repo: request.repo,
    commentId: request.commentId,
    content: "eyes",
  });
  const permission = await repositoryPermission(github, {
    owner: request.owner,
    repo: request.repo,
    username: request.login,
  });
  if (hasPermission(permission, required)) return { allowed: true, permission };
  return {
    allowed: false,
    permission,
    reply: `@${request.login} \`${request.command}\` needs ${required} permission on ${request.owner}/${request.repo}; you have ${permission}. Nothing was changed.`,
  };
}

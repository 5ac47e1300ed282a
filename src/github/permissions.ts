// What a user may do in the repository, from GitHub's collaborator permission endpoint, and the pure
// comparison of levels Slipway's permission rules use.
// https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
import type { GitHubClient } from "./client.js";
import { isNotFound } from "./errors.js";

export const PERMISSION_LEVELS = ["none", "read", "triage", "write", "maintain", "admin"] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

function isLevel(value: unknown): value is PermissionLevel {
  return typeof value === "string" && (PERMISSION_LEVELS as readonly string[]).includes(value);
}

/**
 * The level from GitHub's answer. `permission` gives only the legacy base roles (maintain is reported as
 * write, triage as read); `role_name` names the assigned role, which may be a custom one. So role_name
 * when it is one of the built-in levels, the base role otherwise.
 */
export function permissionLevel(answer: { permission?: string; role_name?: string }): PermissionLevel {
  if (isLevel(answer.role_name)) return answer.role_name;
  if (isLevel(answer.permission)) return answer.permission;
  return "none";
}

export function hasPermission(actual: PermissionLevel, required: PermissionLevel): boolean {
  return PERMISSION_LEVELS.indexOf(actual) >= PERMISSION_LEVELS.indexOf(required);
}

export async function repositoryPermission(
  octokit: { rest: { repos: Pick<GitHubClient["rest"]["repos"], "getCollaboratorPermissionLevel"> } },
  input: { owner: string; repo: string; username: string },
): Promise<PermissionLevel> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel(input);
    return permissionLevel(data);
  } catch (error) {
    // Not a collaborator (or no such user).
    if (isNotFound(error)) return "none";
    throw error;
  }
}

// The GitHub stage: the client factory and the narrow operations Slipway performs with it.
export {
  countRequests,
  createGitHubClient,
  type GitHubClient,
  type GitHubClientOptions,
  type GitHubRetryOptions,
  type GitHubThrottleOptions,
  type RequestCounts,
} from "./client.js";
export {
  type CreateDeployment,
  createDeployment,
  type DeploymentState,
  deactivateEnvironment,
  MAX_STATUS_DESCRIPTION,
  type SetDeploymentStatus,
  setDeploymentStatus,
} from "./deployments.js";
export { GitHubRequestError, isNotFound } from "./errors.js";
export {
  hasPermission,
  PERMISSION_LEVELS,
  type PermissionLevel,
  permissionLevel,
  repositoryPermission,
} from "./permissions.js";
export {
  openPullRequestNumbers,
  type PullRequestHead,
  pullRequestHead,
  replyToPullRequest,
} from "./pulls.js";
export { type ReactionContent, react } from "./reactions.js";
export {
  type CommentTarget,
  findStickyComment,
  MAX_COMMENT_LENGTH,
  STICKY_MARKER,
  type StickyComment,
  type StickyCommentApi,
  stickyBody,
  type UpsertStickyComment,
  upsertStickyComment,
} from "./sticky-comment.js";

// Closing a pull request's preview: its alias and every version only it pointed at deleted from the
// cluster (teardown.ts), its GitHub environment's deployments marked inactive, and its comment saying
// so. Closing twice changes nothing the second time: nothing is left to delete, no deployment is
// active, and a comment that already says "torn down" is not edited.
import {
  deactivateEnvironment,
  findStickyComment,
  type GitHubClient,
  upsertStickyComment,
} from "../github/index.js";
import type { KubeClient } from "../kube/index.js";
import type { Plan } from "../plan/plan.js";
import { type PreviewCommentModel, renderPreviewComment, TORN_DOWN_MARK } from "../report/pr-comment.js";
import { scopeOf } from "./deployment-state.js";
import { previewEnvironment, type Repository } from "./preview.js";
import { teardownPreview } from "./teardown.js";

export interface ClosePreviewRequest {
  /** The plan of the pull request's head: its namespace, deployment and preview alias. */
  plan: Plan;
  repository: Repository;
  merged: boolean;
  runUrl?: string;
  now?: Date;
}

export interface ClosePreviewResult {
  aliases: string[];
  versions: string[];
  kept: { version: string; aliases: string[] }[];
  deactivated: number;
  commentUpdated: boolean;
}

export async function closePreview(
  request: ClosePreviewRequest,
  clients: { github?: GitHubClient; kube: KubeClient },
): Promise<ClosePreviewResult> {
  const { plan, repository } = request;
  const pullRequest = plan.pullRequest;
  const alias = plan.aliases.find((a) => a.kind === "preview");
  if (pullRequest === undefined || alias === undefined)
    throw new Error("closing a preview needs a pull request and a preview alias in the plan");
  const removed = await teardownPreview({ ...scopeOf(plan), pullRequest }, { kube: clients.kube });
  const { github } = clients;
  const result = { aliases: removed.aliases, versions: removed.versions, kept: removed.kept };
  if (!github) return { ...result, deactivated: 0, commentUpdated: false };
  const deactivated = await deactivateEnvironment(github, {
    ...repository,
    environment: previewEnvironment(alias.name),
  });
  const model: PreviewCommentModel = {
    pullRequest,
    deployment: plan.deployment,
    commit: plan.commit,
    state: "torn-down",
    alias: alias.name,
    endpoints: [],
    ...(request.runUrl ? { runUrl: request.runUrl } : {}),
    notices: [
      ...(request.merged ? ["The pull request was merged."] : []),
      ...removed.kept.map(
        (k) =>
          `Version ${k.version} is kept: ${k.aliases.join(", ")} still point${k.aliases.length === 1 ? "s" : ""} at it.`,
      ),
    ],
    updatedAt: request.now ?? new Date(),
  };
  const body = renderPreviewComment(model);
  const target = { ...repository, issueNumber: pullRequest };
  let commentUpdated = false;
  if (removed.aliases.length > 0 || removed.versions.length > 0) {
    const knownCommentId = Number(removed.commentId);
    await upsertStickyComment(github, {
      ...target,
      body,
      ...(Number.isSafeInteger(knownCommentId) && knownCommentId > 0 ? { knownCommentId } : {}),
    });
    commentUpdated = true;
  } else {
    // Nothing was torn down now: a comment that already says so (a repeated close) is left be.
    const existing = await findStickyComment(github, target);
    if (existing !== undefined && !existing.body.includes(TORN_DOWN_MARK)) {
      await upsertStickyComment(github, { ...target, body, knownCommentId: existing.id });
      commentUpdated = true;
    }
  }
  return { ...result, deactivated, commentUpdated };
}

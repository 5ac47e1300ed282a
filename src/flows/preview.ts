// The pull-request preview use case: the head commit built and deployed as a version, the PR's alias
// moved to it once every endpoint is ready and routed, and GitHub told at each step — one sticky
// comment edited in place, one Deployment per run in the PR's own environment (`preview/pr-<N>`).
//
// Runs for one pull request overlap (pushes come faster than deploys). The newest commit wins: the
// alias moves only while the pull request's head (read from the API just before the move) is this
// run's commit, and the move is conditional on the alias route not changing meanwhile (move-alias.ts).
// A superseded run leaves the alias and the comment to the newer run.
//
// GitHub requests per update, when the comment exists and the cluster remembers it: the comment
// (building), the Deployment and its in_progress status, the head check, the final status and the
// final comment — six.

import { ANNOTATION_TARGET_VERSION, aliasRouteName } from "../deploy/index.js";
import { describeError } from "../errors.js";
import {
  createDeployment,
  type GitHubClient,
  pullRequestHead,
  setDeploymentStatus,
  upsertStickyComment,
} from "../github/index.js";
import type { KubeClient } from "../kube/index.js";
import { RolloutFailed } from "../kube/index.js";
import type { PlannedAlias } from "../plan/plan.js";
import { type PreviewCommentModel, renderPreviewComment } from "../report/pr-comment.js";
import { type BuildClients, type BuildRequest, type BuiltVersion, buildImages } from "./build.js";
import { type DeployRequest, type DeployResult, deployVersion } from "./deploy.js";
import { scopeOf } from "./deployment-state.js";
import { ANNOTATION_COMMENT_ID, retireSuperseded } from "./teardown.js";
import { retireVersion } from "./versions.js";

export interface Repository {
  owner: string;
  repo: string;
}

export interface PreviewRequest {
  build: BuildRequest;
  /** The deploy's settings; the planned version is the build's. */
  deploy: Omit<DeployRequest, "planned" | "images" | "aliasGuard" | "aliasAnnotations">;
  repository: Repository;
  /** The workflow run, linked from the comment and the Deployment's status. */
  runUrl?: string;
  /** Removes every secret value from text bound for GitHub (logs in a comment are the user's app's). */
  mask: (text: string) => string;
  log: (line: string) => void;
  now?: () => Date;
}

export interface PreviewClients {
  github: GitHubClient;
  kube: KubeClient;
  build: BuildClients;
}

export interface PreviewResult {
  /** superseded: a newer commit of the pull request is being previewed; this run left the alias alone. */
  state: "ready" | "superseded";
  /** Absent when a newer commit superseded this run before its deploy finished. */
  build?: BuiltVersion;
  deployed?: DeployResult;
  comment: PreviewCommentModel;
  commentId: number;
  /** The preview URL of the first endpoint, as GitHub's environment shows it. */
  environmentUrl?: string;
}

/** The environment of a pull request's preview on GitHub: its own, so a new one never touches another PR's. */
export function previewEnvironment(alias: string): string {
  return `preview/${alias}`;
}

function previewAliasOf(request: PreviewRequest): PlannedAlias {
  const { plan } = request.build.planned;
  const alias = plan.aliases.find((a) => a.kind === "preview");
  if (plan.pullRequest === undefined || alias === undefined)
    throw new Error("a preview needs a pull request and a preview alias in the plan");
  return alias;
}

/** What the cluster remembers of the preview: its comment, and the version its alias serves. */
async function previewState(
  kube: KubeClient,
  request: PreviewRequest,
  alias: PlannedAlias,
): Promise<{ commentId?: number; serving?: string }> {
  const { plan } = request.build.planned;
  try {
    const route = await kube.get({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      name: aliasRouteName(plan, alias),
      namespace: plan.namespace,
    });
    const annotations = route?.metadata?.annotations ?? {};
    const id = Number(annotations[ANNOTATION_COMMENT_ID]);
    const serving = annotations[ANNOTATION_TARGET_VERSION];
    return {
      ...(Number.isSafeInteger(id) && id > 0 ? { commentId: id } : {}),
      ...(serving ? { serving } : {}),
    };
  } catch {
    // Only a shortcut: without it the comment is found by its marker, and the deploy reports access problems.
    return {};
  }
}

function baseModel(request: PreviewRequest, now: Date): PreviewCommentModel {
  const { plan } = request.build.planned;
  return {
    pullRequest: plan.pullRequest ?? 0,
    deployment: plan.deployment,
    commit: plan.commit,
    state: "building",
    version: plan.version,
    alias: previewAliasOf(request).name,
    endpoints: plan.endpoints.map((e) => ({ name: e.name })),
    ...(request.runUrl ? { runUrl: request.runUrl } : {}),
    updatedAt: now,
  };
}

export async function previewPullRequest(
  request: PreviewRequest,
  clients: PreviewClients,
): Promise<PreviewResult> {
  const { github, kube } = clients;
  const { owner, repo } = request.repository;
  const planned = request.build.planned;
  const { plan } = planned;
  const pullRequest = plan.pullRequest as number;
  const now = request.now ?? (() => new Date());
  const alias = previewAliasOf(request);
  const known = await previewState(kube, request, alias);
  const serving = known.serving && known.serving !== plan.version ? { version: known.serving } : undefined;

  let model: PreviewCommentModel = baseModel(request, now());
  const comment = async (next: PreviewCommentModel, knownCommentId?: number) => {
    const result = await upsertStickyComment(github, {
      owner,
      repo,
      issueNumber: pullRequest,
      body: request.mask(renderPreviewComment(next)),
      ...(knownCommentId !== undefined ? { knownCommentId } : {}),
    });
    return result.id;
  };
  const commentId = await comment(model, known.commentId);
  const { id: deploymentId } = await createDeployment(github, {
    owner,
    repo,
    ref: plan.commit,
    environment: previewEnvironment(alias.name),
    transient: true,
    production: false,
    description: `Preview of #${pullRequest} at ${plan.commit.slice(0, 7)}`,
  });
  const status = (
    state: "in_progress" | "success" | "failure" | "inactive",
    extra: { environmentUrl?: string; description?: string } = {},
  ) =>
    setDeploymentStatus(github, {
      owner,
      repo,
      deploymentId,
      state,
      ...(request.runUrl ? { logUrl: request.runUrl } : {}),
      ...extra,
    });
  await status("in_progress");

  // A superseded run's version was never aliased, so nothing needs it (unless another alias points at it).
  const retireOwn = () =>
    retireVersion({ ...scopeOf(plan), version: plan.version }, kube).then(
      (r) => request.log(`Retired version ${r.version}: a newer commit's run previews the pull request.`),
      (e: unknown) => request.log(`Version ${plan.version} not retired here: ${describeError(e).message}`),
    );

  let build: BuiltVersion;
  let deployed: DeployResult;
  try {
    build = await buildImages(request.build, clients.build);
    model = { ...model, state: "deploying" };
    deployed = await deployVersion(
      {
        ...request.deploy,
        planned,
        images: Object.fromEntries(build.images.map((i) => [i.endpoint, i.reference])),
        aliasAnnotations: { [ANNOTATION_COMMENT_ID]: String(commentId) },
        markInFlight: true,
        aliasGuard: async () => {
          const head = await pullRequestHead(github, { owner, repo, number: pullRequest });
          if (head.state !== "open")
            return { move: false, reason: `pull request #${pullRequest} was closed meanwhile` };
          if (head.sha !== plan.commit)
            return {
              move: false,
              reason: `pull request #${pullRequest}'s head is now ${head.sha.slice(0, 7)}; its own run previews it`,
            };
          return { move: true };
        },
      },
      { kube },
    );
  } catch (error) {
    // A newer run may have retired this version while it was starting: once the pull request has
    // moved on, this run's outcome is history, and the comment is the newer run's.
    const head = await pullRequestHead(github, { owner, repo, number: pullRequest }).catch(() => undefined);
    if (head !== undefined && (head.sha !== plan.commit || head.state !== "open")) {
      request.log(
        `Stopped: ${describeError(error).message.split("\n")[0]}; pull request #${pullRequest} has moved on to ${head.sha.slice(0, 7)}, whose run previews it.`,
      );
      await status("inactive", { description: "Superseded by a newer commit of the pull request" });
      await retireOwn();
      return { state: "superseded", comment: model, commentId };
    }
    const report = describeError(error);
    const failed: PreviewCommentModel = {
      ...model,
      state: "failed",
      ...(serving ? { serving } : {}),
      failure: {
        reason: request.mask(
          error instanceof RolloutFailed ? `${error.reason}: ${error.detail}` : report.message,
        ),
        ...(error instanceof RolloutFailed && error.logs.length > 0
          ? { logs: request.mask(error.logs.join("\n")) }
          : {}),
      },
      updatedAt: now(),
    };
    // GitHub's trouble must not hide the deploy's: the job fails with the deploy's error either way.
    await comment(failed, commentId).catch((e: unknown) =>
      request.log(`warning: the pull request comment could not be updated: ${describeError(e).message}`),
    );
    await status("failure", { description: failed.failure?.reason ?? "" }).catch((e: unknown) =>
      request.log(`warning: the deployment status could not be set: ${describeError(e).message}`),
    );
    throw error;
  }

  if (deployed.aliases.skipped.some((s) => s.name === alias.name)) {
    await status("inactive", { description: "Superseded by a newer commit of the pull request" });
    await retireOwn();
    return { state: "superseded", build, deployed, comment: model, commentId };
  }

  const retired = await retireSuperseded({ ...scopeOf(plan), pullRequest, version: plan.version }, { kube });
  if (retired.length > 0)
    request.log(`Retired ${retired.join(", ")}: no alias points at ${retired.length === 1 ? "it" : "them"}.`);

  const digestOf = new Map(build.images.map((i) => [i.endpoint, i.digest]));
  const ready: PreviewCommentModel = {
    ...model,
    state: "ready",
    endpoints: deployed.endpoints.map((e) => {
      const preview = e.aliases.find((a) => a.name === alias.name);
      return {
        name: e.name,
        ...(preview?.url && preview.answered ? { previewUrl: preview.url } : {}),
        ...(e.url && e.answered ? { versionUrl: e.url } : {}),
        ...(digestOf.get(e.name) ? { digest: digestOf.get(e.name) as string } : {}),
        state: "ready",
      };
    }),
    updatedAt: now(),
  };
  const environmentUrl = ready.endpoints.find((e) => e.previewUrl)?.previewUrl;
  await status("success", environmentUrl ? { environmentUrl } : {});
  await comment(ready, commentId);
  return {
    state: "ready",
    build,
    deployed,
    comment: ready,
    commentId,
    ...(environmentUrl ? { environmentUrl } : {}),
  };
}

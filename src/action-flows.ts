// What the Action does for each intent, as steps over the use cases in flows/: a plain deploy, a pull
// request's preview (or, for a fork, the note that a maintainer's `/preview` is needed), closing a
// preview, a comment command, housekeeping. Each returns the run's outputs and job summary; main.ts
// sets them. GitHub-facing steps need the `github-token` input (its default is the job's token).
import * as core from "@actions/core";
import { actionBuild, actionDeployRequest, actionDeploySettings, kubeAccess } from "./action-requests.js";
import { githubClient, hasKubeAccess, kubeClient } from "./clients.js";
import { UsageError } from "./errors.js";
import { authorizeCommand } from "./flows/authorize-command.js";
import { buildImages } from "./flows/build.js";
import { closePreview } from "./flows/close-preview.js";
import { deployVersion } from "./flows/deploy.js";
import { scopeOf } from "./flows/deployment-state.js";
import { housekeeping, housekeepingRequest } from "./flows/housekeeping.js";
import { type PlannedVersion, planVersion } from "./flows/plan.js";
import { previewPullRequest } from "./flows/preview.js";
import { PromotionRefused, promote, rollback } from "./flows/promote.js";
import { status } from "./flows/status.js";
import { git } from "./git.js";
import {
  createDeployment,
  type GitHubClient,
  openPullRequestNumbers,
  pullRequestHead,
  react,
  replyToPullRequest,
  setDeploymentStatus,
  upsertStickyComment,
} from "./github/index.js";
import type { Outputs, Settings } from "./inputs.js";
import type { Intent } from "./intent/intent.js";
import type { RunContext } from "./intent/run-context.js";
import type { KubeClient } from "./kube/index.js";
import { previewAlias } from "./plan/plan.js";
import { deployMarkdown, formatDeployResult } from "./report/deploy-table.js";
import { formatBytes } from "./report/format-bytes.js";
import { buildOutputs, deployOutputs } from "./report/outputs.js";
import { buildMarkdown } from "./report/plan-table.js";
import { previewSummary, renderPreviewComment } from "./report/pr-comment.js";
import { statusMarkdown } from "./report/status-table.js";
import { masker } from "./util/mask.js";

export interface ActionRun {
  settings: Settings;
  planned: PlannedVersion;
  env: NodeJS.ProcessEnv;
  workspace: string;
  configFile: string;
}

export interface StepResult {
  outputs: Outputs;
  /** Markdown appended to the job summary. */
  summary: string;
}

function repository(run: RunContext): { owner: string; repo: string } {
  return { owner: run.owner, repo: run.repo };
}

function runUrl(env: NodeJS.ProcessEnv): string | undefined {
  const server = env.GITHUB_SERVER_URL ?? "https://github.com";
  return env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
    ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
    : undefined;
}

/** One client per run's settings: its pacing of writes and its request counts are the whole run's. */
const clients = new WeakMap<Settings, Promise<GitHubClient>>();

function github(run: ActionRun): Promise<GitHubClient> {
  const token = run.settings.githubToken;
  if (!token)
    throw new UsageError("this event needs the `github-token` input (its default is the job's GITHUB_TOKEN)");
  let client = clients.get(run.settings);
  if (!client) {
    client = githubClient({
      token,
      ...(run.env.GITHUB_API_URL ? { baseUrl: run.env.GITHUB_API_URL } : {}),
      log: (line) => core.info(line),
      onSecret: (s) => core.setSecret(s),
    });
    clients.set(run.settings, client);
  }
  return client;
}

async function withKube<T>(run: ActionRun, use: (kube: KubeClient) => Promise<T>): Promise<T> {
  const kube = kubeClient({
    env: run.env,
    onSecret: (s: string) => core.setSecret(s),
    log: (l: string) => core.info(l),
    ...kubeAccess(run.settings),
  });
  try {
    return await use(kube);
  } finally {
    kube.close();
  }
}

function secretsOf(settings: Settings): (text: string) => string {
  return masker([
    settings.registryPassword,
    settings.pullPassword,
    settings.githubToken,
    ...Object.values(settings.secretValues ?? {}),
  ]);
}

/** Build, then deploy when Kubernetes access is configured: the run the workflow asked for. */
export async function deployStep(run: ActionRun): Promise<StepResult> {
  const { settings, planned, env } = run;
  const { request, clients, registryHost } = await actionBuild(settings, planned, env);
  const build = await buildImages(request, clients);
  let outputs: Outputs = buildOutputs(build);
  core.info(
    `Built version ${planned.plan.version}: ${formatBytes(build.uploadedBytes)} uploaded (${build.builder} builder).`,
  );
  let summary = buildMarkdown(build.images, build.uploadedBytes);
  if (!hasKubeAccess({ ...kubeAccess(settings), env })) {
    core.notice(
      "No Kubernetes access (kubeconfig input, KUBECONFIG or a service account): built, not deployed.",
    );
    return { outputs, summary };
  }
  const deployed = await withKube(run, (kube) =>
    deployVersion(actionDeployRequest(settings, planned, build, registryHost, env), { kube }),
  );
  core.info(formatDeployResult(deployed).trimEnd());
  outputs = { ...outputs, ...deployOutputs(deployed) };
  const first = deployed.endpoints[0]?.aliases[0]?.url ?? deployed.endpoints[0]?.url;
  if (first) outputs["environment-url"] = first;
  summary += `\n${deployMarkdown(deployed)}`;
  return { outputs, summary };
}

/** A push to a branch environments promote on: the pushed commit deployed, those environments moved to it. */
export async function pushDeployStep(
  run: ActionRun,
  intent: Extract<Intent, { kind: "push-deploy" }>,
): Promise<StepResult> {
  const planned = await planVersion({
    configFile: run.configFile,
    workspace: run.workspace,
    run: { ...run.planned.run, commit: intent.commit },
    overrides: run.settings,
    environments: intent.environments,
  });
  core.info(`A push to ${intent.branch} moves ${intent.environments.join(", ")} to ${planned.plan.version}.`);
  if (!run.settings.githubToken) return deployStep({ ...run, planned });
  // Each environment is a GitHub environment of the same name, its Deployment following this run.
  const client = await github(run);
  const repo = repository(planned.run);
  const url = runUrl(run.env);
  const deployments: { id: number; environment: string }[] = [];
  for (const environment of intent.environments) {
    const { id } = await createDeployment(client, {
      ...repo,
      ref: intent.commit,
      environment,
      transient: false,
      production: environment === "production",
      description: `${planned.plan.deployment} ${planned.plan.version} from ${intent.branch}`,
    });
    deployments.push({ id, environment });
    await setDeploymentStatus(client, {
      ...repo,
      deploymentId: id,
      state: "in_progress",
      ...(url ? { logUrl: url } : {}),
    });
  }
  const settle = (state: "success" | "failure", urlOf: (environment: string) => string | undefined) =>
    Promise.all(
      deployments.map(({ id, environment }) => {
        const environmentUrl = urlOf(environment);
        return setDeploymentStatus(client, {
          ...repo,
          deploymentId: id,
          state,
          ...(url ? { logUrl: url } : {}),
          ...(environmentUrl ? { environmentUrl } : {}),
        });
      }),
    );
  try {
    const step = await deployStep({ ...run, planned });
    const aliasUrls = JSON.parse(step.outputs["alias-urls"] ?? "{}") as Record<
      string,
      Record<string, string>
    >;
    await settle("success", (environment) => {
      const first = Object.values(aliasUrls[environment] ?? {})[0];
      return first?.startsWith("http") ? first : undefined;
    });
    return step;
  } catch (error) {
    await settle("failure", () => undefined).catch((e: unknown) =>
      core.warning(`The deployment status could not be set: ${(e as Error).message}`),
    );
    throw error;
  }
}

/** A pull request's preview: built, deployed, the alias moved, GitHub told. */
export async function previewStep(
  run: ActionRun,
  planned: PlannedVersion = run.planned,
): Promise<StepResult> {
  const { settings, env } = run;
  if (!hasKubeAccess({ ...kubeAccess(settings), env }) || !settings.githubToken) {
    if (!settings.githubToken)
      core.notice(
        "No `github-token` input: the preview is deployed without its pull request comment and GitHub Deployment.",
      );
    return deployStep({ ...run, planned });
  }
  const { request: build, clients: buildClients, registryHost } = await actionBuild(settings, planned, env);
  const deploy = actionDeploySettings(settings, planned, registryHost, env);
  const url = runUrl(env);
  const client = await github(run);
  const result = await withKube(run, (kube) =>
    previewPullRequest(
      {
        build,
        deploy,
        repository: repository(planned.run),
        ...(url ? { runUrl: url } : {}),
        mask: secretsOf(settings),
        log: (line) => core.info(line),
      },
      { github: client, kube, build: buildClients },
    ),
  );
  const outputs: Outputs = {
    ...(result.build ? buildOutputs(result.build) : {}),
    ...(result.deployed ? deployOutputs(result.deployed) : {}),
  };
  if (result.environmentUrl) outputs["environment-url"] = result.environmentUrl;
  if (result.state === "superseded")
    core.notice(
      `A newer commit of pull request #${planned.plan.pullRequest} is being previewed; this run left the preview to it.`,
    );
  else if (result.deployed) core.info(formatDeployResult(result.deployed).trimEnd());
  return { outputs, summary: previewSummary(result.comment) };
}

/** A fork's pull request: planned only; the comment says how a maintainer approves a preview. */
export async function forkStep(run: ActionRun): Promise<StepResult> {
  const { planned } = run;
  const pr = planned.plan.pullRequest ?? planned.run.pullRequest ?? 0;
  core.notice(
    `Pull request #${pr} comes from ${planned.run.fork?.headRepository}: a fork's code is planned, never built or deployed, and gets no credentials, until someone with write access comments /preview.`,
  );
  if (!run.settings.githubToken) return { outputs: {}, summary: "" };
  const model = {
    pullRequest: pr,
    deployment: planned.plan.deployment,
    commit: planned.plan.commit,
    state: "needs-approval" as const,
    version: planned.plan.version,
    endpoints: planned.plan.endpoints.map((e) => ({ name: e.name })),
    approval: { requiredPermission: "write", headSha: planned.plan.commit },
    updatedAt: new Date(),
  };
  const body = renderPreviewComment(model);
  try {
    await upsertStickyComment(await github(run), { ...repository(planned.run), issueNumber: pr, body });
  } catch (error) {
    // A `pull_request` run for a fork gets a read-only token: the note then shows in the log only.
    core.warning(
      `The pull request comment could not be written (${(error as Error).message}); run Slipway on pull_request_target to comment on forks' pull requests (docs/security.md).`,
    );
  }
  return { outputs: {}, summary: body };
}

export async function teardownStep(run: ActionRun, merged: boolean): Promise<StepResult> {
  const { planned } = run;
  const url = runUrl(run.env);
  const client = run.settings.githubToken ? await github(run) : undefined;
  if (!client) core.notice("No `github-token` input: the preview is torn down in the cluster only.");
  const result = await withKube(run, (kube) =>
    closePreview(
      { plan: planned.plan, repository: repository(planned.run), merged, ...(url ? { runUrl: url } : {}) },
      { ...(client ? { github: client } : {}), kube },
    ),
  );
  const line =
    result.aliases.length + result.versions.length === 0
      ? `Preview of #${planned.plan.pullRequest} was already torn down.`
      : `Tore down ${result.aliases.join(", ")} and version(s) ${result.versions.join(", ") || "none"}; ${result.deactivated} deployment(s) marked inactive.`;
  core.info(line);
  return { outputs: {}, summary: `${line}\n` };
}

/**
 * `/preview` from someone with write access: the pull request's head as the API tells it now is what
 * is approved, and only if the checkout is that commit (the workflow checks out `refs/pull/<N>/head`);
 * a push after this is not approved.
 */
async function approvedPreview(
  run: ActionRun,
  intent: Extract<Intent, { kind: "command" }>,
): Promise<StepResult> {
  const client = await github(run);
  const repo = repository(run.planned.run);
  const head = await pullRequestHead(client, { ...repo, number: intent.pullRequest });
  const checkout = await git(run.workspace, "rev-parse", "HEAD");
  if (head.state !== "open" || checkout !== head.sha) {
    const reply =
      head.state !== "open"
        ? `Pull request #${intent.pullRequest} is closed: nothing to preview.`
        : `The checkout is at ${checkout?.slice(0, 7) ?? "no commit"}, but pull request #${intent.pullRequest}'s head is ${head.sha.slice(0, 7)}: the workflow must check out refs/pull/${intent.pullRequest}/head for /preview. Nothing was deployed.`;
    await replyToPullRequest(client, { ...repo, number: intent.pullRequest, body: reply });
    await react(client, { ...repo, commentId: intent.commentId, content: "confused" });
    throw new UsageError(reply);
  }
  const approvedRun: RunContext = { ...run.planned.run, commit: head.sha, pullRequest: intent.pullRequest };
  delete approvedRun.fork;
  const planned = await planVersion({
    configFile: run.configFile,
    workspace: run.workspace,
    run: approvedRun,
    overrides: run.settings,
  });
  core.info(`/preview by ${intent.author} approves ${head.sha} of pull request #${intent.pullRequest}.`);
  const step = await previewStep(run, planned);
  await react(client, { ...repo, commentId: intent.commentId, content: "rocket" });
  return step;
}

export async function commandStep(
  run: ActionRun,
  intent: Extract<Intent, { kind: "command" }>,
): Promise<StepResult> {
  const client = await github(run);
  const repo = repository(run.planned.run);
  const name = `/${intent.command.name}`;
  const auth = await authorizeCommand(client, {
    ...repo,
    login: intent.author,
    commentId: intent.commentId,
    command: name,
  });
  if (!auth.allowed) {
    await replyToPullRequest(client, { ...repo, number: intent.pullRequest, body: auth.reply });
    await react(client, { ...repo, commentId: intent.commentId, content: "confused" });
    core.notice(auth.reply);
    return { outputs: {}, summary: `${auth.reply}\n` };
  }
  if (intent.command.name === "preview") return approvedPreview(run, intent);
  const reply = async (body: string, reaction: "rocket" | "confused"): Promise<StepResult> => {
    await replyToPullRequest(client, { ...repo, number: intent.pullRequest, body });
    await react(client, { ...repo, commentId: intent.commentId, content: reaction });
    core.info(body);
    return { outputs: {}, summary: `${body}\n` };
  };
  const { plan, config } = run.planned;
  const scope = scopeOf(plan);
  const command = intent.command;
  try {
    if (command.name === "status") {
      const current = await withKube(run, (kube) => status({ scope, config }, { kube }));
      return reply(statusMarkdown(current), "rocket");
    }
    if (command.name === "promote" || command.name === "rollback") {
      const environment = config.deployment.environments.find((e) => e.name === command.environment);
      const canary =
        command.name === "promote" &&
        !command.noCanary &&
        (command.canarySeconds !== undefined || environment?.canary !== undefined);
      if (canary) {
        return reply(
          `\`/promote ${command.environment}\` asks for a canary ramp, which this version of Slipway does not run; \`/promote ${command.environment} --no-canary\` moves it at once. Nothing was changed.`,
          "confused",
        );
      }
      const base = {
        scope,
        config,
        environment: command.environment,
        by: intent.author,
        now: new Date(),
        ...(run.env.GITHUB_RUN_ID ? { runId: run.env.GITHUB_RUN_ID } : {}),
      };
      // A comment's run plans the base branch: the pull request's alias comes from the config.
      const alias = previewAlias(config.deployment, intent.pullRequest);
      const moved = await withKube(run, (kube) =>
        command.name === "promote"
          ? promote({ ...base, fromAlias: alias, why: "promote" }, { kube })
          : rollback(base, { kube }),
      );
      const what = moved.changed
        ? `moved ${moved.environment} from ${moved.from ?? "nothing"} to version ${moved.to}`
        : `${moved.environment} already serves version ${moved.to}`;
      return reply(`\`/${command.name} ${command.environment}\` by @${intent.author}: ${what}.`, "rocket");
    }
  } catch (error) {
    if (error instanceof PromotionRefused)
      return reply(`\`/${command.name}\`: ${error.message}. Nothing was changed.`, "confused");
    throw error;
  }
  return reply(
    `\`${name}\` is not handled by this version of Slipway; it handles \`/preview\`, \`/promote <environment> --no-canary\`, \`/rollback\` and \`/status\`. Nothing was changed.`,
    "confused",
  );
}

export async function invalidCommandStep(
  run: ActionRun,
  intent: Extract<Intent, { kind: "command-invalid" }>,
): Promise<StepResult> {
  const client = await github(run);
  const repo = repository(run.planned.run);
  await replyToPullRequest(client, {
    ...repo,
    number: intent.pullRequest,
    body: `@${intent.author} ${intent.message}`,
  });
  await react(client, { ...repo, commentId: intent.commentId, content: "confused" });
  core.notice(intent.message);
  return { outputs: {}, summary: `${intent.message}\n` };
}

export async function housekeepingStep(run: ActionRun): Promise<StepResult> {
  const { plan } = run.planned;
  const open = await openPullRequestNumbers(await github(run), repository(run.planned.run));
  // Tags are listed and deleted only where the workflow's registry credentials are meant to go.
  const { request: build, clients } = await actionBuild(run.settings, run.planned, run.env);
  const allowed = build.trust.registries ?? [];
  const report = await withKube(run, (kube) =>
    housekeeping(
      housekeepingRequest(run.planned, {
        openPullRequests: open,
        now: new Date(),
        repositoryAllowed: (repository) =>
          allowed.some((prefix) => repository === prefix || repository.startsWith(`${prefix}/`)),
      }),
      { kube, registry: clients.registry() },
    ),
  );
  const lines = [
    `Housekeeping of ${plan.deployment}: ${report.previewsRemoved.length} preview(s) removed, ${report.versionsRetired.length} version(s) retired.`,
    ...report.previewsRemoved.map((p) => `- ${p.alias} (#${p.pullRequest}): ${p.why}`),
    ...report.versionsRetired.map((v) => `- version ${v} retired`),
    ...report.tags.map(
      (t) =>
        `- image ${t.repository}:${t.tag} ${t.deleted ? "deleted" : `kept (${t.reason ?? "not deleted"})`}`,
    ),
  ];
  core.info(lines.join("\n"));
  return { outputs: {}, summary: `${lines.join("\n")}\n` };
}

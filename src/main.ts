// run(): the Action's edge. Inputs, environment and event become requests; the plan use case runs,
// then (unless dry-run, or the pull request is a fork's) the build, then the deploy when Kubernetes
// access is configured; results become outputs, a job summary and annotations. The one place (with cli.ts) that turns errors into a failed run.
import { resolve } from "node:path";
import * as core from "@actions/core";
import { actionBuild, actionDeployRequest, kubeAccess } from "./action-requests.js";
import { hasKubeAccess, kubeClient } from "./clients.js";
import { formatProblem } from "./config/index.js";
import type { ConfigProblem } from "./config/types.js";
import { describeError } from "./errors.js";
import { buildImages } from "./flows/build.js";
import { deployVersion } from "./flows/deploy.js";
import { planVersion } from "./flows/plan.js";
import { type Outputs, readInputs } from "./inputs.js";
import { readEvent } from "./intent/event.js";
import { runContextFromEnv } from "./intent/run-context.js";
import { deployMarkdown, formatDeployResult } from "./report/deploy-table.js";
import { formatBytes } from "./report/format-bytes.js";
import { buildOutputs, deployOutputs, planOutputs } from "./report/outputs.js";
import { buildMarkdown, planMarkdown } from "./report/plan-table.js";

/** Problems as GitHub annotations on the config file, so they show in the PR's diff. */
function annotate(problem: ConfigProblem): void {
  const properties = {
    title: "Slipway config",
    file: problem.file,
    startLine: problem.line,
    startColumn: problem.column,
  };
  if (problem.severity === "warning") core.warning(problem.message, properties);
  else core.error(problem.message, properties);
}

export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const settings = readInputs(
      (name) => core.getInput(name),
      (secret) => core.setSecret(secret),
    );
    const workspace = env.GITHUB_WORKSPACE ?? process.cwd();
    const run = runContextFromEnv(env, await readEvent(env.GITHUB_EVENT_NAME, env.GITHUB_EVENT_PATH));
    const configFile = resolve(workspace, settings.config);
    const planned = await planVersion({ configFile, workspace, run, overrides: settings });
    const { plan } = planned;
    for (const problem of planned.warnings) annotate(problem);
    let outputs: Outputs = planOutputs(plan);
    core.info(`Planned ${plan.endpoints.length} endpoint(s) of ${plan.deployment} version ${plan.version}.`);
    let summary = planMarkdown(plan);

    if (run.fork) {
      core.notice(
        `Pull request #${run.pullRequest} comes from ${run.fork.headRepository}: a fork's code is planned, never built or deployed, and gets no credentials.`,
      );
    } else if (!settings.dryRun) {
      const { request, clients, registryHost } = await actionBuild(settings, planned, env);
      const build = await buildImages(request, clients);
      outputs = { ...outputs, ...buildOutputs(build) };
      core.info(
        `Built version ${plan.version}: ${formatBytes(build.uploadedBytes)} uploaded (${build.builder} builder).`,
      );
      summary += `\n${buildMarkdown(build.images, build.uploadedBytes)}`;
      if (hasKubeAccess({ ...kubeAccess(settings), env })) {
        const kube = kubeClient({
          env,
          onSecret: (s: string) => core.setSecret(s),
          log: (l: string) => core.info(l),
          ...kubeAccess(settings),
        });
        try {
          const deployed = await deployVersion(
            actionDeployRequest(settings, planned, build, registryHost, env),
            { kube },
          );
          // The log says where the version answers, as the CLI does: not everyone opens the summary.
          core.info(formatDeployResult(deployed).trimEnd());
          outputs = { ...outputs, ...deployOutputs(deployed) };
          summary += `\n${deployMarkdown(deployed)}`;
        } finally {
          kube.close();
        }
      } else {
        core.notice(
          "No Kubernetes access (kubeconfig input, KUBECONFIG or a service account): built, not deployed.",
        );
      }
    }
    for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);
    if (env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(summary).write();
  } catch (error) {
    const report = describeError(error);
    for (const problem of report.problems) annotate(problem);
    const errors = report.problems.filter((p) => p.severity === "error").map(formatProblem);
    core.setFailed(errors.length > 0 ? `${report.message}:\n${errors.join("\n")}` : report.message);
  }
}

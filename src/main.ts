// run(): the Action's edge. Inputs, environment and event become a request; the plan use case runs,
// then the build use case unless dry-run (or the pull request is a fork's); results become outputs, a
// job summary and annotations. The one place (with cli.ts) that turns errors into a failed run.
import { join, resolve } from "node:path";
import * as core from "@actions/core";
import { dockerClient, registryClient, registryCredentials } from "./clients.js";
import { formatProblem } from "./config/index.js";
import type { ConfigProblem } from "./config/types.js";
import { buildEnvironment } from "./environment.js";
import { describeError } from "./errors.js";
import { buildImages } from "./flows/build.js";
import { planVersion } from "./flows/plan.js";
import { groupedLog } from "./image/log.js";
import { type Outputs, readInputs } from "./inputs.js";
import { readEvent } from "./intent/event.js";
import { runContextFromEnv } from "./intent/run-context.js";
import { DEFAULT_REGISTRY_HOST } from "./plan/plan.js";
import { parseImageName } from "./registry/index.js";
import { formatBytes } from "./report/format-bytes.js";
import { buildOutputs, planOutputs } from "./report/outputs.js";
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
      // Credentials and the push target are the workflow's choice: the `registry` input, else the repository's own packages.
      const allowed = (
        settings.registry ?? `${DEFAULT_REGISTRY_HOST}/${plan.owner}/${plan.project}`
      ).toLowerCase();
      const { registry: host } = parseImageName(`${allowed}/endpoint`);
      const explicit =
        settings.registryPassword === undefined
          ? undefined
          : {
              registry: host,
              credentials: {
                password: settings.registryPassword,
                ...(settings.registryUsername ? { username: settings.registryUsername } : {}),
              },
            };
      const credentials = await registryCredentials(env, explicit);
      const onSecret = (secret: string) => core.setSecret(secret);
      const build = await buildImages(
        {
          planned,
          ...(settings.builder ? { builder: settings.builder } : {}),
          ...buildEnvironment(
            env,
            plan,
            env.RUNNER_TEMP ? join(env.RUNNER_TEMP, "slipway-layers") : undefined,
          ),
          trust: {
            registries: [allowed],
            registriesAllowedBy: "the Action's `registry` input",
            configMayChooseDocker: run.pullRequest === undefined,
            dockerAllowedBy: "the Action's `builder` input",
          },
          log: groupedLog(core),
        },
        {
          credentials,
          registry: () => registryClient({ credentials, onSecret }),
          docker: () => dockerClient(env),
        },
      );
      outputs = { ...outputs, ...buildOutputs(build) };
      core.info(
        `Built version ${plan.version}: ${formatBytes(build.uploadedBytes)} uploaded (${build.builder} builder).`,
      );
      summary += `\n${buildMarkdown(build.images, build.uploadedBytes)}`;
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

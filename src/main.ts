// run(): the Action's main job — read inputs and the event, load and validate the config, plan,
// build and push the version images (unless dry-run), report. The one place (with cli.ts) that
// turns errors into a failed run.
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import * as core from "@actions/core";
import { formatProblem, loadConfig } from "./config/index.js";
import type { ConfigProblem } from "./config/types.js";
import { buildPlan, registryCredentials, targetRegistry } from "./image/build-plan.js";
import { groupedLog } from "./image/log.js";
import { readInputs } from "./inputs.js";
import { runContextFromEnv } from "./intent/run-context.js";
import { planContext, planDeployment } from "./plan/plan.js";
import { formatBytes } from "./report/format-bytes.js";
import { buildMarkdown, planMarkdown } from "./report/plan-table.js";

async function readEvent(path: string | undefined): Promise<unknown> {
  if (!path) return undefined;
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch {
    return undefined;
  }
}

/** Problems as GitHub annotations on the config file, so they show in the PR's diff. */
function annotate(problem: ConfigProblem): void {
  const properties: core.AnnotationProperties = {
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
    const payload = await readEvent(env.GITHUB_EVENT_PATH);
    const run = runContextFromEnv(env, payload);

    const configPath = resolve(workspace, settings.config);
    const result = await loadConfig(configPath, { repoRoot: workspace });
    for (const problem of result.problems) annotate(problem);
    if (!result.config) {
      const errors = result.problems.filter((p) => p.severity === "error");
      core.setFailed(
        `${errors.length} problem${errors.length === 1 ? "" : "s"} in ${settings.config}; nothing was built or deployed:\n${errors.map(formatProblem).join("\n")}`,
      );
      return;
    }

    const plan = planDeployment(result.config, planContext(run, settings));

    core.setOutput("deployment", plan.deployment);
    core.setOutput("version", plan.version);
    core.setOutput("plan", JSON.stringify(plan));
    core.setOutput(
      "urls",
      JSON.stringify(Object.fromEntries(plan.endpoints.map((e) => [e.name, e.url ?? e.path]))),
    );
    core.info(`Planned ${plan.endpoints.length} endpoint(s) of ${plan.deployment} version ${plan.version}.`);
    let summary = planMarkdown(plan);

    if (!settings.dryRun) {
      const host = targetRegistry(plan);
      const explicit =
        host !== undefined && settings.registryPassword !== undefined
          ? {
              registry: host,
              credentials: {
                ...(settings.registryUsername !== undefined ? { username: settings.registryUsername } : {}),
                password: settings.registryPassword,
              },
            }
          : undefined;
      const options: Parameters<typeof buildPlan>[0] = {
        config: result.config,
        plan,
        repoRoot: dirname(configPath),
        credentials: await registryCredentials(env, explicit),
        log: groupedLog(core),
        env,
        onSecret: (secret) => core.setSecret(secret),
      };
      if (settings.builder !== undefined) options.builder = settings.builder;
      if (env.RUNNER_TEMP) options.cacheDir = join(env.RUNNER_TEMP, "slipway-layers");
      const build = await buildPlan(options);
      core.setOutput(
        "images",
        JSON.stringify(Object.fromEntries(build.images.map((i) => [i.endpoint, i.reference]))),
      );
      core.setOutput("uploaded-bytes", String(build.uploadedBytes));
      core.info(
        `Built version ${plan.version}: ${formatBytes(build.uploadedBytes)} uploaded (${build.builder} builder).`,
      );
      summary += `\n${buildMarkdown(build.images, build.uploadedBytes)}`;
    }
    if (env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(summary).write();
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error));
  }
}

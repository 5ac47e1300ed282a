// run(): the Action's main job — read inputs and the event, load and validate the config,
// plan, report. The one place (with cli.ts) that turns errors into a failed run.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import * as core from "@actions/core";
import { formatProblem, loadConfig } from "./config/index.js";
import type { ConfigProblem } from "./config/types.js";
import { readInputs } from "./inputs.js";
import { runContextFromEnv } from "./intent/run-context.js";
import { type PlanContext, planDeployment } from "./plan/plan.js";
import { planMarkdown } from "./report/plan-table.js";

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
    const settings = readInputs((name) => core.getInput(name));
    const workspace = env.GITHUB_WORKSPACE ?? process.cwd();
    const payload = await readEvent(env.GITHUB_EVENT_PATH);
    const run = runContextFromEnv(env, payload);

    const result = await loadConfig(resolve(workspace, settings.config), { repoRoot: workspace });
    for (const problem of result.problems) annotate(problem);
    if (!result.config) {
      const errors = result.problems.filter((p) => p.severity === "error");
      core.setFailed(
        `${errors.length} problem${errors.length === 1 ? "" : "s"} in ${settings.config}; nothing was built or deployed:\n${errors.map(formatProblem).join("\n")}`,
      );
      return;
    }

    const context: PlanContext = { ...run };
    if (settings.environment !== undefined) context.environment = settings.environment;
    if (settings.version !== undefined) context.version = settings.version;
    if (settings.baseUrl !== undefined) context.baseUrl = settings.baseUrl;
    if (settings.registry !== undefined) context.registry = settings.registry;
    if (settings.namespace !== undefined) context.namespace = settings.namespace;
    const plan = planDeployment(result.config, context);

    core.setOutput("deployment", plan.deployment);
    core.setOutput("version", plan.version);
    core.setOutput("plan", JSON.stringify(plan));
    core.setOutput(
      "urls",
      JSON.stringify(Object.fromEntries(plan.endpoints.map((e) => [e.name, e.url ?? e.path]))),
    );
    if (env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(planMarkdown(plan)).write();
    core.info(`Planned ${plan.endpoints.length} endpoint(s) of ${plan.deployment} version ${plan.version}.`);

    if (!settings.dryRun) {
      core.setFailed(
        "This release of Slipway plans only: set `dry-run: true`. Building and deploying are not available yet.",
      );
    }
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error));
  }
}

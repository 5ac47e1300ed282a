// run(): the Action's edge. Inputs, environment and event become the plan and an intent (what this
// event asks for); unless dry-run, the intent's step runs (action-flows.ts): a deploy, a pull request's
// preview or its teardown, a comment command, housekeeping. Results become outputs, a job summary and
// annotations. The one place (with cli.ts) that turns errors into a failed run.
import { resolve } from "node:path";
import * as core from "@actions/core";
import {
  type ActionRun,
  commandStep,
  deployStep,
  forkStep,
  housekeepingStep,
  invalidCommandStep,
  previewStep,
  pushDeployStep,
  type StepResult,
  teardownStep,
} from "./action-flows.js";
import { formatProblem } from "./config/index.js";
import type { ConfigProblem } from "./config/types.js";
import { describeError, UsageError } from "./errors.js";
import { planVersion } from "./flows/plan.js";
import { type Outputs, readInputs } from "./inputs.js";
import { readEvent } from "./intent/event.js";
import { type Intent, intentFor } from "./intent/intent.js";
import { runContextFromEnv } from "./intent/run-context.js";
import { planOutputs } from "./report/outputs.js";
import { planMarkdown } from "./report/plan-table.js";

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
    const payload = await readEvent(env.GITHUB_EVENT_NAME, env.GITHUB_EVENT_PATH);
    const runContext = runContextFromEnv(env, payload);
    const configFile = resolve(workspace, settings.config);
    const planned = await planVersion({ configFile, workspace, run: runContext, overrides: settings });
    const { plan } = planned;
    for (const problem of planned.warnings) annotate(problem);
    core.info(`Planned ${plan.endpoints.length} endpoint(s) of ${plan.deployment} version ${plan.version}.`);
    const intent = intentFor(env.GITHUB_EVENT_NAME, payload, settings, planned.config.deployment);
    const run: ActionRun = { settings, planned, env, workspace, configFile };
    let outputs: Outputs = planOutputs(plan);
    let summary = planMarkdown(plan);
    const step = settings.dryRun && intent.kind !== "ignore" ? undefined : await stepFor(run, intent);
    if (step) {
      outputs = { ...outputs, ...step.outputs };
      summary += `\n${step.summary}`;
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

/** The step for the intent; undefined when the run only plans. */
async function stepFor(run: ActionRun, intent: Intent): Promise<StepResult | undefined> {
  switch (intent.kind) {
    case "ignore":
      core.notice(intent.reason);
      return undefined;
    case "preview":
      return run.planned.run.fork ? forkStep(run) : previewStep(run);
    case "teardown":
      return teardownStep(run, intent.merged);
    case "command":
      return commandStep(run, intent);
    case "command-invalid":
      return invalidCommandStep(run, intent);
    case "housekeeping":
      return housekeepingStep(run);
    case "push-deploy":
      return pushDeployStep(run, intent);
    case "release":
      core.notice(
        `Release ${intent.tag}: promotion on releases is not handled by this version; nothing was deployed.`,
      );
      return undefined;
    case "dispatch":
      throw new UsageError(
        `command '${intent.command}' is not one this version runs: use deploy or housekeeping`,
      );
    default:
      return deployStep(run);
  }
}

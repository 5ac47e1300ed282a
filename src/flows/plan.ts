// The plan use case, as both edges run it: the config read and validated (every problem at once),
// the run's context with its checked overrides, and the plan of names and URLs. Nothing is written.
import { dirname } from "node:path";
import { ConfigError, checkDeclaredFiles, loadConfig } from "../config/index.js";
import type { ConfigProblem, SlipwayConfig } from "../config/types.js";
import { PLACEHOLDER_VERSION } from "../intent/local-context.js";
import type { RunContext } from "../intent/run-context.js";
import { type Plan, type PlanOverrides, planContext, planDeployment } from "../plan/plan.js";

export interface PlanRequest {
  /** Absolute path of the config file; its directory is the project root. */
  configFile: string;
  /** The checkout's root: problems name files relative to it, as GitHub annotations need. */
  workspace: string;
  run: RunContext;
  /** Already checked by the edge with checkOverrides, which names them as inputs or flags. */
  overrides: PlanOverrides;
  /** Environments the event moves (a push to a branch they promote on), beside any override's. */
  environments?: readonly string[];
}

export interface PlannedVersion {
  config: SlipwayConfig;
  plan: Plan;
  /** The project root: the config's directory. */
  repoRoot: string;
  run: RunContext;
  /** The config's warnings, located. */
  warnings: ConfigProblem[];
  /** Things the user should know that are not the config's fault (e.g. stand-in names). */
  notices: string[];
}

export async function planVersion(request: PlanRequest): Promise<PlannedVersion> {
  const { configFile, workspace, run } = request;
  const result = await loadConfig(configFile, { repoRoot: workspace });
  if (!result.config) throw new ConfigError(result.problems);
  // The build applies the same on-disk rules; checking them here makes a plan refuse what a build would.
  const fileProblems = await checkDeclaredFiles(dirname(configFile), result.config);
  if (fileProblems.length > 0) throw new ConfigError([...result.problems, ...fileProblems]);
  const overrides: PlanOverrides = { ...request.overrides };
  if (run.commit === "" && overrides.version === undefined) overrides.version = PLACEHOLDER_VERSION;
  const context = planContext(run, overrides);
  if (request.environments) context.environments = request.environments;
  const plan = planDeployment(result.config, context);
  return {
    config: result.config,
    plan,
    repoRoot: dirname(configFile),
    run,
    warnings: result.problems.filter((p) => p.severity === "warning"),
    notices: run.placeholder ? [run.placeholder] : [],
  };
}

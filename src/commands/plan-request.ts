// What every CLI command that plans starts with: its flags' usage errors, the common planning flags
// turned into the plan use case's request (overrides checked by the rule the Action's inputs use), and
// the config's warnings and notices printed to stderr.
import { dirname, resolve } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { formatProblem } from "../config/index.js";
import { UsageError } from "../errors.js";
import type { PlannedVersion, PlanRequest } from "../flows/plan.js";
import { localContext } from "../intent/local-context.js";
import { checkOverrides, type OverrideKey } from "../plan/overrides.js";
import type { CommandIo } from "./io.js";

/** Runs a command's flag parsing; a flag it does not know becomes a UsageError that shows its usage. */
export function withUsage<R>(usage: string, parse: () => R): R {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage}`);
  }
}

/** The flags every planning command takes, for `parseArgs` options. */
export const PLAN_FLAGS = {
  config: { type: "string", default: "valohai.yaml" },
  repo: { type: "string" },
  commit: { type: "string" },
  version: { type: "string" },
  registry: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

export interface PlanFlags {
  config: string;
  repo?: string | undefined;
  commit?: string | undefined;
  pr?: string | undefined;
  version?: string | undefined;
  environment?: string | undefined;
  alias?: string | undefined;
  "base-url"?: string | undefined;
  registry?: string | undefined;
  namespace?: string | undefined;
}

const FLAG_OF: Record<OverrideKey, string> = {
  environment: "--environment",
  alias: "--alias",
  version: "--version",
  baseUrl: "--base-url",
  registry: "--registry",
  namespace: "--namespace",
};

export async function planRequest(flags: PlanFlags, io: CommandIo): Promise<PlanRequest> {
  const overrides = {
    environment: flags.environment,
    alias: flags.alias,
    version: flags.version,
    baseUrl: flags["base-url"],
    registry: flags.registry,
    namespace: flags.namespace,
  };
  checkOverrides(overrides, (key) => FLAG_OF[key]);
  const configFile = resolve(io.cwd, flags.config);
  const run = await localContext(flags, io.env, dirname(configFile));
  return { configFile, workspace: io.cwd, run, overrides };
}

export function printWarnings(planned: PlannedVersion, io: CommandIo): void {
  for (const problem of planned.warnings) io.stderr.write(`${formatProblem(problem)}\n`);
  for (const notice of planned.notices) io.stderr.write(`slipway: warning: ${notice}\n`);
}

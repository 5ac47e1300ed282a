// What every command that plans starts with: the config named by --config, read relative to the
// working directory, warnings printed, and a ConfigError (with every problem) when it is invalid.
import { dirname, resolve } from "node:path";
import { ConfigError, formatProblem, loadConfig } from "../config/index.js";
import type { SlipwayConfig } from "../config/types.js";
import { UsageError } from "../errors.js";
import type { CommandIo } from "./io.js";

/** Runs a command's flag parsing; a flag it does not know becomes a UsageError that shows its usage. */
export function withUsage<R>(usage: string, parse: () => R): R {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage}`);
  }
}

export async function commandConfig(
  configFlag: string,
  io: CommandIo,
): Promise<{ config: SlipwayConfig; file: string; repoRoot: string }> {
  const file = resolve(io.cwd, configFlag);
  const result = await loadConfig(file, { repoRoot: io.cwd });
  for (const problem of result.problems) {
    if (problem.severity === "warning") io.stderr.write(`${formatProblem(problem)}\n`);
  }
  if (!result.config) throw new ConfigError(result.problems);
  return { config: result.config, file, repoRoot: dirname(file) };
}

// Named errors a user can act on, and the one mapping from an error to what both edges show: the
// message, the located problems (annotations in the Action, file:line:column lines in the CLI) and the
// CLI's exit code. main.ts and cli.ts call describeError and nothing else decides these.
import { ConfigError } from "./config/errors.js";
import type { ConfigProblem } from "./config/types.js";

/** Wrong command-line use: unknown flag, missing argument. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** An Action input or CLI flag with a value Slipway cannot use; the message names the input or flag. */
export class InputError extends Error {
  override readonly name = "InputError";
}

/**
 * The workflow did not allow what the checkout asked for (a registry to send credentials to, the docker
 * builder for a pull request): the message names the input that allows it.
 */
export class NotAllowedError extends Error {
  override readonly name = "NotAllowedError";
}

/**
 * A deploy that stopped before its version was ready and routed, for a reason other than the
 * rollout's own (RolloutFailed): an apply the API server refused, a watch it ended. The message says
 * what was applied and what became of it; `cause` is the error itself.
 */
export class DeployStopped extends Error {
  override readonly name = "DeployStopped";
  /** `Kind/name` of what the deploy applied before it stopped. */
  readonly applied: readonly string[];

  constructor(message: string, applied: readonly string[], cause: unknown) {
    super(message, { cause });
    this.applied = applied;
  }
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export interface ErrorReport {
  /** One line (or a few) saying what failed and that nothing was changed. */
  message: string;
  /** The config's located problems, warnings then errors; empty for other failures. */
  problems: readonly ConfigProblem[];
  exitCode: number;
}

export function describeError(error: unknown): ErrorReport {
  if (error instanceof ConfigError) {
    const errors = error.problems.filter((p) => p.severity === "error");
    const file = errors[0]?.file ?? "the config";
    return {
      message: `${errors.length} problem${errors.length === 1 ? "" : "s"} in ${file}; nothing was built or deployed`,
      problems: [...error.problems.filter((p) => p.severity === "warning"), ...errors],
      exitCode: EXIT.failed,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  const exitCode = error instanceof UsageError || error instanceof InputError ? EXIT.usage : EXIT.failed;
  return { message, problems: [], exitCode };
}

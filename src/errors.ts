// Named errors a user can act on, and the one mapping from them to exit codes.
import { ConfigError } from "./config/errors.js";
import { PlanError } from "./plan/plan.js";

/** Wrong command-line use: unknown flag, missing argument. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof ConfigError || error instanceof PlanError) return EXIT.failed;
  return EXIT.failed;
}

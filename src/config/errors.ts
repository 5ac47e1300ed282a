// The error a bad config raises once every problem in it is known.
import type { ConfigProblem } from "./types.js";

export function formatProblem(p: ConfigProblem): string {
  const prefix = p.severity === "warning" ? "warning: " : "";
  return `${p.file}:${p.line}:${p.column}: ${prefix}${p.message}`;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly ConfigProblem[]) {
    const errors = problems.filter((p) => p.severity === "error");
    super(
      `${errors.length} problem${errors.length === 1 ? "" : "s"} in the config:\n${errors.map(formatProblem).join("\n")}`,
    );
  }
}

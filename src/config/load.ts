// Reads the config file from disk and parses it; the only I/O of the config stage besides the
// declared-file checks. The read is bounded before it starts (src/util/read-bounded.ts).
import { relative } from "node:path";
import { readBounded } from "../util/read-bounded.js";
import { ConfigError } from "./errors.js";
import { type ParseResult, parseConfig } from "./parse.js";
import { MAX_CONFIG_BYTES } from "./source.js";
import type { SlipwayConfig } from "./types.js";

export interface LoadOptions {
  /** File names in problems are shown relative to this (the repository root), as GitHub annotations need. */
  repoRoot?: string;
}

export async function loadConfig(path: string, options: LoadOptions = {}): Promise<ParseResult> {
  const shown = options.repoRoot ? relative(options.repoRoot, path) || path : path;
  const read = await readBounded(path, MAX_CONFIG_BYTES);
  if (read.ok) return parseConfig(read.bytes, shown);
  const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);
  const reason =
    read.reason === "missing"
      ? "not found"
      : read.reason === "directory"
        ? "is a directory"
        : read.reason === "not-regular"
          ? `is ${read.kind}, not a regular file: Slipway reads the config only from a regular file`
          : read.reason === "too-large"
            ? `is ${read.size === undefined ? "larger than 2 MiB" : `${mib(read.size)} MiB`}; Slipway reads config files of at most 2 MiB`
            : `cannot be read (${read.code})`;
  return {
    problems: [{ file: shown, line: 1, column: 1, severity: "error", message: `config file ${reason}` }],
  };
}

/** Loads and throws ConfigError (carrying every problem) unless the config is valid. */
export async function loadConfigOrThrow(
  path: string,
  options: LoadOptions = {},
): Promise<{ config: SlipwayConfig; result: ParseResult }> {
  const result = await loadConfig(path, options);
  if (!result.config) throw new ConfigError(result.problems);
  return { config: result.config, result };
}

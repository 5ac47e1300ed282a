// Reads the config file from disk and parses it; the only I/O of the config stage.
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import { ConfigError } from "./errors.js";
import { type ParseResult, parseConfig } from "./parse.js";
import type { SlipwayConfig } from "./types.js";

export interface LoadOptions {
  /** File names in problems are shown relative to this (the repository root), as GitHub annotations need. */
  repoRoot?: string;
}

export async function loadConfig(path: string, options: LoadOptions = {}): Promise<ParseResult> {
  const shown = options.repoRoot ? relative(options.repoRoot, path) || path : path;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "not found"
        : code === "EISDIR"
          ? "is a directory"
          : `cannot be read (${code ?? error})`;
    return {
      problems: [{ file: shown, line: 1, column: 1, severity: "error", message: `config file ${reason}` }],
    };
  }
  return parseConfig(bytes, shown);
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

// The on-disk rules for the files endpoints declare (`files[].path`), in one place for plan and
// build: the file exists, is a regular file, and neither it nor what its symbolic links lead to
// lies outside the checkout or inside .git. Only lstat, stat and realpath: nothing is read, so a
// hostile checkout costs one system call per path component at most.
import type { BigIntStats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { quote } from "./quote.js";
import { isUnderGit, repoPath } from "./repo-path.js";
import type { ConfigProblem, SlipwayConfig } from "./types.js";

export type DeclaredFileRefusal = "missing" | "not-regular" | "outside" | "git";

export type DeclaredFile =
  | { ok: true /** Repository-relative, normalised. */; path: string; absPath: string; stats: BigIntStats }
  | {
      ok: false;
      refusal: DeclaredFileRefusal /** Says what was found, e.g. "a directory", the link's target. */;
      detail?: string;
    };

/** How each refusal reads after "declares file 'x', but …". */
export function refusalReason(file: DeclaredFile & { ok: false }): string {
  switch (file.refusal) {
    case "missing":
      return "it is not in the checkout";
    case "not-regular":
      return `it is not a regular file in the checkout (${file.detail ?? "not a file"})`;
    case "outside":
      return file.detail === "path"
        ? "its path leads outside the repository"
        : "it is a symbolic link to a file outside the repository";
    case "git":
      return `it leads into .git${file.detail ? ` (to ${quote(file.detail)})` : ""}, where git keeps the checkout's credentials`;
  }
}

function kindOf(st: BigIntStats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a regular file";
}

/**
 * Every rule for one declared file. `realRoot` is `realpath(repoRoot)`, computed once by the caller.
 * The order is the order a user fixes things in: there at all, then where it leads, then what it is.
 */
export async function inspectDeclaredFile(
  repoRoot: string,
  realRoot: string,
  written: string,
): Promise<DeclaredFile> {
  const rel = repoPath(written);
  // The parser refuses these with their place; a hand-built endpoint gets the same answer here.
  if (!rel.ok) {
    if (rel.reason === "git") return { ok: false, refusal: "git" };
    if (rel.reason === "directory") return { ok: false, refusal: "not-regular", detail: "a directory" };
    return { ok: false, refusal: "outside", detail: "path" };
  }
  const absPath = path.join(repoRoot, rel.path);
  let stats: BigIntStats;
  let real: string;
  try {
    stats = await stat(absPath, { bigint: true });
    real = await realpath(absPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { ok: false, refusal: "missing" };
    if (code === "ELOOP") return { ok: false, refusal: "not-regular", detail: "a loop of symbolic links" };
    throw error;
  }
  const inside = path.relative(realRoot, real);
  if (inside === ".." || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
    return { ok: false, refusal: "outside" };
  }
  const insideRel = inside.split(path.sep).join("/");
  if (isUnderGit(insideRel)) return { ok: false, refusal: "git", detail: insideRel };
  if (!stats.isFile()) return { ok: false, refusal: "not-regular", detail: kindOf(stats) };
  return { ok: true, path: rel.path, absPath, stats };
}

/**
 * The declared files of every endpoint checked in the checkout at `repoRoot` (the directory the
 * config's paths are relative to): a located problem for each one that plan and build would refuse.
 * Call after parsing, before planning; build refuses the same files by the same rules.
 */
export async function checkDeclaredFiles(repoRoot: string, config: SlipwayConfig): Promise<ConfigProblem[]> {
  const realRoot = await realpath(repoRoot);
  const problems: ConfigProblem[] = [];
  for (const endpoint of config.endpoints) {
    for (const file of endpoint.files) {
      const found = await inspectDeclaredFile(repoRoot, realRoot, file.path);
      if (found.ok) continue;
      const where = file.location ?? endpoint.location;
      problems.push({
        ...where,
        severity: "error",
        message: `endpoint ${quote(endpoint.name)} declares file ${quote(file.path)}, but ${refusalReason(found)}`,
      });
    }
  }
  return problems;
}

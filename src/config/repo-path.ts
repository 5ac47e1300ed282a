// Paths the config names inside the repository (declared files, the Dockerfile): what each may
// be written as, decided on the text alone; what is on disk is declared-files.ts's business.
import { posix } from "node:path";

export type RepoPath =
  | { ok: true /** `/`-separated and normalised: no `./`, no `..`. */; path: string }
  | { ok: false; reason: "absolute" | "outside" | "directory" | "git" };

/**
 * Whether a repository-relative path is in a `.git` directory (or is one) at any depth: the
 * checkout's own, where actions/checkout's persist-credentials leaves the job's token in
 * `.git/config`, or a nested repository's. Compared without case, since on a case-insensitive file
 * system (macOS, Windows) `.GIT/config` is the same file, and on Linux no project needs such a name.
 */
export function isUnderGit(path: string): boolean {
  return path.split("/").some((segment) => segment.toLowerCase() === ".git");
}

export function repoPath(written: string): RepoPath {
  const normal = posix.normalize(written.replace(/\\/g, "/"));
  if (written.startsWith("/") || /^[A-Za-z]:[\\/]/.test(written)) return { ok: false, reason: "absolute" };
  if (normal === ".." || normal.startsWith("../")) return { ok: false, reason: "outside" };
  if (isUnderGit(normal)) return { ok: false, reason: "git" };
  if (normal === "." || normal.endsWith("/")) return { ok: false, reason: "directory" };
  return { ok: true, path: normal };
}

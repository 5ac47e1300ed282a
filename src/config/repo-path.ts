// Paths the config names inside the repository (declared files, the Dockerfile): what each may
// be written as, decided on the text alone; what is on disk is declared-files' business.
import { posix } from "node:path";

export type RepoPath =
  | { ok: true /** `/`-separated and normalised: no `./`, no `..`. */; path: string }
  | { ok: false; reason: "absolute" | "outside" | "directory" };

export function repoPath(written: string): RepoPath {
  const normal = posix.normalize(written.replace(/\\/g, "/"));
  if (written.startsWith("/") || /^[A-Za-z]:[\\/]/.test(written)) return { ok: false, reason: "absolute" };
  if (normal === ".." || normal.startsWith("../")) return { ok: false, reason: "outside" };
  if (normal === "." || normal.endsWith("/")) return { ok: false, reason: "directory" };
  return { ok: true, path: normal };
}

// Which files of a checkout go into a version image: the repository's code filtered by its
// `.dockerignore` (Docker's syntax and semantics, via @balena/dockerignore, a port of Docker's own
// matcher), `.git` always left out, and each endpoint's declared `files`, which must exist.
//
// Semantics we chose, and why:
// - Patterns follow Docker's documentation: `#` comments, Go filepath.Match globs, `**` for any number
//   of directories, `!` exceptions, the last matching line wins, and a pattern matching a directory
//   excludes everything under it unless a later `!` line re-includes it. Matching is case-sensitive,
//   as Docker is on Linux (the library defaults to case-insensitive; we turn that off).
// - Declared files are taken even when `.dockerignore` excludes them: declaring a file is the explicit
//   request, and ignoring big model files for `docker build` is common.
// - No declared file of any endpoint goes into the shared code layer; each endpoint gets only its own
//   declared files, in their own layer. Endpoints with the same code then share the code layer.

import type { BigIntStats } from "node:fs";
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { realpath } from "node:fs/promises";
import path from "node:path";
// The package is CommonJS with `module.exports.default = factory`; under NodeNext the default
// import is the CJS module, so the factory is reached through `.default` both in types and at runtime.
import dockerignoreModule from "@balena/dockerignore";
import { type DeclaredFile, inspectDeclaredFile, refusalReason } from "../config/declared-files.js";
import { isUnderGit } from "../config/repo-path.js";
import type { Endpoint } from "../config/types.js";
import { readBounded } from "../util/read-bounded.js";
import { BuildError, MissingDeclaredFileError } from "./errors.js";

export type SourceKind = "file" | "directory" | "symlink";

/** One entry of the checkout as it will appear under the image's app directory. */
export interface SourceEntry {
  /** Repository-relative, `/`-separated, no leading `./`. */
  path: string;
  kind: SourceKind;
  /** Where the bytes are read from. */
  absPath: string;
  /** Normalised: 0o755 for directories and executables, 0o644 for other files, 0o777 for symlinks. */
  mode: number;
  size: number;
  linkTarget?: string;
  /**
   * Identity of the on-disk file for the layer cache (size, mtime, ctime, inode), like git's index:
   * when it is unchanged the cached layer digest is reused without reading the bytes.
   */
  statKey: string;
}

export interface RepoSelection {
  /** Sorted by path; directories included. */
  entries: SourceEntry[];
  /** The raw `.dockerignore`, if the repository has one. */
  dockerignore?: string;
}

export function normaliseMode(kind: SourceKind, rawMode: number): number {
  if (kind === "directory") return 0o755;
  if (kind === "symlink") return 0o777;
  return (rawMode & 0o111) !== 0 ? 0o755 : 0o644;
}

function statKeyOf(st: BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}:${st.mode}`;
}

function kindOf(st: BigIntStats): SourceKind | undefined {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  if (st.isSymbolicLink()) return "symlink";
  // Sockets, FIFOs and devices in a checkout are never code.
  return undefined;
}

/** A matcher for `.dockerignore` text; exported for tests that compare against Docker's behaviour. */
export function dockerignoreMatcher(text: string): { ignores(rel: string): boolean; hasExceptions: boolean } {
  const lines = text.split(/\r?\n/);
  const matcher = dockerignoreModule.default({ ignorecase: false }).add(lines);
  const hasExceptions = lines.some((l) => l.trim().startsWith("!"));
  return { ignores: (rel) => matcher.ignores(rel), hasExceptions };
}

/** Far above any real `.dockerignore`; the file comes from the checkout, so its read is bounded. */
export const MAX_DOCKERIGNORE_BYTES = 1024 * 1024;

async function readDockerignore(repoRoot: string): Promise<string | undefined> {
  const read = await readBounded(path.join(repoRoot, ".dockerignore"), MAX_DOCKERIGNORE_BYTES);
  if (read.ok) return read.bytes.toString("utf8");
  if (read.reason === "missing") return undefined;
  const why =
    read.reason === "too-large"
      ? `is ${read.size === undefined ? "larger than 1 MiB" : `${(read.size / (1024 * 1024)).toFixed(1)} MiB`}; Slipway reads a .dockerignore of at most 1 MiB`
      : read.reason === "directory"
        ? "is a directory, not a file"
        : read.reason === "not-regular"
          ? `is ${read.kind}, not a regular file`
          : `cannot be read (${read.code})`;
  throw new BuildError(`the checkout's .dockerignore ${why}`);
}

/**
 * Walks the checkout and returns the entries the code layer may contain, minus `exclude`
 * (the declared files of all endpoints, which get their own layers).
 */
export async function selectRepoFiles(
  repoRoot: string,
  exclude: ReadonlySet<string>,
): Promise<RepoSelection> {
  const ignoreText = await readDockerignore(repoRoot);
  const matcher = dockerignoreMatcher(ignoreText ?? "");
  const entries: SourceEntry[] = [];

  // Returns whether anything under `relDir` was kept, so excluded directories that still hold
  // re-included files get their directory entry. Synchronous on purpose: the walk dominates a
  // no-change rebuild, and for metadata the OS has cached, lstatSync costs microseconds where each
  // promise-based call pays a thread-pool round trip (measured: 200 files, ~1 ms against ~4-12 ms).
  function walk(relDir: string): boolean {
    const abs = relDir === "" ? repoRoot : path.join(repoRoot, relDir);
    let keptAny = false;
    for (const name of readdirSync(abs)) {
      const rel = relDir === "" ? name : `${relDir}/${name}`;
      // Never packed, whatever `.dockerignore` says: a `.git` at any depth (submodules, vendored
      // repositories) holds history and, after actions/checkout, the job token.
      if (isUnderGit(rel)) continue;
      const absPath = path.join(abs, name);
      const st = lstatSync(absPath, { bigint: true });
      const kind = kindOf(st);
      if (kind === undefined) continue;
      const ignored = matcher.ignores(rel);
      if (kind === "directory") {
        // Without `!` lines nothing under an excluded directory can come back, so skip the walk.
        if (ignored && !matcher.hasExceptions) continue;
        const keptInside = walk(rel);
        if (ignored && !keptInside) continue;
        entries.push({ path: rel, kind, absPath, mode: 0o755, size: 0, statKey: "dir" });
        keptAny = true;
        continue;
      }
      if (ignored || exclude.has(rel)) continue;
      const entry: SourceEntry = {
        path: rel,
        kind,
        absPath,
        mode: normaliseMode(kind, Number(st.mode)),
        size: kind === "file" ? Number(st.size) : 0,
        statKey: statKeyOf(st),
      };
      if (kind === "symlink") entry.linkTarget = readlinkSync(absPath);
      entries.push(entry);
      keptAny = true;
    }
    return keptAny;
  }

  walk("");
  entries.sort((a, b) => compareBytes(a.path, b.path));
  const selection: RepoSelection = { entries };
  if (ignoreText !== undefined) selection.dockerignore = ignoreText;
  return selection;
}

/** Byte order rather than locale order, so every machine sorts the same way. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The endpoint's declared files, resolved in the checkout. Symlinks are followed (a checked-in link to
 * a model is still that model) but only within the checkout and never into .git: the rules are
 * config/declared-files.ts's, the same `slipway plan` reports with their place in the config. The
 * first file refused stops the build, naming the endpoint.
 */
export async function resolveDeclaredFiles(repoRoot: string, endpoint: Endpoint): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  const seen = new Set<string>();
  const realRoot = await realpath(repoRoot);
  for (const file of endpoint.files) {
    const found = await inspectDeclaredFile(repoRoot, realRoot, file.path);
    if (!found.ok) throw declaredFileError(repoRoot, endpoint.name, file.path, found);
    if (seen.has(found.path)) continue;
    seen.add(found.path);
    out.push({
      path: found.path,
      kind: "file",
      absPath: found.absPath,
      mode: normaliseMode("file", Number(found.stats.mode)),
      size: Number(found.stats.size),
      statKey: statKeyOf(found.stats),
    });
  }
  return out.sort((a, b) => compareBytes(a.path, b.path));
}

function declaredFileError(
  repoRoot: string,
  endpoint: string,
  file: string,
  found: DeclaredFile & { ok: false },
): BuildError {
  switch (found.refusal) {
    case "missing":
      return new MissingDeclaredFileError(endpoint, file, `${refusalReason(found)} at ${repoRoot}`);
    case "not-regular":
      return new MissingDeclaredFileError(endpoint, file, refusalReason(found));
    case "outside":
      return new BuildError(
        found.detail === "path"
          ? `endpoint "${endpoint}" declares file "${file}" outside the repository`
          : `endpoint "${endpoint}" declares file "${file}", a symbolic link to a file outside the repository`,
        endpoint,
      );
    case "git":
      return new BuildError(
        `endpoint "${endpoint}" declares file "${file}", but ${refusalReason(found)}`,
        endpoint,
      );
  }
}

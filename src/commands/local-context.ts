// The run context for the CLI: flags first, then the GitHub Actions environment, then the git
// checkout the config lives in.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { UsageError } from "../errors.js";
import type { RunContext } from "../intent/run-context.js";

const exec = promisify(execFile);
const GIT_TIMEOUT_MS = 5_000;

async function git(cwd: string, ...args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await exec("git", args, { cwd, timeout: GIT_TIMEOUT_MS });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** owner/repo from a GitHub remote URL in its https or ssh form. */
export function repoFromRemote(url: string): { owner: string; repo: string } | undefined {
  const match = /^(?:https?:\/\/[^/]+\/|git@[^:]+:|ssh:\/\/git@[^/]+\/)([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(
    url,
  );
  return match?.[1] && match[2] ? { owner: match[1], repo: match[2] } : undefined;
}

export interface ContextFlags {
  repo?: string | undefined;
  commit?: string | undefined;
  pr?: string | undefined;
}

export async function localContext(
  flags: ContextFlags,
  env: NodeJS.ProcessEnv,
  dir: string,
): Promise<RunContext> {
  let owner: string | undefined;
  let repo: string | undefined;
  const slug = flags.repo ?? env.GITHUB_REPOSITORY;
  if (slug) {
    const [o, r, ...rest] = slug.split("/");
    if (!o || !r || rest.length > 0) throw new UsageError(`--repo '${slug}' must be written as owner/name`);
    owner = o;
    repo = r;
  } else {
    const remote = await git(dir, "remote", "get-url", "origin");
    const parsed = remote ? repoFromRemote(remote) : undefined;
    if (!parsed) throw new UsageError("cannot tell the repository: pass --repo owner/name");
    owner = parsed.owner;
    repo = parsed.repo;
  }
  const commit = flags.commit ?? env.GITHUB_SHA ?? (await git(dir, "rev-parse", "HEAD"));
  if (!commit) throw new UsageError("cannot tell the commit: pass --commit <sha> (or --version <name>)");
  const context: RunContext = { owner, repo, commit };
  if (flags.pr !== undefined) {
    const number = Number(flags.pr);
    if (!Number.isInteger(number) || number < 1)
      throw new UsageError(`--pr '${flags.pr}' must be a pull request number`);
    context.pullRequest = number;
  }
  return context;
}

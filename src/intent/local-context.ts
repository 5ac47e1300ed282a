// The run context for the CLI: flags first, then the GitHub Actions environment, then the git
// checkout the config lives in. Outside a GitHub checkout (no git, no remote, no commit) the context
// is completed with stand-ins and says so, so a config can be tried before it is committed; the use
// cases that publish something (build, deploy) refuse a context with stand-ins.
import { basename } from "node:path";
import { UsageError } from "../errors.js";
import { git } from "../git.js";
import type { RunContext } from "./run-context.js";

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
  version?: string | undefined;
}

export const PLACEHOLDER_OWNER = "local";
export const PLACEHOLDER_VERSION = "local";

/** A stand-in project name from the directory: lowercase letters, digits and dashes. */
function placeholderRepo(dir: string): string {
  return (
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "project"
  );
}

export async function localContext(
  flags: ContextFlags,
  env: NodeJS.ProcessEnv,
  dir: string,
): Promise<RunContext> {
  const assumed: string[] = [];
  let owner: string;
  let repo: string;
  const slug = flags.repo ?? env.GITHUB_REPOSITORY;
  if (slug) {
    const [o, r, ...rest] = slug.split("/");
    if (!o || !r || rest.length > 0) throw new UsageError(`--repo '${slug}' must be written as owner/name`);
    owner = o;
    repo = r;
  } else {
    const remote = await git(dir, "remote", "get-url", "origin");
    const parsed = remote ? repoFromRemote(remote) : undefined;
    owner = parsed?.owner ?? PLACEHOLDER_OWNER;
    repo = parsed?.repo ?? placeholderRepo(dir);
    if (!parsed) assumed.push(`repository (${owner}/${repo}; pass --repo owner/name)`);
  }
  const commit = flags.commit ?? env.GITHUB_SHA ?? (await git(dir, "rev-parse", "HEAD"));
  // Without a commit the plan names the version PLACEHOLDER_VERSION, unless --version names it.
  const context: RunContext = { owner, repo, commit: commit ?? "" };
  if (commit === undefined) {
    assumed.push(
      flags.version === undefined
        ? `version (${PLACEHOLDER_VERSION}; pass --commit <sha> or --version <name>)`
        : "commit (pass --commit <sha>)",
    );
  }
  if (flags.pr !== undefined) {
    const number = Number(flags.pr);
    if (!Number.isInteger(number) || number < 1)
      throw new UsageError(`--pr '${flags.pr}' must be a pull request number`);
    context.pullRequest = number;
  }
  if (assumed.length > 0) {
    context.placeholder = `${dir} is not a GitHub checkout git can read: planned with stand-ins for the ${assumed.join(" and the ")}`;
  }
  return context;
}

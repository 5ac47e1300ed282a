// The one way Slipway asks git about a checkout: a bounded `git` call whose failure means "git cannot
// tell" (not a checkout, no remote, no commit), never an exception.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);
const GIT_TIMEOUT_MS = 5_000;
const GIT_MAX_OUTPUT = 64 * 1024;

/** git's trimmed standard output, or undefined when git fails or prints nothing. */
export async function git(cwd: string, ...args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await exec("git", args, { cwd, timeout: GIT_TIMEOUT_MS, maxBuffer: GIT_MAX_OUTPUT });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The commit's time, which makes image `created` reproducible; undefined when git cannot tell. */
export async function commitTime(dir: string, commit: string): Promise<Date | undefined> {
  const seconds = Number(await git(dir, "show", "-s", "--format=%ct", commit));
  return Number.isInteger(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined;
}

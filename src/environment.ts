// What Slipway reads of the process environment besides the Action's inputs and the credential
// sources in clients.ts, in one place, for both edges: where layer digests are cached, the
// repository's web URL, and the fallback time for reproducible images.
import { homedir } from "node:os";
import path from "node:path";
import type { Plan } from "./plan/plan.js";

export interface BuildEnvironment {
  cacheDir: string;
  sourceUrl: string;
  sourceDateEpoch?: number;
}

/** `cacheDir` overrides the default `$XDG_CACHE_HOME/slipway/layers` (the Action uses RUNNER_TEMP). */
export function buildEnvironment(env: NodeJS.ProcessEnv, plan: Plan, cacheDir?: string): BuildEnvironment {
  const cacheHome = env.XDG_CACHE_HOME ?? path.join(env.HOME ?? homedir(), ".cache");
  const result: BuildEnvironment = {
    cacheDir: cacheDir ?? path.join(cacheHome, "slipway", "layers"),
    sourceUrl: `${env.GITHUB_SERVER_URL ?? "https://github.com"}/${plan.owner}/${plan.project}`,
  };
  const epoch = Number(env.SOURCE_DATE_EPOCH);
  if (Number.isInteger(epoch) && epoch > 0) result.sourceDateEpoch = epoch;
  return result;
}

// The build stage as the CLI and the Action both run it: a plan's endpoints, built from the
// checkout with the configured (or chosen) builder and pushed with the credentials at hand.
// Everything a run needs from its surroundings (environment, git, Docker config) is read here.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { BuilderKind, SlipwayConfig } from "../config/types.js";
import type { Plan } from "../plan/plan.js";
import {
  type CredentialSource,
  type Credentials,
  combineCredentials,
  createRegistryClient,
  credentialsFromDockerConfig,
  parseImageName,
  staticCredentials,
} from "../registry/index.js";
import { type BuildVersionInput, buildVersion, type VersionBuild } from "./build-version.js";
import { createDockerClient } from "./docker-client.js";
import type { SourceInfo } from "./image-config.js";
import type { BuildLog } from "./log.js";

const exec = promisify(execFile);
const GIT_TIMEOUT_MS = 5_000;

/** The commit's time makes `created` reproducible; SOURCE_DATE_EPOCH or the epoch when git cannot tell. */
export async function commitTime(dir: string, commit: string, env: NodeJS.ProcessEnv): Promise<Date> {
  try {
    const { stdout } = await exec("git", ["show", "-s", "--format=%ct", commit], {
      cwd: dir,
      timeout: GIT_TIMEOUT_MS,
    });
    const seconds = Number(stdout.trim());
    if (Number.isInteger(seconds) && seconds > 0) return new Date(seconds * 1000);
  } catch {
    // Not a git checkout, or the commit is not in it: fall through.
  }
  const epoch = Number(env.SOURCE_DATE_EPOCH);
  return new Date(Number.isInteger(epoch) && epoch > 0 ? epoch * 1000 : 0);
}

/**
 * Credentials in priority order: explicit ones for the target registry (Action inputs), the Docker
 * config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json), then GITHUB_TOKEN for ghcr.io.
 */
export async function registryCredentials(
  env: NodeJS.ProcessEnv,
  explicit?: { registry: string; credentials: Credentials },
): Promise<CredentialSource> {
  const sources: CredentialSource[] = [];
  if (explicit) sources.push(staticCredentials(explicit.registry, explicit.credentials));
  const file = path.join(env.DOCKER_CONFIG ?? path.join(env.HOME ?? homedir(), ".docker"), "config.json");
  try {
    sources.push(credentialsFromDockerConfig(await readFile(file, "utf8")));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  // In GitHub Actions the job token may push to the repository's own packages.
  if (env.GITHUB_TOKEN) {
    sources.push(
      staticCredentials("ghcr.io", {
        username: env.GITHUB_ACTOR ?? "x-access-token",
        password: env.GITHUB_TOKEN,
      }),
    );
  }
  return combineCredentials(...sources);
}

/** The registry host every endpoint image of the plan goes to. */
export function targetRegistry(plan: Plan): string | undefined {
  const first = plan.endpoints[0];
  return first ? parseImageName(first.imageRepository).registry : undefined;
}

export interface BuildPlanOptions {
  config: SlipwayConfig;
  plan: Plan;
  /** The checkout: the config's directory. */
  repoRoot: string;
  builder?: BuilderKind;
  credentials: CredentialSource;
  log: BuildLog;
  env: NodeJS.ProcessEnv;
  /** Layer digests remembered between runs; default `$XDG_CACHE_HOME/slipway/layers`. */
  cacheDir?: string;
  /** The docker builder's Dockerfile, relative to the checkout; else the config's, else generated. */
  dockerfile?: string;
  /** Told every secret the registry client meets (passwords, tokens), e.g. to mask it. */
  onSecret?: (secret: string) => void;
}

export async function buildPlan(options: BuildPlanOptions): Promise<VersionBuild & { builder: BuilderKind }> {
  const { config, plan, env } = options;
  const builder = options.builder ?? config.deployment.builder;
  const source: SourceInfo = {
    url: `${env.GITHUB_SERVER_URL ?? "https://github.com"}/${plan.owner}/${plan.project}`,
    revision: plan.commit,
    time: await commitTime(options.repoRoot, plan.commit, env),
  };
  const cacheHome = env.XDG_CACHE_HOME ?? path.join(env.HOME ?? homedir(), ".cache");
  const input: BuildVersionInput = {
    repoRoot: options.repoRoot,
    endpoints: plan.endpoints.map((planned) => {
      const endpoint = config.endpoints.find((e) => e.name === planned.name);
      if (endpoint === undefined) throw new Error(`plan names an unknown endpoint ${planned.name}`);
      return { endpoint, imageRepository: planned.imageRepository };
    }),
    tag: plan.version,
    source,
    builder,
    log: options.log,
    cacheDir: options.cacheDir ?? path.join(cacheHome, "slipway", "layers"),
  };
  if (builder === "registry") {
    const clientOptions: Parameters<typeof createRegistryClient>[0] = { credentials: options.credentials };
    if (options.onSecret) clientOptions.onSecret = options.onSecret;
    input.registry = createRegistryClient(clientOptions);
  } else {
    input.docker = createDockerClient(env);
    const dockerfile = options.dockerfile ?? config.deployment.dockerfile;
    if (dockerfile !== undefined) input.dockerfile = dockerfile;
    const host = targetRegistry(plan);
    const creds = host ? options.credentials.forRegistry(host) : undefined;
    if (host && creds?.username !== undefined && creds.password !== undefined) {
      input.dockerAuth = { username: creds.username, password: creds.password, serveraddress: host };
    }
  }
  return { ...(await buildVersion(input)), builder };
}

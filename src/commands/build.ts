// `slipway build`: builds and pushes every endpoint's version image for this commit and prints,
// per endpoint, the reference to deploy (`<repository>@<digest>`) and the bytes it sent.
// Names come from the plan (image repository, version tag); the bytes from the checkout the config
// lives in; credentials from the Docker config file and, for ghcr.io, GITHUB_TOKEN.

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { type BuildVersionInput, buildVersion } from "../build/build-version.js";
import { createDockerClient } from "../build/docker-client.js";
import type { SourceInfo } from "../build/image-config.js";
import { lineLog } from "../build/log.js";
import {
  type CredentialSource,
  combineCredentials,
  createRegistryClient,
  credentialsFromDockerConfig,
  staticCredentials,
} from "../build/registry/index.js";
import { formatBytes } from "../build/registry-builder.js";
import { ConfigError, formatProblem, loadConfig } from "../config/index.js";
import type { BuilderKind } from "../config/types.js";
import { UsageError } from "../errors.js";
import { type PlanContext, planDeployment } from "../plan/plan.js";
import type { CommandIo } from "./io.js";
import { localContext } from "./local-context.js";

const exec = promisify(execFile);

export const BUILD_USAGE = `Usage: slipway build [--config <file>] [--registry <prefix>] [--builder registry|docker] [--json]
                    [--repo owner/name] [--commit <sha>] [--version <name>]
                    [--dockerfile <path>] [--cache-dir <dir>]

Builds every endpoint's version image from the checkout the config lives in, pushes it, and prints
per endpoint the image reference with its digest and the bytes uploaded.
  --registry    image repository prefix (default: the config's, else ghcr.io/<owner>/<repo>)
  --builder     registry (default: daemonless, pushes only what the registry lacks) or docker
  --dockerfile  docker builder only: build from this Dockerfile instead of a generated one
  --cache-dir   where layer digests are remembered between runs (default: ~/.cache/slipway/layers)`;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        config: { type: "string", default: "valohai.yaml" },
        registry: { type: "string" },
        builder: { type: "string" },
        json: { type: "boolean", default: false },
        repo: { type: "string" },
        commit: { type: "string" },
        version: { type: "string" },
        dockerfile: { type: "string" },
        "cache-dir": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${BUILD_USAGE}`);
  }
}

function builderKind(flag: string | undefined, configured: BuilderKind): BuilderKind {
  if (flag === undefined) return configured;
  if (flag === "registry" || flag === "docker") return flag;
  throw new UsageError(`--builder '${flag}' must be 'registry' or 'docker'`);
}

/** The commit's time makes `created` reproducible; SOURCE_DATE_EPOCH or the epoch when git cannot tell. */
async function commitTime(dir: string, commit: string, env: NodeJS.ProcessEnv): Promise<Date> {
  try {
    const { stdout } = await exec("git", ["show", "-s", "--format=%ct", commit], {
      cwd: dir,
      timeout: 5_000,
    });
    const seconds = Number(stdout.trim());
    if (Number.isInteger(seconds) && seconds > 0) return new Date(seconds * 1000);
  } catch {
    // Not a git checkout, or the commit is not in it: fall through.
  }
  const epoch = Number(env.SOURCE_DATE_EPOCH);
  return new Date(Number.isInteger(epoch) && epoch > 0 ? epoch * 1000 : 0);
}

async function registryCredentials(env: NodeJS.ProcessEnv): Promise<CredentialSource> {
  const sources: CredentialSource[] = [];
  const file = path.join(env.DOCKER_CONFIG ?? path.join(homedir(), ".docker"), "config.json");
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

export async function buildCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parse(argv);
  if (flags.help) {
    io.stdout.write(`${BUILD_USAGE}\n`);
    return 0;
  }
  const file = path.resolve(io.cwd, flags.config);
  const repoRoot = path.dirname(file);
  const result = await loadConfig(file, { repoRoot: io.cwd });
  for (const problem of result.problems) {
    if (problem.severity === "warning") io.stderr.write(`${formatProblem(problem)}\n`);
  }
  if (!result.config) throw new ConfigError(result.problems);
  const config = result.config;

  const run = await localContext(flags, io.env, repoRoot);
  const context: PlanContext = { ...run };
  if (flags.version !== undefined) context.version = flags.version;
  if (flags.registry !== undefined) context.registry = flags.registry;
  const plan = planDeployment(config, context);
  const builder = builderKind(flags.builder, config.deployment.builder);
  if (flags.dockerfile !== undefined && builder !== "docker") {
    throw new UsageError("--dockerfile applies to the docker builder only: add --builder docker");
  }

  const source: SourceInfo = {
    url: `${io.env.GITHUB_SERVER_URL ?? "https://github.com"}/${plan.owner}/${plan.project}`,
    revision: plan.commit,
    time: await commitTime(repoRoot, plan.commit, io.env),
  };
  const cacheHome = io.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache");
  const input: BuildVersionInput = {
    repoRoot,
    endpoints: plan.endpoints.map((planned) => {
      const endpoint = config.endpoints.find((e) => e.name === planned.name);
      if (endpoint === undefined) throw new Error(`plan names an unknown endpoint ${planned.name}`);
      return { endpoint, imageRepository: planned.imageRepository };
    }),
    tag: plan.version,
    source,
    builder,
    log: lineLog((line) => io.stderr.write(`${line}\n`)),
    cacheDir: flags["cache-dir"] ?? path.join(cacheHome, "slipway", "layers"),
  };
  if (builder === "registry") {
    input.registry = createRegistryClient({ credentials: await registryCredentials(io.env) });
  } else {
    input.docker = createDockerClient(io.env);
    if (flags.dockerfile !== undefined) input.dockerfile = flags.dockerfile;
  }

  const started = Date.now();
  const build = await buildVersion(input);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify({ version: plan.version, builder, uploadedBytes: build.uploadedBytes, images: build.images }, null, 2)}\n`,
    );
  } else {
    const width = Math.max(...build.images.map((i) => i.endpoint.length));
    for (const image of build.images) {
      io.stdout.write(
        `${image.endpoint.padEnd(width)}  ${image.reference}  ${formatBytes(image.uploadedBytes)} uploaded\n`,
      );
    }
    io.stdout.write(
      `version ${plan.version}: ${formatBytes(build.uploadedBytes)} uploaded in ${seconds}s (${builder} builder)\n`,
    );
  }
  return 0;
}

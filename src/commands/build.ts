// `slipway build`: builds and pushes every endpoint's version image for this commit and prints,
// per endpoint, the reference to deploy (`<repository>@<digest>`) and the bytes it sent.
import { parseArgs } from "node:util";
import type { BuilderKind } from "../config/types.js";
import { UsageError } from "../errors.js";
import { buildPlan, registryCredentials } from "../image/build-plan.js";
import { lineLog } from "../image/log.js";
import { planContext, planDeployment } from "../plan/plan.js";
import { formatBytes } from "../report/format-bytes.js";
import { commandConfig, withUsage } from "./command-config.js";
import type { CommandIo } from "./io.js";
import { localContext } from "./local-context.js";

export const BUILD_USAGE = `Usage: slipway build [--config <file>] [--registry <prefix>] [--builder registry|docker] [--json]
                    [--repo owner/name] [--commit <sha>] [--version <name>]
                    [--dockerfile <path>] [--cache-dir <dir>]

Builds every endpoint's version image from the checkout the config lives in, pushes it, and prints
per endpoint the image reference with its digest and the bytes uploaded.
  --registry    image repository prefix (default: the config's, else ghcr.io/<owner>/<repo>)
  --builder     registry (default: daemonless, pushes only what the registry lacks) or docker
  --dockerfile  docker builder only: build from this Dockerfile instead of the config's or a generated one
  --cache-dir   where layer digests are remembered between runs (default: ~/.cache/slipway/layers)
Credentials come from $DOCKER_CONFIG/config.json (or ~/.docker/config.json), and GITHUB_TOKEN for ghcr.io.`;

function parse(argv: string[]) {
  return withUsage(
    BUILD_USAGE,
    () =>
      parseArgs({
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
      }).values,
  );
}

function builderKind(flag: string | undefined): BuilderKind | undefined {
  if (flag === undefined || flag === "registry" || flag === "docker") return flag;
  throw new UsageError(`--builder '${flag}' must be 'registry' or 'docker'`);
}

export async function buildCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parse(argv);
  if (flags.help) {
    io.stdout.write(`${BUILD_USAGE}\n`);
    return 0;
  }
  const { config, repoRoot } = await commandConfig(flags.config, io);
  const run = await localContext(flags, io.env, repoRoot);
  const plan = planDeployment(config, planContext(run, { version: flags.version, registry: flags.registry }));
  const builder = builderKind(flags.builder) ?? config.deployment.builder;
  if (flags.dockerfile !== undefined && builder !== "docker") {
    throw new UsageError("--dockerfile applies to the docker builder only: add --builder docker");
  }

  const started = Date.now();
  const options: Parameters<typeof buildPlan>[0] = {
    config,
    plan,
    repoRoot,
    builder,
    credentials: await registryCredentials(io.env),
    log: lineLog((line) => io.stderr.write(`${line}\n`)),
    env: io.env,
  };
  if (flags["cache-dir"] !== undefined) options.cacheDir = flags["cache-dir"];
  if (flags.dockerfile !== undefined) options.dockerfile = flags.dockerfile;
  const build = await buildPlan(options);
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

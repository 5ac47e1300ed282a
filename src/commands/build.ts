// `slipway build`: builds and pushes every endpoint's version image for this commit and prints,
// per endpoint, the reference to deploy (`<repository>@<digest>`) and the bytes it sent.
import { parseArgs } from "node:util";
import { planVersion } from "../flows/plan.js";
import { formatBytes } from "../report/format-bytes.js";
import type { CommandIo } from "./io.js";
import { BUILD_FLAGS, builderKind, cliBuild } from "./kube-flags.js";
import { PLAN_FLAGS, planRequest, printWarnings, withUsage } from "./plan-request.js";

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
          ...PLAN_FLAGS,
          ...BUILD_FLAGS,
          json: { type: "boolean", default: false },
          dockerfile: { type: "string" },
        },
      }).values,
  );
}

export async function buildCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parse(argv);
  if (flags.help) {
    io.stdout.write(`${BUILD_USAGE}\n`);
    return 0;
  }
  builderKind(flags.builder); // a bad flag is a usage error before the config is read
  const planned = await planVersion(await planRequest(flags, io));
  printWarnings(planned, io);
  const { plan } = planned;
  const started = Date.now();
  const build = await cliBuild(planned, flags, io);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (flags.json) {
    const { builder: used, uploadedBytes, images } = build;
    io.stdout.write(
      `${JSON.stringify({ version: plan.version, builder: used, uploadedBytes, images }, null, 2)}\n`,
    );
  } else {
    const width = Math.max(...build.images.map((i) => i.endpoint.length));
    for (const image of build.images) {
      io.stdout.write(
        `${image.endpoint.padEnd(width)}  ${image.reference}  ${formatBytes(image.uploadedBytes)} uploaded\n`,
      );
    }
    io.stdout.write(
      `version ${plan.version}: ${formatBytes(build.uploadedBytes)} uploaded in ${seconds}s (${build.builder} builder)\n`,
    );
  }
  return 0;
}

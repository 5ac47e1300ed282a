// `slipway manifests`: exactly the objects `deploy` would apply, as `helm template` prints a chart, for
// review, `kubectl diff`, and GitOps tools (Argo CD, Flux) that apply manifests themselves. The version
// images are built first (nothing is uploaded again when unchanged): manifests name images by digest.
// Without a cluster there is no version record uid, so objects carry no ownerReferences.
import { parseArgs } from "node:util";
import { manifestsYaml, versionManifests } from "../deploy/index.js";
import { UsageError } from "../errors.js";
import { versionInput } from "../flows/deploy.js";
import { planVersion } from "../flows/plan.js";
import type { CommandIo } from "./io.js";
import { BUILD_FLAGS, builderKind, cliBuild, cliUser } from "./kube-flags.js";
import { PLAN_FLAGS, planRequest, printWarnings, withUsage } from "./plan-request.js";

export const MANIFESTS_USAGE = `Usage: slipway manifests [--output yaml|json] [--config <file>] [--registry <prefix>] [--base-url <url>]
                        [--namespace <name>] [--repo owner/name] [--commit <sha>] [--version <name>]
                        [--pull-secret <name>]

Builds the version images (unchanged ones are not uploaded again) and prints the objects a deploy
applies, without ownerReferences (there is no version record uid without a cluster).`;

export async function manifestsCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = withUsage(
    MANIFESTS_USAGE,
    () =>
      parseArgs({
        args: argv,
        allowPositionals: false,
        options: {
          ...PLAN_FLAGS,
          ...BUILD_FLAGS,
          output: { type: "string", short: "o", default: "yaml" },
          "base-url": { type: "string" },
          namespace: { type: "string" },
          "pull-secret": { type: "string" },
        },
      }).values,
  );
  if (flags.help) {
    io.stdout.write(`${MANIFESTS_USAGE}\n`);
    return 0;
  }
  if (flags.output !== "yaml" && flags.output !== "json")
    throw new UsageError(`--output '${flags.output}' must be yaml or json`);
  builderKind(flags.builder); // a bad flag is a usage error before the config is read
  const planned = await planVersion(await planRequest(flags, io));
  printWarnings(planned, io);
  const build = await cliBuild(planned, flags, io);
  const objects = versionManifests(
    versionInput(
      {
        planned,
        images: Object.fromEntries(build.images.map((i) => [i.endpoint, i.reference])),
        deployedBy: cliUser(io.env),
        ...(flags["pull-secret"] !== undefined ? { pull: { secret: flags["pull-secret"] } } : {}),
      },
      new Date(),
    ),
  );
  io.stdout.write(
    flags.output === "json"
      ? `${JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }, null, 2)}\n`
      : manifestsYaml(objects),
  );
  return 0;
}

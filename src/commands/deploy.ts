// `slipway deploy`: builds the version (reusing what the registry has), deploys it, waits until every
// endpoint is ready or fails with the reason, points the aliases, and prints each endpoint's URLs.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../config/duration.js";
import { UsageError } from "../errors.js";
import { type DeployRequest, deployVersion } from "../flows/deploy.js";
import { previewDeploy } from "../flows/deploy-preview.js";
import { planVersion } from "../flows/plan.js";
import { parseSecretValues } from "../intent/secret-values.js";
import { formatDeployResult } from "../report/deploy-table.js";
import type { CommandIo } from "./io.js";
import { BUILD_FLAGS, builderKind, cliBuild, cliKube, cliUser, KUBE_FLAGS } from "./kube-flags.js";
import { PLAN_FLAGS, planRequest, printWarnings, withUsage } from "./plan-request.js";

export const DEPLOY_USAGE = `Usage: slipway deploy [--config <file>] [--kubeconfig <file>] [--context <name>] [--registry <prefix>]
                     [--base-url <url>] [--alias <name>] [--timeout 10m] [--json] [--repo owner/name]
                     [--commit <sha>] [--version <name>] [--namespace <name>] [--builder registry|docker]
                     [--secrets-file <file>] [--pull-secret <name>] [--dry-run]

Builds every endpoint's version image (unchanged ones are not uploaded again), applies the version to
the cluster, waits until every endpoint is ready or says why it failed, then points --alias (and the
pull request's preview alias, with --pr) at it and prints each endpoint's URLs.
  --timeout       how long to wait for readiness (default: the longest startup-timeout plus 5m)
  --secrets-file  NAME=value lines or a JSON object: environment values kept in a Secret the version owns
  --pull-secret   an existing kubernetes.io/dockerconfigjson Secret the cluster pulls images with
  --dry-run       build, then ask the API server what would change (dryRun=All); apply nothing`;

function parse(argv: string[]) {
  return withUsage(
    DEPLOY_USAGE,
    () =>
      parseArgs({
        args: argv,
        allowPositionals: false,
        options: {
          ...PLAN_FLAGS,
          ...BUILD_FLAGS,
          ...KUBE_FLAGS,
          pr: { type: "string" },
          alias: { type: "string" },
          environment: { type: "string" },
          "base-url": { type: "string" },
          namespace: { type: "string" },
          timeout: { type: "string" },
          json: { type: "boolean", default: false },
          "secrets-file": { type: "string" },
          "pull-secret": { type: "string" },
          "dry-run": { type: "boolean", default: false },
        },
      }).values,
  );
}

export async function deployCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parse(argv);
  if (flags.help) {
    io.stdout.write(`${DEPLOY_USAGE}\n`);
    return 0;
  }
  let timeoutSeconds: number | undefined;
  if (flags.timeout !== undefined) {
    timeoutSeconds = parseDuration(flags.timeout);
    if (!timeoutSeconds)
      throw new UsageError(`--timeout '${flags.timeout}' must be a duration such as 10m or 1h30m`);
  }
  const secretValues =
    flags["secrets-file"] === undefined
      ? undefined
      : parseSecretValues(
          await readFile(resolve(io.cwd, flags["secrets-file"]), "utf8"),
          `--secrets-file ${flags["secrets-file"]}`,
        );
  builderKind(flags.builder); // a bad flag is a usage error before the config is read
  const planned = await planVersion(await planRequest(flags, io));
  printWarnings(planned, io);
  // The kubeconfig and its context are checked before the build, which takes a while.
  const kube = cliKube(flags, io);
  try {
    const build = await cliBuild(planned, flags, io);
    const request: DeployRequest = {
      planned,
      images: Object.fromEntries(build.images.map((i) => [i.endpoint, i.reference])),
      deployedBy: cliUser(io.env),
      log: (line) => io.stderr.write(`${line}\n`),
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
      ...(secretValues ? { secretValues } : {}),
      ...(flags["pull-secret"] !== undefined ? { pull: { secret: flags["pull-secret"] } } : {}),
    };
    if (flags["dry-run"]) {
      const changes = await previewDeploy(request, { kube });
      io.stdout.write(
        flags.json
          ? `${JSON.stringify(changes, null, 2)}\n`
          : changes.map((c) => `${c.action.padEnd(9)} ${c.kind}/${c.name}\n`).join(""),
      );
      return 0;
    }
    const result = await deployVersion(request, { kube });
    io.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatDeployResult(result));
    return 0;
  } finally {
    kube.close();
  }
}

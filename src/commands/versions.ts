// `slipway versions` and `slipway retire`: a deployment's versions as the cluster holds them, and
// removing one (refused while an alias points at it, unless --force).
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";
import { scopeOf } from "../flows/deployment-state.js";
import { planVersion } from "../flows/plan.js";
import { listVersions, retireVersion, type VersionsRequest } from "../flows/versions.js";
import { formatVersions } from "../report/deploy-table.js";
import type { CommandIo } from "./io.js";
import { cliKube, KUBE_FLAGS } from "./kube-flags.js";
import { PLAN_FLAGS, planRequest, printWarnings, withUsage } from "./plan-request.js";

export const VERSIONS_USAGE = `Usage: slipway versions [--config <file>] [--kubeconfig <file>] [--context <name>] [--namespace <name>]
                       [--repo owner/name] [--json]

Lists the deployment's versions in the cluster, newest first: state (ready, progressing, failed with
its reason, scaled-to-zero) and the aliases pointing at each.`;

export const RETIRE_USAGE = `Usage: slipway retire <version> [--force] [--config <file>] [--kubeconfig <file>] [--context <name>]
                     [--namespace <name>] [--repo owner/name]

Deletes a version: its record and everything it owns. Refused while an alias points at it, unless --force.`;

const OPTIONS = {
  ...PLAN_FLAGS,
  ...KUBE_FLAGS,
  namespace: { type: "string" },
  json: { type: "boolean", default: false },
  force: { type: "boolean", default: false },
} as const;

async function request(flags: Record<string, unknown>, io: CommandIo): Promise<VersionsRequest> {
  // The config says which deployment and namespace; the version a plan names is not used here.
  const planned = await planVersion(
    await planRequest({ ...(flags as { config: string }), version: "any" }, io),
  );
  printWarnings(planned, io);
  const { plan } = planned;
  return scopeOf(plan);
}

export async function versionsCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = withUsage(
    VERSIONS_USAGE,
    () => parseArgs({ args: argv, allowPositionals: false, options: OPTIONS }).values,
  );
  if (flags.help) {
    io.stdout.write(`${VERSIONS_USAGE}\n`);
    return 0;
  }
  const kube = cliKube(flags, io);
  try {
    const versions = await listVersions(await request(flags, io), kube);
    io.stdout.write(flags.json ? `${JSON.stringify(versions, null, 2)}\n` : formatVersions(versions));
    return 0;
  } finally {
    kube.close();
  }
}

export async function retireCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values: flags, positionals } = withUsage(RETIRE_USAGE, () =>
    parseArgs({ args: argv, allowPositionals: true, options: OPTIONS }),
  );
  if (flags.help) {
    io.stdout.write(`${RETIRE_USAGE}\n`);
    return 0;
  }
  const [version, ...extra] = positionals;
  if (version === undefined || extra.length > 0)
    throw new UsageError(`retire takes one version\n\n${RETIRE_USAGE}`);
  const kube = cliKube(flags, io);
  try {
    const result = await retireVersion({ ...(await request(flags, io)), version, force: flags.force }, kube);
    const forced =
      result.aliases.length > 0 ? ` (${result.aliases.join(", ")} pointed at it and now answer 503)` : "";
    io.stdout.write(`retired version ${result.version}${forced}\n`);
    return 0;
  } finally {
    kube.close();
  }
}

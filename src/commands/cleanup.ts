// `slipway teardown` and `slipway housekeeping`: the Action's clean-up steps for terminals and other
// CI systems — a pull request's preview removed (its alias, and every version only it used), and
// previews of closed pull requests or past their TTL removed with versions beyond the kept number.
// The CLI has no GitHub: which pull requests are open is a flag.
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";
import { closePreview } from "../flows/close-preview.js";
import { housekeeping, housekeepingRequest } from "../flows/housekeeping.js";
import { planVersion } from "../flows/plan.js";
import type { CommandIo } from "./io.js";
import { cliKube, KUBE_FLAGS } from "./kube-flags.js";
import { PLAN_FLAGS, planRequest, printWarnings, withUsage } from "./plan-request.js";

export const TEARDOWN_USAGE = `Usage: slipway teardown --pr <number> [--config <file>] [--kubeconfig <file>] [--context <name>]
                       [--namespace <name>] [--repo owner/name]

Removes a pull request's preview: its alias and every version only it pointed at. A version another
alias points at is kept. Removing it again changes nothing.`;

export const HOUSEKEEPING_USAGE = `Usage: slipway housekeeping --open <numbers> [--keep <n>] [--config <file>] [--kubeconfig <file>]
                            [--context <name>] [--namespace <name>] [--repo owner/name]

Removes the previews of pull requests not in --open (comma-separated numbers; empty for none) and
those past the config's preview TTL, then retires versions no alias points at beyond the newest
--keep (default 5).`;

const OPTIONS = {
  ...PLAN_FLAGS,
  ...KUBE_FLAGS,
  namespace: { type: "string" },
  pr: { type: "string" },
  open: { type: "string" },
  keep: { type: "string" },
} as const;

function positiveInteger(flag: string, value: string, usage: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value))
    throw new UsageError(`${flag} must be a positive number, got '${value}'\n\n${usage}`);
  return Number(value);
}

export async function teardownCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = withUsage(TEARDOWN_USAGE, () => parseArgs({ args: argv, options: OPTIONS }).values);
  if (flags.help) {
    io.stdout.write(`${TEARDOWN_USAGE}\n`);
    return 0;
  }
  if (flags.pr === undefined) throw new UsageError(`teardown needs --pr\n\n${TEARDOWN_USAGE}`);
  positiveInteger("--pr", flags.pr, TEARDOWN_USAGE);
  const planned = await planVersion(await planRequest({ ...flags, version: "any" }, io));
  printWarnings(planned, io);
  const kube = cliKube(flags, io);
  try {
    const { plan } = planned;
    const result = await closePreview(
      { plan, repository: { owner: plan.owner, repo: plan.project }, merged: false },
      { kube },
    );
    if (result.aliases.length + result.versions.length === 0)
      io.stdout.write(`pull request #${plan.pullRequest}'s preview is already gone\n`);
    else
      io.stdout.write(
        `removed ${[...result.aliases, ...result.versions.map((v) => `version ${v}`)].join(", ")}\n`,
      );
    for (const kept of result.kept)
      io.stdout.write(`kept version ${kept.version}: ${kept.aliases.join(", ")} point at it\n`);
    return 0;
  } finally {
    kube.close();
  }
}

export async function housekeepingCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = withUsage(HOUSEKEEPING_USAGE, () => parseArgs({ args: argv, options: OPTIONS }).values);
  if (flags.help) {
    io.stdout.write(`${HOUSEKEEPING_USAGE}\n`);
    return 0;
  }
  // Without the list every preview would look closed: it must be given, even empty.
  if (flags.open === undefined) throw new UsageError(`housekeeping needs --open\n\n${HOUSEKEEPING_USAGE}`);
  const open = new Set(
    flags.open
      .split(",")
      .map((n) => n.trim())
      .filter((n) => n !== "")
      .map((n) => positiveInteger("--open", n, HOUSEKEEPING_USAGE)),
  );
  const planned = await planVersion(await planRequest({ ...flags, version: "any" }, io));
  printWarnings(planned, io);
  const kube = cliKube(flags, io);
  try {
    const report = await housekeeping(
      housekeepingRequest(planned, {
        openPullRequests: open,
        ...(flags.keep !== undefined
          ? { keepVersions: positiveInteger("--keep", flags.keep, HOUSEKEEPING_USAGE) }
          : {}),
        now: new Date(),
      }),
      { kube },
    );
    for (const p of report.previewsRemoved)
      io.stdout.write(`removed ${p.alias} (#${p.pullRequest}, ${p.why})\n`);
    for (const v of report.versionsRetired) io.stdout.write(`retired version ${v}\n`);
    if (report.previewsRemoved.length + report.versionsRetired.length === 0)
      io.stdout.write("nothing to remove\n");
    return 0;
  } finally {
    kube.close();
  }
}

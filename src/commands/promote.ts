// `slipway promote`, `slipway rollback` and `slipway status`: an environment's alias moved to a
// version already deployed (or back along its history), and where every alias of the deployment
// points. No build: the versions' records say what to route to.
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";
import { type DeploymentScope, scopeOf } from "../flows/deployment-state.js";
import { type PlannedVersion, planVersion } from "../flows/plan.js";
import { type PromoteResult, promote, rollback } from "../flows/promote.js";
import { status } from "../flows/status.js";
import { formatStatus } from "../report/status-table.js";
import type { CommandIo } from "./io.js";
import { cliKube, cliUser, KUBE_FLAGS } from "./kube-flags.js";
import { PLAN_FLAGS, planRequest, printWarnings, withUsage } from "./plan-request.js";

export const PROMOTE_USAGE = `Usage: slipway promote <environment> (--version <version> | --from <alias>) [--config <file>]
                       [--kubeconfig <file>] [--context <name>] [--namespace <name>] [--repo owner/name]

Points the environment's alias at a deployed, ready version (--from pr-42: the version that alias
serves). Refused unless every environment it requires already serves that version.`;

export const ROLLBACK_USAGE = `Usage: slipway rollback <environment> [--config <file>] [--kubeconfig <file>] [--context <name>]
                        [--namespace <name>] [--repo owner/name]

Points the environment's alias back at the version it served before its last move.`;

export const STATUS_USAGE = `Usage: slipway status [--json] [--config <file>] [--kubeconfig <file>] [--context <name>]
                      [--namespace <name>] [--repo owner/name]

Lists every environment and preview alias, the version it points at, its traffic split and last move.`;

const OPTIONS = {
  ...PLAN_FLAGS,
  ...KUBE_FLAGS,
  namespace: { type: "string" },
  from: { type: "string" },
  json: { type: "boolean", default: false },
} as const;

function parse(usage: string, argv: string[]) {
  return withUsage(usage, () => parseArgs({ args: argv, allowPositionals: true, options: OPTIONS }));
}

/** The config and where its deployment lives; the version a plan names is not used here. */
async function plannedScope(
  flags: { config: string; namespace?: string | undefined; repo?: string | undefined },
  io: CommandIo,
): Promise<{ planned: PlannedVersion; scope: DeploymentScope }> {
  const planned = await planVersion(await planRequest({ ...flags, version: "any" }, io));
  printWarnings(planned, io);
  return { planned, scope: scopeOf(planned.plan) };
}

function environmentArgument(positionals: string[], command: string, usage: string): string {
  const [environment, ...extra] = positionals;
  if (environment === undefined || extra.length > 0)
    throw new UsageError(`${command} takes one environment\n\n${usage}`);
  return environment;
}

function report(result: PromoteResult, io: CommandIo): void {
  for (const warning of result.warnings) io.stderr.write(`slipway: warning: ${warning}\n`);
  io.stdout.write(
    result.changed
      ? `${result.environment}: ${result.from ?? "nothing"} -> ${result.to}\n`
      : `${result.environment} already serves ${result.to}\n`,
  );
}

export async function promoteCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values: flags, positionals } = parse(PROMOTE_USAGE, argv);
  if (flags.help) {
    io.stdout.write(`${PROMOTE_USAGE}\n`);
    return 0;
  }
  const environment = environmentArgument(positionals, "promote", PROMOTE_USAGE);
  if ((flags.version === undefined) === (flags.from === undefined))
    throw new UsageError(`promote needs --version or --from, one of them\n\n${PROMOTE_USAGE}`);
  const { planned, scope } = await plannedScope(flags, io);
  const kube = cliKube(flags, io);
  try {
    const result = await promote(
      {
        scope,
        config: planned.config,
        environment,
        ...(flags.version !== undefined ? { version: flags.version } : {}),
        ...(flags.from !== undefined ? { fromAlias: flags.from } : {}),
        by: cliUser(io.env),
        why: "promote",
        now: new Date(),
      },
      { kube },
    );
    report(result, io);
    return 0;
  } finally {
    kube.close();
  }
}

export async function rollbackCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values: flags, positionals } = parse(ROLLBACK_USAGE, argv);
  if (flags.help) {
    io.stdout.write(`${ROLLBACK_USAGE}\n`);
    return 0;
  }
  const environment = environmentArgument(positionals, "rollback", ROLLBACK_USAGE);
  const { planned, scope } = await plannedScope(flags, io);
  const kube = cliKube(flags, io);
  try {
    report(
      await rollback(
        { scope, config: planned.config, environment, by: cliUser(io.env), now: new Date() },
        { kube },
      ),
      io,
    );
    return 0;
  } finally {
    kube.close();
  }
}

export async function statusCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values: flags, positionals } = parse(STATUS_USAGE, argv);
  if (flags.help) {
    io.stdout.write(`${STATUS_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`status takes no arguments\n\n${STATUS_USAGE}`);
  const { planned, scope } = await plannedScope(flags, io);
  const kube = cliKube(flags, io);
  try {
    const result = await status({ scope, config: planned.config }, { kube });
    for (const warning of result.warnings) io.stderr.write(`slipway: warning: ${warning}\n`);
    io.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result));
    return 0;
  } finally {
    kube.close();
  }
}

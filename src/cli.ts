// `slipway <command>`: the same use cases as the Action, for terminals and other CI systems.
// The one place (with main.ts) that turns errors into exit codes.
import { buildCommand } from "./commands/build.js";
import { housekeepingCommand, teardownCommand } from "./commands/cleanup.js";
import { deployCommand } from "./commands/deploy.js";
import type { CommandIo } from "./commands/io.js";
import { manifestsCommand } from "./commands/manifests.js";
import { planCommand } from "./commands/plan.js";
import { promoteCommand, rollbackCommand, statusCommand } from "./commands/promote.js";
import { retireCommand, versionsCommand } from "./commands/versions.js";
import { formatProblem } from "./config/index.js";
import { describeError, EXIT, UsageError } from "./errors.js";

const USAGE = `Usage: slipway <command> [options]

Commands:
  plan       validate the config and print each endpoint's names and URLs
  build      build and push each endpoint's version image; print references with digests
  deploy     build, deploy to Kubernetes, wait until ready, point aliases; print the URLs
  versions   list the deployment's versions in the cluster, their state and aliases
  retire     delete a version (refused while an alias points at it, unless --force)
  promote    point an environment at a deployed version (--version, or --from an alias)
  rollback   point an environment back at the version it served before
  status     list the environments and previews, the versions they serve and their last moves
  manifests  print the Kubernetes objects a deploy applies (for review and GitOps)
  teardown   remove a pull request's preview: its alias and the versions only it used
  housekeeping  remove previews of closed pull requests or past their TTL, retire unused versions

Run 'slipway <command> --help' for a command's options.`;

type Command = (argv: string[], io: CommandIo) => Promise<number>;

const commands: Record<string, Command> = {
  plan: planCommand,
  build: buildCommand,
  deploy: deployCommand,
  versions: versionsCommand,
  retire: retireCommand,
  promote: promoteCommand,
  rollback: rollbackCommand,
  status: statusCommand,
  manifests: manifestsCommand,
  teardown: teardownCommand,
  housekeeping: housekeepingCommand,
};

export async function cli(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(`${USAGE}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command '${name}'\n\n${USAGE}`);
    return await command(rest, io);
  } catch (error) {
    const report = describeError(error);
    for (const problem of report.problems) io.stderr.write(`${formatProblem(problem)}\n`);
    io.stderr.write(`slipway: ${report.message}\n`);
    return report.exitCode;
  }
}

/** Entry point of the `slipway` binary (bin/slipway.js). */
export async function main(): Promise<void> {
  process.exitCode = await cli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}

// `slipway plan`: validates the config and prints what a deployment of this commit would create.
import { parseArgs } from "node:util";
import { planContext, planDeployment } from "../plan/plan.js";
import { planTable } from "../report/plan-table.js";
import { commandConfig, withUsage } from "./command-config.js";
import type { CommandIo } from "./io.js";
import { localContext } from "./local-context.js";

export const PLAN_USAGE = `Usage: slipway plan [--config <file>] [--json] [--repo owner/name] [--commit <sha>]
                   [--pr <number>] [--environment <name>] [--version <name>]
                   [--base-url <url>] [--registry <prefix>] [--namespace <name>]

Validates the config and prints each endpoint's names and URLs for this commit.
Problems are printed as <file>:<line>:<column>: <message>.`;

function parse(argv: string[]) {
  return withUsage(
    PLAN_USAGE,
    () =>
      parseArgs({
        args: argv,
        allowPositionals: false,
        options: {
          config: { type: "string", default: "valohai.yaml" },
          json: { type: "boolean", default: false },
          repo: { type: "string" },
          commit: { type: "string" },
          pr: { type: "string" },
          environment: { type: "string" },
          version: { type: "string" },
          "base-url": { type: "string" },
          registry: { type: "string" },
          namespace: { type: "string" },
          help: { type: "boolean", short: "h", default: false },
        },
      }).values,
  );
}

export async function planCommand(argv: string[], io: CommandIo): Promise<number> {
  const flags = parse(argv);
  if (flags.help) {
    io.stdout.write(`${PLAN_USAGE}\n`);
    return 0;
  }
  const { config, repoRoot } = await commandConfig(flags.config, io);
  const run = await localContext(flags, io.env, repoRoot);
  const plan = planDeployment(config, planContext(run, { ...flags, baseUrl: flags["base-url"] }));
  io.stdout.write(flags.json ? `${JSON.stringify(plan, null, 2)}\n` : planTable(plan));
  return 0;
}

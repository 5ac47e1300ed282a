// `slipway plan`: validates the config and prints what a deployment of this commit would create.
import { parseArgs } from "node:util";
import { planVersion } from "../flows/plan.js";
import { planTable } from "../report/plan-table.js";
import type { CommandIo } from "./io.js";
import { PLAN_FLAGS, planRequest, printWarnings, withUsage } from "./plan-request.js";

export const PLAN_USAGE = `Usage: slipway plan [--config <file>] [--json] [--repo owner/name] [--commit <sha>]
                   [--pr <number>] [--environment <name>] [--version <name>]
                   [--base-url <url>] [--registry <prefix>] [--namespace <name>]

Validates the config and prints each endpoint's names and URLs for this commit.
Outside a GitHub checkout it plans with stand-in names and says so.
Problems are printed as <file>:<line>:<column>: <message>.`;

function parse(argv: string[]) {
  return withUsage(
    PLAN_USAGE,
    () =>
      parseArgs({
        args: argv,
        allowPositionals: false,
        options: {
          ...PLAN_FLAGS,
          json: { type: "boolean", default: false },
          pr: { type: "string" },
          environment: { type: "string" },
          "base-url": { type: "string" },
          namespace: { type: "string" },
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
  const planned = await planVersion(await planRequest(flags, io));
  printWarnings(planned, io);
  io.stdout.write(flags.json ? `${JSON.stringify(planned.plan, null, 2)}\n` : planTable(planned.plan));
  return 0;
}

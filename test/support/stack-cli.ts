// Command line for the test stack (see stack.ts):
//   up      bring it up (or find it up) and print its coordinates
//   down    remove its containers and stop its daemons
//   env     print `export NAME='value'` lines for a running stack: eval "$(... env)"
//   status  print the running stack as JSON; exit 1 when it is not running
// Run with: node --import tsx test/support/stack-cli.ts <command>

import { ensureStack, readStack, type Stack, stackDir, stackEnv, stopStack } from "./stack.js";

function exportLines(stack: Stack): string {
  const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;
  return Object.entries(stackEnv(stack))
    .map(([name, value]) => `export ${name}=${quote(value)}\n`)
    .join("");
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case "up": {
      const started = Date.now();
      const stack = await ensureStack();
      process.stderr.write(`[stack] up in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
      process.stdout.write(exportLines(stack));
      return 0;
    }
    case "down":
      await stopStack();
      return 0;
    case "env":
    case "status": {
      const stack = await readStack();
      if (!stack) {
        process.stderr.write(`[stack] no running stack in ${stackDir()}\n`);
        return 1;
      }
      process.stdout.write(command === "env" ? exportLines(stack) : `${JSON.stringify(stack, null, 2)}\n`);
      return 0;
    }
    default:
      process.stderr.write("usage: stack-cli.ts up|down|env|status\n");
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`[stack] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

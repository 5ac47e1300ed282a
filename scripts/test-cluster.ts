// `npm run test-cluster -- --kubeconfig <file>`: runs the local test cluster in the foreground for manual
// work with kubectl and the Slipway CLI. Starts the stack if needed, writes the kubeconfig, prints
// `registry: <host:port>` and `gateway: http://127.0.0.1:<port>` once ready, and on SIGINT/SIGTERM removes
// every container it started and exits. The stack itself (dockerd, registry) stays up for the next run.

import { parseArgs } from "node:util";
import { startTestCluster } from "../test/cluster/cluster.js";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { kubeconfig: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help || values.kubeconfig === undefined) {
    process.stderr.write("usage: npm run test-cluster -- --kubeconfig <file>\n");
    return values.help ? 0 : 2;
  }
  const cluster = await startTestCluster({ kubeconfigPath: values.kubeconfig });
  process.stdout.write(
    `kubeconfig: ${cluster.kubeconfigPath}\napi: ${cluster.apiUrl}\nregistry: ${cluster.registry}\ngateway: ${cluster.gatewayUrl}\n`,
  );
  process.stderr.write(
    `[test-cluster] routes attach to Gateway ${cluster.gateway.namespace}/${cluster.gateway.name}; Ctrl-C stops\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  process.stderr.write(`[test-cluster] ${signal}: removing containers\n`);
  await cluster.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`[test-cluster] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

// The sample repository made deployable on the local test cluster: its base image is the stack's
// python image, its images go to the stack's registry, its URLs start at the test gateway, and its
// routes attach to the test cluster's Gateway. Everything else is the fixture as users see it.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestCluster } from "../cluster/cluster.js";

const root = new URL("../../", import.meta.url).pathname;

export interface SampleRepo {
  dir: string;
  config: string;
}

/** A copy of fixtures/sample-repo, with `edit` applied to its valohai.yaml after the rewiring. */
export function sampleRepoFor(cluster: TestCluster, edit: (config: string) => string = (c) => c): SampleRepo {
  const dir = mkdtempSync(join(tmpdir(), "slipway-sample-"));
  cpSync(join(root, "fixtures/sample-repo"), dir, { recursive: true });
  const config = join(dir, "valohai.yaml");
  const text = readFileSync(config, "utf8")
    .replaceAll("ghcr.io/acme/python-gunicorn:3.11", cluster.stack.pythonImage)
    .replace("registry: ghcr.io/acme/mnist", `registry: ${cluster.registry}/acme/mnist`)
    .replace("base-url: https://ml.example.com", `base-url: ${cluster.gatewayUrl}`)
    .replace(
      "    namespace: ml-previews\n",
      `    namespace: ml-previews\n    router:\n      kind: gateway-api\n      gateway: { name: ${cluster.gateway.name}, namespace: ${cluster.gateway.namespace} }\n`,
    );
  writeFileSync(config, edit(text));
  return { dir, config };
}

/** The sample config without one of its endpoints: tests that need only one start half the pods. */
export function withoutEndpoint(config: string, name: "predict-digits" | "health-check"): string {
  const entry = new RegExp(`- endpoint:\\n {4}name: ${name}\\n(?: {4}.*\\n)*`);
  const out = config.replace(entry, "");
  if (out === config) throw new Error(`the sample config has no endpoint ${name}`);
  return out;
}

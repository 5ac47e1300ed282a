// Inputs the deploy tests share: fixtures/sample-repo's config planned for a pull request, fixed
// digests, author, time and record uid, and helpers to change one endpoint's runtime settings.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { DEFAULT_RUNTIME } from "../../src/config/defaults.js";
import { parseConfig } from "../../src/config/parse.js";
import type { Endpoint, RuntimeSettings, SlipwayConfig } from "../../src/config/types.js";
import type { KubeObject, VersionInput } from "../../src/deploy/index.js";
import { type Plan, planDeployment } from "../../src/plan/plan.js";

export function parse(yaml: string, file = "valohai.yaml"): SlipwayConfig {
  const r = parseConfig(yaml, file);
  if (!r.config) throw new Error(r.problems.map((p) => p.message).join("\n"));
  return r.config;
}

export const sampleConfig = parse(
  readFileSync(new URL("../../fixtures/sample-repo/valohai.yaml", import.meta.url), "utf8"),
);
export const COMMIT = "3f2a9c1d0b7e55aa12ff00112233445566778899";
export const RECORD_UID = "6f0c2a8e-3b1d-4c5e-9f7a-1d2e3f4a5b6c";
export const DEPLOYED_AT = new Date("2024-05-06T07:08:09Z");

export function planFor(config: SlipwayConfig, extra: { version?: string; pullRequest?: number } = {}): Plan {
  return planDeployment(config, { owner: "acme", repo: "mnist", commit: COMMIT, pullRequest: 42, ...extra });
}

export function digestFor(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}

export function imagesFor(plan: Plan): Record<string, string> {
  return Object.fromEntries(
    plan.endpoints.map((e) => [e.name, `${e.imageRepository}@${digestFor(`${e.name}@${plan.version}`)}`]),
  );
}

export function inputFor(config: SlipwayConfig, extra: Partial<VersionInput> = {}): VersionInput {
  const plan = extra.plan ?? planFor(config);
  return {
    plan,
    config,
    images: imagesFor(plan),
    deployedBy: "octocat",
    deployedAt: DEPLOYED_AT,
    recordUid: RECORD_UID,
    ...extra,
  };
}

/** The config with one endpoint's runtime settings changed (others keep the deployment's). */
export function withRuntime(
  config: SlipwayConfig,
  endpoint: string,
  change: Partial<RuntimeSettings>,
): SlipwayConfig {
  const runtime = { ...DEFAULT_RUNTIME, ...config.deployment.runtime, ...change };
  return {
    ...config,
    deployment: {
      ...config.deployment,
      endpointRuntime: { ...config.deployment.endpointRuntime, [endpoint]: runtime },
    },
  };
}

/** The config with one endpoint changed. */
export function withEndpoint(config: SlipwayConfig, name: string, change: Partial<Endpoint>): SlipwayConfig {
  return { ...config, endpoints: config.endpoints.map((e) => (e.name === name ? { ...e, ...change } : e)) };
}

/** Validates an object with the Kubernetes (kubernetes-models) or Gateway API schema of its kind. */
export function validate(object: KubeObject): void {
  switch (object.kind) {
    case "ConfigMap":
      new ConfigMap(object).validate();
      break;
    case "Secret":
      new Secret(object).validate();
      break;
    case "Deployment":
      new Deployment(object).validate();
      break;
    case "Service":
      new Service(object).validate();
      break;
    case "HTTPRoute":
      new HTTPRoute(object).validate();
      break;
  }
}

export function ofKind<K extends KubeObject["kind"]>(objects: readonly KubeObject[], kind: K) {
  return objects.filter((o): o is Extract<KubeObject, { kind: K }> => o.kind === kind);
}

// Valohai's `deployment` entry with Slipway's settings → DeploymentSettings: the schema first, then
// one rule per setting the schema cannot fully check (canary, previews, environments, Dockerfile).
import { posix } from "node:path";
import { isRecord } from "../util/record.js";
import { canaryFrom, canaryWindowRule } from "./canary.js";
import {
  DEFAULT_BUILDER,
  DEFAULT_CANARY,
  DEFAULT_DEPLOYMENT_NAME,
  DEFAULT_ROUTER_KIND,
  DEFAULT_RUNTIME,
} from "./defaults.js";
import { readEnvironments } from "./environments.js";
import { previewFrom } from "./preview.js";
import type { EntryScope } from "./problems.js";
import { validateEntry } from "./schema.js";
import type { DeploymentSettings } from "./types.js";

type Raw = Record<string, unknown>;

export function deploymentSubject(value: Raw): string {
  return typeof value.name === "string" ? `deployment '${value.name}'` : "deployment";
}

export function readDeployment(scope: EntryScope, value: Raw): DeploymentSettings | undefined {
  const before = scope.errorCount;
  scope.schema(validateEntry("deployment", value, () => false));

  const canary = canaryFrom(value.canary, DEFAULT_CANARY);
  if (isRecord(value.canary)) canaryWindowRule(scope, canary, ["canary"]);
  const preview = previewFrom(value);
  const environments = readEnvironments(scope, value, canary, preview.alias);
  dockerfileRule(scope, value);

  if (scope.errorCount > before) return undefined;
  const settings: DeploymentSettings = {
    name: typeof value.name === "string" ? value.name : DEFAULT_DEPLOYMENT_NAME,
    builder: value.builder === "docker" ? "docker" : DEFAULT_BUILDER,
    router: routerFrom(value.router),
    preview,
    environments,
    canary,
    runtime: DEFAULT_RUNTIME,
    endpointRuntime: {},
    location: scope.location(),
  };
  if (isRecord(value.defaults) && typeof value.defaults.target === "string") {
    settings.target = value.defaults.target;
  }
  if (typeof value["base-url"] === "string") settings.baseUrl = value["base-url"].replace(/\/+$/, "");
  if (typeof value.namespace === "string") settings.namespace = value.namespace;
  if (typeof value.registry === "string") settings.registry = value.registry.replace(/\/+$/, "");
  if (typeof value.dockerfile === "string") settings.dockerfile = posix.normalize(value.dockerfile);
  return settings;
}

/** The Dockerfile lies inside the repository and is used only by the docker builder. */
function dockerfileRule(scope: EntryScope, value: Raw): void {
  if (typeof value.dockerfile !== "string") return;
  const normal = posix.normalize(value.dockerfile.replace(/\\/g, "/"));
  if (value.dockerfile.startsWith("/") || normal === ".." || normal.startsWith("../")) {
    scope.at(["dockerfile"], `dockerfile '${value.dockerfile}' must be a path inside the repository`);
  } else if (value.builder !== "docker") {
    scope.at(["dockerfile"], "'dockerfile' is used by the docker builder only: add 'builder: docker'", true);
  }
}

/** `router: ingress`, or the mapping form with the Gateway the routes attach to. */
function routerFrom(router: unknown): DeploymentSettings["router"] {
  if (!isRecord(router)) return { kind: router === "ingress" ? "ingress" : DEFAULT_ROUTER_KIND };
  const out: DeploymentSettings["router"] = {
    kind: router.kind === "ingress" ? "ingress" : DEFAULT_ROUTER_KIND,
  };
  if (isRecord(router.gateway)) {
    out.gateway = { name: String(router.gateway.name) };
    if (typeof router.gateway.namespace === "string") out.gateway.namespace = router.gateway.namespace;
  }
  return out;
}

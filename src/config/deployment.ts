// Valohai's `deployment` entry with Slipway's settings → DeploymentSettings: the schema first, then
// one rule per setting the schema cannot fully check (canary, previews, environments, Dockerfile).
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
import { previewAliasRule, previewFrom } from "./preview.js";
import type { EntryScope } from "./problems.js";
import { quote } from "./quote.js";
import { repoPath } from "./repo-path.js";
import { type SchemaIssue, validateEntry } from "./schema.js";
import type { DeploymentSettings } from "./types.js";

type Raw = Record<string, unknown>;

export function deploymentSubject(value: Raw): string {
  return typeof value.name === "string" ? `deployment ${quote(value.name)}` : "deployment";
}

export function readDeployment(scope: EntryScope, value: Raw): DeploymentSettings | undefined {
  const before = scope.errorCount;
  // The alias pattern's rule below says more than the schema's regular expression can.
  const aliasIsText = isRecord(value.preview) && typeof value.preview.alias === "string";
  const aliasIssue = (i: SchemaIssue) =>
    aliasIsText && i.path.length === 2 && i.path[0] === "preview" && i.path[1] === "alias";
  scope.schema(validateEntry("deployment", value, () => false).filter((i) => !aliasIssue(i)));
  previewAliasRule(scope, value);

  const canary = canaryFrom(value.canary, DEFAULT_CANARY);
  if (isRecord(value.canary)) canaryWindowRule(scope, canary, ["canary"]);
  const preview = previewFrom(value);
  const environments = readEnvironments(scope, value, canary, preview.alias);
  const dockerfile = dockerfileRule(scope, value);

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
  if (dockerfile !== undefined) settings.dockerfile = dockerfile;
  return settings;
}

/** The Dockerfile lies inside the repository, outside .git, and is used only by the docker builder. */
function dockerfileRule(scope: EntryScope, value: Raw): string | undefined {
  if (typeof value.dockerfile !== "string") return undefined;
  const path = repoPath(value.dockerfile);
  if (!path.ok) {
    const problem =
      path.reason === "git"
        ? "is inside .git, where git keeps the checkout's credentials"
        : path.reason === "directory"
          ? "names a directory; name the Dockerfile itself"
          : "must be a path inside the repository";
    scope.at(["dockerfile"], `dockerfile ${quote(value.dockerfile)} ${problem}`);
    return undefined;
  }
  if (value.builder !== "docker") {
    scope.at(["dockerfile"], "'dockerfile' is used by the docker builder only: add 'builder: docker'", true);
  }
  return path.path;
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

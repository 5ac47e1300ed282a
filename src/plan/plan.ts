// The plan: from a valid config and where the run stands (repository, commit, pull request,
// target environment) to every name and URL a deployment version will have. Pure.
import type { DeploymentSettings, Endpoint, SlipwayConfig } from "../config/types.js";
import { dnsLabel, labelValue } from "./names.js";

export interface PlanContext {
  owner: string;
  repo: string;
  /** Full commit SHA the version is built from. */
  commit: string;
  pullRequest?: number;
  /** An environment (alias) from the config that this run moves to the version. */
  environment?: string;
  /** More environments this run moves (a push to a branch several environments promote on). */
  environments?: readonly string[];
  /** An alias to point at the version once it is ready (an environment's name, or any alias name). */
  alias?: string;
  /** Overrides the version name (otherwise the commit's first 12 hex digits). */
  version?: string;
  /** Overrides the config's base-url. */
  baseUrl?: string;
  /** Overrides the config's registry prefix. */
  registry?: string;
  /** Overrides the config's namespace. */
  namespace?: string;
}

const OVERRIDES = ["environment", "alias", "version", "baseUrl", "registry", "namespace"] as const;
export type PlanOverrides = { [K in (typeof OVERRIDES)[number]]?: string | undefined };

/** The run's context with what a flag or input overrides; unset overrides leave the config's value. */
export function planContext(run: PlanContext, overrides: PlanOverrides): PlanContext {
  const context: PlanContext = { ...run };
  for (const key of OVERRIDES) {
    const value = overrides[key];
    if (value !== undefined) context[key] = value;
  }
  return context;
}

export interface PlannedAlias {
  name: string;
  /** `alias`: named on the command line (`deploy --alias`), outside the config's environments. */
  kind: "preview" | "environment" | "alias";
  path: string;
  url?: string;
}

export interface PlannedEndpoint {
  name: string;
  /** Name of the Deployment and Service for this version of this endpoint. */
  resourceName: string;
  /** Where the version image goes (without tag or digest). */
  imageRepository: string;
  /** The user's base image. */
  baseImage: string;
  port: number;
  /** `SCRIPT_NAME` the app sees: its version path. */
  scriptName: string;
  path: string;
  url?: string;
  aliases: PlannedAlias[];
  labels: Record<string, string>;
}

export interface Plan {
  owner: string;
  project: string;
  deployment: string;
  version: string;
  commit: string;
  /** The pull request the version is previewed for, if any. */
  pullRequest?: number;
  namespace: string;
  baseUrl?: string;
  /** `/<owner>/<project>/<deployment>/<version>` */
  versionPath: string;
  aliases: PlannedAlias[];
  endpoints: PlannedEndpoint[];
  labels: Record<string, string>;
}

export class PlanError extends Error {
  override readonly name = "PlanError";
}

export const LABEL_PREFIX = "slipway.dev";
export const DEFAULT_NAMESPACE = "slipway";
export const DEFAULT_REGISTRY_HOST = "ghcr.io";
const VERSION_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ALIAS_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** URL path segment for a GitHub owner or repository: GitHub names are case-insensitive. */
function segment(name: string): string {
  return encodeURIComponent(name.toLowerCase());
}

/** A name a version may have: also what readers of cluster state accept as one. */
export function isVersionName(name: string): boolean {
  return name.length <= 40 && VERSION_PATTERN.test(name);
}

export function versionName(context: Pick<PlanContext, "commit" | "version">): string {
  if (context.version !== undefined) {
    if (!isVersionName(context.version)) {
      throw new PlanError(
        `version '${context.version}' is invalid: use at most 40 lowercase letters, digits and dashes, starting and ending with a letter or digit`,
      );
    }
    return context.version;
  }
  if (!/^[0-9a-f]{7,64}$/i.test(context.commit)) {
    throw new PlanError(
      `commit '${context.commit}' is not a hexadecimal commit SHA; pass a version name instead`,
    );
  }
  return context.commit.slice(0, 12).toLowerCase();
}

export function previewAlias(deployment: DeploymentSettings, pullRequest: number): string {
  return deployment.preview.alias.replace("{number}", String(pullRequest));
}

function aliasesFor(config: SlipwayConfig, context: PlanContext): Array<Omit<PlannedAlias, "path" | "url">> {
  const aliases: Array<Omit<PlannedAlias, "path" | "url">> = [];
  if (context.pullRequest !== undefined && config.deployment.preview.enabled) {
    if (!Number.isInteger(context.pullRequest) || context.pullRequest < 1) {
      throw new PlanError(`pull request number ${context.pullRequest} is invalid`);
    }
    aliases.push({ name: previewAlias(config.deployment, context.pullRequest), kind: "preview" });
  }
  const environments = [
    ...(context.environment !== undefined ? [context.environment] : []),
    ...(context.environments ?? []),
  ];
  for (const environment of new Set(environments)) {
    const known = config.deployment.environments.map((e) => e.name);
    if (!known.includes(environment)) {
      const list =
        known.length > 0 ? `: known environments are ${known.join(", ")}` : ": the config defines none";
      throw new PlanError(`environment '${environment}' is not in the config${list}`);
    }
    aliases.push({ name: environment, kind: "environment" });
  }
  const alias = context.alias;
  if (alias !== undefined && !aliases.some((a) => a.name === alias)) {
    if (!ALIAS_PATTERN.test(alias) || alias.length > 40) {
      throw new PlanError(
        `alias '${alias}' is invalid: use at most 40 lowercase letters, digits and dashes, starting with a letter`,
      );
    }
    // An alias stands where a version stands in URLs: one shaped like a commit could shadow a version.
    if (/^[0-9a-f]{7,40}$/.test(alias)) {
      throw new PlanError(
        `alias '${alias}' looks like a version name (hexadecimal, like a commit): choose another`,
      );
    }
    const environment = config.deployment.environments.some((e) => e.name === alias);
    aliases.push({ name: alias, kind: environment ? "environment" : "alias" });
  }
  return aliases;
}

function imageRepository(config: SlipwayConfig, context: PlanContext, endpoint: Endpoint): string {
  const prefix =
    context.registry ??
    config.deployment.registry ??
    `${DEFAULT_REGISTRY_HOST}/${context.owner}/${context.repo}`;
  return `${prefix}/${endpoint.name}`.toLowerCase();
}

/** `/<owner>/<project>/<deployment>`: where the deployment's versions and aliases sit in URLs. */
export function projectPath(owner: string, project: string, deployment: string): string {
  return `/${segment(owner)}/${segment(project)}/${deployment}`;
}

/** The labels every object of the deployment carries (a version's add `slipway.dev/version`). */
export function deploymentLabels(owner: string, project: string, deployment: string): Record<string, string> {
  return {
    "app.kubernetes.io/managed-by": "slipway",
    [`${LABEL_PREFIX}/owner`]: labelValue(owner.toLowerCase()),
    [`${LABEL_PREFIX}/project`]: labelValue(project.toLowerCase()),
    [`${LABEL_PREFIX}/deployment`]: labelValue(deployment),
  };
}

export function planDeployment(config: SlipwayConfig, context: PlanContext): Plan {
  if (!context.owner || !context.repo) throw new PlanError("the repository owner and name are required");
  const deployment = config.deployment.name;
  const version = versionName(context);
  const baseUrl = (context.baseUrl ?? config.deployment.baseUrl)?.replace(/\/+$/, "");
  const base = projectPath(context.owner, context.repo, deployment);
  const versionPath = `${base}/${version}`;
  const aliases = aliasesFor(config, context);
  const at = (path: string) => (baseUrl === undefined ? {} : { url: `${baseUrl}${path}` });
  const commonLabels = {
    ...deploymentLabels(context.owner, context.repo, deployment),
    [`${LABEL_PREFIX}/version`]: labelValue(version),
  };

  const plan: Plan = {
    owner: context.owner,
    project: context.repo,
    deployment,
    version,
    commit: context.commit,
    namespace: context.namespace ?? config.deployment.namespace ?? DEFAULT_NAMESPACE,
    versionPath,
    aliases: aliases.map((a) => ({
      ...a,
      path: `${base}/${a.name}`,
      ...at(`${base}/${a.name}`),
    })),
    labels: commonLabels,
    endpoints: config.endpoints.map((endpoint) => {
      const path = `${versionPath}/${endpoint.name}`;
      return {
        name: endpoint.name,
        resourceName: dnsLabel(deployment, version, endpoint.name),
        imageRepository: imageRepository(config, context, endpoint),
        baseImage: endpoint.image,
        port: endpoint.port,
        scriptName: path,
        path,
        ...at(path),
        aliases: aliases.map((a) => {
          const aliasPath = `${base}/${a.name}/${endpoint.name}`;
          return { ...a, path: aliasPath, ...at(aliasPath) };
        }),
        labels: { ...commonLabels, [`${LABEL_PREFIX}/endpoint`]: labelValue(endpoint.name) },
      };
    }),
  };
  if (baseUrl !== undefined) plan.baseUrl = baseUrl;
  if (context.pullRequest !== undefined && aliases.some((a) => a.kind === "preview"))
    plan.pullRequest = context.pullRequest;
  return plan;
}

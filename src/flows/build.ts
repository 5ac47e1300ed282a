// The build use case, as both edges run it: every endpoint of a planned version built from the
// checkout with the chosen builder and pushed. Before anything is read or sent it applies the trust
// rules of docs/security.md: a checkout with stand-in names is never published, credentials go only to
// registries the trusted side allowed, and the docker builder (which runs the checkout's own
// Dockerfile steps) runs for a pull request only with the workflow's consent.
import path from "node:path";
import type Docker from "dockerode";
import type { BuilderKind } from "../config/types.js";
import { NotAllowedError, UsageError } from "../errors.js";
import { commitTime } from "../git.js";
import { type BuildVersionInput, buildVersion, type VersionBuild } from "../image/build-version.js";
import type { BuildLog } from "../image/log.js";
import { type CredentialSource, parseImageName, type RegistryClient } from "../registry/index.js";
import type { PlannedVersion } from "./plan.js";

/** What the trusted side (workflow inputs, CLI flags) allows a checkout's config to choose. */
export interface BuildTrust {
  /**
   * Image repository prefixes the version images may be pushed to with the runner's credentials;
   * undefined when the operator trusts the checkout (the CLI on one's own checkout).
   */
  registries?: readonly string[];
  /** How a message names the setting that allows another registry, e.g. "the Action's `registry` input". */
  registriesAllowedBy?: string;
  /** Whether the config may choose the docker builder; false: only the trusted side may. */
  configMayChooseDocker: boolean;
  /** How a message names what allows the docker builder. */
  dockerAllowedBy?: string;
}

export interface BuildRequest {
  planned: PlannedVersion;
  /** The trusted side's builder; else the config's (subject to `trust`). */
  builder?: BuilderKind;
  /** Docker builder only: a Dockerfile relative to the checkout, instead of the config's or a generated one. */
  dockerfile?: string;
  /** Layer digests remembered between runs. */
  cacheDir: string;
  /** The repository's web URL, recorded in the image's source label. */
  sourceUrl: string;
  /** Seconds since the epoch for `created` when git cannot tell the commit's time (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  trust: BuildTrust;
  log: BuildLog;
}

export interface BuildClients {
  credentials: CredentialSource;
  /** Made only when the registry builder runs. */
  registry: () => RegistryClient;
  /** Made only when the docker builder runs. */
  docker: () => Promise<Docker>;
}

export type BuiltVersion = VersionBuild & { builder: BuilderKind };

function isUnder(repository: string, prefix: string): boolean {
  const p = prefix.toLowerCase().replace(/\/+$/, "");
  return repository === p || repository.startsWith(`${p}/`);
}

/** Throws NotAllowedError unless every image goes where the trusted side allowed. */
function checkRegistries(planned: PlannedVersion, trust: BuildTrust): void {
  if (trust.registries === undefined) return;
  for (const endpoint of planned.plan.endpoints) {
    if (trust.registries.some((prefix) => isUnder(endpoint.imageRepository, prefix))) continue;
    const where = planned.config.deployment.location;
    const at = where ? ` (${where.file}:${where.line}:${where.column})` : "";
    throw new NotAllowedError(
      `the config's registry sends endpoint '${endpoint.name}' to ${endpoint.imageRepository}${at}, which the workflow did not allow: ` +
        `credentials go only to registries the workflow names. To push there, set ${trust.registriesAllowedBy ?? "the registry"} to ${path.posix.dirname(endpoint.imageRepository)}`,
    );
  }
}

export async function buildImages(request: BuildRequest, clients: BuildClients): Promise<BuiltVersion> {
  const { planned, trust } = request;
  const { config, plan } = planned;
  if (planned.run.placeholder) {
    throw new UsageError(`nothing can be published from stand-in names: ${planned.run.placeholder}`);
  }
  checkRegistries(planned, trust);
  const builder = request.builder ?? config.deployment.builder;
  if (builder === "docker" && request.builder === undefined && !trust.configMayChooseDocker) {
    throw new NotAllowedError(
      `the config chooses the docker builder, which runs the checkout's own Dockerfile steps on the runner; for a pull request only the workflow may choose it: set ${trust.dockerAllowedBy ?? "the builder"} to docker`,
    );
  }
  const time =
    (await commitTime(planned.repoRoot, plan.commit)) ?? new Date((request.sourceDateEpoch ?? 0) * 1000);
  const input: BuildVersionInput = {
    repoRoot: planned.repoRoot,
    endpoints: plan.endpoints.map((p) => {
      const endpoint = config.endpoints.find((e) => e.name === p.name);
      if (endpoint === undefined) throw new Error(`plan names an unknown endpoint ${p.name}`);
      return { endpoint, imageRepository: p.imageRepository };
    }),
    tag: plan.version,
    source: { url: request.sourceUrl, revision: plan.commit, time },
    builder,
    log: request.log,
    cacheDir: request.cacheDir,
  };
  if (builder === "registry") {
    input.registry = clients.registry();
  } else {
    input.docker = await clients.docker();
    const dockerfile = request.dockerfile ?? config.deployment.dockerfile;
    if (dockerfile !== undefined) input.dockerfile = dockerfile;
    const first = plan.endpoints[0];
    const host = first ? parseImageName(first.imageRepository).registry : undefined;
    const creds = host ? clients.credentials.forRegistry(host) : undefined;
    if (host && creds?.username !== undefined && creds.password !== undefined) {
      input.dockerAuth = { username: creds.username, password: creds.password, serveraddress: host };
    }
  }
  return { ...(await buildVersion(input)), builder };
}

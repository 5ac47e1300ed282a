// What the CLI's cluster commands share: the Kubernetes access flags and the build step that gives a
// deploy its image digests (unchanged images are found in the registry, nothing is uploaded again).
import { userInfo } from "node:os";
import type { ParseArgsConfig } from "node:util";
import { dockerClient, kubeClient, registryClient, registryCredentials } from "../clients.js";
import type { BuilderKind } from "../config/types.js";
import { buildEnvironment } from "../environment.js";
import { UsageError } from "../errors.js";
import { type BuiltVersion, buildImages } from "../flows/build.js";
import type { PlannedVersion } from "../flows/plan.js";
import { lineLog } from "../image/log.js";
import type { KubeClient } from "../kube/index.js";
import { formatBytes } from "../report/format-bytes.js";
import type { CommandIo } from "./io.js";

export const KUBE_FLAGS = {
  kubeconfig: { type: "string" },
  context: { type: "string" },
} as const satisfies ParseArgsConfig["options"];

export const BUILD_FLAGS = {
  builder: { type: "string" },
  "cache-dir": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

export function cliKube(
  flags: { kubeconfig?: string | undefined; context?: string | undefined },
  io: CommandIo,
): KubeClient {
  return kubeClient({
    env: io.env,
    ...(flags.kubeconfig !== undefined ? { kubeconfigPath: flags.kubeconfig } : {}),
    ...(flags.context !== undefined ? { context: flags.context } : {}),
    log: (line) => io.stderr.write(`${line}\n`),
  });
}

export function builderKind(flag: string | undefined): BuilderKind | undefined {
  if (flag === undefined || flag === "registry" || flag === "docker") return flag;
  throw new UsageError(`--builder '${flag}' must be 'registry' or 'docker'`);
}

/** Builds (or finds built) every endpoint's image, logging to stderr. */
export async function cliBuild(
  planned: PlannedVersion,
  flags: { builder?: string | undefined; "cache-dir"?: string | undefined; dockerfile?: string | undefined },
  io: CommandIo,
): Promise<BuiltVersion> {
  const builder = builderKind(flags.builder);
  if (flags.dockerfile !== undefined && (builder ?? planned.config.deployment.builder) !== "docker") {
    throw new UsageError("--dockerfile applies to the docker builder only: add --builder docker");
  }
  const credentials = await registryCredentials(io.env);
  const build = await buildImages(
    {
      planned,
      ...(builder ? { builder } : {}),
      ...(flags.dockerfile !== undefined ? { dockerfile: flags.dockerfile } : {}),
      ...buildEnvironment(io.env, planned.plan, flags["cache-dir"]),
      // The person running the CLI chose this checkout: its config may name the registry and builder.
      trust: { configMayChooseDocker: true },
      log: lineLog((line) => io.stderr.write(`${line}\n`)),
    },
    { credentials, registry: () => registryClient({ credentials }), docker: () => dockerClient(io.env) },
  );
  io.stderr.write(
    `Built version ${planned.plan.version}: ${formatBytes(build.uploadedBytes)} uploaded (${build.builder} builder).\n`,
  );
  return build;
}

/** Who deploys from a terminal: $USER, else the account's name. */
export function cliUser(env: NodeJS.ProcessEnv): string {
  return env.GITHUB_ACTOR ?? env.USER ?? userInfo().username;
}

// The Action's settings turned into the use cases' requests and clients: the build's push target and
// credentials (only where the workflow allowed), the Kubernetes access, and the deploy's pull
// credential (never the job's GITHUB_TOKEN, which expires with the run), author and wait. Kept beside
// main.ts so the edge stays a list of steps.
import { join } from "node:path";
import * as core from "@actions/core";
import { dockerClient, type KubeAccess, registryClient, registryCredentials } from "./clients.js";
import { buildEnvironment } from "./environment.js";
import type { BuildClients, BuildRequest, BuiltVersion } from "./flows/build.js";
import type { DeployRequest } from "./flows/deploy.js";
import type { PlannedVersion } from "./flows/plan.js";
import { groupedLog } from "./image/log.js";
import type { Settings } from "./inputs.js";
import { DEFAULT_REGISTRY_HOST } from "./plan/plan.js";
import { parseImageName } from "./registry/index.js";

/**
 * The build request and clients: credentials and the push target are the workflow's choice — the
 * `registry` input, else the repository's own packages — and the password is bound to that host.
 */
export async function actionBuild(
  settings: Settings,
  planned: PlannedVersion,
  env: NodeJS.ProcessEnv,
): Promise<{ request: BuildRequest; clients: BuildClients; registryHost: string }> {
  const { plan } = planned;
  const allowed = (
    settings.registry ?? `${DEFAULT_REGISTRY_HOST}/${plan.owner}/${plan.project}`
  ).toLowerCase();
  const { registry: registryHost } = parseImageName(`${allowed}/endpoint`);
  const explicit =
    settings.registryPassword === undefined
      ? undefined
      : {
          registry: registryHost,
          credentials: {
            password: settings.registryPassword,
            ...(settings.registryUsername ? { username: settings.registryUsername } : {}),
          },
        };
  const credentials = await registryCredentials(env, explicit);
  const request: BuildRequest = {
    planned,
    ...(settings.builder ? { builder: settings.builder } : {}),
    ...buildEnvironment(env, plan, env.RUNNER_TEMP ? join(env.RUNNER_TEMP, "slipway-layers") : undefined),
    trust: {
      registries: [allowed],
      registriesAllowedBy: "the Action's `registry` input",
      configMayChooseDocker: planned.run.pullRequest === undefined,
      dockerAllowedBy: "the Action's `builder` input",
    },
    log: groupedLog(core),
  };
  const onSecret = (secret: string) => core.setSecret(secret);
  const clients: BuildClients = {
    credentials,
    registry: () => registryClient({ credentials, onSecret }),
    docker: () => dockerClient(env),
  };
  return { request, clients, registryHost };
}

export function kubeAccess(settings: Settings): Pick<KubeAccess, "kubeconfig" | "context"> {
  return {
    ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
    ...(settings.kubeContext ? { context: settings.kubeContext } : {}),
  };
}

/** A deploy's settings apart from the version and its images. */
export type DeploySettings = Omit<DeployRequest, "planned" | "images" | "aliasGuard" | "aliasAnnotations">;

/** `registryHost`: the registry the workflow allowed, where the version images are. */
export function actionDeploySettings(
  settings: Settings,
  planned: PlannedVersion,
  registryHost: string,
  env: NodeJS.ProcessEnv,
): DeploySettings {
  const request: DeploySettings = {
    deployedBy: env.GITHUB_ACTOR ?? "github-actions",
    log: (line) => core.info(line),
  };
  if (settings.timeoutSeconds !== undefined) request.timeoutSeconds = settings.timeoutSeconds;
  if (settings.secretValues) request.secretValues = settings.secretValues;
  if (settings.pullSecret) request.pull = { secret: settings.pullSecret };
  else if (settings.pullUsername !== undefined && settings.pullPassword !== undefined) {
    request.pull = {
      registry: registryHost,
      username: settings.pullUsername,
      password: settings.pullPassword,
    };
  } else if (registryHost === "ghcr.io" && !planned.config.deployment.runtime.imagePullSecret) {
    core.warning(
      "ghcr.io packages are private by default: give the cluster a long-lived read credential (pull-username and pull-password, or pull-secret), or make the packages public. The job's GITHUB_TOKEN is never used for pulls: it expires with the run.",
    );
  }
  return request;
}

export function actionDeployRequest(
  settings: Settings,
  planned: PlannedVersion,
  build: BuiltVersion,
  registryHost: string,
  env: NodeJS.ProcessEnv,
): DeployRequest {
  return {
    ...actionDeploySettings(settings, planned, registryHost, env),
    planned,
    images: Object.fromEntries(build.images.map((i) => [i.endpoint, i.reference])),
  };
}

// Every default of the config in one place: what a setting is when the file does not say.
import type {
  BuilderKind,
  CanarySettings,
  DeploymentSettings,
  PreviewSettings,
  PromotionTrigger,
  RouterKind,
  RuntimeSettings,
} from "./types.js";

/** Valohai's default endpoint port. */
export const DEFAULT_PORT = 8000;
/** gunicorn's default when `wsgi` names only the module. */
export const DEFAULT_WSGI_CALLABLE = "application";

export const DEFAULT_DEPLOYMENT_NAME = "default";
export const DEFAULT_BUILDER: BuilderKind = "registry";
export const DEFAULT_ROUTER_KIND: RouterKind = "gateway-api";
export const DEFAULT_CANARY: CanarySettings = { stages: 10, windowSeconds: 30 * 60, maxErrorRate: 0.01 };
export const DEFAULT_PREVIEW: PreviewSettings = {
  enabled: true,
  alias: "pr-{number}",
  ttlSeconds: 72 * 3600,
  replicas: 1,
};
export const DEFAULT_ENVIRONMENT_REPLICAS = 1;
/**
 * Versions no alias points at that housekeeping keeps per deployment, newest first: enough to roll
 * back a few deploys without a rebuild, few enough that idle Deployments do not pile up.
 */
export const DEFAULT_KEEP_VERSIONS = 5;
/** An environment without `promote-on` moves only on a `/promote` comment. */
export const DEFAULT_PROMOTE_ON: readonly PromotionTrigger[] = [{ kind: "command" }];

/**
 * How endpoints run unless the config says otherwise. Models load for minutes (15 min startup budget);
 * BentoCloud's 60 s request timeout; 30 s for in-flight predictions to finish; PyTorch's data loaders
 * need more shared memory than Docker's 64 MB.
 */
export const DEFAULT_RUNTIME: RuntimeSettings = {
  env: {},
  secrets: [],
  stripPrefix: false,
  startupTimeoutSeconds: 15 * 60,
  requestTimeoutSeconds: 60,
  drainSeconds: 30,
  shmSizeMB: 1024,
  replicas: 1,
  gpuToleration: true,
};

/** The deployment of a file without a `deployment` entry. */
export function defaultDeployment(): DeploymentSettings {
  return {
    name: DEFAULT_DEPLOYMENT_NAME,
    builder: DEFAULT_BUILDER,
    router: { kind: DEFAULT_ROUTER_KIND },
    preview: DEFAULT_PREVIEW,
    environments: [],
    canary: DEFAULT_CANARY,
    runtime: DEFAULT_RUNTIME,
    endpointRuntime: {},
  };
}

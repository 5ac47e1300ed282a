// The deploy stage's public face: a version and an alias as Kubernetes objects (pure rendering);
// applying and watching them belongs to the deploy flow and src/kube.

export {
  type AliasBackend,
  type AliasRouteInput,
  type AliasScope,
  ANNOTATION_BACKENDS,
  ANNOTATION_TARGET_VERSION,
  aliasOwner,
  aliasRoute,
  scopedAlias,
} from "./alias-route.js";
export { ManifestError } from "./errors.js";
export {
  type AliasOwner,
  aliasLabels,
  aliasRouteName,
  MANAGED_BY,
  selectorLabels,
  versionLabels,
  versionObjectName,
} from "./labels.js";
export { versionManifests, versionRecordFor, versionTarget } from "./manifests.js";
export {
  GUNICORN_TIMEOUT_MARGIN_SECONDS,
  gunicornArgs,
  LIVENESS_FAILURE_THRESHOLD,
  LIVENESS_PROBE_PERIOD_SECONDS,
  PRESTOP_SLEEP_SECONDS,
  PROBE_TIMEOUT_SECONDS,
  PROGRESS_MARGIN_SECONDS,
  progressDeadlineSeconds,
  READINESS_FAILURE_THRESHOLD,
  READINESS_PROBE_PERIOD_SECONDS,
  STARTUP_PROBE_PERIOD_SECONDS,
  startupBudgetSeconds,
  startupFailureThreshold,
  TERMINATION_MARGIN_SECONDS,
  terminationGracePeriodSeconds,
} from "./pod-timing.js";
export { type EndpointTarget, ownedBy, targetFromRecord, type VersionTarget } from "./record.js";
export { DEFAULT_GATEWAY_NAME, FORWARDED_PREFIX_HEADER, gatewayDuration } from "./routes.js";
export type {
  IConfigMap,
  IDeployment,
  IHTTPRoute,
  ISecret,
  IService,
  KubeObject,
  VersionInput,
} from "./types.js";
export { manifestsYaml } from "./yaml.js";

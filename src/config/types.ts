// The normalised, typed shape of a Slipway config: Valohai's `endpoint` entries plus
// Slipway's settings on the `deployment` entry. Everything downstream reads these types,
// never the raw YAML.

/** A place in a config file, 1-based like compilers report it. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface EndpointFile {
  name: string;
  /** Relative to the repository root, normalised (no `./`, no `..`), never inside `.git`. */
  path: string;
  description?: string;
  /** Where the entry's `path` is written; set by the parser, absent only in endpoints built by hand. */
  location?: SourceLocation;
}

/** Valohai's resource ranges: cpu in vCPUs, memory and ephemeral storage in MB. */
export interface ResourceRange {
  min?: number;
  max?: number;
}

export interface EndpointResources {
  cpu?: ResourceRange;
  memory?: ResourceRange;
  ephemeralStorage?: ResourceRange;
  /** Extended resources such as `nvidia.com/gpu: 1`. */
  devices?: Record<string, number>;
}

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "PreferNoSchedule" | "NoSchedule" | "NoExecute";
}

export type EndpointServer =
  | {
      kind: "command" /** As written: one shell string, or a list of shell strings run in order. */;
      command: string | string[];
    }
  | {
      kind: "wsgi";
      module: string /** `application` when not given, as gunicorn defaults. */;
      callable: string;
    };

export interface Endpoint {
  name: string;
  description?: string;
  image: string;
  port: number;
  server: EndpointServer;
  files: EndpointFile[];
  resources?: EndpointResources;
  /** Valohai's single `key=value` selector. */
  nodeSelector?: { key: string; value: string };
  tolerations: Toleration[];
  location: SourceLocation;
}

export type RouterKind = "gateway-api" | "ingress";
export type BuilderKind = "registry" | "docker";

/** What moves an environment's alias to a new version. */
export type PromotionTrigger =
  | { kind: "push"; branch: string }
  | { kind: "release"; tag: string }
  | { kind: "command" };

export interface CanarySettings {
  /** Evenly spaced traffic steps from 0 to 100 %. */
  stages: number;
  /** Seconds over which the stages are spread. */
  windowSeconds: number;
  /** Stop and roll back when the canary's error ratio exceeds this (0–1). */
  maxErrorRate: number;
}

export interface Environment {
  /** The alias name, e.g. `staging`; appears in URLs where a version would. */
  name: string;
  promoteOn: PromotionTrigger[];
  /** Environments a version must be live on before it may come here. */
  requires: string[];
  /** Undefined: the alias moves at once. */
  canary?: CanarySettings;
  replicas: number;
  location: SourceLocation;
}

export interface PreviewSettings {
  enabled: boolean;
  /** Alias pattern; `{number}` is the pull request number. */
  alias: string;
  ttlSeconds: number;
  replicas: number;
}

/** A Secret that exists in the cluster, read into the environment: one key as `env`, or every key. */
export type SecretReference =
  | { kind: "key"; env: string; secret: string; key: string }
  | { kind: "all"; secret: string };

/**
 * How an endpoint runs on Kubernetes, set on the deployment entry and per endpoint under its
 * `endpoints:` map (Valohai's endpoint entries stay exactly as Valohai defines them). Resolved: every
 * field has its value, defaults applied.
 */
export interface RuntimeSettings {
  /** Plain environment variables (name → value); shown in manifests, so never secrets. */
  env: Record<string, string>;
  /** Existing Kubernetes Secrets read into the environment. */
  secrets: SecretReference[];
  /** Rewrite the URL prefix away, for servers that do not understand SCRIPT_NAME. */
  stripPrefix: boolean;
  /** An HTTP path answering 2xx when the server is ready; else readiness is a TCP connect. */
  healthPath?: string;
  /** A Prometheus metrics path on the endpoint's port: adds the scrape annotations. */
  metricsPath?: string;
  /** Seconds a starting server (a loading model) may take before it must answer. */
  startupTimeoutSeconds: number;
  /** Seconds one request may take at the router (HTTPRoute timeouts.request). */
  requestTimeoutSeconds: number;
  /** Seconds in-flight requests get to finish when a pod stops, after the router stopped sending. */
  drainSeconds: number;
  /** /dev/shm size in MB (Valohai's memory unit), memory-backed. */
  shmSizeMB: number;
  /** Pods per version of the endpoint. */
  replicas: number;
  /** Add a `nvidia.com/gpu` NoSchedule toleration when the endpoint requests an NVIDIA GPU. */
  gpuToleration: boolean;
  /** An existing `kubernetes.io/dockerconfigjson` Secret for pulling version images. */
  imagePullSecret?: string;
}

export interface DeploymentSettings {
  name: string;
  /** Valohai's `defaults.target`, kept as read. */
  target?: string;
  baseUrl?: string;
  namespace?: string;
  /** Image repository prefix; endpoints go to `<registry>/<endpoint>`. */
  registry?: string;
  builder: BuilderKind;
  /** Docker builder only: the user's Dockerfile, relative to the repository root. */
  dockerfile?: string;
  router: { kind: RouterKind; gateway?: { name: string; namespace?: string } };
  preview: PreviewSettings;
  environments: Environment[];
  canary: CanarySettings;
  /** The deployment-wide runtime settings; `endpointRuntime` holds each endpoint's, overrides applied. */
  runtime: RuntimeSettings;
  /** Per endpoint name: the deployment's runtime settings with that endpoint's overrides. */
  endpointRuntime: Record<string, RuntimeSettings>;
  location?: SourceLocation;
}

export interface SlipwayConfig {
  file: string;
  deployment: DeploymentSettings;
  endpoints: Endpoint[];
}

export type Severity = "error" | "warning";

export interface ConfigProblem extends SourceLocation {
  severity: Severity;
  message: string;
  endLine?: number;
  endColumn?: number;
}

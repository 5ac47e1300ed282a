// An endpoint's Deployment for one version: the image by digest, its environment, resources and
// placement, probes that let a model load for minutes without being killed, a graceful stop, the
// /dev/shm ML frameworks need, and a rollout that never needs a second GPU. Pure.
//
// - Probes: the startup probe holds the startup budget (liveness and readiness wait for it);
//   readiness polls from the first second; liveness is a lenient TCP connect (pod-timing.ts).
// - Rollout: maxSurge 1 / maxUnavailable 0 keeps serving while a new pod starts. An endpoint with
//   devices gets maxSurge 0 / maxUnavailable 1 instead: a surge pod would wait for a free GPU that the
//   old pod holds, and the rollout would never finish.
// - enableServiceLinks: false: Docker-links variables for every Service in the namespace would pour
//   into the server's environment (and can collide with its own settings, e.g. `<NAME>_PORT`).
// - automountServiceAccountToken: false: an inference server has no business with the Kubernetes
//   API, and a token in a pod running user code is only a liability.
// - /dev/shm: memory-backed emptyDir (tmpfs) of shmSizeMB; what it holds counts as the container's
//   memory.

import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IProbe } from "kubernetes-models/v1/Probe";
import { dnsLabel } from "../plan/names.js";
import type { Plan } from "../plan/plan.js";
import { containerEnvironment } from "./env.js";
import { selectorLabels, versionLabels } from "./labels.js";
import {
  LIVENESS_FAILURE_THRESHOLD,
  LIVENESS_PROBE_PERIOD_SECONDS,
  PRESTOP_SLEEP_SECONDS,
  PROBE_TIMEOUT_SECONDS,
  progressDeadlineSeconds,
  READINESS_FAILURE_THRESHOLD,
  READINESS_PROBE_PERIOD_SECONDS,
  STARTUP_PROBE_PERIOD_SECONDS,
  startupFailureThreshold,
  terminationGracePeriodSeconds,
} from "./pod-timing.js";
import { megabytes, resourceRequirements, tolerationsFor, usesDevices } from "./resources.js";
import { scrapeAnnotations, servePath } from "./serve-path.js";
import { PORT_NAME } from "./service.js";
import type { EndpointParts } from "./types.js";

export const REVISION_HISTORY_LIMIT = 2;
const SHM_VOLUME = "dshm";

export interface DeploymentOptions {
  envSecretName?: string;
  imagePullSecret?: string;
  replicas?: number;
}

/** TCP on the named port, or GET of the health path where the router would send it. */
function check(parts: EndpointParts): Pick<IProbe, "httpGet" | "tcpSocket"> {
  const { planned, runtime } = parts;
  if (runtime.healthPath === undefined) return { tcpSocket: { port: PORT_NAME } };
  return { httpGet: { path: servePath(planned, runtime, runtime.healthPath), port: PORT_NAME } };
}

function probes(parts: EndpointParts): Pick<IContainer, "startupProbe" | "readinessProbe" | "livenessProbe"> {
  return {
    startupProbe: {
      ...check(parts),
      periodSeconds: STARTUP_PROBE_PERIOD_SECONDS,
      failureThreshold: startupFailureThreshold(parts.runtime),
      timeoutSeconds: PROBE_TIMEOUT_SECONDS,
    },
    readinessProbe: {
      ...check(parts),
      initialDelaySeconds: 0,
      periodSeconds: READINESS_PROBE_PERIOD_SECONDS,
      failureThreshold: READINESS_FAILURE_THRESHOLD,
      timeoutSeconds: PROBE_TIMEOUT_SECONDS,
    },
    livenessProbe: {
      tcpSocket: { port: PORT_NAME },
      periodSeconds: LIVENESS_PROBE_PERIOD_SECONDS,
      failureThreshold: LIVENESS_FAILURE_THRESHOLD,
      timeoutSeconds: PROBE_TIMEOUT_SECONDS,
    },
  };
}

function container(parts: EndpointParts, options: DeploymentOptions): IContainer {
  const { endpoint, planned, runtime } = parts;
  const { env, envFrom } = containerEnvironment({
    ...(runtime.stripPrefix ? {} : { scriptName: planned.scriptName }),
    server: endpoint.server,
    ...(endpoint.resources ? { resources: endpoint.resources } : {}),
    runtime,
    ...(options.envSecretName !== undefined ? { envSecretName: options.envSecretName } : {}),
  });
  const resources = resourceRequirements(endpoint.resources);
  return {
    name: dnsLabel(endpoint.name),
    image: parts.image,
    ports: [{ name: PORT_NAME, containerPort: planned.port, protocol: "TCP" }],
    env,
    ...(envFrom.length > 0 ? { envFrom } : {}),
    ...(resources ? { resources } : {}),
    ...probes(parts),
    lifecycle: { preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } },
    ...(runtime.shmSizeMB > 0 ? { volumeMounts: [{ name: SHM_VOLUME, mountPath: "/dev/shm" }] } : {}),
  };
}

function podSpec(parts: EndpointParts, options: DeploymentOptions): IPodSpec {
  const { endpoint, runtime } = parts;
  const pullSecrets = [...new Set([options.imagePullSecret, runtime.imagePullSecret])].filter(
    (name): name is string => name !== undefined,
  );
  const tolerations = tolerationsFor(endpoint.tolerations, endpoint.resources, runtime);
  return {
    enableServiceLinks: false,
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: terminationGracePeriodSeconds(runtime),
    ...(pullSecrets.length > 0 ? { imagePullSecrets: pullSecrets.map((name) => ({ name })) } : {}),
    ...(endpoint.nodeSelector
      ? { nodeSelector: { [endpoint.nodeSelector.key]: endpoint.nodeSelector.value } }
      : {}),
    ...(tolerations.length > 0 ? { tolerations } : {}),
    containers: [container(parts, options)],
    ...(runtime.shmSizeMB > 0
      ? {
          volumes: [
            { name: SHM_VOLUME, emptyDir: { medium: "Memory", sizeLimit: megabytes(runtime.shmSizeMB) } },
          ],
        }
      : {}),
  };
}

export function endpointDeployment(
  plan: Plan,
  parts: EndpointParts,
  options: DeploymentOptions = {},
): IDeployment {
  const { planned, runtime, endpoint } = parts;
  const labels = versionLabels(plan, "endpoint", planned);
  const annotations = scrapeAnnotations(planned, runtime);
  const noSurge = usesDevices(endpoint.resources);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: planned.resourceName, namespace: plan.namespace, labels },
    spec: {
      replicas: options.replicas ?? runtime.replicas,
      revisionHistoryLimit: REVISION_HISTORY_LIMIT,
      progressDeadlineSeconds: progressDeadlineSeconds(runtime),
      selector: { matchLabels: selectorLabels(planned) },
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: noSurge ? { maxSurge: 0, maxUnavailable: 1 } : { maxSurge: 1, maxUnavailable: 0 },
      },
      template: {
        metadata: { labels: { ...labels }, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
        spec: podSpec(parts, options),
      },
    },
  };
}

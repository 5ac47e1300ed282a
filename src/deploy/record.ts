// The version record: one ConfigMap per version saying what was deployed (commit, images by digest,
// who, when, from which config file) and owning every other object of the version through
// ownerReferences, so deleting it deletes the version. Its `endpoints` entry is also what an alias
// route needs to point at the version later, read back by `targetFromRecord`. Never holds a secret
// value: only the managed Secret's name. Pure.

import type { RuntimeSettings, SlipwayConfig } from "../config/types.js";
import type { Plan } from "../plan/plan.js";
import { ManifestError } from "./errors.js";
import { pullRequestLabel, versionLabels, versionObjectName } from "./labels.js";
import type { EndpointParts, IConfigMap } from "./types.js";

type OwnerReference = NonNullable<NonNullable<IConfigMap["metadata"]>["ownerReferences"]>[number];

/** Where one endpoint of a version is served: what a route needs to send it traffic. */
export interface EndpointTarget {
  endpoint: string;
  /** The version's Service for the endpoint, and its port. */
  service: string;
  port: number;
  /** The endpoint's version path (its SCRIPT_NAME). */
  path: string;
  stripPrefix: boolean;
  requestTimeoutSeconds: number;
  /** `<repository>@sha256:…` */
  image: string;
}

export interface VersionTarget {
  version: string;
  endpoints: EndpointTarget[];
}

export function runtimeFor(config: SlipwayConfig, endpoint: string): RuntimeSettings {
  return config.deployment.endpointRuntime[endpoint] ?? config.deployment.runtime;
}

export function endpointTarget(parts: EndpointParts): EndpointTarget {
  return {
    endpoint: parts.planned.name,
    service: parts.planned.resourceName,
    port: parts.planned.port,
    path: parts.planned.path,
    stripPrefix: parts.runtime.stripPrefix,
    requestTimeoutSeconds: parts.runtime.requestTimeoutSeconds,
    image: parts.image,
  };
}

export interface RecordInput {
  plan: Plan;
  config: SlipwayConfig;
  endpoints: readonly EndpointParts[];
  deployedBy: string;
  deployedAt: Date;
  envSecretName?: string;
}

export function versionRecord(input: RecordInput): IConfigMap {
  const { plan } = input;
  const data: Record<string, string> = {
    repository: `${plan.owner}/${plan.project}`,
    deployment: plan.deployment,
    version: plan.version,
    commit: plan.commit,
    "config-file": input.config.file,
    "deployed-by": input.deployedBy,
    "deployed-at": input.deployedAt.toISOString(),
    endpoints: `${JSON.stringify(input.endpoints.map(endpointTarget), null, 2)}\n`,
  };
  if (input.envSecretName !== undefined) data["env-secret"] = input.envSecretName;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: versionObjectName(plan),
      namespace: plan.namespace,
      labels: { ...versionLabels(plan, "version-record"), ...pullRequestLabel(plan) },
    },
    data,
  };
}

/**
 * Owned by the record. blockOwnerDeletion makes a foreground delete of the record wait until this
 * object is gone, so "version deleted" means its pods are gone too; setting it needs `delete` on
 * ConfigMaps (and, where OwnerReferencesPermissionEnforcement runs, update on configmaps/finalizers).
 */
export function ownedBy(plan: Plan, uid: string): OwnerReference[] {
  return [
    { apiVersion: "v1", kind: "ConfigMap", name: versionObjectName(plan), uid, blockOwnerDeletion: true },
  ];
}

function isTarget(value: unknown): value is EndpointTarget {
  if (typeof value !== "object" || value === null) return false;
  const t = value as Record<string, unknown>;
  return (
    typeof t.endpoint === "string" &&
    typeof t.service === "string" &&
    typeof t.path === "string" &&
    typeof t.image === "string" &&
    typeof t.stripPrefix === "boolean" &&
    Number.isInteger(t.port) &&
    typeof t.requestTimeoutSeconds === "number"
  );
}

/** A version's targets read back from its record (as the cluster returns it). */
export function targetFromRecord(record: Pick<IConfigMap, "data" | "metadata">): VersionTarget {
  const name = record.metadata?.name ?? "version record";
  const version = record.data?.version;
  const text = record.data?.endpoints;
  if (version === undefined || text === undefined) {
    throw new ManifestError(`${name} is not a Slipway version record: it has no version or endpoints`);
  }
  let endpoints: unknown;
  try {
    endpoints = JSON.parse(text);
  } catch {
    throw new ManifestError(`${name}: its endpoints entry is not JSON`);
  }
  if (!Array.isArray(endpoints) || !endpoints.every(isTarget)) {
    throw new ManifestError(`${name}: its endpoints entry does not list endpoint targets`);
  }
  return { version, endpoints };
}

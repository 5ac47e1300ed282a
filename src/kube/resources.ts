// Kind → REST path: the kinds Slipway writes and reads are known here (plural and scope from the API
// reference), so no request is spent on discovery for them; any other kind is looked up once in the
// API server's discovery document (`/api/v1`, `/apis/<group>/<version>`) and remembered.

import { isRecord } from "../util/record.js";
import type { ObjectType } from "./types.js";

export interface ResourceInfo {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const KNOWN: readonly ResourceInfo[] = [
  { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
  { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true },
  { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true },
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  { group: "", version: "v1", kind: "Event", plural: "events", namespaced: true },
  { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true },
  { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true },
  { group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true },
  { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true },
  {
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "HTTPRoute",
    plural: "httproutes",
    namespaced: true,
  },
  {
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "Gateway",
    plural: "gateways",
    namespaced: true,
  },
  {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    namespaced: true,
  },
  {
    group: "autoscaling",
    version: "v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    namespaced: true,
  },
];

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function knownResource(type: ObjectType): ResourceInfo | undefined {
  const { group, version } = splitApiVersion(type.apiVersion);
  return KNOWN.find((r) => r.group === group && r.version === version && r.kind === type.kind);
}

/** `/api/v1` or `/apis/<group>/<version>`: where a group version's discovery document and resources live. */
export function groupVersionPath(apiVersion: string): string {
  const { group, version } = splitApiVersion(apiVersion);
  return group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** The collection path, e.g. `/apis/apps/v1/namespaces/web/deployments`; cluster-wide when no namespace. */
export function collectionPath(r: ResourceInfo, namespace: string | undefined): string {
  const base = groupVersionPath(r.group === "" ? r.version : `${r.group}/${r.version}`);
  const ns = r.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${base}${ns}/${r.plural}`;
}

export function objectPath(r: ResourceInfo, namespace: string | undefined, name: string): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
}

/** `deployments.apps`, `pods`: the resource as RBAC rules and the server's messages name it. */
export function qualifiedResource(r: ResourceInfo): string {
  return r.group === "" ? r.plural : `${r.plural}.${r.group}`;
}

/** Picks the kind out of an APIResourceList (subresources such as `pods/log` are skipped). */
export function fromDiscovery(apiVersion: string, kind: string, list: unknown): ResourceInfo | undefined {
  const { group, version } = splitApiVersion(apiVersion);
  const resources = isRecord(list) ? list.resources : undefined;
  if (!Array.isArray(resources)) return undefined;
  for (const r of resources as unknown[]) {
    if (!isRecord(r)) continue;
    const { name, kind: k, namespaced } = r;
    if (k === kind && typeof name === "string" && !name.includes("/")) {
      return { group, version, kind, plural: name, namespaced: namespaced === true };
    }
  }
  return undefined;
}

// Registry of the kinds the test cluster serves: group/version, REST plural, scope, subresources and the
// name rule each kind's validation applies. The API server's discovery documents and URL routing, the
// store's scoping checks and the validators all read this one table, so a kind is added in one place.

export type NameRule = "dns1123Subdomain" | "dns1123Label" | "dns1035Label" | "pathSegment";

export interface ResourceKind {
  readonly group: string; // "" for the core group
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly subresources: readonly ("status" | "log" | "scale" | "token")[];
  readonly verbs: readonly string[];
  readonly nameRule: NameRule;
  /** Kinds whose changes to anything outside metadata/status count as a spec change for `generation`. */
  readonly tracksGeneration: boolean;
  /** Custom resources (Gateway API) report schema errors as 422; built-in kinds fail JSON decoding first. */
  readonly custom: boolean;
  readonly categories: readonly string[];
}

const ALL_VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
] as const;

function kind(
  k: Partial<ResourceKind> & Pick<ResourceKind, "group" | "version" | "kind" | "plural">,
): ResourceKind {
  return {
    singular: k.kind.toLowerCase(),
    namespaced: true,
    shortNames: [],
    subresources: [],
    verbs: ALL_VERBS,
    nameRule: "dns1123Subdomain",
    tracksGeneration: false,
    custom: false,
    categories: [],
    ...k,
  };
}

export const RESOURCE_KINDS: readonly ResourceKind[] = [
  kind({
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
    shortNames: ["ns"],
    subresources: ["status"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    nameRule: "dns1123Label",
  }),
  kind({
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    shortNames: ["po"],
    subresources: ["status", "log"],
    categories: ["all"],
  }),
  kind({
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    shortNames: ["svc"],
    subresources: ["status"],
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    nameRule: "dns1035Label",
    categories: ["all"],
  }),
  kind({
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
    namespaced: false,
    shortNames: ["no"],
    subresources: ["status"],
  }),
  kind({ group: "", version: "v1", kind: "Secret", plural: "secrets" }),
  kind({
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    shortNames: ["sa"],
    subresources: ["token"],
  }),
  kind({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", shortNames: ["cm"] }),
  kind({
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    shortNames: ["ev"],
    nameRule: "pathSegment",
  }),
  kind({
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    shortNames: ["deploy"],
    subresources: ["status", "scale"],
    tracksGeneration: true,
    categories: ["all"],
  }),
  kind({
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    shortNames: ["rs"],
    subresources: ["status", "scale"],
    tracksGeneration: true,
    categories: ["all"],
  }),
  kind({
    group: "autoscaling",
    version: "v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    shortNames: ["hpa"],
    subresources: ["status"],
    nameRule: "pathSegment",
    categories: ["all"],
  }),
  kind({
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    shortNames: ["pdb"],
    subresources: ["status"],
    tracksGeneration: true,
  }),
  kind({
    group: "networking.k8s.io",
    version: "v1",
    kind: "Ingress",
    plural: "ingresses",
    shortNames: ["ing"],
    subresources: ["status"],
  }),
  kind({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases" }),
  // RBAC objects (https://kubernetes.io/docs/reference/access-authn-authz/rbac/): rbac.ts authorizes from them.
  kind({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "Role",
    plural: "roles",
    nameRule: "pathSegment",
  }),
  kind({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    nameRule: "pathSegment",
  }),
  kind({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    namespaced: false,
    nameRule: "pathSegment",
  }),
  kind({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
    nameRule: "pathSegment",
  }),
  kind({
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "Gateway",
    plural: "gateways",
    shortNames: ["gtw"],
    subresources: ["status"],
    tracksGeneration: true,
    custom: true,
    categories: ["gateway-api"],
  }),
  kind({
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "HTTPRoute",
    plural: "httproutes",
    subresources: ["status"],
    tracksGeneration: true,
    custom: true,
    categories: ["gateway-api"],
  }),
];

export function apiVersionOf(k: ResourceKind): string {
  return k.group === "" ? k.version : `${k.group}/${k.version}`;
}

/** "deployments.apps", "pods": how the API server names a resource in error messages. */
export function qualifiedResource(k: ResourceKind): string {
  return k.group === "" ? k.plural : `${k.plural}.${k.group}`;
}

/** "Deployment.apps", "Pod": how validation errors name a kind. */
export function qualifiedKind(k: ResourceKind): string {
  return k.group === "" ? k.kind : `${k.kind}.${k.group}`;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function findByKind(apiVersion: string, kindName: string): ResourceKind | undefined {
  const { group, version } = splitApiVersion(apiVersion);
  return RESOURCE_KINDS.find((k) => k.group === group && k.version === version && k.kind === kindName);
}

export function findByResource(group: string, version: string, plural: string): ResourceKind | undefined {
  return RESOURCE_KINDS.find((k) => k.group === group && k.version === version && k.plural === plural);
}

/** The group/versions the server advertises, in discovery order (core first). */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const k of RESOURCE_KINDS) seen.set(apiVersionOf(k), { group: k.group, version: k.version });
  return [...seen.values()];
}

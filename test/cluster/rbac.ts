// Who a request is and whether it may do what it asks, for the test cluster's API server: the RBAC
// authorizer over the Role, RoleBinding, ClusterRole and ClusterRoleBinding objects in the store
// (https://kubernetes.io/docs/reference/access-authn-authz/rbac/; plugin/pkg/auth/authorizer/rbac and
// pkg/registry/rbac/validation/rule.go), plus the static rules a test can attach to a bearer token, and
// the Forbidden message the API server builds from a denial (endpoints/handlers/responsewriters/errors.go).

import type { Store } from "./store.js";

export interface RbacRule {
  verbs: string[];
  /** "" for the core group; "*" for all groups. */
  apiGroups: string[];
  /** Plural resources, "deployments/status"-style subresources, or "*". */
  resources: string[];
  /** Restricts the rule to these namespaces (like a RoleBinding); absent means cluster-wide (ClusterRoleBinding). */
  namespaces?: string[];
  resourceNames?: string[];
}

/** What a static token grants: either bare rules, or rules with the user name the server reports. */
export type TokenGrant = RbacRule[] | { user: string; groups?: string[]; rules: RbacRule[] };

export interface Identity {
  user: string;
  groups: string[];
  /** Static rules from a test token; RBAC objects in the store apply on top of them. */
  rules: RbacRule[];
}

export interface RequestAttributes {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface Decision {
  allowed: boolean;
  /** The authorizer's reason: "" for a plain denial, "RBAC: …" when bindings named roles that do not exist. */
  reason: string;
}

/** The group whose members every request is allowed to (the API server's privileged-group authorizer). */
export const SYSTEM_MASTERS = "system:masters";

export function identityFor(grant: TokenGrant, index: number): Identity {
  if (Array.isArray(grant)) {
    return {
      user: `system:serviceaccount:default:token-${index}`,
      groups: ["system:authenticated"],
      rules: grant,
    };
  }
  return { user: grant.user, groups: [...(grant.groups ?? []), "system:authenticated"], rules: grant.rules };
}

/** A service account's user and groups, as its token authenticates (pkg/serviceaccount/util.go). */
export function serviceAccountIdentity(namespace: string, name: string): Identity {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
    rules: [],
  };
}

const matches = (list: readonly string[] | undefined, value: string): boolean =>
  (list ?? []).includes("*") || (list ?? []).includes(value);

function staticRuleAllows(rule: RbacRule, req: RequestAttributes): boolean {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  if (!matches(rule.verbs, req.verb)) return false;
  if (!matches(rule.apiGroups, req.apiGroup)) return false;
  if (!matches(rule.resources, resource)) return false;
  if (rule.namespaces !== undefined) {
    // A namespaced grant never reaches cluster-scoped requests or all-namespace lists.
    if (req.namespace === undefined || !matches(rule.namespaces, req.namespace)) return false;
  }
  if (rule.resourceNames !== undefined && rule.resourceNames.length > 0) {
    if (req.name === undefined || !rule.resourceNames.includes(req.name)) return false;
  }
  return true;
}

// ---- RBAC objects --------------------------------------------------------------------------------

interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

interface Binding {
  metadata: { name: string; namespace?: string };
  subjects?: Subject[];
  roleRef?: { apiGroup?: string; kind?: string; name?: string };
}

const RBAC = "rbac.authorization.k8s.io/v1";

// rbacv1helpers.ResourceMatches: "*", an exact resource[/subresource], or "*" + "/<subresource>".
function resourceMatches(rule: PolicyRule, combined: string, subresource: string | undefined): boolean {
  return (rule.resources ?? []).some(
    (r) => r === "*" || r === combined || (subresource !== undefined && r === `*/${subresource}`),
  );
}

/** validation.RuleAllows for a resource request. */
function ruleAllows(rule: PolicyRule, req: RequestAttributes): boolean {
  const combined = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const names = rule.resourceNames ?? [];
  return (
    matches(rule.verbs, req.verb) &&
    matches(rule.apiGroups, req.apiGroup) &&
    resourceMatches(rule, combined, req.subresource) &&
    (names.length === 0 || (req.name !== undefined && names.includes(req.name)))
  );
}

/** appliesToUser: a ServiceAccount subject without a namespace means the binding's own namespace. */
function appliesTo(identity: Identity, subject: Subject, namespace: string): boolean {
  switch (subject.kind) {
    case "User":
      return subject.name === identity.user;
    case "Group":
      return subject.name !== undefined && identity.groups.includes(subject.name);
    case "ServiceAccount": {
      const ns = subject.namespace || namespace;
      return ns !== "" && identity.user === `system:serviceaccount:${ns}:${subject.name ?? ""}`;
    }
    default:
      return false;
  }
}

/** GetRoleReferenceRules: the rules a binding's roleRef names, or the lister's NotFound message. */
function roleRules(store: Store, binding: Binding, namespace: string): PolicyRule[] | string {
  const ref = binding.roleRef ?? {};
  const name = ref.name ?? "";
  if (ref.kind === "ClusterRole") {
    const role = store.get(RBAC, "ClusterRole", undefined, name) as { rules?: PolicyRule[] } | undefined;
    return role ? (role.rules ?? []) : `clusterrole.rbac.authorization.k8s.io "${name}" not found`;
  }
  if (ref.kind === "Role") {
    const role = store.get(RBAC, "Role", namespace, name) as { rules?: PolicyRule[] } | undefined;
    return role ? (role.rules ?? []) : `role.rbac.authorization.k8s.io "${name}" not found`;
  }
  return `unsupported role reference kind: "${ref.kind ?? ""}"`;
}

/**
 * DefaultRuleResolver.VisitRulesFor + RBACAuthorizer.Authorize: ClusterRoleBindings grant their rules
 * everywhere, RoleBindings only in their own namespace (so never to cluster-scoped requests). A denial
 * carries no reason unless a binding that applies named a role that does not exist.
 */
export function rbacAuthorize(store: Store, identity: Identity, req: RequestAttributes): Decision {
  const errors: string[] = [];
  const visit = (bindings: Binding[], namespace: string): boolean => {
    for (const b of bindings) {
      if (!(b.subjects ?? []).some((s) => appliesTo(identity, s, namespace))) continue;
      const rules = roleRules(store, b, namespace);
      if (typeof rules === "string") {
        errors.push(rules);
        continue;
      }
      if (rules.some((r) => ruleAllows(r, req))) return true;
    }
    return false;
  };
  const clusterBindings = store.list(RBAC, "ClusterRoleBinding") as unknown as Binding[];
  if (visit(clusterBindings, "")) return { allowed: true, reason: "" };
  if (req.namespace !== undefined && req.namespace !== "") {
    const bindings = store.list(RBAC, "RoleBinding", { namespace: req.namespace }) as unknown as Binding[];
    if (visit(bindings, req.namespace)) return { allowed: true, reason: "" };
  }
  // utilerrors.NewAggregate: one message alone, several de-duplicated in brackets.
  const unique = [...new Set(errors)];
  const reason =
    unique.length === 0 ? "" : `RBAC: ${unique.length === 1 ? unique[0] : `[${unique.join(", ")}]`}`;
  return { allowed: false, reason };
}

/** The union of authorizers the server runs: privileged group, then the token's static rules, then RBAC. */
export function authorize(store: Store, identity: Identity, req: RequestAttributes): Decision {
  if (identity.groups.includes(SYSTEM_MASTERS)) return { allowed: true, reason: "" };
  if (identity.rules.some((rule) => staticRuleAllows(rule, req))) return { allowed: true, reason: "" };
  return rbacAuthorize(store, identity, req);
}

/**
 * responsewriters.Forbidden's message: `User "u" cannot patch resource "deployments" in API group "apps"
 * in the namespace "ns"` (or `at the cluster scope`), then `: <reason>` when the authorizer gave one.
 */
export function denialReason(identity: Identity, req: RequestAttributes, reason = ""): string {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const scope = req.namespace !== undefined ? `in the namespace "${req.namespace}"` : "at the cluster scope";
  const msg = `User "${identity.user}" cannot ${req.verb} resource "${resource}" in API group "${req.apiGroup}" ${scope}`;
  return reason === "" ? msg : `${msg}: ${reason}`;
}

/** The ClusterRole and binding the API server's bootstrap policy creates for its superusers. */
export const BOOTSTRAP_POLICY = [
  {
    apiVersion: RBAC,
    kind: "ClusterRole",
    metadata: {
      name: "cluster-admin",
      labels: { "kubernetes.io/bootstrapping": "rbac-defaults" },
      annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" },
    },
    rules: [
      { apiGroups: ["*"], resources: ["*"], verbs: ["*"] },
      { nonResourceURLs: ["*"], verbs: ["*"] },
    ],
  },
  {
    apiVersion: RBAC,
    kind: "ClusterRoleBinding",
    metadata: {
      name: "cluster-admin",
      labels: { "kubernetes.io/bootstrapping": "rbac-defaults" },
      annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" },
    },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: SYSTEM_MASTERS }],
  },
] as const;

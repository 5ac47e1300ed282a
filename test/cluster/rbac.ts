// Bearer-token authentication and a small RBAC authorizer for the test cluster's API server: which
// identity a token names, whether its rules allow a request, and the Forbidden message the real
// RBAC authorizer produces when they do not.

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

/** What a token grants: either bare rules, or rules with the user name the server reports. */
export type TokenGrant = RbacRule[] | { user: string; groups?: string[]; rules: RbacRule[] };

export interface Identity {
  user: string;
  groups: string[];
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

const matches = (list: readonly string[], value: string): boolean =>
  list.includes("*") || list.includes(value);

export function authorize(identity: Identity, req: RequestAttributes): boolean {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  return identity.rules.some((rule) => {
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
  });
}

/** `User "u" cannot patch resource "deployments" in API group "apps" in the namespace "ns"` */
export function denialReason(identity: Identity, req: RequestAttributes): string {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const scope = req.namespace !== undefined ? `in the namespace "${req.namespace}"` : "at the cluster scope";
  return `User "${identity.user}" cannot ${req.verb} resource "${resource}" in API group "${req.apiGroup}" ${scope}`;
}

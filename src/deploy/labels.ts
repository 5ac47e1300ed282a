// Labels and names on every object of a version and on alias routes: the Kubernetes recommended
// labels (app.kubernetes.io/*) beside Slipway's own (slipway.dev/*), and the stable subset that
// selects an endpoint's pods. Pure.
//
// - name/instance/component/part-of follow the recommended-labels page: `name` is the endpoint (or
//   the deployment, for objects of the whole version), `instance` the object's unique name, `part-of`
//   the deployment, `version` the version.
// - Alias routes carry no `slipway.dev/version`: selecting a version's objects (to retire it) must
//   never catch an alias, which outlives versions.

import { dnsLabel, labelValue } from "../plan/names.js";
import type { Plan, PlannedAlias, PlannedEndpoint } from "../plan/plan.js";
import { LABEL_PREFIX } from "../plan/plan.js";

export const MANAGED_BY = "slipway";

/** What an alias route needs of its deployment: a plan, or the same facts without a version to plan. */
export type AliasOwner = Pick<Plan, "namespace" | "deployment" | "labels" | "pullRequest">;

/** What an object is within a version (app.kubernetes.io/component). */
export type Component = "endpoint" | "route" | "version-record" | "env-secret" | "alias";

/** The name of a version's record and of its route: `<deployment>-<version>`. */
export function versionObjectName(plan: Plan): string {
  return dnsLabel(plan.deployment, plan.version);
}

/** The name of an alias's route: `<deployment>-alias-<alias>`, apart from any version's names. */
export function aliasRouteName(plan: Pick<Plan, "deployment">, alias: Pick<PlannedAlias, "name">): string {
  return dnsLabel(plan.deployment, "alias", alias.name);
}

function recommended(
  plan: Pick<Plan, "deployment" | "version">,
  name: string,
  instance: string,
  component: Component,
): Record<string, string> {
  return {
    "app.kubernetes.io/name": labelValue(name),
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/version": labelValue(plan.version),
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": labelValue(plan.deployment),
    "app.kubernetes.io/managed-by": MANAGED_BY,
  };
}

/** Labels of an object of the version; with `endpoint`, of that endpoint's Deployment, pods or Service. */
export function versionLabels(
  plan: Plan,
  component: Component,
  endpoint?: PlannedEndpoint,
): Record<string, string> {
  const base = endpoint?.labels ?? plan.labels;
  const own = endpoint
    ? recommended(plan, endpoint.name, endpoint.resourceName, component)
    : recommended(plan, plan.deployment, versionObjectName(plan), component);
  return { ...own, ...base, [`${LABEL_PREFIX}/commit`]: labelValue(plan.commit.toLowerCase()) };
}

/** Selects one endpoint's pods of one version; fixed for the Deployment's life (selectors are immutable). */
export function selectorLabels(endpoint: PlannedEndpoint): Record<string, string> {
  return { ...endpoint.labels };
}

/**
 * Marks a pull request's preview: on its alias route and on the records of the versions deployed for
 * it (never on pods, whose labels a Deployment's immutable selector fixes), so tearing a preview down
 * and housekeeping select them with one list call per kind. A version deployed again outside the
 * pull request loses the label with the next apply: it is no longer only the preview's.
 */
export const LABEL_PULL_REQUEST = `${LABEL_PREFIX}/pull-request`;

export function pullRequestLabel(plan: Pick<Plan, "pullRequest">): Record<string, string> {
  return plan.pullRequest === undefined ? {} : { [LABEL_PULL_REQUEST]: String(plan.pullRequest) };
}

/** Labels of an alias route: the deployment's, the alias's name, and no version. */
export function aliasLabels(
  plan: AliasOwner,
  alias: Pick<PlannedAlias, "name"> & Partial<Pick<PlannedAlias, "kind">>,
): Record<string, string> {
  const { [`${LABEL_PREFIX}/version`]: _version, ...deployment } = plan.labels;
  const own = recommended(
    { deployment: plan.deployment, version: "" },
    plan.deployment,
    aliasRouteName(plan, alias),
    "alias",
  );
  delete own["app.kubernetes.io/version"];
  return {
    ...own,
    ...deployment,
    [`${LABEL_PREFIX}/alias`]: labelValue(alias.name),
    ...(alias.kind === "preview" ? pullRequestLabel(plan) : {}),
  };
}

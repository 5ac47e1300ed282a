// The version's own Gateway API HTTPRoute (its paths, one rule per endpoint), and the pieces every
// Slipway route shares: the Gateway it attaches to, filters, durations, the API's limits. Pure.
//
// - By default the app gets the full path and SCRIPT_NAME, as on Valohai; with strip-prefix the
//   route rewrites the matched prefix to `/` (URLRewrite ReplacePrefixMatch).
// - Every rule sets X-Forwarded-Prefix to the public prefix the request came in under (the version
//   path here, the alias path on an alias route), so an app that builds URLs from it gets the right
//   one, and a client cannot pass its own.
// - `timeouts.request` is always explicit: without it the timeout is implementation-specific.

import type { SlipwayConfig } from "../config/types.js";
import type { Plan } from "../plan/plan.js";
import { ManifestError } from "./errors.js";
import { versionLabels, versionObjectName } from "./labels.js";
import type { EndpointTarget } from "./record.js";
import type { IHTTPRoute } from "./types.js";

type RouteSpec = NonNullable<IHTTPRoute["spec"]>;
type ParentRef = NonNullable<RouteSpec["parentRefs"]>[number];
export type Rule = NonNullable<RouteSpec["rules"]>[number];
type Filter = NonNullable<Rule["filters"]>[number];
export type BackendRef = NonNullable<Rule["backendRefs"]>[number];

/** The Gateway routes attach to when the config names none: `slipway` in the routes' own namespace. */
export const DEFAULT_GATEWAY_NAME = "slipway";
/** Gateway API v1 limits: rules per HTTPRoute, backendRefs per rule, and a backend's weight. */
export const MAX_RULES = 16;
export const MAX_BACKENDS = 16;
export const MAX_WEIGHT = 1_000_000;
export const FORWARDED_PREFIX_HEADER = "X-Forwarded-Prefix";

/** Gateway API duration (GEP-2257: at most 5 digits per unit): `60s`, or `27h46m40s` past 99999 s. */
export function gatewayDuration(seconds: number): string {
  const total = Math.max(0, Math.ceil(seconds));
  if (total <= 99_999) return `${total}s`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h}h${m > 0 ? `${m}m` : ""}${s > 0 ? `${s}s` : ""}`;
}

export function parentRefs(config: SlipwayConfig): ParentRef[] {
  const gateway = config.deployment.router.gateway;
  return [
    {
      group: "gateway.networking.k8s.io",
      kind: "Gateway",
      name: gateway?.name ?? DEFAULT_GATEWAY_NAME,
      ...(gateway?.namespace !== undefined ? { namespace: gateway.namespace } : {}),
    },
  ];
}

export function rewrite(to: string): Filter {
  return { type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: to } } };
}

export function forwardedPrefix(prefix: string): Filter {
  return {
    type: "RequestHeaderModifier",
    requestHeaderModifier: { set: [{ name: FORWARDED_PREFIX_HEADER, value: prefix }] },
  };
}

export function checkRuleCount(count: number, what: string): void {
  if (count > MAX_RULES) {
    throw new ManifestError(
      `${what} has ${count} endpoints; one HTTPRoute holds at most ${MAX_RULES} rules (Gateway API), one per endpoint`,
    );
  }
}

export function versionRoute(
  plan: Plan,
  config: SlipwayConfig,
  targets: readonly EndpointTarget[],
): IHTTPRoute {
  checkRuleCount(targets.length, `version ${plan.version}`);
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: {
      name: versionObjectName(plan),
      namespace: plan.namespace,
      labels: versionLabels(plan, "route"),
    },
    spec: {
      parentRefs: parentRefs(config),
      rules: targets.map((t) => ({
        matches: [{ path: { type: "PathPrefix", value: t.path } }],
        filters: [forwardedPrefix(t.path), ...(t.stripPrefix ? [rewrite("/")] : [])],
        backendRefs: [{ name: t.service, port: t.port }],
        timeouts: { request: gatewayDuration(t.requestTimeoutSeconds) },
      })),
    },
  };
}

// Where an endpoint's app answers on its own port, for the kubelet's probes and Prometheus, which
// reach the pod directly: the path the router would send. Without strip-prefix that is the version
// path plus the app's path (gunicorn answers 400 to a path outside SCRIPT_NAME); with it, the
// app's path as is. Pure.

import type { RuntimeSettings } from "../config/types.js";
import type { PlannedEndpoint } from "../plan/plan.js";

export function servePath(endpoint: PlannedEndpoint, runtime: RuntimeSettings, appPath: string): string {
  const path = appPath.startsWith("/") ? appPath : `/${appPath}`;
  return runtime.stripPrefix ? path : `${endpoint.path}${path}`;
}

/** Prometheus' conventional scrape annotations (prometheus.io/scrape, path, port) when metrics are served. */
export function scrapeAnnotations(
  endpoint: PlannedEndpoint,
  runtime: RuntimeSettings,
): Record<string, string> {
  if (runtime.metricsPath === undefined) return {};
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/path": servePath(endpoint, runtime, runtime.metricsPath),
    "prometheus.io/port": String(endpoint.port),
  };
}

// Public surface of the narrow Kubernetes client: createKubeClient (kubeconfig input, file, KUBECONFIG
// or in-cluster; server-side apply, get, list, delete, namespaces, logs, watch; per-call timeouts,
// retries and request counters) and the errors it throws. Import from here only.

export type {
  ApplyOptions,
  ApplyResult,
  DeleteOptions,
  KubeClient,
  KubeClientOptions,
  ListOptions,
  LogOptions,
  NamespaceResult,
} from "./client.js";
export { createKubeClient, FIELD_MANAGER } from "./client.js";
export type { Operation } from "./errors.js";
export { isNotFound, KubeConfigError, KubeError } from "./errors.js";
export type { RetryPolicy } from "./retry.js";
export type { RequestCounters } from "./transport.js";
export type * from "./types.js";
export type { WatchControl, WatchEvent, WatchEventType, WatchQuery, WatchSummary } from "./watch.js";

// Public surface of the narrow Kubernetes client: createKubeClient (kubeconfig input, file, KUBECONFIG
// or in-cluster; server-side apply, create, update, get, list, delete, namespaces, logs, watch;
// per-call timeouts, retries and request counters), waitForRollout with its pure diagnosis, the
// promotion lock over a Lease, and the errors they throw.
// Import from here only.

export type {
  ApplyOptions,
  ApplyResult,
  DeleteOptions,
  KubeClient,
  KubeClientOptions,
  ListOptions,
  LogOptions,
  NamespaceResult,
  WriteOptions,
} from "./client.js";
export { createKubeClient, FIELD_MANAGER } from "./client.js";
export type { Diagnosis } from "./diagnose.js";
export { diagnose } from "./diagnose.js";
export type { FailureReason, Operation, RolloutTiming } from "./errors.js";
export {
  isAlreadyExists,
  isNotFound,
  isStaleWrite,
  KubeConfigError,
  KubeError,
  LockLost,
  RolloutFailed,
} from "./errors.js";
export type { HeldLock, Lease, LeaseSpec, LockDecision, LockHeld, LockRequest, LockResult } from "./lease.js";
export { acquireLock, formatMicroTime, leaseExpiry, lockDecision } from "./lease.js";
export type { RetryPolicy } from "./retry.js";
export type { RolloutOptions, RolloutResult, RolloutTarget } from "./rollout.js";
export { podsOfNewReplicaSet, waitForRollout } from "./rollout.js";
export type { RequestCounters } from "./transport.js";
export type * from "./types.js";
export type { WatchControl, WatchEvent, WatchEventType, WatchQuery, WatchSummary } from "./watch.js";

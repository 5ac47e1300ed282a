// The kube client's errors: KubeConfigError (the kubeconfig cannot be used: missing file, unknown
// context, no server), KubeError (a request failed: the API server's own Status message with verb,
// kind, name and namespace, or the network cause with the server URL), RolloutFailed (a rollout
// that will not become ready, with why and when), and LockLost (a promotion lock another run took). Messages never carry a credential: the client never
// puts headers or request options into them.

import type { Status } from "./types.js";

export class KubeConfigError extends Error {
  override readonly name = "KubeConfigError";
}

/** What the client was doing when a request failed; every field ends up in the message. */
export interface Operation {
  /** Slipway's word for it: apply, get, list, delete, create, watch, logs, discover. */
  readonly verb: string;
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
  /** REST resource, e.g. "deployments.apps" — what RBAC rules name. */
  readonly resource?: string;
  /** The RBAC verb the request needs: get, list, watch, create, patch, delete. */
  readonly rbacVerb?: string;
  /**
   * A server-side apply: authorized as `patch`, and also as `create` when the object does not exist
   * yet. The API server's refusal of the create names no verb (`services "x" is forbidden: `), so
   * Slipway's message names both.
   */
  readonly createsIfMissing?: boolean;
}

export interface KubeErrorDetails {
  readonly operation: Operation;
  readonly server: string;
  /** HTTP status when the server answered. */
  readonly status?: number;
  /** Status.reason: NotFound, Forbidden, Invalid, Conflict, AlreadyExists, Expired, … */
  readonly reason?: string;
  /** Network-level code when it did not: ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, … */
  readonly code?: string;
  readonly causes?: readonly { readonly field?: string; readonly message?: string }[];
  readonly attempts?: number;
}

export class KubeError extends Error {
  override readonly name = "KubeError";
  readonly operation: Operation;
  readonly server: string;
  readonly status?: number;
  readonly reason?: string;
  readonly code?: string;
  readonly causes: readonly { readonly field?: string; readonly message?: string }[];
  readonly attempts: number;

  constructor(message: string, details: KubeErrorDetails) {
    super(message);
    this.operation = details.operation;
    this.server = details.server;
    if (details.status !== undefined) this.status = details.status;
    if (details.reason !== undefined) this.reason = details.reason;
    if (details.code !== undefined) this.code = details.code;
    this.causes = details.causes ?? [];
    this.attempts = details.attempts ?? 1;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeError && err.status === 404;
}

/** A conditional write found the object changed since it was read: another writer came first. */
export function isStaleWrite(err: unknown): boolean {
  // A 409 is also what a field-manager conflict answers; only this one is a stale resourceVersion.
  return err instanceof KubeError && err.status === 409 && /has been modified/.test(err.message);
}

/** A create found the object already there. */
export function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeError && err.status === 409 && err.reason === "AlreadyExists";
}

/** `apply Deployment "slipway/web"` — the subject of every message. */
export function describeOperation(op: Operation): string {
  const target =
    op.name !== undefined
      ? ` "${op.namespace !== undefined ? `${op.namespace}/` : ""}${op.name}"`
      : op.namespace !== undefined
        ? ` in namespace "${op.namespace}"`
        : "";
  return `${op.verb}${op.kind ? ` ${op.kind}` : ""}${target}`;
}

/** The error for a reply the server sent: its Status message, plus who was refused what for a 403. */
export function statusError(
  op: Operation,
  server: string,
  httpStatus: number,
  status: Status | undefined,
  attempts: number,
): KubeError {
  const serverMessage = status?.message?.trim() || `HTTP ${httpStatus} from the API server`;
  let message = `${describeOperation(op)}: ${serverMessage}`;
  if (httpStatus === 403) {
    // The server's text names the user; ours names exactly what to grant, even when a proxy answered.
    const where = op.namespace !== undefined ? `in namespace "${op.namespace}"` : "at cluster scope";
    const verb = op.rbacVerb ?? op.verb;
    const verbs = op.createsIfMissing
      ? `verbs "${verb}" and, for an object that does not exist yet, "create"`
      : `verb "${verb}"`;
    message += ` (the credentials need RBAC ${verbs} on "${op.resource ?? op.kind ?? "?"}" ${where})`;
  }
  if (httpStatus === 429 || httpStatus >= 500)
    message += ` (after ${attempts} attempt${attempts === 1 ? "" : "s"})`;
  const causes = (status?.details?.causes ?? []).map((c) => ({
    ...(c.field !== undefined ? { field: c.field } : {}),
    ...(c.message !== undefined ? { message: c.message } : {}),
  }));
  return new KubeError(message, {
    operation: op,
    server,
    status: httpStatus,
    ...(status?.reason ? { reason: status.reason } : {}),
    causes,
    attempts,
  });
}

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed while sending",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

/** The error for a request the server never answered: the URL, the cause in words and its code. */
export function networkError(
  op: Operation,
  server: string,
  code: string,
  detail: string,
  attempts: number,
): KubeError {
  const words = NETWORK_WORDS[code] ?? detail;
  const extra = NETWORK_WORDS[code] && detail && !detail.includes(code) ? `: ${detail}` : "";
  return new KubeError(
    `${describeOperation(op)}: cannot reach the Kubernetes API server at ${server}: ${words} (${code})${extra}` +
      ` after ${attempts} attempt${attempts === 1 ? "" : "s"}`,
    { operation: op, server, code, attempts },
  );
}

export type FailureReason =
  | "ErrImagePull"
  | "ImagePullBackOff"
  | "InvalidImageName"
  | "ErrImageNeverPull"
  | "CrashLoopBackOff"
  | "Unschedulable"
  | "ProgressDeadlineExceeded"
  | "Timeout";

/** When the cluster knew, when Slipway noticed: the gap is how late the report is. */
export interface RolloutTiming {
  /** waitForRollout was called. */
  readonly startedAt: Date;
  /**
   * The cluster's own time for the deciding fact: a condition's or event's timestamp (second
   * resolution on real clusters), else the arrival of the watch event that carried it.
   */
  readonly clusterKnewAt: Date;
  readonly clusterKnewFrom: "condition" | "event" | "container-status" | "watch-arrival" | "deadline";
  /** The watch event that carried the deciding fact arrived. */
  readonly receivedAt: Date;
  /** Slipway decided (after fetching logs, for a crash). */
  readonly noticedAt: Date;
}

export interface RolloutFailedDetails {
  readonly namespace: string;
  readonly deployment: string;
  readonly endpoint?: string;
  readonly reason: FailureReason;
  /** The cluster's words: the registry's pull error, the scheduler's message, the condition's message. */
  readonly detail: string;
  readonly pod?: string;
  readonly container?: string;
  readonly image?: string;
  /** Last lines of the failing container's log (CrashLoopBackOff). */
  readonly logs?: readonly string[];
  readonly timing: RolloutTiming;
}

export class RolloutFailed extends Error {
  override readonly name = "RolloutFailed";
  readonly namespace: string;
  readonly deployment: string;
  readonly endpoint?: string;
  readonly reason: FailureReason;
  readonly detail: string;
  readonly pod?: string;
  readonly container?: string;
  readonly image?: string;
  readonly logs: readonly string[];
  readonly timing: RolloutTiming;

  constructor(d: RolloutFailedDetails) {
    const who = `deployment "${d.namespace}/${d.deployment}"${d.endpoint ? ` (endpoint ${d.endpoint})` : ""}`;
    const logs = d.logs && d.logs.length > 0 ? `\nlast log lines:\n${d.logs.join("\n")}` : "";
    super(
      d.reason === "Timeout"
        ? `${who}: ${d.detail}${logs}`
        : `${who} failed: ${d.reason}: ${d.detail}${logs}`,
    );
    this.namespace = d.namespace;
    this.deployment = d.deployment;
    if (d.endpoint !== undefined) this.endpoint = d.endpoint;
    this.reason = d.reason;
    this.detail = d.detail;
    if (d.pod !== undefined) this.pod = d.pod;
    if (d.container !== undefined) this.container = d.container;
    if (d.image !== undefined) this.image = d.image;
    this.logs = d.logs ?? [];
    this.timing = d.timing;
  }
}

export interface LockLostDetails {
  readonly namespace: string;
  /** The Lease. */
  readonly name: string;
  /** Who this run is, as it wrote itself into the Lease. */
  readonly holder: string;
  /** Who holds it now; undefined when nobody does (released, or the Lease is gone). */
  readonly heldBy: string | undefined;
  /** What this run was doing: renew or keep alive. */
  readonly during: string;
}

/**
 * The promotion lock this run held is no longer its own: it expired and another run took it over, or
 * it was released or deleted. Whatever the run was doing under the lock must stop, since another run
 * may now be doing the same.
 */
export class LockLost extends Error {
  override readonly name = "LockLost";
  readonly namespace: string;
  readonly lease: string;
  readonly holder: string;
  readonly heldBy: string | undefined;

  constructor(d: LockLostDetails) {
    super(
      `${d.during} lock Lease "${d.namespace}/${d.name}": "${d.holder}" no longer holds it` +
        (d.heldBy !== undefined
          ? `: "${d.heldBy}" took it over (the lease expired before it was renewed)`
          : ": it was released or deleted by someone else"),
    );
    this.namespace = d.namespace;
    this.lease = d.name;
    this.holder = d.holder;
    this.heldBy = d.heldBy;
  }
}

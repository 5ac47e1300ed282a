// Retry policy shared by every request: which failures are transient, which requests may be repeated
// after which failures, how long to wait (exponential backoff with jitter, or the server's
// Retry-After), and a bounded number of attempts.

import { errorCode } from "./errors.js";

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** 5xx and 429 are worth another try; other 4xx will not change by repeating the request. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** Network-level failures (dropped connection, timeout) as raised by fetch/undici. */
export function isTransientError(err: unknown): boolean {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return true;
  const code = errorCode(err);
  // A known code decides (ENOTFOUND or a TLS failure will not heal by retrying).
  if (code) return TRANSIENT_CODES.has(code);
  // undici reports a peer that closed mid-request as TypeError("fetch failed") with a code-less cause.
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err);
  return /socket hang up|other side closed|terminated/i.test(text);
}

/**
 * When a failed attempt may be sent again:
 * - "idempotent": sending it twice has the effect of sending it once (RFC 9110 §9.2.2: GET, HEAD,
 *   PUT of a manifest), so any transient failure is retried;
 * - "unprocessed": the server may have acted on it, so it is repeated only when the failure proves
 *   it did not: the connection was never made, or the server answered 429 or 503 (RFC 6585 §4,
 *   RFC 9110 §15.6.4: it did not handle the request). A lost reply or another 5xx is left to the
 *   caller, which knows how to find out what happened;
 * - "never": the caller recovers by itself (chunk uploads ask the registry for its offset).
 */
export type RetryRule = "idempotent" | "unprocessed" | "never";

/** Failures before the request was sent: the server cannot have acted on it. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

export function neverSent(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && NOT_SENT_CODES.has(code);
}

export function mayRetryStatus(rule: RetryRule, status: number): boolean {
  if (rule === "never") return false;
  if (rule === "unprocessed") return status === 429 || status === 503;
  return isRetryableStatus(status);
}

export function mayRetryError(rule: RetryRule, err: unknown): boolean {
  if (rule === "never") return false;
  if (rule === "unprocessed") return neverSent(err);
  return isTransientError(err);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Delay before attempt `attempt + 1` (attempt counts from 1). */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  retryAfterMs?: number,
  random = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // "Equal jitter": at least half the ceiling, so the backoff still grows, plus a random half so
  // concurrent uploads that failed together do not retry together.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

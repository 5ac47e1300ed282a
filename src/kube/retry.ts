// When a Kubernetes request is worth repeating and how long to wait first: 429 and 5xx (the API
// server's priority-and-fairness rejections carry Retry-After), and connections that were refused or
// dropped; never a 4xx, which repeating cannot fix. Exponential backoff with jitter, or Retry-After.

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 10_000 };

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Network failures that a later attempt can get past: the server restarting, a dropped connection. */
const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

export function isTransientCode(code: string): boolean {
  return TRANSIENT_CODES.has(code);
}

/**
 * Whether a request that failed this way may be sent again. Idempotent requests (GET, server-side
 * apply, DELETE) may after any transient failure; a create (POST) only when the server certainly did
 * not process it: the connection was refused, or the server answered 429 (rejected before handling).
 */
export function mayRetry(idempotent: boolean, failure: { status: number } | { code: string }): boolean {
  if ("status" in failure) return idempotent ? isRetryableStatus(failure.status) : failure.status === 429;
  return idempotent ? isTransientCode(failure.code) : failure.code === "ECONNREFUSED";
}

/** Retry-After (RFC 9110 §10.2.3): delta-seconds or an HTTP date, as milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Wait before attempt `attempt + 1` (attempts count from 1): Retry-After if given, else backoff. */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Half fixed so the wait still grows, half random so clients that failed together spread out.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// The GitHub client: one factory making the Octokit every GitHub module is handed. It owns how Slipway
// talks to GitHub — the retry and throttling plugins (loaded as getOctokit's trailing arguments, the only
// way getOctokit loads plugins), which requests may be repeated, the pacing of content-creating requests,
// a timeout on every attempt, request counters, and errors that name the request and never the token.
import type { getOctokit } from "@actions/github";
import { retry } from "@octokit/plugin-retry";
import { type ThrottlingOptions, throttling } from "@octokit/plugin-throttling";
import { GitHubRequestError } from "./errors.js";
import { createPacer, type Pacer } from "./pacing.js";

export type GitHubClient = ReturnType<typeof getOctokit>;

export interface GitHubThrottleOptions {
  /** Retries after a rate-limit answer (primary or secondary) before giving up. Default 2. */
  readonly maxRetries?: number;
  /**
   * Milliseconds waited per second GitHub asks for in `retry-after` (or until `x-ratelimit-reset`).
   * Default 1000; tests pass a few milliseconds so a `retry-after: 1` answer costs almost nothing.
   */
  readonly retryAfterBaseMs?: number;
  /** Least time between two writes (any request but GET/HEAD). Default 1000 ms: at most 60 a minute. */
  readonly writeIntervalMs?: number;
  /** Least time between two writes that notify people (comments). Default 3000 ms: at most 20 a minute. */
  readonly notificationIntervalMs?: number;
}

export interface GitHubRetryOptions {
  /** Repeats of an idempotent request after a 5xx answer, a network error or a timeout. Default 3. */
  readonly retries?: number;
  /** Backoff unit: attempt n waits n² × this. Default 1000 ms; tests pass a few milliseconds. */
  readonly backoffMs?: number;
}

export interface GitHubClientOptions {
  readonly token: string;
  /** REST API root, e.g. $GITHUB_API_URL; default https://api.github.com. */
  readonly baseUrl?: string;
  readonly log?: (line: string) => void;
  /** Told the token before any request, so the runner masks it (core.setSecret). */
  readonly onSecret?: (secret: string) => void;
  /** Per attempt: a request that has not answered in this time is abandoned. Default 30 s. */
  readonly timeoutMs?: number;
  readonly throttle?: GitHubThrottleOptions;
  readonly retry?: GitHubRetryOptions;
}

export interface RequestCounts {
  /** HTTP requests sent, every attempt included. */
  readonly requests: number;
  /** Of those, requests other than GET and HEAD. */
  readonly writes: number;
}

const counters = new WeakMap<object, { requests: number; writes: number }>();

/** What a client made by createGitHubClient has sent so far; subtract two readings to count a use case. */
export function countRequests(client: object): RequestCounts {
  const c = counters.get(client);
  if (!c) throw new TypeError("countRequests: not a client made by createGitHubClient");
  return { requests: c.requests, writes: c.writes };
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]);
// The retry plugin repeats any status >= 400 not listed here. Only 5xx (and network errors and
// timeouts, which Octokit reports as 500) are worth repeating; rate-limit answers (403, 429) belong to
// the throttling plugin, which waits as long as GitHub asks.
const NOT_RETRIED = Array.from({ length: 100 }, (_, i) => 400 + i);

/**
 * @actions/github parses the file at GITHUB_EVENT_PATH when it is first imported (its `context`),
 * whole and throwing on anything that is not JSON: it is imported only when a client is made, after
 * Slipway has read the payload itself, bounded, with a clear error for a bad one.
 */
async function actionsGitHub() {
  const [github, utils] = await Promise.all([import("@actions/github"), import("@actions/github/lib/utils")]);
  return { getOctokit: github.getOctokit, defaults: utils.defaults };
}

export async function createGitHubClient(options: GitHubClientOptions): Promise<GitHubClient> {
  const { getOctokit, defaults } = await actionsGitHub();
  const { token } = options;
  if (!token) throw new TypeError("createGitHubClient: a token is required");
  options.onSecret?.(token);
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRateRetries = options.throttle?.maxRetries ?? 2;
  const count = { requests: 0, writes: 0 };

  // The runner's proxy settings live in @actions/github's default fetch; wrap it rather than replace it.
  const baseFetch = (defaults.request?.fetch as typeof fetch | undefined) ?? fetch;
  const timedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const method = (init?.method ?? "GET").toUpperCase();
    count.requests += 1;
    if (method !== "GET" && method !== "HEAD") count.writes += 1;
    // A fresh signal per call: the retry plugin calls fetch again for each attempt.
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      return await baseFetch(input, { ...init, signal });
    } catch (error) {
      if (timeout.aborted) throw new Error(`timed out after ${timeoutMs} ms`, { cause: error });
      throw error;
    }
  };

  const onLimit =
    (kind: string) => (retryAfter: number, opts: { method: string; url: string }, _o: unknown, n: number) => {
      const again = n < maxRateRetries;
      log(
        `GitHub ${kind} rate limit on ${opts.method} ${opts.url}: ${again ? `retrying in ${retryAfter} s (retry ${n + 1} of ${maxRateRetries})` : "giving up"}`,
      );
      return again;
    };

  // Pacing of content-creating requests. GitHub allows 80 a minute and 500 an hour
  // (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits).
  // The plugin puts every write (non-GET) through its `write` limiter (built in: one at a time, 1 s apart,
  // so 60 a minute) and writes to notifying routes (issue comments among them) also through
  // `notifications` (built in: 3 s apart, 20 a minute). Both are kept at those spacings here, with the
  // hourly 500 added to the write limiter; tests shorten the spacings through `throttle`.
  const write: Pacer = createPacer({
    minIntervalMs: options.throttle?.writeIntervalMs ?? 1000,
    limits: [
      { count: 80, windowMs: 60_000 },
      { count: 500, windowMs: 3_600_000 },
    ],
  });
  const notifications: Pacer = createPacer({
    minIntervalMs: options.throttle?.notificationIntervalMs ?? 3000,
  });
  type Group = NonNullable<ThrottlingOptions["write"]>;

  const throttle: ThrottlingOptions = {
    onRateLimit: onLimit("primary"),
    onSecondaryRateLimit: onLimit("secondary"),
    retryAfterBaseValue: options.throttle?.retryAfterBaseMs ?? 1000,
    // The plugin only calls key(id).schedule(options, fn) on these (see pacing.ts).
    write: write as unknown as Group,
    notifications: notifications as unknown as Group,
  };

  const octokit = getOctokit(
    token,
    {
      ...(options.baseUrl ? { baseUrl: options.baseUrl.replace(/\/+$/, "") } : {}),
      request: { fetch: timedFetch },
      retry: {
        retries: options.retry?.retries ?? 3,
        retryAfterBaseValue: options.retry?.backoffMs ?? 1000,
        doNotRetry: NOT_RETRIED,
      },
      throttle,
      log: { debug: () => {}, info: () => {}, warn: (m: string) => log(m), error: (m: string) => log(m) },
    },
    retry,
    throttling,
  );

  // Registered after the plugins, so these run outside them: the retry plugin reads the retry count
  // set here, and errors are rewritten only once every retry is spent.
  octokit.hook.before("request", (opts) => {
    // A create (comment, deployment, status, reaction) that failed with a 5xx or no answer may have
    // been acted on: it is never repeated. Rate-limit answers say it was not, and the throttling
    // plugin repeats those regardless of this count.
    if (!IDEMPOTENT.has(opts.method.toUpperCase())) opts.request.retries = 0;
  });
  octokit.hook.error("request", (error, opts) => {
    throw toGitHubError(error, opts.method, String(opts.url), token);
  });
  counters.set(octokit, count);
  return octokit;
}

function toGitHubError(error: unknown, method: string, route: string, token: string): GitHubRequestError {
  const e = error as { status?: unknown; response?: { data?: unknown }; message?: unknown; cause?: unknown };
  const answered = e.response !== undefined && typeof e.status === "number";
  let detail: string;
  if (answered) {
    const data = e.response?.data;
    const said =
      typeof data === "object" && data !== null && "message" in data
        ? String(data.message)
        : String(data ?? "");
    detail = said;
  } else {
    detail = typeof e.message === "string" ? e.message : String(error);
  }
  detail = detail.split(token).join("***").replace(/\s+/g, " ").trim().slice(0, 300);
  const result = new GitHubRequestError(method, route, answered ? (e.status as number) : undefined, detail);
  return result;
}

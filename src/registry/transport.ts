// One HTTP exchange with a registry, done right once: base URL (http only for insecure hosts),
// authentication (401 → challenge → retry), retries with backoff where the request allows them
// (retry.ts), bounded reads with timers on every attempt (bounded.ts), and errors that name the
// registry, repository and operation but never a secret. Credentials go only to the registry's own origin (scheme, host and port): redirects and
// upload Locations elsewhere, or to the same host over plain http, are sent without them, and a 401
// from anywhere but that origin is an error, never a challenge to answer with the registry's secrets.

import type { Readable } from "node:stream";
import { isRecord } from "../util/record.js";
import { Authenticator } from "./auth.js";
import { AttemptClock, type CutoffError, discard, guardStream, readWhole } from "./bounded.js";
import { errorCode, RegistryError, type SecretRedactor } from "./errors.js";
import {
  backoffDelay,
  isRetryableStatus,
  isTransientError,
  mayRetryError,
  mayRetryStatus,
  parseRetryAfter,
  type RetryPolicy,
  type RetryRule,
  sleep,
} from "./retry.js";
import type { CredentialSource } from "./types.js";

export interface TransportOptions {
  credentials: CredentialSource | undefined;
  insecure: (registry: string) => boolean;
  /** Longest wait for response headers, and longest silence inside a body. */
  timeoutMs: number;
  /** Longest a reply may take, headers and body; a streamed body gets it per streamWindowBytes. */
  deadlineMs: number;
  streamWindowBytes: number;
  policy: RetryPolicy;
  redactor: SecretRedactor;
  log: (line: string) => void;
}

/** A byte limit on a body, and the option that sets it (named in the error). */
export interface BodyLimit {
  maxBytes: number;
  option: string;
  /** Error code when it is passed, e.g. MANIFEST_INVALID. */
  code: string;
}

export interface RequestSpec {
  registry: string;
  repository: string;
  /** Human words for messages, e.g. "PUT manifest". */
  operation: string;
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** "/v2/…" relative to the registry, or an absolute URL (upload Locations). */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Token scopes this request needs. */
  scopes: string[];
  /** Statuses returned to the caller; anything else becomes a RegistryError. */
  ok: number[];
  /**
   * Which failures this request is sent again after (retry.ts). Default: "idempotent" for GET, HEAD,
   * PUT and DELETE; "unprocessed" for POST and PATCH, which the registry may have acted on.
   */
  retry?: RetryRule;
  /** Follow 3xx (blob GETs are redirected to storage). */
  followRedirects?: boolean;
  /**
   * send(): read the body whole, up to this limit. Without it the body is not read at all: replies
   * whose bodies the client does not use (uploads, mounts) are let go unread.
   * sendStream(): the body may not be longer (a blob's size).
   */
  limit?: BodyLimit;
}

export interface Reply {
  status: number;
  headers: Headers;
  /** Empty unless the request asked for the body with `limit`. */
  body: Buffer;
}

export interface StreamReply {
  status: number;
  headers: Headers;
  stream: Readable;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = [301, 302, 303, 307, 308];
/** Error replies are read this far for their OCI error code and message, no further. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** A token reply is a few KiB of JSON; nothing honest comes near this. */
const TOKEN_REPLY_LIMIT: BodyLimit = {
  maxBytes: 1024 * 1024,
  option: "token reply limit",
  code: "TOKEN_INVALID",
};

/** Errors worth retrying at a higher level (an upload resumes; a copy re-opens its source). */
const transientErrors = new WeakSet<Error>();

export function isTransientRegistryError(err: unknown): boolean {
  if (err instanceof RegistryError) {
    if (transientErrors.has(err)) return true;
    return err.status !== undefined && isRetryableStatus(err.status);
  }
  return isTransientError(err);
}
const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/;

/** Plain HTTP only for loopback unless told otherwise: credentials must not cross a network in clear. */
export function defaultInsecure(registry: string): boolean {
  return LOOPBACK.test(registry);
}

interface Where {
  registry: string;
  repository: string;
  operation: string;
}

export class Transport {
  readonly opts: TransportOptions;
  readonly auth: Authenticator;

  constructor(opts: TransportOptions) {
    this.opts = opts;
    this.auth = new Authenticator({
      credentials: opts.credentials,
      redactor: opts.redactor,
      insecure: opts.insecure,
      log: (l) => this.log(l),
      fetchToken: (url, init, ctx) => this.#fetchToken(url, init, ctx),
    });
  }

  log(line: string): void {
    this.opts.log(this.opts.redactor.redact(line));
  }

  baseUrl(registry: string): string {
    return `${this.opts.insecure(registry) ? "http" : "https"}://${registry}`;
  }

  resolve(registry: string, url: string): URL {
    return new URL(url, this.baseUrl(registry));
  }

  /** Scheme, host and port of the registry: the one place its credentials may be sent. */
  origin(registry: string): string {
    return new URL(this.baseUrl(registry)).origin;
  }

  /** Sends; reads the body whole when `spec.limit` asks for it (manifests, configs). */
  async send(spec: RequestSpec): Promise<Reply> {
    const limit = spec.limit;
    return this.#exchange(spec, async (res, clock) => ({
      status: res.status,
      headers: res.headers,
      body: limit
        ? await readWhole(res, clock, limit.maxBytes, this.#cutoff(spec, limit))
        : await discard(res).then(() => Buffer.alloc(0)),
    }));
  }

  /**
   * Sends and hands back the body as a stream. The attempt's timer covers the response headers; after
   * that the body may fall silent for no longer than timeoutMs and must deliver every
   * streamWindowBytes within deadlineMs, so a large blob at honest speed is never cut and a trickle is.
   */
  async sendStream(spec: RequestSpec): Promise<StreamReply> {
    return this.#exchange(spec, async (res, clock) => {
      clock.stop();
      const opts: Parameters<typeof guardStream>[1] = {
        idleMs: this.opts.timeoutMs,
        deadlineMs: this.opts.deadlineMs,
        windowBytes: this.opts.streamWindowBytes,
      };
      if (spec.limit) opts.maxBytes = spec.limit.maxBytes;
      const stream = guardStream(res, opts, this.#cutoff(spec, spec.limit), (e) =>
        e instanceof RegistryError ? e : this.networkError(spec, e, 1),
      );
      return { status: res.status, headers: res.headers, stream };
    });
  }

  /** The error each kind of cutoff fails the reading with; each names the registry and the bound. */
  #cutoff(where: Where, limit: BodyLimit | undefined): CutoffError {
    const at = `${where.operation} ${where.registry}/${where.repository}`;
    const details = { registry: where.registry, repository: where.repository, operation: where.operation };
    return (c) => {
      switch (c.kind) {
        case "headers":
          // A network-level timeout like any other (retried when the request allows).
          return new DOMException(`timed out after ${c.ms} ms`, "TimeoutError");
        case "idle": {
          const e = new RegistryError(`${at}: no data for ${c.ms} ms (timeoutMs) after ${c.bytes} bytes`, {
            ...details,
            code: "ETIMEDOUT",
          });
          transientErrors.add(e);
          return e;
        }
        case "deadline":
          return new RegistryError(
            c.windowBytes === undefined
              ? `${at}: reply not complete within the ${c.ms} ms deadline (deadlineMs); stopped after ${c.bytes} bytes`
              : `${at}: fewer than ${c.windowBytes} bytes in ${c.ms} ms (deadlineMs, per ${c.windowBytes} bytes streamed); stopped after ${c.bytes} bytes`,
            { ...details, code: "DEADLINE_EXCEEDED" },
          );
        case "limit":
          return new RegistryError(
            c.declared !== undefined
              ? `${at}: reply announces ${c.declared} bytes, more than the ${c.limit} allowed (${limit?.option}); not read`
              : `${at}: reply exceeds the ${c.limit} bytes allowed (${limit?.option}); stopped reading`,
            { ...details, code: limit?.code ?? "SIZE_INVALID" },
          );
      }
    };
  }

  async #exchange<T extends { status: number }>(
    spec: RequestSpec,
    consume: (res: Response, clock: AttemptClock) => Promise<T>,
  ): Promise<T> {
    const rule: RetryRule =
      spec.retry ?? (spec.method === "POST" || spec.method === "PATCH" ? "unprocessed" : "idempotent");
    const { attempts } = this.opts.policy;
    let scopes = spec.scopes;
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      const authorization = await this.auth.authorization(spec.registry, spec.repository, scopes);
      const clock = new AttemptClock(
        this.opts.timeoutMs,
        this.opts.deadlineMs,
        this.#cutoff(spec, spec.limit),
      );
      let result: T | undefined;
      let failure: unknown;
      try {
        const out = await this.#fetchFollowing(spec, authorization, clock.signal);
        const res = out.res;
        clock.headers();
        if (res.status === 401 && out.url.origin !== this.origin(spec.registry)) {
          // A storage host or upload Location answering 401 is not the registry asking for its
          // credentials: answering its challenge would hand them (or a token) to whoever it names.
          await discard(res);
          throw this.foreignChallenge(spec, out.url);
        }
        if (res.status === 401 && authRetried) {
          // Throws the "not authorized … as user X" error when credentials or a token were refused.
          await this.auth.challenge(
            spec.registry,
            spec.repository,
            res.headers.get("www-authenticate"),
            scopes,
            authorization,
            true,
          );
        }
        if (res.status === 401 && !authRetried) {
          await discard(res);
          authRetried = true;
          scopes = await this.auth.challenge(
            spec.registry,
            spec.repository,
            res.headers.get("www-authenticate"),
            scopes,
            authorization,
          );
          attempt--; // an auth round trip is not a failed attempt
          continue;
        }
        if (mayRetryStatus(rule, res.status) && attempt < attempts) {
          const wait = backoffDelay(
            this.opts.policy,
            attempt,
            parseRetryAfter(res.headers.get("retry-after")),
          );
          await discard(res);
          this.log(
            `${spec.operation} ${spec.registry}/${spec.repository}: HTTP ${res.status}, retry ${attempt}/${attempts - 1} in ${wait} ms`,
          );
          await sleep(wait);
          continue;
        }
        if (!spec.ok.includes(res.status)) {
          const body = await readWhole(
            res,
            clock,
            MAX_ERROR_BODY_BYTES,
            this.#cutoff(spec, undefined),
            true,
          ).catch(() => Buffer.alloc(0));
          throw this.errorFromReply(spec, res.status, body, attempt);
        }
        result = await consume(res, clock);
      } catch (err) {
        failure = err;
      } finally {
        // A stream has its own guard by now; everything else is done with the attempt's timers.
        clock.stop();
      }
      if (result !== undefined) return result;
      if (failure instanceof RegistryError && !transientErrors.has(failure)) throw failure;
      if (mayRetryError(rule, failure) && attempt < attempts) {
        const wait = backoffDelay(this.opts.policy, attempt);
        this.log(
          `${spec.operation} ${spec.registry}/${spec.repository}: ${describeNetworkError(failure)}, retry ${attempt}/${attempts - 1} in ${wait} ms`,
        );
        await sleep(wait);
        continue;
      }
      throw this.networkError(spec, failure, attempt);
    }
  }

  async #fetchFollowing(
    spec: RequestSpec,
    authorization: string | undefined,
    signal: AbortSignal,
  ): Promise<{ res: Response; url: URL }> {
    const home = this.origin(spec.registry);
    let url = this.resolve(spec.registry, spec.url);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...spec.headers };
      // Only the registry's own origin gets its credentials. Not a storage backend behind a redirect
      // (a presigned URL is its own auth), not an upload Location on another host, and not the
      // registry's own host over plain http when the registry is https: that would put them on the
      // network in clear.
      if (authorization && url.origin === home) headers.authorization = authorization;
      const init: RequestInit = { method: spec.method, headers, signal, redirect: "manual" };
      if (spec.body !== undefined) init.body = spec.body;
      const res = await fetch(url, init);
      const location = res.headers.get("location");
      if (spec.followRedirects && REDIRECTS.includes(res.status) && location) {
        if (hop >= MAX_REDIRECTS) return { res, url };
        await discard(res);
        url = new URL(location, url);
        continue;
      }
      return { res, url };
    }
  }

  async #fetchToken(
    url: URL,
    init: { method: "GET" | "POST"; headers: Record<string, string>; body?: string },
    ctx: { registry: string; repository: string },
  ): Promise<{ status: number; body: Buffer }> {
    const { attempts } = this.opts.policy;
    const where: Where = { ...ctx, operation: `authenticate (token service ${url.host})` };
    for (let attempt = 1; ; attempt++) {
      const clock = new AttemptClock(
        this.opts.timeoutMs,
        this.opts.deadlineMs,
        this.#cutoff(where, TOKEN_REPLY_LIMIT),
      );
      try {
        const res = await this.#fetchTokenFollowing(url, init, ctx, clock.signal);
        clock.headers();
        // Asking the realm again is harmless, GET or OAuth POST alike: it only issues another token.
        if (isRetryableStatus(res.status) && attempt < attempts) {
          const wait = backoffDelay(
            this.opts.policy,
            attempt,
            parseRetryAfter(res.headers.get("retry-after")),
          );
          await discard(res);
          this.log(
            `token service ${url.host}: HTTP ${res.status}, retry ${attempt}/${attempts - 1} in ${wait} ms`,
          );
          await sleep(wait);
          continue;
        }
        const limit = TOKEN_REPLY_LIMIT;
        const body = await readWhole(res, clock, limit.maxBytes, this.#cutoff(where, limit));
        return { status: res.status, body };
      } catch (err) {
        if (err instanceof RegistryError && !transientErrors.has(err)) throw err;
        if (isTransientError(err) && attempt < attempts) {
          const wait = backoffDelay(this.opts.policy, attempt);
          this.log(
            `token service ${url.host}: ${describeNetworkError(err)}, retry ${attempt}/${attempts - 1} in ${wait} ms`,
          );
          await sleep(wait);
          continue;
        }
        throw new RegistryError(
          this.opts.redactor.redact(
            `authenticate ${ctx.registry}/${ctx.repository}: token service ${url.host} unreachable after ${attempt} attempt(s): ${describeNetworkError(err)}`,
          ),
          { ...ctx, operation: "authenticate", code: "NETWORK", cause: this.opts.redactor.sanitize(err) },
        );
      } finally {
        clock.stop();
      }
    }
  }

  /**
   * The realm's redirects are followed within its origin only when the request carries credentials
   * (a Basic header or a refresh token in the body): a 307 would re-send them wherever it points.
   */
  async #fetchTokenFollowing(
    start: URL,
    init: { method: "GET" | "POST"; headers: Record<string, string>; body?: string },
    ctx: { registry: string; repository: string },
    signal: AbortSignal,
  ): Promise<Response> {
    const secret = init.headers.authorization !== undefined || init.body !== undefined;
    let url = start;
    let req: RequestInit = { method: init.method, headers: init.headers, signal, redirect: "manual" };
    if (init.body !== undefined) req.body = init.body;
    for (let hop = 0; ; hop++) {
      const res = await fetch(url, req);
      const location = res.headers.get("location");
      if (!REDIRECTS.includes(res.status) || !location || hop >= MAX_REDIRECTS) return res;
      await discard(res);
      const next = new URL(location, url);
      if (secret && next.origin !== start.origin) {
        throw new RegistryError(
          `authenticate ${ctx.registry}/${ctx.repository}: token service ${start.host} redirected to ${next.host}; credentials are sent only to the realm the registry named (${start.origin})`,
          { ...ctx, operation: "authenticate", code: "REALM_REDIRECT" },
        );
      }
      // As fetch does (RFC 9110 §15.4): 303, and 301/302 after a POST, continue as a GET without body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && req.method === "POST")) {
        req = { method: "GET", headers: init.headers, signal, redirect: "manual" };
      }
      url = next;
    }
  }

  errorFromReply(spec: RequestSpec, status: number, body: Buffer, attempts = 1): RegistryError {
    const { code, message } = parseOciError(body);
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    const text = `${spec.operation} ${spec.registry}/${spec.repository} failed${tries}: HTTP ${status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
    const details: ConstructorParameters<typeof RegistryError>[1] = {
      registry: spec.registry,
      repository: spec.repository,
      operation: spec.operation,
      status,
    };
    if (code) details.code = code;
    return new RegistryError(this.opts.redactor.redact(text), details);
  }

  foreignChallenge(spec: RequestSpec, url: URL): RegistryError {
    const home = this.origin(spec.registry);
    return new RegistryError(
      `${spec.operation} ${spec.registry}/${spec.repository}: ${url.origin} (reached through the registry, not the registry itself) answered HTTP 401; registry credentials are sent only to ${home}`,
      {
        registry: spec.registry,
        repository: spec.repository,
        operation: spec.operation,
        status: 401,
        code: "UNAUTHORIZED",
      },
    );
  }

  networkError(spec: RequestSpec, err: unknown, attempts: number): RegistryError {
    const out = new RegistryError(
      this.opts.redactor.redact(
        `${spec.operation} ${spec.registry}/${spec.repository} failed after ${attempts} attempt(s): ${describeNetworkError(err)}`,
      ),
      {
        registry: spec.registry,
        repository: spec.repository,
        operation: spec.operation,
        code: codeOf(err) ?? "NETWORK",
        cause: this.opts.redactor.sanitize(err),
      },
    );
    if (isTransientError(err)) transientErrors.add(out);
    return out;
  }
}

function codeOf(err: unknown): string | undefined {
  if (err instanceof Error && err.name === "TimeoutError") return "ETIMEDOUT";
  return errorCode(err);
}

/** "fetch failed" says nothing; the cause chain says what happened on the socket. */
export function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let d = 0; d < 4 && e instanceof Error; d++) {
    const code = (e as Error & { code?: unknown }).code;
    parts.push(typeof code === "string" && !e.message.includes(code) ? `${e.message} (${code})` : e.message);
    e = e.cause;
  }
  return parts.length > 0 ? parts.join(": ") : String(err);
}

/** Longest piece of a registry's own error text that reaches a message. */
const MAX_ERROR_TEXT = 200;

/**
 * A registry's text on one short line: it ends up in logs, where a line break followed by "::" would
 * be read as a workflow command.
 */
function oneLine(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The OCI error envelope: {"errors":[{"code","message","detail"}]}. */
export function parseOciError(body: Buffer): { code?: string; message?: string } {
  try {
    const json: unknown = JSON.parse(body.toString("utf8"));
    const first: unknown = isRecord(json) && Array.isArray(json.errors) ? json.errors[0] : undefined;
    if (isRecord(first)) {
      const out: { code?: string; message?: string } = {};
      if (typeof first.code === "string") out.code = oneLine(first.code, 64);
      if (typeof first.message === "string") out.message = oneLine(first.message, MAX_ERROR_TEXT);
      return out;
    }
  } catch {
    // not JSON: the status says enough
  }
  return {};
}

// One HTTP exchange with a registry, done right once: base URL (http only for insecure hosts),
// authentication (401 → challenge → retry), retries with backoff for 5xx/429/network errors, a
// timeout on every attempt, and errors that name the registry, repository and operation but never a
// secret. Credentials go only to the registry's own origin (scheme, host and port): redirects and
// upload Locations elsewhere, or to the same host over plain http, are sent without them, and a 401
// from anywhere but that origin is an error, never a challenge to answer with the registry's secrets.

import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { isRecord } from "../util/record.js";
import { Authenticator } from "./auth.js";
import { errorCode, RegistryError, type SecretRedactor } from "./errors.js";
import {
  backoffDelay,
  isRetryableStatus,
  isTransientError,
  parseRetryAfter,
  type RetryPolicy,
  sleep,
} from "./retry.js";
import type { CredentialSource } from "./types.js";

export interface TransportOptions {
  credentials: CredentialSource | undefined;
  insecure: (registry: string) => boolean;
  timeoutMs: number;
  policy: RetryPolicy;
  redactor: SecretRedactor;
  log: (line: string) => void;
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
  /** Retry 5xx/429/network failures here (default). Uploads say no and recover themselves. */
  retry?: boolean;
  /** Follow 3xx (blob GETs are redirected to storage). */
  followRedirects?: boolean;
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface StreamReply {
  status: number;
  headers: Headers;
  stream: Readable;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = [301, 302, 303, 307, 308];

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

  /** Sends and reads the whole body (manifests, errors, empty upload replies). */
  async send(spec: RequestSpec): Promise<Reply> {
    return this.#exchange(spec, async (res) => ({
      status: res.status,
      headers: res.headers,
      body: Buffer.from(await res.arrayBuffer()),
    }));
  }

  /**
   * Sends and hands back the body as a stream. The attempt timeout covers the response headers; after
   * that an idle timeout (no byte for timeoutMs) guards the body, so large blobs are not cut short.
   */
  async sendStream(spec: RequestSpec): Promise<StreamReply> {
    return this.#exchange(spec, async (res) => {
      const web = res.body as WebReadableStream<Uint8Array> | null;
      const source = web ? Readable.fromWeb(web) : Readable.from([]);
      return { status: res.status, headers: res.headers, stream: this.#idleGuard(source, spec) };
    });
  }

  #idleGuard(source: Readable, spec: RequestSpec): Readable {
    const ms = this.opts.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const guard = new Transform({
      transform(chunk: Buffer, _enc, done) {
        arm();
        done(null, chunk);
      },
      flush(done) {
        clearTimeout(timer);
        done();
      },
    });
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const err = new RegistryError(
          `${spec.operation} ${spec.registry}/${spec.repository}: no data for ${ms} ms`,
          {
            registry: spec.registry,
            repository: spec.repository,
            operation: spec.operation,
            code: "ETIMEDOUT",
          },
        );
        transientErrors.add(err);
        source.destroy(err);
        guard.destroy(err);
      }, ms);
      timer.unref();
    };
    arm();
    source.on("error", (e) => {
      clearTimeout(timer);
      guard.destroy(e instanceof RegistryError ? e : this.networkError(spec, e, 1));
    });
    guard.on("close", () => clearTimeout(timer));
    return source.pipe(guard);
  }

  async #exchange<T extends { status: number }>(
    spec: RequestSpec,
    consume: (res: Response) => Promise<T>,
  ): Promise<T> {
    const retry = spec.retry ?? true;
    const { attempts } = this.opts.policy;
    let scopes = spec.scopes;
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      const authorization = await this.auth.authorization(spec.registry, spec.repository, scopes);
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new DOMException(`timed out after ${this.opts.timeoutMs} ms`, "TimeoutError")),
        this.opts.timeoutMs,
      );
      let result: T | undefined;
      let res: Response | undefined;
      let failure: unknown;
      try {
        const out = await this.#fetchFollowing(spec, authorization, controller.signal);
        res = out.res;
        if (res.status === 401 && out.url.origin !== this.origin(spec.registry)) {
          // A storage host or upload Location answering 401 is not the registry asking for its
          // credentials: answering its challenge would hand them (or a token) to whoever it names.
          await res.arrayBuffer().catch(() => undefined);
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
          await res.arrayBuffer().catch(() => undefined);
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
        if (retry && isRetryableStatus(res.status) && attempt < attempts) {
          const wait = backoffDelay(
            this.opts.policy,
            attempt,
            parseRetryAfter(res.headers.get("retry-after")),
          );
          await res.arrayBuffer().catch(() => undefined);
          this.log(
            `${spec.operation} ${spec.registry}/${spec.repository}: HTTP ${res.status}, retry ${attempt}/${attempts - 1} in ${wait} ms`,
          );
          await sleep(wait);
          continue;
        }
        if (!spec.ok.includes(res.status)) {
          const body = await res.arrayBuffer().then(
            (b) => Buffer.from(b),
            () => Buffer.alloc(0),
          );
          throw this.errorFromReply(spec, res.status, body, attempt);
        }
        result = await consume(res);
      } catch (err) {
        failure = err;
      } finally {
        // Streams keep their own idle guard; everything else is done with the attempt's timer.
        clearTimeout(timer);
      }
      if (result !== undefined) return result;
      if (failure instanceof RegistryError) throw failure;
      if (retry && isTransientError(failure) && attempt < attempts) {
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
        await res.arrayBuffer().catch(() => undefined);
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
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.#fetchTokenFollowing(url, init, ctx, AbortSignal.timeout(this.opts.timeoutMs));
        const body = Buffer.from(await res.arrayBuffer());
        if (isRetryableStatus(res.status) && attempt < attempts) {
          const wait = backoffDelay(
            this.opts.policy,
            attempt,
            parseRetryAfter(res.headers.get("retry-after")),
          );
          this.log(
            `token service ${url.host}: HTTP ${res.status}, retry ${attempt}/${attempts - 1} in ${wait} ms`,
          );
          await sleep(wait);
          continue;
        }
        return { status: res.status, body };
      } catch (err) {
        if (isTransientError(err) && attempt < attempts) {
          const wait = backoffDelay(this.opts.policy, attempt);
          this.log(
            `token service ${url.host}: ${describeNetworkError(err)}, retry ${attempt}/${attempts - 1} in ${wait} ms`,
          );
          await sleep(wait);
          continue;
        }
        if (err instanceof RegistryError) throw err;
        throw new RegistryError(
          this.opts.redactor.redact(
            `authenticate ${ctx.registry}/${ctx.repository}: token service ${url.host} unreachable after ${attempt} attempt(s): ${describeNetworkError(err)}`,
          ),
          { ...ctx, operation: "authenticate", code: "NETWORK", cause: this.opts.redactor.sanitize(err) },
        );
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
      await res.arrayBuffer().catch(() => undefined);
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

/** The OCI error envelope: {"errors":[{"code","message","detail"}]}. */
export function parseOciError(body: Buffer): { code?: string; message?: string } {
  try {
    const json: unknown = JSON.parse(body.toString("utf8"));
    const first: unknown = isRecord(json) && Array.isArray(json.errors) ? json.errors[0] : undefined;
    if (isRecord(first)) {
      const out: { code?: string; message?: string } = {};
      if (typeof first.code === "string") out.code = first.code;
      if (typeof first.message === "string") out.message = first.message;
      return out;
    }
  } catch {
    // not JSON: the status says enough
  }
  return {};
}

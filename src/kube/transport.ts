// One HTTP exchange with the API server, done once for every call: the kubeconfig's auth applied by
// client-node (KubeConfig.applyToHTTPSOptions: bearer/basic/exec/provider headers, CA, client cert),
// a timeout on every attempt, retries with backoff for idempotent requests, counters of what was sent,
// bounded reply bodies, and errors naming the server and the operation — never a header.
//
// Written on node:http rather than client-node's generated APIs: those give no per-call timeout, no
// retry policy, no request counts, and their watch cannot resume from a resourceVersion after a cut.

import { readFileSync } from "node:fs";
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import type { Cluster } from "@kubernetes/client-node";
import { isRecord } from "../util/record.js";
import {
  describeOperation,
  KubeConfigError,
  KubeError,
  networkError,
  type Operation,
  statusError,
} from "./errors.js";
import type { KubeAccess } from "./kubeconfig.js";
import { mayRetry, parseRetryAfter, type RetryPolicy, retryDelay, sleep } from "./retry.js";
import type { Status } from "./types.js";

/** What the client has sent; the benchmark reads these. */
export interface RequestCounters {
  /** HTTP requests sent, every attempt and every watch connection included. */
  readonly requests: number;
  /** Of those, requests that may change the cluster (POST, PUT, PATCH, DELETE; dry runs excluded). */
  readonly writes: number;
  /** Attempts that repeated an earlier one. */
  readonly retries: number;
  /** Watch connections opened (reconnects included). */
  readonly watches: number;
}

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path and query, e.g. `/apis/apps/v1/namespaces/x/deployments/y?fieldManager=slipway`. */
  readonly path: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly accept?: string;
  readonly operation: Operation;
  /** Safe to repeat as is (GET, server-side apply, DELETE); a create is not. */
  readonly idempotent: boolean;
  /** Counts as a write (false for reads and for dry runs). */
  readonly write: boolean;
  /** Statuses handed back to the caller instead of thrown (2xx always are). */
  readonly expect?: readonly number[];
  readonly timeoutMs?: number;
  /** Largest body read; past it the body is cut (`truncated`) or the call fails, per `overflow`. */
  readonly maxBytes?: number;
  readonly overflow?: "truncate" | "error";
  readonly signal?: AbortSignal;
}

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly truncated: boolean;
}

export interface TransportOptions {
  readonly access: KubeAccess;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly onSecret?: (secret: string) => void;
  readonly log?: (line: string) => void;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

interface Exchange {
  readonly res: IncomingMessage;
  readonly done: () => void;
  readonly timedOut: () => boolean;
}

export class Transport {
  readonly server: string;
  readonly #opts: TransportOptions;
  readonly #counters = { requests: 0, writes: 0, retries: 0, watches: 0 };
  readonly #reported = new Set<string>();
  readonly #agents = new Map<string, HttpAgent>();

  constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.server = opts.access.server;
  }

  get counters(): RequestCounters {
    return { ...this.#counters };
  }

  /** Sends and reads the whole (bounded) body. 2xx and `expect` statuses return; others throw KubeError. */
  async send(req: HttpRequest): Promise<HttpReply> {
    return this.#exchange(req, false, async (res) => ({
      status: res.statusCode ?? 0,
      headers: res.headers,
      ...(await readBody(
        res,
        req.maxBytes ?? DEFAULT_MAX_BYTES,
        req.overflow ?? "error",
        req.operation,
        this.server,
      )),
    }));
  }

  /**
   * Opens a streaming response (a watch). Resolves once a 2xx's headers arrive, handing over the
   * body unread; the timeout covers only the wait for headers. Non-2xx statuses in `expect` resolve
   * with their body read (e.g. 410 Gone).
   */
  async open(req: HttpRequest): Promise<{ status: number; stream?: IncomingMessage; body?: Buffer }> {
    this.#counters.watches++;
    return this.#exchange(req, true, async (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return { status, stream: res };
      return {
        status,
        body: (await readBody(res, 1024 * 1024, "truncate", req.operation, this.server)).body,
      };
    });
  }

  async #exchange<T>(
    req: HttpRequest,
    streaming: boolean,
    consume: (res: IncomingMessage) => Promise<T>,
  ): Promise<T> {
    const { attempts } = this.#opts.retry;
    for (let attempt = 1; ; attempt++) {
      const options = await this.#requestOptions();
      this.#counters.requests++;
      if (req.write) this.#counters.writes++;
      if (attempt > 1) this.#counters.retries++;
      let exchange: Exchange;
      try {
        exchange = await this.#attempt(req, options, streaming);
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason;
        const code = errorCode(err) ?? "ECONNRESET";
        if (attempt < attempts && mayRetry(req.idempotent, { code })) {
          await this.#wait(req, attempt, undefined, code);
          continue;
        }
        throw networkError(
          req.operation,
          this.server,
          code,
          err instanceof Error ? err.message : "",
          attempt,
        );
      }
      const { res, done } = exchange;
      const status = res.statusCode ?? 0;
      if ((status >= 200 && status < 300) || (req.expect ?? []).includes(status)) {
        try {
          return await consume(res);
        } catch (err) {
          if (req.signal?.aborted) throw req.signal.reason;
          if (err instanceof KubeError) throw err;
          // The reply was cut while being read: as good as a dropped connection.
          const code = exchange.timedOut() ? "ETIMEDOUT" : (errorCode(err) ?? "ECONNRESET");
          if (attempt < attempts && mayRetry(req.idempotent, { code })) {
            await this.#wait(req, attempt, undefined, code);
            continue;
          }
          throw networkError(
            req.operation,
            this.server,
            code,
            err instanceof Error ? err.message : "",
            attempt,
          );
        } finally {
          done();
        }
      }
      const body = await readBody(res, 1024 * 1024, "truncate", req.operation, this.server).catch(() => ({
        body: Buffer.alloc(0),
      }));
      done();
      if (attempt < attempts && mayRetry(req.idempotent, { status })) {
        const header = res.headers["retry-after"];
        const retryAfter = parseRetryAfter(Array.isArray(header) ? header[0] : header);
        await this.#wait(req, attempt, retryAfter, `HTTP ${status}`);
        continue;
      }
      throw statusError(req.operation, this.server, status, parseStatus(body.body), attempt);
    }
  }

  async #wait(
    req: HttpRequest,
    attempt: number,
    retryAfterMs: number | undefined,
    why: string,
  ): Promise<void> {
    const ms = retryDelay(this.#opts.retry, attempt, retryAfterMs);
    this.#opts.log?.(
      `${req.method} ${req.path.split("?")[0]}: ${why}; retrying in ${ms} ms (attempt ${attempt + 1}/${this.#opts.retry.attempts})`,
    );
    await sleep(ms, req.signal);
  }

  /** One attempt: resolves once the response's headers arrive; `done` stops its timer. */
  #attempt(req: HttpRequest, options: RequestOptions, streaming: boolean): Promise<Exchange> {
    const url = new URL(req.path, `${this.server}/`);
    const headers: Record<string, string> = {
      ...(options.headers as Record<string, string>),
      Accept: req.accept ?? "application/json",
      "User-Agent": "slipway",
    };
    if (req.body !== undefined) {
      headers["Content-Type"] = req.contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(req.body));
    }
    const timeoutMs = req.timeoutMs ?? this.#opts.timeoutMs;
    return new Promise((resolve, reject) => {
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const r = send(url, { ...options, method: req.method, headers });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        r.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" }));
      }, timeoutMs);
      const onAbort = () => r.destroy(Object.assign(new Error("aborted"), { code: "ABORT_ERR" }));
      req.signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        req.signal?.removeEventListener("abort", onAbort);
      };
      r.on("error", (err) => {
        done();
        reject(err);
      });
      r.on("response", (res) => {
        // A stream's life is the caller's from here: a watch has its own deadline and abort.
        if (streaming && (res.statusCode ?? 0) < 300) done();
        resolve({ res, done, timedOut: () => timedOut });
      });
      r.end(req.body);
    });
  }

  /** Auth and TLS from the kubeconfig, per request: exec plugins and token files may rotate. */
  async #requestOptions(): Promise<RequestOptions> {
    const { kubeConfig, cluster, source, context } = this.#opts.access;
    const opts: RequestOptions = { headers: {} };
    try {
      await kubeConfig.applyToHTTPSOptions(opts);
      completeTls(opts, cluster);
    } catch (err) {
      // An exec plugin that fails, a certificate file that is gone: a config problem, not worth a retry.
      throw new KubeConfigError(
        `cannot prepare the credentials of context "${context}" in ${source}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const headers = (opts.headers ?? {}) as Record<string, string>;
    this.#report(headers.Authorization ?? headers.authorization);
    if (typeof opts.auth === "string") this.#report(opts.auth.slice(opts.auth.indexOf(":") + 1));
    // client-node's agent keeps no connection alive; ours does, except through a proxy, where its own
    // (HTTP CONNECT or SOCKS) agent is the only one that knows the way.
    if (!cluster.proxyUrl) opts.agent = this.#agent(opts);
    return { ...opts, headers };
  }

  #agent(opts: RequestOptions): HttpAgent {
    const tls = {
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.cert !== undefined ? { cert: opts.cert } : {}),
      ...(opts.key !== undefined ? { key: opts.key } : {}),
      ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
      ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
    };
    const key = JSON.stringify(
      Object.entries(tls).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString("base64") : v]),
    );
    let agent = this.#agents.get(key);
    if (!agent) {
      agent = this.server.startsWith("https:")
        ? new HttpsAgent({ keepAlive: true, ...tls })
        : new HttpAgent({ keepAlive: true });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  #report(authorization: string | undefined): void {
    if (!authorization) return;
    const secret = authorization.replace(/^(Bearer|Basic)\s+/i, "");
    if (secret.length < 4 || this.#reported.has(secret)) return;
    this.#reported.add(secret);
    this.#opts.onSecret?.(secret);
  }

  /** Closes idle keep-alive connections so the process can exit. */
  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}

/**
 * client-node applies the cluster's CA and TLS settings only when the context has a user; a context
 * without one still talks to the same server, so the cluster's settings are applied here too.
 */
function completeTls(opts: RequestOptions, cluster: Cluster): void {
  if (cluster.skipTLSVerify) opts.rejectUnauthorized = false;
  if (cluster.tlsServerName && opts.servername === undefined) opts.servername = cluster.tlsServerName;
  if (opts.ca === undefined) {
    if (cluster.caFile) opts.ca = readFileSync(cluster.caFile);
    else if (cluster.caData) opts.ca = Buffer.from(cluster.caData, "base64");
  }
}

async function readBody(
  res: IncomingMessage,
  maxBytes: number,
  overflow: "truncate" | "error",
  op: Operation,
  server: string,
): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size + chunk.length > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - size));
      res.destroy();
      if (overflow === "error") {
        throw new KubeError(`${describeOperation(op)}: the reply is larger than ${maxBytes} bytes`, {
          operation: op,
          server,
        });
      }
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

/** The Status in an error reply, if it is one; a proxy's HTML page becomes its first words. */
export function parseStatus(body: Buffer): Status | undefined {
  const text = body.toString("utf8").trim();
  if (text === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) return parsed as Status;
  } catch {
    // not JSON
  }
  return {
    message: text
      .replace(/<[^>]*>/g, " ")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 300),
  };
}

/** The errno-style code of an error or of its causes. */
export function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = e.cause;
  }
  return undefined;
}

// Every read of a registry's reply is bounded before it starts, so no registry can make the runner
// hang or fill its memory: a timer for the response headers, an idle timer between body bytes, a
// deadline for the whole reply (for a streamed blob, for every window of bytes), and a byte limit
// that stops reading the moment it is passed — a body is never buffered beyond it.

import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

/** Why a reply was cut off; the transport turns these into RegistryErrors that say so. */
export type Cutoff =
  | { kind: "headers"; ms: number }
  | { kind: "idle"; ms: number; bytes: number }
  | { kind: "deadline"; ms: number; bytes: number; windowBytes?: number }
  | { kind: "limit"; limit: number; bytes: number; declared?: number };

/** What the transport makes of a cutoff: the error the reading fails with. */
export type CutoffError = (c: Cutoff) => Error;

/**
 * The timers of one attempt. Until the headers arrive, `timeoutMs` (the request body is sent within
 * it too: its progress cannot be observed); then no gap longer than `timeoutMs` between body bytes,
 * and everything, headers included, within `deadlineMs`. A timer that fires aborts the request with
 * the error `fail` makes, which fetch hands to whoever is reading.
 */
export class AttemptClock {
  readonly controller = new AbortController();
  readonly #timeoutMs: number;
  readonly #fail: CutoffError;
  #idle: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #bytes = 0;

  constructor(timeoutMs: number, deadlineMs: number, fail: CutoffError) {
    this.#timeoutMs = timeoutMs;
    this.#fail = fail;
    this.#idle = this.#arm(timeoutMs, () => ({ kind: "headers", ms: timeoutMs }));
    this.#deadline = this.#arm(deadlineMs, () => ({ kind: "deadline", ms: deadlineMs, bytes: this.#bytes }));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The headers are in: from now on the idle timer guards the body. */
  headers(): void {
    this.progress(0);
  }

  progress(bytes: number): void {
    this.#bytes += bytes;
    clearTimeout(this.#idle);
    const ms = this.#timeoutMs;
    this.#idle = this.#arm(ms, () => ({ kind: "idle", ms, bytes: this.#bytes }));
  }

  stop(): void {
    clearTimeout(this.#idle);
    clearTimeout(this.#deadline);
  }

  #arm(ms: number, cutoff: () => Cutoff): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.stop();
      this.controller.abort(this.#fail(cutoff()));
    }, ms);
    t.unref();
    return t;
  }
}

function declaredLength(res: Response): number | undefined {
  const v = res.headers.get("content-length");
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

/** Lets go of a reply's body without reading it (the connection is closed if it was not done). */
export async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/**
 * The whole body, at most `limit` bytes. Past the limit (or announced past it by Content-Length)
 * reading stops and `truncate` decides: false fails with a "limit" cutoff, true returns what came.
 */
export async function readWhole(
  res: Response,
  clock: AttemptClock,
  limit: number,
  fail: CutoffError,
  truncate = false,
): Promise<Buffer> {
  const declared = declaredLength(res);
  if (declared !== undefined && declared > limit && !truncate) {
    await discard(res);
    throw fail({ kind: "limit", limit, bytes: 0, declared });
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const parts: Buffer[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    clock.progress(value.length);
    const room = limit - bytes;
    if (value.length > room) {
      await reader.cancel().catch(() => undefined);
      if (!truncate) throw fail({ kind: "limit", limit, bytes: bytes + value.length });
      parts.push(Buffer.from(value.buffer, value.byteOffset, room));
      bytes = limit;
      break;
    }
    parts.push(Buffer.from(value.buffer, value.byteOffset, value.length));
    bytes += value.length;
  }
  return Buffer.concat(parts, bytes);
}

/**
 * A streamed body (a blob) as a Node stream, guarded: no gap longer than `idleMs`, each `windowBytes`
 * within `deadlineMs` (a large blob at honest speed is never cut, a trickle is), and never more than
 * `maxBytes`. A guard that trips destroys the body, which closes the connection.
 */
export function guardStream(
  res: Response,
  opts: { idleMs: number; deadlineMs: number; windowBytes: number; maxBytes?: number },
  fail: CutoffError,
  onError: (e: unknown) => Error,
): Readable {
  const web = res.body as WebReadableStream<Uint8Array> | null;
  const source = web ? Readable.fromWeb(web) : Readable.from([]);
  let bytes = 0;
  let windowStart = 0;
  let idle: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const trip = (e: Error) => {
    clearTimeout(idle);
    clearTimeout(deadline);
    source.destroy(e);
    guard.destroy(e);
  };
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => trip(fail({ kind: "idle", ms: opts.idleMs, bytes })), opts.idleMs);
    idle.unref();
  };
  const armWindow = () => {
    clearTimeout(deadline);
    windowStart = bytes;
    deadline = setTimeout(
      () => trip(fail({ kind: "deadline", ms: opts.deadlineMs, bytes, windowBytes: opts.windowBytes })),
      opts.deadlineMs,
    );
    deadline.unref();
  };
  const guard = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
        clearTimeout(idle);
        clearTimeout(deadline);
        return done(fail({ kind: "limit", limit: opts.maxBytes, bytes }));
      }
      armIdle();
      if (bytes - windowStart >= opts.windowBytes) armWindow();
      done(null, chunk);
    },
    flush(done) {
      clearTimeout(idle);
      clearTimeout(deadline);
      done();
    },
  });
  armIdle();
  armWindow();
  source.on("error", (e) => {
    clearTimeout(idle);
    clearTimeout(deadline);
    if (!guard.destroyed) guard.destroy(onError(e));
  });
  guard.on("close", () => {
    clearTimeout(idle);
    clearTimeout(deadline);
    if (!source.destroyed) source.destroy();
  });
  return source.pipe(guard);
}

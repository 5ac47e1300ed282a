// Watching a collection until a deadline, as the API concepts describe it
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes):
// list, then watch from the list's resourceVersion; the stream is line-delimited JSON events (each
// line bounded here); when it ends or breaks, watch again from the last resourceVersion seen (so no
// event is delivered twice); when that resourceVersion is too old (HTTP 410, or an ERROR event with
// code 410), list again and report what changed in between; bookmarks only move the resourceVersion.
// Never polls: every wait is on the stream, the deadline, or a backoff after a failure.

import type { IncomingMessage } from "node:http";
import { isRecord } from "../util/record.js";
import { KubeError, type Operation } from "./errors.js";
import { isRetryableStatus, type RetryPolicy, retryDelay, sleep } from "./retry.js";
import type { HttpRequest } from "./transport.js";
import type { KubeList, KubeObject, Status } from "./types.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent<T extends KubeObject = KubeObject> {
  readonly type: WatchEventType;
  readonly object: T;
  /** When the event reached Slipway (ms since the epoch). */
  readonly receivedAt: number;
  /** Made up from a list (the first one, or a relist after 410) rather than sent as a watch event. */
  readonly fromList: boolean;
}

export interface WatchQuery {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Start after this resourceVersion; without it the watch lists first and reports every item as ADDED. */
  readonly resourceVersion?: string;
}

export interface WatchControl {
  /** When to stop (ms since the epoch). Every watch ends. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
  /** Called after the first list's items (and after each relist's changes) have been delivered. */
  readonly onSynced?: () => void;
  /**
   * How long the API server may keep failing (unreachable, 5xx) once the watch has started before the
   * watch gives up with its error; default 60 s. The first list fails after the client's own retries.
   */
  readonly outageToleranceMs?: number;
}

export interface WatchSummary {
  readonly reason: "deadline" | "aborted";
  /** The last resourceVersion seen: a later watch can resume from it. */
  readonly resourceVersion: string;
  readonly connections: number;
  readonly relists: number;
  readonly events: number;
}

/** What the watch needs from the client; passed in so the loop can be driven by the real transport only. */
export interface WatchDeps {
  readonly open: (req: HttpRequest) => Promise<{ status: number; stream?: IncomingMessage; body?: Buffer }>;
  readonly list: (signal: AbortSignal) => Promise<KubeList<KubeObject>>;
  /** The collection path, e.g. `/api/v1/namespaces/x/pods`. */
  readonly path: string;
  readonly operation: Operation;
  readonly server: string;
  readonly retry: RetryPolicy;
  readonly log?: (line: string) => void;
}

/** A watch event line can hold a whole object; objects are capped at ~1.5 MiB by etcd, lines here at 8 MiB. */
export const MAX_WATCH_LINE_BYTES = 8 * 1024 * 1024;
/** The server ends each watch after this long (timeoutSeconds) and the client watches again. */
const MAX_WATCH_SECONDS = 300;
/** Silence longer than the server's own timeout plus this means the connection is dead. */
const IDLE_GRACE_MS = 30_000;
/** How long a watch keeps reconnecting to an API server that fails (restart, upgrade) before it gives up. */
const OUTAGE_TOLERANCE_MS = 60_000;

export class LineTooLong extends Error {
  override readonly name = "LineTooLong";
}

/** Splits a byte stream into lines, keeping multi-byte characters whole, refusing lines over a bound. */
export class LineSplitter {
  readonly #max: number;
  #parts: Buffer[] = [];
  #size = 0;

  constructor(maxLineBytes: number) {
    this.#max = maxLineBytes;
  }

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.#add(chunk.subarray(start, nl));
      const line = Buffer.concat(this.#parts).toString("utf8");
      this.#parts = [];
      this.#size = 0;
      if (line.trim() !== "") lines.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) this.#add(chunk.subarray(start));
    return lines;
  }

  #add(piece: Buffer): void {
    if (this.#size + piece.length > this.#max) {
      throw new LineTooLong(`a watch event is longer than ${this.#max} bytes`);
    }
    this.#parts.push(piece);
    this.#size += piece.length;
  }
}

type StreamEnd =
  | { readonly kind: "ended"; readonly sawData: boolean }
  | { readonly kind: "broken"; readonly sawData: boolean; readonly why: string }
  | { readonly kind: "gone" }
  | { readonly kind: "failed"; readonly error: KubeError }
  | { readonly kind: "stopped" };

function isTransientKubeError(err: unknown): boolean {
  return err instanceof KubeError && (err.code !== undefined || isRetryableStatus(err.status ?? 0));
}

export async function runWatch(
  deps: WatchDeps,
  query: WatchQuery,
  onEvent: (event: WatchEvent) => void,
  control: WatchControl,
): Promise<WatchSummary> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(control.signal?.reason);
  control.signal?.addEventListener("abort", onAbort, { once: true });
  const remaining = () => control.deadline - Date.now();
  const timer = setTimeout(() => stop.abort(new Error("deadline")), Math.max(0, remaining()));
  const known = new Map<string, KubeObject>();
  let rv = query.resourceVersion ?? "";
  let connections = 0;
  let relists = 0;
  let events = 0;
  const stopped = () => stop.signal.aborted;

  const deliver = (type: WatchEventType, object: KubeObject, fromList: boolean) => {
    const key = keyOf(object);
    const objectRv = object.metadata?.resourceVersion;
    if (type === "DELETED") known.delete(key);
    else {
      // A server that replays what this watch already delivered gets no second delivery.
      if (objectRv !== undefined && known.get(key)?.metadata?.resourceVersion === objectRv) return;
      known.set(key, object);
    }
    events++;
    onEvent({ type, object, receivedAt: Date.now(), fromList });
  };

  /** Lists and reports the difference from what was delivered: new, changed, and vanished objects. */
  const relist = async () => {
    const list = await deps.list(stop.signal);
    const seen = new Set<string>();
    for (const item of list.items) {
      const key = keyOf(item);
      seen.add(key);
      deliver(known.has(key) ? "MODIFIED" : "ADDED", item, true);
    }
    for (const [key, object] of [...known]) {
      if (!seen.has(key)) deliver("DELETED", object, true);
    }
    rv = list.resourceVersion;
    control.onSynced?.();
  };

  try {
    if (rv === "") await relist();
    else control.onSynced?.();
    let failures = 0;
    let outageSince: number | undefined;
    const tolerance = control.outageToleranceMs ?? OUTAGE_TOLERANCE_MS;
    /** Backs off after a failure; rethrows it once the server has been failing for longer than tolerated. */
    const backOff = async (why: string, err?: unknown) => {
      failures++;
      if (err !== undefined) {
        outageSince ??= Date.now();
        if (Date.now() - outageSince > tolerance) throw err;
      }
      deps.log?.(`${deps.path}: ${why}; watching again`);
      if (failures > 1 || err !== undefined) {
        await sleep(retryDelay(deps.retry, failures), stop.signal).catch(() => {});
      }
    };
    while (!stopped()) {
      connections++;
      let end: StreamEnd;
      try {
        end = await streamOnce(deps, rv, query, remaining(), stop.signal, (line) => {
          const parsed = parseEvent(line);
          if (parsed === undefined) return "skip";
          if (parsed.type === "ERROR") {
            const status = parsed.object as Status;
            if (status.code === 410) return "gone";
            const error = new KubeError(
              `${deps.operation.verb} ${deps.operation.kind ?? ""}: the watch failed: ${status.message ?? "ERROR event"}`,
              {
                operation: deps.operation,
                server: deps.server,
                ...(status.code ? { status: status.code } : {}),
              },
            );
            // The server's own trouble (etcd timing out) passes; a refusal does not.
            if (status.code !== undefined && isRetryableStatus(status.code)) return error;
            throw error;
          }
          const objectRv = parsed.object.metadata?.resourceVersion;
          if (objectRv) rv = objectRv;
          if (parsed.type === "BOOKMARK") return "skip";
          if (parsed.type === "ADDED" || parsed.type === "MODIFIED" || parsed.type === "DELETED") {
            deliver(parsed.type, parsed.object, false);
          }
          return "skip";
        });
        if (end.kind === "gone") {
          relists++;
          deps.log?.(`${deps.path}: resourceVersion ${rv} is too old (410 Gone); listing again`);
          await relist();
        }
      } catch (err) {
        if (stopped()) break;
        // The API server unreachable or overloaded beyond the transport's own retries (a restart, an
        // upgrade): keep trying for a while, then fail with its error.
        if (!isTransientKubeError(err)) throw err;
        await backOff(err instanceof Error ? err.message : String(err), err);
        continue;
      }
      if (end.kind === "stopped") break;
      if (end.kind === "failed") {
        await backOff(end.error.message, end.error);
        continue;
      }
      outageSince = undefined;
      if (end.kind === "gone" || end.sawData) {
        failures = 0;
        continue;
      }
      // Ended or broke without a byte: back off before the next connection so a server (or a proxy) that
      // keeps closing at once is not hammered; the deadline still bounds the whole watch.
      await backOff(`watch ${end.kind}${end.kind === "broken" ? ` (${end.why})` : ""}`);
    }
  } catch (err) {
    if (!stopped()) throw err;
  } finally {
    clearTimeout(timer);
    control.signal?.removeEventListener("abort", onAbort);
    stop.abort();
  }
  return {
    reason: control.signal?.aborted ? "aborted" : "deadline",
    resourceVersion: rv,
    connections,
    relists,
    events,
  };
}

/** One watch connection, from `rv` until it ends, breaks, is gone, or the watch stops. */
async function streamOnce(
  deps: WatchDeps,
  rv: string,
  query: WatchQuery,
  remainingMs: number,
  signal: AbortSignal,
  onLine: (line: string) => "skip" | "gone" | KubeError,
): Promise<StreamEnd> {
  if (signal.aborted) return { kind: "stopped" };
  const seconds = Math.max(1, Math.min(MAX_WATCH_SECONDS, Math.ceil(remainingMs / 1000)));
  const params = new URLSearchParams({ watch: "1", resourceVersion: rv, allowWatchBookmarks: "true" });
  params.set("timeoutSeconds", String(seconds));
  if (query.labelSelector) params.set("labelSelector", query.labelSelector);
  if (query.fieldSelector) params.set("fieldSelector", query.fieldSelector);
  let opened: Awaited<ReturnType<WatchDeps["open"]>>;
  try {
    opened = await deps.open({
      method: "GET",
      path: `${deps.path}?${params}`,
      operation: deps.operation,
      idempotent: true,
      write: false,
      expect: [410],
      signal,
    });
  } catch (err) {
    if (signal.aborted) return { kind: "stopped" };
    throw err;
  }
  if (opened.status === 410) return { kind: "gone" };
  const stream = opened.stream;
  if (!stream) return { kind: "broken", sawData: false, why: `HTTP ${opened.status}` };

  return new Promise<StreamEnd>((resolve, reject) => {
    const lines = new LineSplitter(MAX_WATCH_LINE_BYTES);
    let sawData = false;
    let settled = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (end: StreamEnd | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      signal.removeEventListener("abort", onAbort);
      stream.destroy();
      if (end instanceof Error) reject(end);
      else resolve(end);
    };
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () => finish({ kind: "broken", sawData, why: "no data from the server" }),
        seconds * 1000 + IDLE_GRACE_MS,
      );
    };
    const onAbort = () => finish({ kind: "stopped" });
    signal.addEventListener("abort", onAbort, { once: true });
    armIdle();
    stream.on("data", (chunk: Buffer) => {
      if (settled) return;
      sawData = true;
      armIdle();
      try {
        for (const line of lines.push(chunk)) {
          const verdict = onLine(line);
          if (verdict === "gone") return finish({ kind: "gone" });
          if (verdict instanceof KubeError) return finish({ kind: "failed", error: verdict });
          if (settled) return;
        }
      } catch (err) {
        finish(
          err instanceof LineTooLong
            ? new KubeError(`${deps.operation.verb} ${deps.operation.kind ?? ""}: ${err.message}`, {
                operation: deps.operation,
                server: deps.server,
              })
            : err instanceof Error
              ? err
              : new Error(String(err)),
        );
      }
    });
    stream.on("end", () => finish({ kind: "ended", sawData }));
    stream.on("error", (err) => finish({ kind: "broken", sawData, why: err.message }));
    stream.on("close", () => finish({ kind: "broken", sawData, why: "connection closed" }));
  });
}

function parseEvent(line: string): { type: string; object: KubeObject } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const { type, object } = parsed;
  if (typeof type !== "string" || !isRecord(object)) return undefined;
  // The API server sends objects of the watched kind; their shape is its promise, not re-checked.
  return { type, object: object as KubeObject };
}

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

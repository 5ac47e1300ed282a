// Blob upload to one repository (OCI distribution "pushing blobs"): POST a session, then one
// monolithic PUT for small blobs or PATCH chunks with Content-Range plus a closing PUT ?digest=.
// After a dropped connection or 5xx the registry is asked where it stands (GET on the upload URL →
// Range) and the source is re-opened at that offset. distribution 2.8 invalidates a session whose
// stored offset disagrees with the signed `_state` in our URL (any partially written request does
// that), so there the session is restarted from 0 — measured, not assumed. A blob that did land
// (final PUT applied, reply lost) is detected with HEAD and never sent again. Session POSTs whose
// outcome is unknown count against the blob's attempt budget (see startSession).

import { repositoryScope } from "./auth.js";
import { RegistryError } from "./errors.js";
import { backoffDelay, sleep } from "./retry.js";
import { isTransientRegistryError, type Transport } from "./transport.js";
import type { BlobLocation } from "./types.js";

const OCTET = "application/octet-stream";

/** Reads a Node stream in exact-size pieces; a chunk is buffered so it can be re-sent after a 401. */
export class ChunkReader {
  readonly #stream: NodeJS.ReadableStream;
  readonly #it: AsyncIterator<string | Buffer>;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #ended = false;

  constructor(stream: NodeJS.ReadableStream) {
    this.#stream = stream;
    this.#it = stream[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.#pendingBytes < n && !this.#ended) {
      const next = await this.#it.next();
      if (next.done) {
        this.#ended = true;
        break;
      }
      const buf = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
      this.#pending.push(buf);
      this.#pendingBytes += buf.length;
    }
    const all = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingBytes = rest.length;
    return out;
  }

  close(): void {
    const s = this.#stream as NodeJS.ReadableStream & { destroy?: () => void };
    s.destroy?.();
  }
}

export interface UploadParams {
  target: BlobLocation;
  digest: string;
  size: number;
  open: (offset: number) => NodeJS.ReadableStream | Promise<NodeJS.ReadableStream>;
  chunkSize: number;
  /** "uploaded" or "copied from …", for log lines. */
  what: string;
}

/** Registry upload replies carry `Range: 0-<last>` (distribution) or `bytes=0-<last>` (OCI text). */
export function parseUploadRange(value: string | null): number | undefined {
  if (!value) return undefined;
  const m = /^(?:bytes=)?0-(\d+)$/.exec(value.trim());
  if (!m) return undefined;
  const last = Number(m[1]);
  // "0-0" is what distribution sends for an empty session as well as for one byte; an empty session
  // is the only case that occurs at a chunk boundary, and a wrong guess costs one 416 → restart.
  return last === 0 ? 0 : last + 1;
}

export async function uploadBlob(t: Transport, p: UploadParams): Promise<number> {
  const { registry, repository } = p.target;
  const scopes = [repositoryScope(repository, "pull,push")];
  // Chunks and the closing PUT are never repeated blindly: after a failure the registry is asked
  // where it stands (below), and the upload goes on from its offset.
  const base = { registry, repository, scopes, retry: "never" } as const;
  const short = p.digest.slice(0, 19);
  let uploaded = 0;
  let location: string | undefined;
  let offset = 0;
  let reader: ChunkReader | undefined;
  let failures = 0;

  const readExactly = async (source: ChunkReader, n: number): Promise<Buffer> => {
    const buf = await source.read(n);
    if (buf.length !== n) {
      throw new RegistryError(
        `blob ${p.digest} for ${registry}/${repository}: source ended after ${offset + buf.length} of ${p.size} bytes`,
        { registry, repository, operation: "read blob source", code: "SIZE_INVALID" },
      );
    }
    return buf;
  };
  const withDigest = (loc: string): string => {
    const u = new URL(loc);
    u.searchParams.set("digest", p.digest);
    return u.href;
  };
  const putDigest = (loc: string, operation: string, body: Buffer) =>
    t.send({
      ...base,
      operation,
      method: "PUT",
      url: withDigest(loc),
      headers: { "content-type": OCTET },
      body,
      ok: [201],
    });

  try {
    for (;;) {
      try {
        location ??= await startSession(t, p.target);
        reader ??= new ChunkReader(await p.open(offset));
        if (offset === 0 && p.size < p.chunkSize) {
          const body = await readExactly(reader, p.size);
          uploaded += body.length;
          await putDigest(location, "PUT blob", body);
          return uploaded;
        }
        while (offset < p.size) {
          const n = Math.min(p.chunkSize, p.size - offset);
          const chunk = await readExactly(reader, n);
          uploaded += n;
          const r = await t.send({
            ...base,
            operation: "PATCH blob chunk",
            method: "PATCH",
            url: location,
            headers: { "content-type": OCTET, "content-range": `${offset}-${offset + n - 1}` },
            body: chunk,
            ok: [202],
          });
          location = nextLocation(t, registry, r.headers.get("location"), location);
          offset += n;
          failures = 0; // progress: the attempt budget is for consecutive failures
        }
        await putDigest(location, "PUT blob (complete)", Buffer.alloc(0));
        return uploaded;
      } catch (err) {
        if (!isTransientRegistryError(err) && !(err instanceof RegistryError && err.status === 416)) {
          if (location) await cancelSession(t, registry, repository, location);
          throw err;
        }
        failures++;
        const attempts = t.opts.policy.attempts;
        const reason = err instanceof Error ? err.message : String(err);
        if (failures >= attempts) {
          if (location) await cancelSession(t, registry, repository, location);
          throw new RegistryError(
            `blob ${p.digest} (${p.what}) to ${registry}/${repository} failed after ${failures} attempts; last error: ${reason}`,
            {
              registry,
              repository,
              operation: "upload blob",
              ...(err instanceof RegistryError && err.status !== undefined ? { status: err.status } : {}),
              ...(err instanceof RegistryError && err.code !== undefined ? { code: err.code } : {}),
            },
          );
        }
        const wait = backoffDelay(t.opts.policy, failures);
        t.log(
          `blob ${short}… → ${registry}/${repository}: interrupted at byte ${offset} (${reason}); recovering in ${wait} ms`,
        );
        await sleep(wait);
        reader?.close();
        reader = undefined;
        // The final PUT may have been applied with its reply lost: never send a stored blob again.
        const head = await t.send({
          ...base,
          retry: "idempotent",
          operation: "HEAD blob",
          method: "HEAD",
          url: `/v2/${repository}/blobs/${p.digest}`,
          ok: [200, 404],
        });
        if (head.status === 200) {
          t.log(`blob ${short}… → ${registry}/${repository}: already complete on the registry`);
          return uploaded;
        }
        if (location === undefined) {
          // The session POST failed or its reply was lost: the next turn starts another (see startSession).
          t.log(`blob ${short}… → ${registry}/${repository}: no upload session; starting another`);
          continue;
        }
        const resumed = await uploadStatus(t, registry, repository, location);
        if (resumed) {
          location = resumed.location;
          offset = resumed.offset;
          t.log(`blob ${short}… → ${registry}/${repository}: registry has ${offset} bytes; resuming there`);
        } else {
          location = undefined;
          offset = 0;
          t.log(`blob ${short}… → ${registry}/${repository}: upload session gone; restarting from byte 0`);
        }
      }
    }
  } finally {
    reader?.close();
  }
}

function nextLocation(t: Transport, registry: string, header: string | null, current: string): string {
  // The spec says clients SHOULD use the most recent Location; distribution re-signs its state in it.
  return header ? t.resolve(registry, header).href : current;
}

/**
 * Opens an upload session (POST). Not idempotent: a POST whose reply is lost may have opened a
 * session on the registry. Starting another one is still safe, since an empty session holds
 * nothing, is never linked into a repository and expires by itself (OCI: "uploads will time out if
 * not completed"; distribution purges them after a week by default), but the number has to be
 * bounded. So the transport repeats the POST only when it provably did nothing (no connection,
 * 429, 503), and any other failure comes back to uploadBlob, where it counts against the blob's
 * budget of `retries` consecutive failures: one blob opens at most `retries` sessions it never
 * hears of. Those it does know of, it cancels when it gives up.
 */
async function startSession(t: Transport, target: BlobLocation): Promise<string> {
  const r = await t.send({
    registry: target.registry,
    repository: target.repository,
    scopes: [repositoryScope(target.repository, "pull,push")],
    operation: "start blob upload",
    method: "POST",
    url: `/v2/${target.repository}/blobs/uploads/`,
    ok: [202],
    retry: "unprocessed",
  });
  const loc = r.headers.get("location");
  if (!loc) {
    throw new RegistryError(
      `start blob upload ${target.registry}/${target.repository}: no Location in reply`,
      {
        registry: target.registry,
        repository: target.repository,
        operation: "start blob upload",
        status: r.status,
      },
    );
  }
  return t.resolve(target.registry, loc).href;
}

async function uploadStatus(
  t: Transport,
  registry: string,
  repository: string,
  location: string,
): Promise<{ location: string; offset: number } | undefined> {
  const r = await t.send({
    registry,
    repository,
    scopes: [repositoryScope(repository, "pull,push")],
    operation: "GET upload status",
    method: "GET",
    url: location,
    // 404/400 BLOB_UPLOAD_UNKNOWN/INVALID: the session is gone; the caller starts a new one.
    ok: [204, 200, 400, 404],
  });
  if (r.status !== 204 && r.status !== 200) return undefined;
  const offset = parseUploadRange(r.headers.get("range"));
  if (offset === undefined) return undefined;
  return { location: nextLocation(t, registry, r.headers.get("location"), location), offset };
}

export async function cancelSession(
  t: Transport,
  registry: string,
  repository: string,
  location: string,
): Promise<void> {
  try {
    await t.send({
      registry,
      repository,
      scopes: [repositoryScope(repository, "pull,push")],
      operation: "cancel blob upload",
      method: "DELETE",
      url: location,
      ok: [200, 202, 204, 400, 404],
      retry: "never",
    });
  } catch {
    // Best effort: registries expire abandoned sessions themselves.
  }
}

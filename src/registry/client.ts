// The RegistryClient: manifests by tag or digest (exact bytes kept), blob existence, cross-repository
// mounts, blob download with digest verification, ensureBlob — the cheapest way to get a blob into a
// repository (already there → mount → registry-to-registry stream → upload) — and the housekeeping
// pair: a repository's tags (paginated) and deleting a manifest by digest.

import { Transform } from "node:stream";
import { isRecord } from "../util/record.js";
import { repositoryScope } from "./auth.js";
import { DigestHasher, SHA256_DIGEST, sha256Digest } from "./digest.js";
import { RegistryError, SecretRedactor } from "./errors.js";
import { formatImageName } from "./image-name.js";
import { DEFAULT_MANIFEST_ACCEPT } from "./media-types.js";
import {
  type BodyLimit,
  defaultInsecure,
  isTransientRegistryError,
  parseOciError,
  type RequestSpec,
  Transport,
} from "./transport.js";
import type {
  BlobLocation,
  BlobSpec,
  DeleteManifestResult,
  EnsureBlobResult,
  ImageName,
  Manifest,
  RegistryClient,
  RegistryClientOptions,
} from "./types.js";
import { cancelSession, uploadBlob } from "./upload.js";

/**
 * 8 MiB: large enough that per-request overhead is negligible (~1 ms on loopback, tens on the
 * internet) and above the 5 MiB minimum part size of S3-backed registries, small enough to buffer
 * in memory (a chunk is re-sent whole after a 401) and to bound the per-chunk timeout.
 */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/** The default of every limit, timer and budget of createRegistryClient (RegistryClientOptions). */
export const REGISTRY_CLIENT_DEFAULTS = {
  timeoutMs: 60_000,
  /** Raised to timeoutMs when that is larger. */
  deadlineMs: 60_000,
  retries: 5,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  chunkSize: DEFAULT_CHUNK_SIZE,
  /** OCI: registries SHOULD accept manifests up to 4 MiB; anything larger is not a manifest. */
  maxManifestBytes: 4 * 1024 * 1024,
  /** Image configs are KiB; large histories reach hundreds of KiB. */
  maxBlobReadBytes: 8 * 1024 * 1024,
} as const;

/** Tags asked for per page (`n`); a registry may send fewer, and links the next page when there is one. */
export const TAGS_PAGE_SIZE = 1000;
/** Pages followed at most: a million tags, far past any real repository, so a looping Link ends. */
export const MAX_TAG_PAGES = 1000;
/** One page of tag names: at most 128 bytes each (OCI tag grammar) times the page size, with room. */
const TAGS_PAGE_LIMIT: BodyLimit = {
  maxBytes: 4 * 1024 * 1024,
  option: "tags page limit",
  code: "SIZE_INVALID",
};

interface Limits {
  chunkSize: number;
  manifest: BodyLimit;
  blobRead: number;
}

export function createRegistryClient(opts: RegistryClientOptions = {}): RegistryClient {
  const d = REGISTRY_CLIENT_DEFAULTS;
  const redactor = new SecretRedactor(opts.onSecret);
  const timeoutMs = opts.timeoutMs ?? d.timeoutMs;
  const chunkSize = opts.chunkSize ?? d.chunkSize;
  const transport = new Transport({
    credentials: opts.credentials,
    insecure: opts.insecure ?? defaultInsecure,
    timeoutMs,
    deadlineMs: opts.deadlineMs ?? Math.max(d.deadlineMs, timeoutMs),
    streamWindowBytes: chunkSize,
    policy: {
      attempts: Math.max(1, opts.retries ?? d.retries),
      baseDelayMs: opts.retryBaseDelayMs ?? d.retryBaseDelayMs,
      maxDelayMs: opts.retryMaxDelayMs ?? d.retryMaxDelayMs,
    },
    redactor,
    log: opts.log ?? (() => {}),
  });
  return new DistributionClient(transport, {
    chunkSize,
    manifest: {
      maxBytes: opts.maxManifestBytes ?? d.maxManifestBytes,
      option: "maxManifestBytes",
      code: "MANIFEST_INVALID",
    },
    blobRead: opts.maxBlobReadBytes ?? d.maxBlobReadBytes,
  });
}

function checkDigest(registry: string, repository: string, digest: string): void {
  // Only sha256 is produced or verified here; refusing others early beats a confusing 400 later.
  if (!SHA256_DIGEST.test(digest)) {
    throw new RegistryError(`unsupported or malformed digest ${JSON.stringify(digest)}`, {
      registry,
      repository,
      code: "DIGEST_INVALID",
    });
  }
}

class DistributionClient implements RegistryClient {
  readonly #t: Transport;
  readonly #chunkSize: number;
  readonly #limits: Limits;

  constructor(t: Transport, limits: Limits) {
    this.#t = t;
    this.#chunkSize = limits.chunkSize;
    this.#limits = limits;
  }

  async getManifest(image: ImageName, accept: string[] = [...DEFAULT_MANIFEST_ACCEPT]): Promise<Manifest> {
    const { registry, repository } = image;
    const reference = image.digest ?? image.tag;
    if (!reference) throw new Error(`getManifest: ${formatImageName(image)} has neither tag nor digest`);
    const r = await this.#t.send({
      registry,
      repository,
      scopes: [repositoryScope(repository, "pull")],
      operation: `GET manifest ${reference}`,
      method: "GET",
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: accept.join(", ") },
      ok: [200],
      limit: this.#limits.manifest,
    });
    const digest = sha256Digest(r.body);
    if (image.digest && image.digest !== digest) {
      throw new RegistryError(`manifest ${formatImageName(image)} served with digest ${digest}`, {
        registry,
        repository,
        code: "DIGEST_INVALID",
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(r.body.toString("utf8"));
    } catch {
      throw new RegistryError(`manifest ${formatImageName(image)} is not JSON`, {
        registry,
        repository,
        code: "MANIFEST_INVALID",
      });
    }
    const header = r.headers.get("content-type")?.split(";")[0]?.trim();
    const field = isRecord(json) ? json.mediaType : undefined;
    const mediaType =
      header && header !== "application/json" ? header : typeof field === "string" ? field : "";
    return { mediaType, digest, bytes: r.body, json };
  }

  async putManifest(image: ImageName, mediaType: string, bytes: Buffer): Promise<string> {
    const { registry, repository } = image;
    const digest = sha256Digest(bytes);
    if (image.digest && image.digest !== digest) {
      throw new RegistryError(`putManifest: bytes have digest ${digest}, not ${image.digest}`, {
        registry,
        repository,
        code: "DIGEST_INVALID",
      });
    }
    const reference = image.tag ?? digest;
    const r = await this.#t.send({
      registry,
      repository,
      scopes: [repositoryScope(repository, "pull,push")],
      operation: `PUT manifest ${reference}`,
      method: "PUT",
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { "content-type": mediaType },
      body: bytes,
      ok: [201, 200],
    });
    const served = r.headers.get("docker-content-digest");
    if (served && served !== digest) {
      throw new RegistryError(
        `PUT manifest ${registry}/${repository}: registry stored ${served}, expected ${digest}`,
        {
          registry,
          repository,
          code: "DIGEST_INVALID",
        },
      );
    }
    this.#t.log(`manifest ${registry}/${repository}:${reference} → ${digest}`);
    return digest;
  }

  hasBlob(registry: string, repository: string, digest: string): Promise<boolean> {
    return this.#hasBlob(registry, repository, digest, "pull");
  }

  async #hasBlob(
    registry: string,
    repository: string,
    digest: string,
    actions: "pull" | "pull,push",
  ): Promise<boolean> {
    checkDigest(registry, repository, digest);
    const r = await this.#t.send({
      registry,
      repository,
      scopes: [repositoryScope(repository, actions)],
      operation: "HEAD blob",
      method: "HEAD",
      url: `/v2/${repository}/blobs/${digest}`,
      // A redirect to storage already says the registry has the blob; following it could hit a
      // presigned URL that only allows GET.
      ok: [200, 404, 302, 307],
    });
    return r.status !== 404;
  }

  async mountBlob(
    registry: string,
    repository: string,
    digest: string,
    fromRepository: string,
  ): Promise<boolean> {
    checkDigest(registry, repository, digest);
    const url = `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`;
    const r = await this.#t.send({
      registry,
      repository,
      // A mount reads the source repository: the token needs pull there as well as push here.
      scopes: [repositoryScope(repository, "pull,push"), repositoryScope(fromRepository, "pull")],
      operation: `mount blob from ${fromRepository}`,
      method: "POST",
      url,
      ok: [201, 202],
      // The registry may have mounted the blob (or opened a session) before a reply was lost, so
      // the POST is repeated only when it provably did nothing; otherwise ensureBlob asks with HEAD.
      retry: "unprocessed",
    });
    if (r.status === 201) return true;
    // 202: the registry could not mount and opened an upload session instead; don't leave it dangling.
    const loc = r.headers.get("location");
    if (loc) await cancelSession(this.#t, registry, repository, this.#t.resolve(registry, loc).href);
    return false;
  }

  async getBlobBytes(registry: string, repository: string, digest: string, size: number): Promise<Buffer> {
    checkDigest(registry, repository, digest);
    const max = this.#limits.blobRead;
    if (size > max) {
      throw new RegistryError(
        `blob ${registry}/${repository}@${digest} is ${size} bytes by its descriptor, more than the ${max} read into memory (maxBlobReadBytes)`,
        { registry, repository, operation: "GET blob", code: "SIZE_INVALID" },
      );
    }
    const r = await this.#t.send({
      registry,
      repository,
      scopes: [repositoryScope(repository, "pull")],
      operation: "GET blob",
      method: "GET",
      url: `/v2/${repository}/blobs/${digest}`,
      ok: [200],
      followRedirects: true,
      limit: { maxBytes: size, option: "the size its descriptor gives", code: "SIZE_INVALID" },
    });
    const got = sha256Digest(r.body);
    if (got !== digest || r.body.length !== size) {
      throw new RegistryError(
        `blob ${registry}/${repository}@${digest} arrived as ${r.body.length} bytes with digest ${got}`,
        { registry, repository, operation: "GET blob", code: "DIGEST_INVALID" },
      );
    }
    return r.body;
  }

  async getBlob(
    registry: string,
    repository: string,
    digest: string,
    size?: number,
  ): Promise<NodeJS.ReadableStream> {
    checkDigest(registry, repository, digest);
    const r = await this.#openBlob({ registry, repository }, digest, 0, size);
    const hash = new DigestHasher();
    const verify = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        const got = hash.digest();
        done(
          got === digest
            ? null
            : new RegistryError(`blob ${registry}/${repository}@${digest} arrived with digest ${got}`, {
                registry,
                repository,
                code: "DIGEST_INVALID",
              }),
        );
      },
    });
    r.on("error", (e) => verify.destroy(e));
    verify.on("close", () => r.destroy());
    return r.pipe(verify);
  }

  /**
   * GET a blob from `offset` (Range), skipping bytes itself when the registry ignores the Range.
   * With `size`, more bytes than the blob has fail the stream.
   */
  async #openBlob(
    from: BlobLocation,
    digest: string,
    offset: number,
    size?: number,
  ): Promise<NodeJS.ReadableStream & Transform> {
    const r = await this.#t.sendStream({
      registry: from.registry,
      repository: from.repository,
      scopes: [repositoryScope(from.repository, "pull")],
      operation: "GET blob",
      method: "GET",
      url: `/v2/${from.repository}/blobs/${digest}`,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      ok: [200, 206],
      followRedirects: true,
      // A 206 carries what follows the offset, a 200 (Range ignored) the whole blob: never more than size.
      ...(size === undefined
        ? {}
        : { limit: { maxBytes: size, option: "the size its descriptor gives", code: "SIZE_INVALID" } }),
    });
    let skip = r.status === 200 ? offset : 0;
    const out = new Transform({
      transform(chunk: Buffer, _enc, done) {
        if (skip >= chunk.length) {
          skip -= chunk.length;
          return done();
        }
        const rest = skip > 0 ? chunk.subarray(skip) : chunk;
        skip = 0;
        done(null, rest);
      },
    });
    r.stream.on("error", (e) => out.destroy(e));
    // A reader that stops early (a copy has what it needs) lets go of the connection as well.
    out.on("close", () => r.stream.destroy());
    return r.stream.pipe(out);
  }

  async ensureBlob(target: BlobLocation, blob: BlobSpec): Promise<EnsureBlobResult> {
    const { registry, repository } = target;
    checkDigest(registry, repository, blob.digest);
    const short = `${blob.digest.slice(0, 19)}…`;
    const where = `${registry}/${repository}`;
    if (await this.#hasBlob(registry, repository, blob.digest, "pull,push")) {
      this.#t.log(`blob ${short} → ${where}: already present`);
      return { uploadedBytes: 0, how: "present" };
    }
    const sources = (blob.sources ?? []).filter(
      (s) => !(s.registry === registry && s.repository === repository),
    );

    for (const s of sources.filter((x) => x.registry === registry)) {
      try {
        if (await this.mountBlob(registry, repository, blob.digest, s.repository)) {
          this.#t.log(`blob ${short} → ${where}: mounted from ${s.repository}`);
          return { uploadedBytes: 0, how: "mounted" };
        }
      } catch (err) {
        // A source we may not read is not fatal: other sources or the content itself may do.
        this.#t.log(`blob ${short} → ${where}: mount from ${s.repository} failed: ${messageOf(err)}`);
        // The mount may have gone through before its reply was lost: ask rather than mount again.
        if (await this.#hasBlob(registry, repository, blob.digest, "pull,push").catch(() => false)) {
          this.#t.log(`blob ${short} → ${where}: mounted from ${s.repository} (found there afterwards)`);
          return { uploadedBytes: 0, how: "mounted" };
        }
      }
    }

    for (const s of sources) {
      let available = false;
      try {
        available = await this.#hasBlob(s.registry, s.repository, blob.digest, "pull");
      } catch (err) {
        this.#t.log(`blob ${short}: source ${s.registry}/${s.repository} unusable: ${messageOf(err)}`);
      }
      if (!available) continue;
      try {
        const uploadedBytes = await uploadBlob(this.#t, {
          target,
          digest: blob.digest,
          size: blob.size,
          chunkSize: this.#chunkSize,
          what: `copied from ${s.registry}/${s.repository}`,
          open: (offset) => this.#openBlob(s, blob.digest, offset, blob.size),
        });
        this.#t.log(
          `blob ${short} → ${where}: copied from ${s.registry}/${s.repository} (${uploadedBytes} bytes sent)`,
        );
        return { uploadedBytes, how: "copied" };
      } catch (err) {
        if (!blob.open && !isTransientRegistryError(err)) throw err;
        this.#t.log(
          `blob ${short} → ${where}: copy from ${s.registry}/${s.repository} failed: ${messageOf(err)}`,
        );
      }
    }

    if (!blob.open) {
      throw new RegistryError(
        `blob ${blob.digest} is not in ${where}, cannot be mounted or copied from ${sources.length} source(s), and no content was given`,
        { registry, repository, operation: "ensure blob", code: "BLOB_UNKNOWN" },
      );
    }
    const uploadedBytes = await uploadBlob(this.#t, {
      target,
      digest: blob.digest,
      size: blob.size,
      chunkSize: this.#chunkSize,
      what: "uploaded",
      open: blob.open,
    });
    this.#t.log(`blob ${short} → ${where}: uploaded (${uploadedBytes} bytes sent)`);
    return { uploadedBytes, how: "uploaded" };
  }

  async listTags(image: BlobLocation, options: { pageSize?: number } = {}): Promise<string[]> {
    const { registry, repository } = image;
    const path = `/v2/${repository}/tags/list`;
    const tags = new Set<string>();
    const asked = new Set<string>();
    let url = `${path}?n=${Math.max(1, Math.floor(options.pageSize ?? TAGS_PAGE_SIZE))}`;
    for (let page = 1; ; page++) {
      asked.add(url);
      const r = await this.#t.send({
        registry,
        repository,
        scopes: [repositoryScope(repository, "pull")],
        operation: "GET tags",
        method: "GET",
        url,
        // A repository nothing was ever pushed to has no tags: NAME_UNKNOWN.
        ok: [200, 404],
        limit: TAGS_PAGE_LIMIT,
      });
      if (r.status === 404) return [];
      for (const tag of tagsOf(r.body, registry, repository)) tags.add(tag);
      const next = nextLink(r.headers.get("link"));
      if (next === undefined) break;
      // The next page must be this repository's tag list on the registry itself: a Link elsewhere is
      // not followed (the registry's credentials go nowhere else), nor one already asked for.
      const target = this.#t.resolve(registry, next);
      if (target.origin !== this.#t.origin(registry) || target.pathname !== path) {
        throw new RegistryError(
          `GET tags ${registry}/${repository}: the registry linked the next page at ${target.origin}${target.pathname}, not its own ${path}`,
          { registry, repository, operation: "GET tags", code: "PAGINATION_INVALID" },
        );
      }
      url = `${target.pathname}${target.search}`;
      if (asked.has(url)) break;
      if (page >= MAX_TAG_PAGES) {
        throw new RegistryError(
          `GET tags ${registry}/${repository}: still more pages after ${MAX_TAG_PAGES} (${tags.size} tags)`,
          { registry, repository, operation: "GET tags", code: "PAGINATION_INVALID" },
        );
      }
    }
    return [...tags].sort();
  }

  async deleteManifest(image: BlobLocation, digest: string): Promise<DeleteManifestResult> {
    const { registry, repository } = image;
    checkDigest(registry, repository, digest);
    // Deleting by digest is idempotent (a repeat finds it gone: 404), so the default retry rule holds.
    const spec: RequestSpec = {
      registry,
      repository,
      scopes: [repositoryScope(repository, "delete")],
      operation: `DELETE manifest ${digest}`,
      method: "DELETE",
      url: `/v2/${repository}/manifests/${digest}`,
      ok: [202, 200, 400, 404, 405],
      // Only the OCI error envelope of a refusal is read.
      limit: { maxBytes: 64 * 1024, option: "error reply limit", code: "SIZE_INVALID" },
    };
    const r = await this.#t.send(spec);
    if (r.status === 202 || r.status === 200) {
      this.#t.log(`manifest ${registry}/${repository}@${digest}: deleted`);
      return { deleted: true };
    }
    const { code, message } = parseOciError(r.body);
    const said = `HTTP ${r.status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
    if (r.status === 404) return { deleted: false, reason: "absent", message: said };
    // OCI: a registry with deletion disabled answers 405, or 400; a 400 for another reason is an error.
    if (r.status === 405 || code === "UNSUPPORTED")
      return { deleted: false, reason: "not-allowed", message: said };
    throw this.#t.errorFromReply(spec, r.status, r.body);
  }
}

function tagsOf(body: Buffer, registry: string, repository: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    json = undefined;
  }
  // An empty repository may say `"tags": null`.
  const tags = isRecord(json) ? (json.tags ?? []) : undefined;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) {
    throw new RegistryError(`GET tags ${registry}/${repository}: the reply is not a tag list`, {
      registry,
      repository,
      operation: "GET tags",
      code: "TAGS_INVALID",
    });
  }
  return tags;
}

/**
 * The `rel="next"` target of an RFC 8288 Link header (OCI distribution spec, "Listing Tags"), if any.
 * Other relations and parameters are ignored.
 */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]*)*)/g)) {
    const params = m[2] ?? "";
    for (const p of params.matchAll(/;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))/gi)) {
      const rels = (p[1] ?? p[2] ?? "").toLowerCase().split(/\s+/);
      if (rels.includes("next")) return m[1];
    }
  }
  return undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

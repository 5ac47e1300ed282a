// Deterministic image layers: the same entries always give the same tar bytes, hence the same
// diff_id (sha256 of the tar) and digest (sha256 of the gzip blob), on any machine.
// Rules: entries sorted by path bytes, parents before children, every missing parent directory
// added; mtime 0, uid/gid 0, no user/group names; modes normalised by select-files; PAX headers only
// where ustar cannot hold a path (tar-stream falls back by itself). Blobs are streamed to a temp file,
// never held in memory, and a stat-keyed cache lets an unchanged 50 MB model skip even the read.

import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { DigestHasher, OCI_LAYER_GZIP } from "../registry/index.js";
import { isRecord } from "../util/record.js";
import { DEFLATE_LEVEL, DeflateGzip } from "./deflate-gzip.js";
import { compareBytes, type SourceKind } from "./select-files.js";
import { StoredGzip } from "./stored-gzip.js";

/** Bump when the bytes a layer is made of change, so old cache entries are not trusted. */
const LAYER_FORMAT = "slipway-layer/2 tar-ustar mtime0";

/**
 * `deflate` (fflate, deterministic) for code, which compresses well and is small; `stored` for
 * declared files, usually model weights that do not compress, so a 50 MB layer builds at disk speed.
 */
export type LayerCompression = "deflate" | "stored";

export interface LayerEntry {
  /** Path inside the image, `/`-separated, no leading `/`. */
  name: string;
  kind: SourceKind;
  mode: number;
  size: number;
  absPath?: string;
  linkTarget?: string;
  statKey?: string;
}

export interface LayerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

export interface BuiltLayer extends LayerDescriptor {
  /** What the layer holds, for history entries and logs. */
  label: string;
  /** Opens the compressed blob at `offset`, rebuilding it first when only the cache knew the digest. */
  open(offset: number): Promise<NodeJS.ReadableStream>;
}

/** Adds missing parent directories and sorts, so the tar is independent of the caller's order. */
export function normaliseEntries(entries: readonly LayerEntry[]): LayerEntry[] {
  const byName = new Map<string, LayerEntry>();
  for (const e of entries) {
    const parts = e.name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!byName.has(dir)) byName.set(dir, { name: dir, kind: "directory", mode: 0o755, size: 0 });
    }
    const existing = byName.get(e.name);
    // A file declared twice or a directory seen as a parent first: the explicit entry wins.
    if (existing === undefined || existing.kind === "directory") byName.set(e.name, e);
  }
  return [...byName.values()].sort((a, b) => compareBytes(a.name, b.name));
}

class Measure extends Transform {
  readonly hash = new DigestHasher();
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/** Writes `entries` (normalised: parents added, sorted) into `pack`; the caller finalizes. */
export async function packEntries(pack: tar.Pack, entries: readonly LayerEntry[]): Promise<void> {
  for (const e of normaliseEntries(entries)) {
    const header: Partial<tar.Header> & { name: string } = {
      name: e.kind === "directory" ? `${e.name}/` : e.name,
      mode: e.mode,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      type: e.kind,
      size: e.kind === "file" ? e.size : 0,
    };
    if (e.kind === "symlink") header.linkname = e.linkTarget ?? "";
    if (e.kind !== "file") {
      await new Promise<void>((resolve, reject) => {
        pack.entry(header, (err) => (err ? reject(err) : resolve()));
      });
      continue;
    }
    if (e.absPath === undefined) throw new Error(`layer entry ${e.name} has no source`);
    const sink = pack.entry(header);
    // A size mismatch (file changed while building) makes tar-stream fail the entry: no torn layers.
    await pipeline(createReadStream(e.absPath), sink);
  }
}

/** Writes the layer's blob to `file`; returns its descriptor. */
export async function writeLayerBlob(
  entries: readonly LayerEntry[],
  file: string,
  compression: LayerCompression = "deflate",
): Promise<LayerDescriptor> {
  const pack = tar.pack();
  const tarMeasure = new Measure();
  const blobMeasure = new Measure();
  const tmp = `${file}.partial`;
  const producing = packEntries(pack, entries).then(() => pack.finalize());
  const consuming = pipeline(
    pack,
    tarMeasure,
    compression === "stored" ? new StoredGzip() : new DeflateGzip(),
    blobMeasure,
    createWriteStream(tmp),
  );
  try {
    await Promise.all([producing, consuming]);
  } catch (e) {
    pack.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
  await rename(tmp, file);
  return {
    mediaType: OCI_LAYER_GZIP,
    digest: blobMeasure.hash.digest(),
    size: blobMeasure.hash.bytes,
    diffId: tarMeasure.hash.digest(),
  };
}

/** The cache key: every input that decides the layer's bytes, plus on-disk identity of each file. */
export function layerKey(entries: readonly LayerEntry[], compression: LayerCompression = "deflate"): string {
  const h = createHash("sha256");
  h.update(`${LAYER_FORMAT} ${compression}${compression === "deflate" ? ` fflate-${DEFLATE_LEVEL}` : ""}\n`);
  for (const e of normaliseEntries(entries)) {
    h.update(JSON.stringify([e.name, e.kind, e.mode, e.size, e.linkTarget ?? null, e.statKey ?? null]));
    h.update("\n");
  }
  return h.digest("hex");
}

export interface LayerStoreOptions {
  /** Blobs built in this run live here; removed by `dispose()`. */
  workDir: string;
  /** Descriptors of layers built by earlier runs, keyed by `layerKey`. Optional. */
  cacheDir?: string;
}

/**
 * Builds each distinct layer once per run (endpoints sharing code share the promise) and remembers
 * descriptors across runs. Cross-run hits still rebuild the blob if the registry turns out to need it.
 */
export class LayerStore {
  private readonly memo = new Map<string, Promise<BuiltLayer>>();
  private counter = 0;
  /** How many layers were served from the cross-run cache without reading their files. */
  cacheHits = 0;

  constructor(private readonly opts: LayerStoreOptions) {}

  layer(
    label: string,
    entries: readonly LayerEntry[],
    compression: LayerCompression = "deflate",
  ): Promise<BuiltLayer> {
    const key = layerKey(entries, compression);
    let p = this.memo.get(key);
    if (p === undefined) {
      p = this.resolve(key, label, entries, compression);
      this.memo.set(key, p);
      // A failed build must not poison later attempts in the same run.
      p.catch(() => this.memo.delete(key));
    }
    return p;
  }

  private async build(
    key: string,
    entries: readonly LayerEntry[],
    compression: LayerCompression,
  ): Promise<{ d: LayerDescriptor; file: string }> {
    await mkdir(this.opts.workDir, { recursive: true });
    const file = path.join(this.opts.workDir, `layer-${key.slice(0, 16)}-${this.counter++}.tar.gz`);
    const d = await writeLayerBlob(entries, file, compression);
    if (this.opts.cacheDir !== undefined) {
      await mkdir(this.opts.cacheDir, { recursive: true });
      await writeFile(path.join(this.opts.cacheDir, `${key}.json`), JSON.stringify(d));
    }
    return { d, file };
  }

  private async resolve(
    key: string,
    label: string,
    entries: readonly LayerEntry[],
    compression: LayerCompression,
  ): Promise<BuiltLayer> {
    const cached = await this.readCache(key);
    if (cached !== undefined) {
      this.cacheHits++;
      let file: Promise<string> | undefined;
      return {
        ...cached,
        label,
        open: async (offset) => {
          file ??= this.build(key, entries, compression).then(({ d, file }) => {
            if (d.digest !== cached.digest) {
              throw new Error(
                `layer cache entry ${key} is stale (${cached.digest} ≠ ${d.digest}); clear the cache`,
              );
            }
            return file;
          });
          return createReadStream(await file, { start: offset });
        },
      };
    }
    const { d, file } = await this.build(key, entries, compression);
    return { ...d, label, open: async (offset) => createReadStream(file, { start: offset }) };
  }

  private async readCache(key: string): Promise<LayerDescriptor | undefined> {
    if (this.opts.cacheDir === undefined) return undefined;
    try {
      const v: unknown = JSON.parse(await readFile(path.join(this.opts.cacheDir, `${key}.json`), "utf8"));
      if (isDescriptor(v)) return v;
    } catch {
      // Missing or unreadable cache entries just mean a rebuild.
    }
    return undefined;
  }

  async dispose(): Promise<void> {
    await rm(this.opts.workDir, { recursive: true, force: true });
  }
}

function isDescriptor(v: unknown): v is LayerDescriptor {
  return (
    isRecord(v) &&
    typeof v.mediaType === "string" &&
    typeof v.digest === "string" &&
    typeof v.diffId === "string" &&
    typeof v.size === "number"
  );
}

// The daemonless builder: assembles a version image from the base image's manifest and config plus
// our deterministic layers, and writes it through the OCI distribution API. Base layers are never
// downloaded: the registry client mounts them across repositories or streams them registry to
// registry. Blobs a repository already holds are never sent again (the client HEADs first), and
// blobs pushed earlier in the run are offered as mount sources to the next endpoint.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import type { Endpoint } from "../config/types.js";
import type { BlobSpec, EnsureBlobResult, ImageName, RegistryClient } from "../registry/index.js";
import { parseImageName, RegistryError, sha256Digest } from "../registry/index.js";
import { formatBytes } from "../report/format-bytes.js";
import {
  encodeJson,
  type SourceInfo,
  type VersionLayer,
  versionConfig,
  versionManifest,
} from "./image-config.js";
import type { BuiltLayer } from "./layer.js";
import type { BuildLog } from "./log.js";
import {
  type Descriptor,
  type ImageConfig,
  ImageFormatError,
  type ImageManifest,
  isRunnablePlatform,
  MediaType,
  type Platform,
  parseImageConfig,
  parseManifest,
  platformString,
} from "./oci.js";
import type { EndpointImage, LayerPush, LayerRole } from "./result.js";

interface Repo {
  registry: string;
  repository: string;
}

interface BasePlatformImage {
  platform?: Platform;
  manifest: ImageManifest;
  manifestDigest: string;
  config: ImageConfig;
}

interface ResolvedBase {
  name: ImageName;
  digest: string;
  images: BasePlatformImage[];
  multiPlatform: boolean;
}

/** A layer of ours with how it is described in the image's history. */
export interface OwnLayer {
  role: "code" | "files";
  layer: BuiltLayer;
  createdBy: string;
}

export interface RegistryBuildInput {
  endpoint: Endpoint;
  /** `<registry>/<repository>` the version image goes to. */
  imageRepository: string;
  tag: string;
  layers: readonly OwnLayer[];
  source: SourceInfo;
}

/** One per build run: remembers bases, and which repositories already hold which blobs. */
export class RegistryBuilder {
  private readonly bases = new Map<string, Promise<ResolvedBase>>();
  private readonly ensured = new Map<string, Promise<EnsureBlobResult>>();
  private readonly holders = new Map<string, Repo[]>();

  constructor(
    private readonly client: RegistryClient,
    private readonly log: BuildLog,
    /** Where base image configs are kept by digest between runs (they are immutable). */
    private readonly cacheDir?: string,
  ) {}

  async build(input: RegistryBuildInput): Promise<EndpointImage> {
    const target = parseImageName(input.imageRepository);
    const repo: Repo = { registry: target.registry, repository: target.repository };
    const current = this.currentDigest({ ...repo, tag: input.tag });
    const base = await this.resolveBase(input.endpoint.image);
    const images = base.images.map((image) => this.compose(base, image, input));

    const only = images[0];
    if (only === undefined) throw new ImageFormatError(`${input.endpoint.image}: no image to build on`);
    let top: { bytes: Buffer; digest: string; mediaType: string };
    if (!base.multiPlatform) {
      top = { bytes: only.bytes, digest: only.descriptor.digest, mediaType: MediaType.ociManifest };
    } else {
      const index = encodeJson({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: images.map((i) => i.descriptor),
      });
      top = { bytes: index.bytes, digest: index.digest, mediaType: MediaType.ociIndex };
    }

    const pushes: LayerPush[] = [];
    let manifestBytes = 0;
    if ((await current) === top.digest) {
      // The version is already there. A registry accepts a manifest only once it holds every blob
      // the manifest names, so there is nothing to check blob by blob either.
      for (const image of images) {
        for (const b of image.blobs) {
          pushes.push({
            role: b.role,
            digest: b.spec.digest,
            size: b.spec.size,
            how: "present",
            uploadedBytes: 0,
          });
        }
      }
    } else {
      for (const image of images) {
        // Base layers (mounts are cheap) and ours together, the config last: a manifest may only
        // name blobs the repository holds.
        const layers = image.blobs.filter((b) => b.role !== "config");
        await Promise.all(layers.map((b) => this.ensure(repo, b.role, b.spec, pushes)));
        for (const b of image.blobs) if (b.role === "config") await this.ensure(repo, b.role, b.spec, pushes);
        if (base.multiPlatform) {
          manifestBytes += await this.putManifestIfNew(
            { ...repo, digest: image.descriptor.digest },
            MediaType.ociManifest,
            image.bytes,
            image.descriptor.digest,
          );
        }
      }
      await this.client.putManifest({ ...repo, tag: input.tag }, top.mediaType, top.bytes);
      manifestBytes += top.bytes.length;
    }

    const blobBytes = pushes.reduce((n, p) => n + p.uploadedBytes, 0);
    const layerBytes = pushes.filter((p) => p.role !== "config").reduce((n, p) => n + p.uploadedBytes, 0);
    const repository = input.imageRepository;
    this.log.info(
      `${input.endpoint.name}: ${repository}:${input.tag} → ${top.digest} (${formatBytes(blobBytes + manifestBytes)} uploaded)`,
    );
    return {
      endpoint: input.endpoint.name,
      repository,
      tag: input.tag,
      digest: top.digest,
      reference: `${repository}@${top.digest}`,
      mediaType: top.mediaType,
      platforms: base.images.map((i) =>
        i.platform ? platformString(i.platform) : platformOfConfig(i.config),
      ),
      uploadedBytes: blobBytes + manifestBytes,
      layerBytesUploaded: layerBytes,
      blobs: pushes,
      builder: "registry",
    };
  }

  /** One platform's image, computed without the network: config, manifest, and the blobs it names. */
  private compose(
    base: ResolvedBase,
    image: BasePlatformImage,
    input: RegistryBuildInput,
  ): { descriptor: Descriptor; bytes: Buffer; blobs: Array<{ role: LayerRole; spec: BlobSpec }> } {
    const baseRepo: Repo = { registry: base.name.registry, repository: base.name.repository };
    const ownLayers: VersionLayer[] = input.layers.map((l) => ({
      diffId: l.layer.diffId,
      createdBy: l.createdBy,
    }));
    const config = encodeJson(
      versionConfig(image.config, { endpoint: input.endpoint, layers: ownLayers, source: input.source }),
    );
    const manifest = encodeJson(
      versionManifest({
        base: image.manifest,
        baseName: input.endpoint.image,
        baseDigest: image.manifestDigest,
        config,
        layers: input.layers.map((l) => ({
          mediaType: l.layer.mediaType,
          digest: l.layer.digest,
          size: l.layer.size,
        })),
        source: input.source,
      }),
    );
    const descriptor: Descriptor = {
      mediaType: MediaType.ociManifest,
      digest: manifest.digest,
      size: manifest.size,
    };
    if (image.platform !== undefined) descriptor.platform = image.platform;
    const blobs: Array<{ role: LayerRole; spec: BlobSpec }> = [
      ...image.manifest.layers.map((d) => ({
        role: "base" as const,
        spec: { digest: d.digest, size: d.size, sources: [baseRepo] },
      })),
      ...input.layers.map((l) => ({
        role: l.role,
        spec: { digest: l.layer.digest, size: l.layer.size, open: (offset: number) => l.layer.open(offset) },
      })),
      {
        role: "config",
        spec: { digest: config.digest, size: config.size, open: () => Readable.from([config.bytes]) },
      },
    ];
    return { descriptor, bytes: manifest.bytes, blobs };
  }

  /**
   * Starts the registry reads a build needs (the base, and what the tag points at now) so they overlap
   * with walking the checkout and building layers: on a no-change rebuild these reads are most of the time.
   */
  prefetch(targets: ReadonlyArray<{ image: string; imageRepository: string; tag: string }>): void {
    for (const t of targets) {
      this.resolveBase(t.image).catch(() => {});
      this.currentDigest({ ...parseImageName(t.imageRepository), tag: t.tag }).catch(() => {});
    }
  }

  private readonly currents = new Map<string, Promise<string | undefined>>();

  /** What `image` (a tag) points at now; read once per run. */
  private currentDigest(image: ImageName): Promise<string | undefined> {
    const key = `${image.registry}/${image.repository}:${image.tag ?? ""}`;
    let p = this.currents.get(key);
    if (p === undefined) {
      p = this.readDigest(image);
      this.currents.set(key, p);
    }
    return p;
  }

  private async readDigest(image: ImageName): Promise<string | undefined> {
    try {
      return (await this.client.getManifest(image, [MediaType.ociManifest, MediaType.ociIndex])).digest;
    } catch (e) {
      // Unknown tag or repository: nothing there yet.
      if (e instanceof RegistryError) return undefined;
      throw e;
    }
  }

  /**
   * Puts a manifest unless the reference already resolves to exactly these bytes, so rebuilding an
   * unchanged version sends nothing at all. Returns the bytes sent.
   */
  private async putManifestIfNew(
    image: ImageName,
    mediaType: string,
    bytes: Buffer,
    digest: string,
  ): Promise<number> {
    try {
      if ((await this.client.getManifest(image, [mediaType])).digest === digest) return 0;
    } catch (e) {
      // Unknown tag or repository (or any other refusal to read): the PUT below is the real test.
      if (!(e instanceof RegistryError)) throw e;
    }
    await this.client.putManifest(image, mediaType, bytes);
    return bytes.length;
  }

  private holdersOf(digest: string): Repo[] {
    return [...(this.holders.get(digest) ?? [])];
  }

  /** Each (repository, blob) is ensured once per run; later requests report it as present. */
  private async ensure(repo: Repo, role: LayerRole, blob: BlobSpec, pushes: LayerPush[]): Promise<void> {
    const key = `${repo.registry}/${repo.repository}@${blob.digest}`;
    const earlier = this.ensured.get(key);
    if (earlier !== undefined) {
      await earlier;
      pushes.push({ role, digest: blob.digest, size: blob.size, how: "present", uploadedBytes: 0 });
      return;
    }
    // Our layers may be mounted from repositories that received them earlier in this run.
    const spec =
      role === "code" || role === "files" ? { ...blob, sources: this.holdersOf(blob.digest) } : blob;
    const p = this.client.ensureBlob(repo, spec);
    this.ensured.set(key, p);
    p.catch(() => this.ensured.delete(key));
    const r = await p;
    pushes.push({ role, digest: blob.digest, size: blob.size, how: r.how, uploadedBytes: r.uploadedBytes });
    const list = this.holders.get(blob.digest) ?? [];
    if (!list.some((x) => x.registry === repo.registry && x.repository === repo.repository)) list.push(repo);
    this.holders.set(blob.digest, list);
  }

  private resolveBase(ref: string): Promise<ResolvedBase> {
    let p = this.bases.get(ref);
    if (p === undefined) {
      p = this.fetchBase(ref);
      this.bases.set(ref, p);
      p.catch(() => this.bases.delete(ref));
    }
    return p;
  }

  private async fetchBase(ref: string): Promise<ResolvedBase> {
    const name = parseImageName(ref);
    const top = await this.client.getManifest(name);
    const parsed = parseManifest(top.json, top.mediaType, ref);
    if (parsed.kind === "image") {
      const config = await this.fetchConfig(name, parsed.manifest.config, ref);
      return {
        name,
        digest: top.digest,
        multiPlatform: false,
        images: [{ manifest: parsed.manifest, manifestDigest: top.digest, config }],
      };
    }
    const images: BasePlatformImage[] = [];
    for (const d of parsed.index.manifests) {
      if (!isRunnablePlatform(d.platform)) continue;
      const at: ImageName = { registry: name.registry, repository: name.repository, digest: d.digest };
      const m = await this.client.getManifest(at);
      const inner = parseManifest(m.json, m.mediaType, `${ref}@${d.digest}`);
      if (inner.kind !== "image") throw new ImageFormatError(`${ref}: nested index at ${d.digest}`);
      const config = await this.fetchConfig(name, inner.manifest.config, ref);
      images.push({ platform: d.platform, manifest: inner.manifest, manifestDigest: m.digest, config });
    }
    if (images.length === 0) throw new ImageFormatError(`${ref}: the index lists no runnable platform`);
    return { name, digest: top.digest, multiPlatform: true, images };
  }

  private async fetchConfig(name: ImageName, d: Descriptor, ref: string): Promise<ImageConfig> {
    const cached =
      this.cacheDir === undefined
        ? undefined
        : path.join(this.cacheDir, `config-${d.digest.replace(":", "-")}.json`);
    let bytes: Buffer | undefined;
    if (cached !== undefined) bytes = await readFile(cached).catch(() => undefined);
    if (bytes === undefined || sha256Digest(bytes) !== d.digest) {
      // Read whole but bounded by the descriptor's size and the client's limit, digest verified.
      bytes = await this.client.getBlobBytes(name.registry, name.repository, d.digest, d.size);
      if (cached !== undefined && this.cacheDir !== undefined) {
        await mkdir(this.cacheDir, { recursive: true });
        await writeFile(cached, bytes);
      }
    }
    return parseImageConfig(JSON.parse(bytes.toString("utf8")), `${ref} config`);
  }
}

function platformOfConfig(c: ImageConfig): string {
  return `${c.os}/${c.architecture}`;
}

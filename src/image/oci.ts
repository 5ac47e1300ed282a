// OCI image-spec shapes the builder reads and writes (manifest, index, config, descriptors) and the
// one place where registry JSON is narrowed from `unknown`. Docker schema2 media types are accepted on
// input and mapped to their OCI equivalents, which have the same bytes (OCI image-spec media-types.md).

import { MediaType } from "../registry/index.js";
import { isRecord } from "../util/record.js";

export { MediaType };

const LAYER_TYPE_TO_OCI: Record<string, string> = {
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerForeignLayerGzip]: MediaType.ociNondistributableLayerGzip,
};

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  author?: string;
  empty_layer?: boolean;
}

/** The image config; unknown fields of a base config are carried through untouched. */
export interface ImageConfig {
  [key: string]: unknown;
  architecture: string;
  os: string;
  created?: string;
  config?: ExecConfig | null;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: HistoryEntry[];
}

export interface ExecConfig {
  [key: string]: unknown;
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Labels?: Record<string, string> | null;
}

export class ImageFormatError extends Error {
  override readonly name = "ImageFormatError";
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function parseDescriptor(v: unknown, what: string): Descriptor {
  if (
    !isRecord(v) ||
    typeof v.mediaType !== "string" ||
    typeof v.digest !== "string" ||
    typeof v.size !== "number"
  ) {
    throw new ImageFormatError(`${what}: not a descriptor`);
  }
  const d: Descriptor = { mediaType: v.mediaType, digest: v.digest, size: v.size };
  if (isRecord(v.annotations)) d.annotations = v.annotations as Record<string, string>;
  if (isStringArray(v.urls)) d.urls = v.urls;
  if (
    isRecord(v.platform) &&
    typeof v.platform.architecture === "string" &&
    typeof v.platform.os === "string"
  ) {
    const p: Platform = { architecture: v.platform.architecture, os: v.platform.os };
    if (typeof v.platform.variant === "string") p.variant = v.platform.variant;
    if (typeof v.platform["os.version"] === "string") p["os.version"] = v.platform["os.version"];
    d.platform = p;
  }
  return d;
}

export type ParsedManifest =
  | { kind: "image"; manifest: ImageManifest }
  | { kind: "index"; index: ImageIndex };

/** Narrows a manifest as served; `mediaType` is the Content-Type when the body does not say. */
export function parseManifest(json: unknown, mediaType: string, what: string): ParsedManifest {
  if (!isRecord(json) || json.schemaVersion !== 2)
    throw new ImageFormatError(`${what}: not a schema 2 manifest`);
  const type = typeof json.mediaType === "string" ? json.mediaType : mediaType;
  if (type === MediaType.ociIndex || type === MediaType.dockerList || Array.isArray(json.manifests)) {
    if (!Array.isArray(json.manifests)) throw new ImageFormatError(`${what}: index without manifests`);
    return {
      kind: "index",
      index: {
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: json.manifests.map((m, i) => parseDescriptor(m, `${what} manifests[${i}]`)),
      },
    };
  }
  if (!Array.isArray(json.layers)) throw new ImageFormatError(`${what}: manifest without layers`);
  return {
    kind: "image",
    manifest: {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: parseDescriptor(json.config, `${what} config`),
      layers: json.layers.map((l, i) => toOciLayer(parseDescriptor(l, `${what} layers[${i}]`))),
    },
  };
}

function toOciLayer(d: Descriptor): Descriptor {
  const mapped = LAYER_TYPE_TO_OCI[d.mediaType];
  return mapped === undefined ? d : { ...d, mediaType: mapped };
}

export function parseImageConfig(json: unknown, what: string): ImageConfig {
  if (!isRecord(json) || typeof json.architecture !== "string" || typeof json.os !== "string") {
    throw new ImageFormatError(`${what}: not an image config (architecture and os are required)`);
  }
  const rootfs = json.rootfs;
  if (!isRecord(rootfs) || !isStringArray(rootfs.diff_ids)) {
    throw new ImageFormatError(`${what}: config without rootfs.diff_ids`);
  }
  if (json.config !== undefined && json.config !== null && !isRecord(json.config)) {
    throw new ImageFormatError(`${what}: config.config is not an object`);
  }
  if (json.history !== undefined && !Array.isArray(json.history)) {
    throw new ImageFormatError(`${what}: history is not a list`);
  }
  // Checked field by field above; the rest is carried through as the base wrote it.
  return json as ImageConfig;
}

/** Attestation manifests in an index carry `unknown/unknown`; they are not images to build on. */
export function isRunnablePlatform(p: Platform | undefined): p is Platform {
  return p !== undefined && p.os !== "unknown" && p.architecture !== "unknown";
}

export function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== "").join("/");
}

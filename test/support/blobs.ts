// Blobs for registry tests: bytes with their digest, reopenable at any offset as a file would be,
// and the OCI image manifest naming a config and one layer (image-spec manifest.md).
import { Readable } from "node:stream";
import {
  type BlobSpec,
  OCI_CONFIG,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  sha256Digest,
} from "../../src/registry/index.js";

/** `opens`, when given, records every offset the client reopened the source at. */
export function blob(bytes: Buffer, opens?: number[]): BlobSpec & { bytes: Buffer } {
  return {
    bytes,
    digest: sha256Digest(bytes),
    size: bytes.length,
    open: (offset) => {
      opens?.push(offset);
      // Several pieces, as a file stream would deliver them.
      const pieces: Buffer[] = [];
      for (let i = offset; i < bytes.length; i += 16 * 1024) pieces.push(bytes.subarray(i, i + 16 * 1024));
      return Readable.from(pieces);
    },
  };
}

export async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(parts);
}

/** The manifest bytes of a one-layer image, as pushed with media type OCI_MANIFEST. */
export function oneLayerManifest(config: BlobSpec, layer: BlobSpec): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: OCI_LAYER_GZIP, digest: layer.digest, size: layer.size }],
    }),
  );
}

// Blobs for registry tests: bytes with their digest, reopenable at any offset as a file would be.
import { Readable } from "node:stream";
import { type BlobSpec, sha256Digest } from "../../src/registry/index.js";

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

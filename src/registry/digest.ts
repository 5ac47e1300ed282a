// sha256 digests in the OCI form "sha256:<64 hex>" (image-spec descriptor.md): of bytes at hand, or
// of a stream as it passes. The only digest algorithm the client produces or verifies.

import { createHash } from "node:crypto";

export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Digest and byte count of content fed to it piece by piece. */
export class DigestHasher {
  readonly #hash = createHash("sha256");
  bytes = 0;

  update(chunk: Buffer): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
  }

  /** Once only: the hash is finished by this call. */
  digest(): string {
    return `sha256:${this.#hash.digest("hex")}`;
  }
}

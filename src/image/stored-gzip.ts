// A gzip encoder whose output depends only on its input bytes: the deflate stream uses stored
// (uncompressed) blocks of a fixed size. Layer digests are the version's identity, and zlib's deflate
// output is not stable across zlib builds (Node bundles Chromium's zlib, whose match finder differs
// with CPU features), so compressed layers from node:zlib could differ between two CI machines.
// Stored blocks trade size on the wire for digests that are equal everywhere (RFC 1951 §3.2.4,
// RFC 1952 for the wrapper); models rarely compress anyway and code layers are small.

import { Transform, type TransformCallback } from "node:stream";
import { crc32 } from "node:zlib";

/** The largest stored block deflate allows; every block but the last is exactly this long. */
const BLOCK = 65535;

/** gzip member header: magic, CM=deflate, no flags, MTIME=0, XFL=0, OS=255 (unknown). */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

function blockHeader(len: number, final: boolean): Buffer {
  const h = Buffer.alloc(5);
  h[0] = final ? 1 : 0; // BFINAL, BTYPE=00; the rest of the byte is padding to the boundary.
  h.writeUInt16LE(len, 1);
  h.writeUInt16LE(~len & 0xffff, 3);
  return h;
}

export class StoredGzip extends Transform {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private crc = 0;
  private total = 0;

  constructor() {
    super();
    this.push(HEADER);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.crc = crc32(chunk, this.crc);
    this.total += chunk.length;
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    if (this.pendingLength >= BLOCK) {
      // Re-block on fixed boundaries so the output does not depend on how the input was chunked.
      let buf = Buffer.concat(this.pending, this.pendingLength);
      while (buf.length >= BLOCK) {
        this.push(blockHeader(BLOCK, false));
        this.push(buf.subarray(0, BLOCK));
        buf = buf.subarray(BLOCK);
      }
      this.pending = buf.length > 0 ? [Buffer.from(buf)] : [];
      this.pendingLength = buf.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    const rest = Buffer.concat(this.pending, this.pendingLength);
    this.push(blockHeader(rest.length, true));
    if (rest.length > 0) this.push(rest);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    // ISIZE is the input length modulo 2^32.
    trailer.writeUInt32LE(this.total % 0x100000000, 4);
    this.push(trailer);
    done();
  }
}

// A gzip encoder that compresses and still gives the same bytes on every machine: fflate, a pure
// JavaScript deflate pinned by the lockfile, fed fixed-size chunks. node:zlib would be faster, but its
// output depends on the zlib build and CPU features (Node bundles Chromium's zlib), and fflate's own
// block boundaries depend on how input is pushed, hence the re-chunking. Identical output therefore
// needs the same fflate version, which the package lock pins; a version bump can change code-layer
// digests once (layer contents, diff_ids, are unaffected).

import { Transform, type TransformCallback } from "node:stream";
import { Gzip } from "fflate";

const CHUNK = 64 * 1024;
export const DEFLATE_LEVEL = 6;

export class DeflateGzip extends Transform {
  private readonly gzip: Gzip;
  private pending: Buffer[] = [];
  private pendingLength = 0;

  constructor() {
    super();
    // mtime 0 and no file name: the header carries nothing about when or where it was made.
    this.gzip = new Gzip({ level: DEFLATE_LEVEL, mtime: 0 }, (data) => {
      this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    if (this.pendingLength >= CHUNK) {
      let buf = Buffer.concat(this.pending, this.pendingLength);
      while (buf.length >= CHUNK) {
        this.gzip.push(buf.subarray(0, CHUNK), false);
        buf = buf.subarray(CHUNK);
      }
      this.pending = buf.length > 0 ? [Buffer.from(buf)] : [];
      this.pendingLength = buf.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.gzip.push(Buffer.concat(this.pending, this.pendingLength), true);
    done();
  }
}

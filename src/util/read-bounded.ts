// Reads a file from the checkout with its size bounded before the first byte is read: the path is
// opened once (non-blocking, so a FIFO cannot stall the open), the opened handle is fstat'ed, only
// a regular file within the limit is read, and never more than limit + 1 bytes, so a file that
// grows after the check is caught too. A symlink to /dev/zero, a FIFO or a 10 GB file costs nothing.
// The file may be a symlink (to a regular file): what is opened is what is checked.
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

export type BoundedRead =
  | { ok: true; bytes: Buffer }
  | { ok: false; reason: "missing" }
  | { ok: false; reason: "directory" }
  | { ok: false; reason: "not-regular" /** e.g. "a FIFO", "a character device" */; kind: string }
  | {
      ok: false;
      reason: "too-large" /** Undefined when the file grew past the limit while read. */;
      size?: number;
    }
  | { ok: false; reason: "unreadable"; code: string };

function kindOf(st: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

export async function readBounded(path: string, limit: number): Promise<BoundedRead> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. O_NOCTTY: a terminal
    // device never becomes the process's controlling terminal. Both are 0 where the OS lacks them.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { ok: false, reason: "missing" };
    if (code === "EISDIR") return { ok: false, reason: "directory" };
    return { ok: false, reason: "unreadable", code };
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) return { ok: false, reason: "directory" };
    if (!st.isFile()) return { ok: false, reason: "not-regular", kind: kindOf(st) };
    if (st.size > limit) return { ok: false, reason: "too-large", size: st.size };
    // limit + 1 bytes at most, whatever fstat said: a file that grows after it is caught as well.
    const buffer = Buffer.alloc(limit + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > limit) return { ok: false, reason: "too-large" };
    return { ok: true, bytes: buffer.subarray(0, filled) };
  } catch (error) {
    return { ok: false, reason: "unreadable", code: (error as NodeJS.ErrnoException).code ?? String(error) };
  } finally {
    await handle.close();
  }
}

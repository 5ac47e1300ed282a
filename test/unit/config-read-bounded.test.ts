// Files from the checkout are read with their size bounded before the first byte: the config and
// .dockerignore alike. A FIFO, a device behind a symlink or a huge file costs one open and one fstat.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { MAX_CONFIG_BYTES } from "../../src/config/source.js";
import { BuildError } from "../../src/image/errors.js";
import { MAX_DOCKERIGNORE_BYTES, selectRepoFiles } from "../../src/image/select-files.js";
import { readBounded } from "../../src/util/read-bounded.js";

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "slipway-bounded-"));
  temps.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A file of `size` bytes that takes no disk space: the reader must refuse it from fstat alone. */
async function sparse(file: string, size: number): Promise<void> {
  const handle = await open(file, "w");
  await handle.truncate(size);
  await handle.close();
}

const mkfifo = (file: string): void => {
  execFileSync("mkfifo", [file]);
};

describe("readBounded", () => {
  it("reads a regular file up to the limit, and a symlink to one", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "a"), "12345");
    await symlink("a", path.join(dir, "link"));
    expect(await readBounded(path.join(dir, "a"), 5)).toEqual({ ok: true, bytes: Buffer.from("12345") });
    expect(await readBounded(path.join(dir, "link"), 5)).toEqual({ ok: true, bytes: Buffer.from("12345") });
  });

  it("refuses a file one byte over the limit, and a 1 TiB sparse file from its size", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "a"), "123456");
    await sparse(path.join(dir, "huge"), 2 ** 40);
    expect(await readBounded(path.join(dir, "a"), 5)).toEqual({ ok: false, reason: "too-large", size: 6 });
    expect(await readBounded(path.join(dir, "huge"), 5)).toEqual({
      ok: false,
      reason: "too-large",
      size: 2 ** 40,
    });
  });

  it("refuses a symlink to /dev/zero, which a plain read would never finish", async () => {
    const dir = await tempDir();
    await symlink("/dev/zero", path.join(dir, "zero"));
    expect(await readBounded(path.join(dir, "zero"), 5)).toEqual({
      ok: false,
      reason: "not-regular",
      kind: "a character device",
    });
  });

  it("refuses a FIFO without waiting for a writer", async () => {
    const dir = await tempDir();
    mkfifo(path.join(dir, "fifo"));
    expect(await readBounded(path.join(dir, "fifo"), 5)).toEqual({
      ok: false,
      reason: "not-regular",
      kind: "a FIFO",
    });
  });

  it("tells a missing file and a directory apart", async () => {
    const dir = await tempDir();
    expect(await readBounded(path.join(dir, "nope"), 5)).toEqual({ ok: false, reason: "missing" });
    expect(await readBounded(path.join(dir, "nope", "deeper"), 5)).toEqual({ ok: false, reason: "missing" });
    expect(await readBounded(dir, 5)).toEqual({ ok: false, reason: "directory" });
  });
});

describe("loadConfig reads the config through it", () => {
  const problem = async (setUp: (file: string) => Promise<void> | void) => {
    const dir = await tempDir();
    const file = path.join(dir, "valohai.yaml");
    await setUp(file);
    const result = await loadConfig(file, { repoRoot: dir });
    expect(result.config).toBeUndefined();
    return result.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`);
  };

  it("refuses a config that is a symlink to /dev/zero", async () => {
    expect(await problem((f) => symlink("/dev/zero", f))).toEqual([
      "valohai.yaml:1:1: config file is a character device, not a regular file: Slipway reads the config only from a regular file",
    ]);
  });

  it("refuses a config that is a FIFO", async () => {
    expect(await problem((f) => mkfifo(f))).toEqual([
      "valohai.yaml:1:1: config file is a FIFO, not a regular file: Slipway reads the config only from a regular file",
    ]);
  });

  it("refuses a config over 2 MiB before reading it", async () => {
    expect(await problem((f) => sparse(f, MAX_CONFIG_BYTES + 1))).toEqual([
      "valohai.yaml:1:1: config file is 2.0 MiB; Slipway reads config files of at most 2 MiB",
    ]);
    expect(await problem((f) => sparse(f, 3 * 2 ** 30))).toEqual([
      "valohai.yaml:1:1: config file is 3072.0 MiB; Slipway reads config files of at most 2 MiB",
    ]);
  });

  it("still names a missing config and a directory", async () => {
    expect(await problem(() => undefined)).toEqual(["valohai.yaml:1:1: config file not found"]);
    expect(await problem((f) => mkdir(f))).toEqual(["valohai.yaml:1:1: config file is a directory"]);
  });
});

describe(".dockerignore is read through it too", () => {
  const selectError = async (setUp: (file: string) => Promise<void> | void) => {
    const root = await tempDir();
    await writeFile(path.join(root, "app.py"), "");
    await setUp(path.join(root, ".dockerignore"));
    return selectRepoFiles(root, new Set()).catch((e: unknown) => e);
  };

  it("refuses one over 1 MiB", async () => {
    const err = await selectError((f) => sparse(f, MAX_DOCKERIGNORE_BYTES + 1));
    expect(err).toBeInstanceOf(BuildError);
    expect((err as Error).message).toBe(
      "the checkout's .dockerignore is 1.0 MiB; Slipway reads a .dockerignore of at most 1 MiB",
    );
  });

  it("refuses a FIFO and a device", async () => {
    expect(String(await selectError((f) => mkfifo(f)))).toContain(
      "the checkout's .dockerignore is a FIFO, not a regular file",
    );
    expect(String(await selectError((f) => symlink("/dev/zero", f)))).toContain(
      "the checkout's .dockerignore is a character device, not a regular file",
    );
  });

  it("reads one within the limit", async () => {
    const root = await tempDir();
    await writeFile(path.join(root, "app.py"), "");
    await writeFile(path.join(root, "notes.log"), "");
    await writeFile(path.join(root, ".dockerignore"), "*.log\n");
    const selection = await selectRepoFiles(root, new Set());
    expect(selection.entries.map((e) => e.path)).toEqual([".dockerignore", "app.py"]);
  });
});

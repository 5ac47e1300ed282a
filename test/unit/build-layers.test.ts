// Version identity: deterministic layers from the checkout, `.dockerignore` semantics, and the
// stored-block gzip that makes digests independent of zlib builds.

import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { gunzipSync } from "node:zlib";
import tar from "tar-stream";
import { afterEach, describe, expect, it } from "vitest";
import type { Endpoint } from "../../src/config/types.js";
import { DeflateGzip } from "../../src/image/deflate-gzip.js";
import { MissingDeclaredFileError } from "../../src/image/errors.js";
import { type LayerEntry, LayerStore, writeLayerBlob } from "../../src/image/layer.js";
import { dockerignoreMatcher, resolveDeclaredFiles, selectRepoFiles } from "../../src/image/select-files.js";
import { StoredGzip } from "../../src/image/stored-gzip.js";

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), "slipway-build-unit-"));
  temps.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function writeTree(root: string, files: Record<string, string>, order: string[] = Object.keys(files)) {
  for (const rel of order) {
    const abs = path.join(root, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, files[rel] ?? "");
  }
}

function endpoint(name: string, files: string[]): Endpoint {
  return {
    name,
    image: "python:3.12",
    port: 8000,
    server: { kind: "wsgi", module: "app", callable: "application" },
    files: files.map((p) => ({ name: path.basename(p), path: p })),
    tolerations: [],
    location: { file: "valohai.yaml", line: 1, column: 1 },
  };
}

async function codeLayerEntries(root: string, exclude: string[] = []): Promise<LayerEntry[]> {
  const sel = await selectRepoFiles(root, new Set(exclude));
  return sel.entries.map((e) => ({ ...e, name: `slipway/app/${e.path}` }));
}

async function listTar(blob: Buffer): Promise<tar.Header[]> {
  const headers: tar.Header[] = [];
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on("entry", (h, stream, next) => {
      headers.push(h);
      stream.on("end", () => next());
      stream.resume();
    });
    ex.on("finish", () => resolve());
    ex.on("error", reject);
  });
  ex.end(gunzipSync(blob));
  await done;
  return headers;
}

const SAMPLE: Record<string, string> = {
  "app.py": "def application(env, start):\n    pass\n",
  "lib/util.py": "X = 1\n",
  "lib/deep/more.py": "Y = 2\n",
  "README.md": "# sample\n",
  "models/model.bin": "weights",
};

// Recorded once; a change means layer bytes changed (tar writer, gzip encoder, fflate version).
const PINNED = {
  diffId: "sha256:2048e0872d51e60d845b08888884b28d0526f68ab0657de39a5e909be69d25a1",
  deflate: "sha256:d2fad1e4c242a50c12b9564135800bd6b4dd3e8fe535d71e089a7f732258ed26",
  stored: "sha256:a3857cf57d2822ab7cdbe188902aa1f05b23ffb7ce9db99a21f719c1125c070a",
};

describe("deterministic layers", () => {
  it("gives the same digests for the same content written in a different order with different mtimes", async () => {
    const a = await tempDir();
    const b = await tempDir();
    await writeTree(a, SAMPLE);
    await writeTree(b, SAMPLE, Object.keys(SAMPLE).reverse());
    await utimes(path.join(b, "app.py"), new Date("2001-02-03"), new Date("2001-02-03"));
    await utimes(path.join(b, "lib"), new Date("2011-02-03"), new Date("2011-02-03"));
    const la = await writeLayerBlob(await codeLayerEntries(a), path.join(a, "..", `${path.basename(a)}.tgz`));
    const lb = await writeLayerBlob(await codeLayerEntries(b), path.join(b, "..", `${path.basename(b)}.tgz`));
    temps.push(path.join(a, "..", `${path.basename(a)}.tgz`), path.join(b, "..", `${path.basename(b)}.tgz`));
    expect(lb.digest).toBe(la.digest);
    expect(lb.diffId).toBe(la.diffId);
    // Entry order given to the writer does not matter either.
    const entries = await codeLayerEntries(a);
    const out = path.join(a, "..", `${path.basename(a)}-rev.tgz`);
    temps.push(out);
    expect((await writeLayerBlob([...entries].reverse(), out)).digest).toBe(la.digest);
  });

  it("gives digests pinned here, so every machine (and every release) agrees or this test says so", async () => {
    const root = await tempDir();
    await writeTree(root, { "a.py": "print('a')\n", "pkg/b.py": "B = 2\n" });
    const entries = await codeLayerEntries(root);
    const code = await writeLayerBlob(entries, `${root}.code.tgz`, "deflate");
    const stored = await writeLayerBlob(entries, `${root}.stored.tgz`, "stored");
    temps.push(`${root}.code.tgz`, `${root}.stored.tgz`);
    expect(code.diffId).toBe(stored.diffId);
    expect({ diffId: code.diffId, deflate: code.digest, stored: stored.digest }).toEqual(PINNED);
  });

  it("writes sorted entries with root ownership, mtime 0, no names and normalised modes", async () => {
    const root = await tempDir();
    await writeTree(root, SAMPLE);
    await chmod(path.join(root, "app.py"), 0o700);
    await chmod(path.join(root, "README.md"), 0o600);
    await symlink("app.py", path.join(root, "link.py"));
    const out = `${root}.tgz`;
    temps.push(out);
    const d = await writeLayerBlob(await codeLayerEntries(root), out);
    const blob = await readFile(out);
    expect(`sha256:${createHash("sha256").update(blob).digest("hex")}`).toBe(d.digest);
    expect(`sha256:${createHash("sha256").update(gunzipSync(blob)).digest("hex")}`).toBe(d.diffId);
    const headers = await listTar(blob);
    expect(headers.map((h) => h.name)).toEqual([
      "slipway/",
      "slipway/app/",
      "slipway/app/README.md",
      "slipway/app/app.py",
      "slipway/app/lib/",
      "slipway/app/lib/deep/",
      "slipway/app/lib/deep/more.py",
      "slipway/app/lib/util.py",
      "slipway/app/link.py",
      "slipway/app/models/",
      "slipway/app/models/model.bin",
    ]);
    for (const h of headers) {
      expect(h.mtime.getTime()).toBe(0);
      expect([h.uid, h.gid, h.uname, h.gname]).toEqual([0, 0, "", ""]);
    }
    const mode = (n: string) => headers.find((h) => h.name === n)?.mode;
    expect(mode("slipway/app/app.py")).toBe(0o755);
    expect(mode("slipway/app/README.md")).toBe(0o644);
    expect(mode("slipway/app/lib/")).toBe(0o755);
    expect(headers.find((h) => h.name === "slipway/app/link.py")).toMatchObject({
      type: "symlink",
      linkname: "app.py",
    });
  });

  it("reuses a layer built earlier (cross-run cache) and rebuilds the blob byte-identically on demand", async () => {
    const root = await tempDir();
    await writeTree(root, SAMPLE);
    const cacheDir = path.join(await tempDir(), "cache");
    const entries = await codeLayerEntries(root);
    const first = new LayerStore({ workDir: path.join(await tempDir(), "w1"), cacheDir });
    const l1 = await first.layer("code", entries);
    const bytes1 = await buffer(Readable.from(await l1.open(0)));
    await first.dispose();
    const second = new LayerStore({ workDir: path.join(await tempDir(), "w2"), cacheDir });
    const l2 = await second.layer("code", entries);
    expect(second.cacheHits).toBe(1);
    expect(l2.digest).toBe(l1.digest);
    const bytes2 = await buffer(Readable.from(await l2.open(0)));
    expect(bytes2.equals(bytes1)).toBe(true);
    const tail = await buffer(Readable.from(await l2.open(10)));
    expect(tail.equals(bytes1.subarray(10))).toBe(true);
    await second.dispose();
  });
});

describe.each([
  ["stored", () => new StoredGzip()],
  ["deflate", () => new DeflateGzip()],
] as const)("%s gzip", (_name, encoder) => {
  it.each([0, 1, 65534, 65535, 65536, 200_000])("round-trips %i bytes independent of chunking", async (n) => {
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = (i * 7919) & 0xff;
    const whole = await buffer(Readable.from([data]).pipe(encoder()));
    const pieces = [];
    for (let i = 0; i < n; i += 1000) pieces.push(data.subarray(i, i + 1000));
    const chunked = await buffer(Readable.from(pieces).pipe(encoder()));
    expect(chunked.equals(whole)).toBe(true);
    expect(gunzipSync(whole).equals(data)).toBe(true);
  });
});

describe(".dockerignore (Docker's semantics)", () => {
  it.each([
    // [patterns, path, ignored]
    [["*.md"], "README.md", true],
    [["*.md"], "docs/guide.md", false], // `*` does not cross directories
    [["**/*.md"], "docs/guide.md", true],
    [["**/*.md"], "README.md", true], // `**` matches zero directories too
    [["*.md", "!README.md"], "README.md", false],
    [["*.md", "!README*.md", "README-secret.md"], "README-secret.md", true], // last match wins
    [["*.md", "README-secret.md", "!README*.md"], "README-secret.md", false],
    [["data"], "data/x/y.csv", true], // a directory pattern excludes everything below it
    [["data", "!data/keep.csv"], "data/keep.csv", false],
    [["/build"], "build/out.js", true], // leading slash is the context root
    [["*/temp*"], "somedir/temporary.txt", true],
    [["*/temp*"], "temporary.txt", false],
    [["temp?"], "tempa", true],
    [["# comment", "  "], "# comment", false],
    [["Makefile"], "makefile", false], // case-sensitive on Linux
  ] as const)("%j on %s → ignored=%s", (patterns, file, ignored) => {
    expect(dockerignoreMatcher(patterns.join("\n")).ignores(file)).toBe(ignored);
  });

  it("never packs a .git at any depth: a submodule's or a vendored repository's, in any letter case", async () => {
    const root = await tempDir();
    await writeTree(root, {
      ".dockerignore": "!**\n",
      "app.py": "",
      "vendor/lib/.git/config": "[http] extraheader = AUTHORIZATION: basic c2VjcmV0\n",
      "vendor/lib/code.py": "",
      "sub/.GIT/HEAD": "ref: refs/heads/main\n",
    });
    const sel = await selectRepoFiles(root, new Set());
    expect(sel.entries.map((e) => e.path)).toEqual([
      ".dockerignore",
      "app.py",
      "sub",
      "vendor",
      "vendor/lib",
      "vendor/lib/code.py",
    ]);
  });

  it("selects files by the checkout's .dockerignore, always drops .git, keeps re-included files' directories", async () => {
    const root = await tempDir();
    await writeTree(root, {
      ".git/HEAD": "ref: refs/heads/main\n",
      ".dockerignore": "*.log\n**/__pycache__\nnotebooks\ndata\n!data/labels.csv\n",
      "app.py": "",
      "debug.log": "",
      "pkg/__pycache__/x.pyc": "",
      "pkg/mod.py": "",
      "notebooks/explore.ipynb": "",
      "data/big.parquet": "",
      "data/labels.csv": "",
      "models/model.bin": "weights",
    });
    await mkdir(path.join(root, "empty"));
    const sel = await selectRepoFiles(root, new Set(["models/model.bin"]));
    expect(sel.entries.map((e) => `${e.path}${e.kind === "directory" ? "/" : ""}`)).toEqual([
      ".dockerignore",
      "app.py",
      "data/",
      "data/labels.csv",
      "empty/",
      "models/",
      "pkg/",
      "pkg/mod.py",
    ]);
  });
});

describe("declared files", () => {
  it("resolves declared files even when .dockerignore excludes them", async () => {
    const root = await tempDir();
    await writeTree(root, { ".dockerignore": "models\n", "models/model.bin": "w" });
    const files = await resolveDeclaredFiles(root, endpoint("predict", ["./models/model.bin"]));
    expect(files.map((f) => [f.path, f.size])).toEqual([["models/model.bin", 1]]);
  });

  it("names the endpoint and the file when a declared file is missing", async () => {
    const root = await tempDir();
    await writeTree(root, { "app.py": "" });
    const err = await resolveDeclaredFiles(root, endpoint("predict-digit", ["models/model.h5"])).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MissingDeclaredFileError);
    expect(err).toMatchObject({ endpoint: "predict-digit", file: "models/model.h5" });
    expect(String((err as Error).message)).toMatch(/predict-digit.*models\/model\.h5/);
  });

  it("follows a symlink within the checkout, and refuses one that leads outside it", async () => {
    const outside = await tempDir();
    await writeTree(outside, { "credentials.json": "secret" });
    const root = await tempDir();
    await writeTree(root, { "models/real.bin": "weights" });
    await symlink("real.bin", path.join(root, "models/link.bin"));
    await symlink(path.join(outside, "credentials.json"), path.join(root, "models/model.bin"));
    const inside = await resolveDeclaredFiles(root, endpoint("e", ["models/link.bin"]));
    expect(inside.map((f) => [f.path, f.size])).toEqual([["models/link.bin", 7]]);
    await expect(resolveDeclaredFiles(root, endpoint("e", ["models/model.bin"]))).rejects.toThrow(
      /"e" declares file "models\/model\.bin", a symbolic link to a file outside the repository/,
    );
  });

  it("refuses a declared directory", async () => {
    const root = await tempDir();
    await mkdir(path.join(root, "models"));
    await expect(resolveDeclaredFiles(root, endpoint("e", ["models"]))).rejects.toThrow(/"e".*"models"/);
  });
});

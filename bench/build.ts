// Benchmark: Slipway's daemonless registry builder against `docker build && docker push` of the same
// content, on the test stack's engine and registry. Sample repo: ~200 Python source files and a 50 MB
// model (pseudo-random bytes, like trained weights, which do not compress), generated
// deterministically. Scenarios: cold (new repository in the registry, no local caches), no change,
// and a one-line code change. Prints wall time, bytes uploaded and the ratios.
//
// Run: node --import tsx bench/build.ts   (brings the test stack up if it is not running)
//
// Bytes for docker are the layer bytes the registry lacked before the push (the registry builder
// counts what it sent exactly). The engine here uses the vfs storage driver, which copies the whole
// filesystem per layer; overlay2 on a hosted runner makes `docker build` faster than measured here.

import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Endpoint } from "../src/config/types.js";
import { buildVersion } from "../src/image/build-version.js";
import { createRegistryClient, parseImageName, type RegistryClient } from "../src/registry/index.js";
import { ensureStack, stackEnv } from "../test/support/stack.js";

const exec = promisify(execFile);
const SOURCE_FILES = 200;
const MODEL_BYTES = 50 * 1024 * 1024;
const REPEATS = 5;

async function writeModel(file: string): Promise<void> {
  // AES-CTR keystream under a fixed key: fast, incompressible, identical on every machine.
  const cipher = createCipheriv(
    "aes-256-ctr",
    createHash("sha256").update("slipway-bench-model").digest(),
    Buffer.alloc(16),
  );
  const out = createWriteStream(file);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < MODEL_BYTES; written += zeros.length) {
    if (!out.write(cipher.update(zeros))) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

async function makeRepo(root: string, baseImage: string): Promise<void> {
  await mkdir(path.join(root, "src/sample"), { recursive: true });
  await mkdir(path.join(root, "models"), { recursive: true });
  for (let i = 0; i < SOURCE_FILES; i++) {
    const name = `mod_${String(i).padStart(3, "0")}.py`;
    const body = Array.from(
      { length: 40 },
      (_, j) => `def f_${i}_${j}(x):\n    return x * ${j} + ${i}\n`,
    ).join("\n");
    await writeFile(path.join(root, "src/sample", name), `"""Module ${i}."""\n\n${body}`);
  }
  await writeFile(path.join(root, "src/sample/__init__.py"), "");
  await writeFile(
    path.join(root, "app.py"),
    'def application(environ, start_response):\n    start_response("200 OK", [])\n    return [b"ok"]\n',
  );
  await writeModel(path.join(root, "models/model.bin"));
  // The docker side: the model first so a code change leaves its layer cached, as a careful user writes it.
  await writeFile(
    path.join(root, "Dockerfile"),
    [
      `FROM ${baseImage}`,
      "WORKDIR /slipway/app",
      "COPY models/ models/",
      "COPY src/ src/",
      "COPY app.py ./",
      'CMD ["python3", "-m", "gunicorn", "--bind", "0.0.0.0:8000", "app:application"]',
      "",
    ].join("\n"),
  );
  await writeFile(path.join(root, ".dockerignore"), "Dockerfile\n.dockerignore\n");
}

async function docker(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  const { stdout } = await exec("docker", args, { env, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** Layer bytes of `tag`'s manifest that the repository did not hold before: what docker sent. */
async function dockerUploaded(
  client: RegistryClient,
  repository: string,
  before: Set<string>,
): Promise<number> {
  const name = { ...parseImageName(repository), tag: "v1" };
  const m = await client.getManifest(name);
  const json = m.json as {
    layers: Array<{ digest: string; size: number }>;
    config: { digest: string; size: number };
  };
  return [...json.layers, json.config].filter((l) => !before.has(l.digest)).reduce((n, l) => n + l.size, 0);
}

async function heldDigests(
  client: RegistryClient,
  repository: string,
  base: Set<string>,
): Promise<Set<string>> {
  const held = new Set(base);
  try {
    const m = await client.getManifest({ ...parseImageName(repository), tag: "v1" });
    const json = m.json as { layers: Array<{ digest: string }>; config: { digest: string } };
    for (const l of json.layers) held.add(l.digest);
    held.add(json.config.digest);
  } catch {
    // A new repository holds nothing yet.
  }
  return held;
}

interface Sample {
  ms: number;
  bytes: number;
}

function median(xs: Sample[]): Sample {
  const sorted = [...xs].sort((a, b) => a.ms - b.ms);
  const m = sorted[Math.floor(sorted.length / 2)];
  if (m === undefined) throw new Error("no samples");
  return m;
}

async function timed(fn: () => Promise<number>): Promise<Sample> {
  const t = process.hrtime.bigint();
  const bytes = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, bytes };
}

async function main(): Promise<void> {
  const stack = await ensureStack();
  const env = { ...process.env, ...stackEnv(stack) };
  const work = await mkdtemp(path.join(tmpdir(), "slipway-bench-build-"));
  const repo = path.join(work, "repo");
  const cacheDir = path.join(work, "layer-cache");
  await mkdir(repo);
  await makeRepo(repo, stack.pythonImage);
  const run = Date.now().toString(36);
  const regRepo = `${stack.registry}/bench-${run}/registry-builder`;
  const dockerRepo = `${stack.registry}/bench-${run}/docker-builder`;
  const client = createRegistryClient();

  const endpoint: Endpoint = {
    name: "bench",
    image: stack.pythonImage,
    port: 8000,
    server: { kind: "wsgi", module: "app", callable: "application" },
    files: [{ name: "model", path: "models/model.bin" }],
    tolerations: [],
    location: { file: "valohai.yaml", line: 1, column: 1 },
  };
  let commit = 0;
  const registryBuild = async () => {
    const out = await buildVersion({
      repoRoot: repo,
      endpoints: [{ endpoint, imageRepository: regRepo }],
      tag: "v1",
      source: {
        revision: String(commit).padStart(40, "0"),
        time: new Date(1_700_000_000_000 + commit * 1000),
      },
      builder: "registry",
      registry: client,
      cacheDir,
    });
    return out.uploadedBytes;
  };
  const baseManifest = (await client.getManifest(parseImageName(stack.pythonImage))).json as {
    layers: Array<{ digest: string }>;
    config: { digest: string };
  };
  const baseDigests = new Set(baseManifest.layers.map((l) => l.digest));
  const dockerBuild = (noCache: boolean) => async () => {
    const before = await heldDigests(client, dockerRepo, baseDigests);
    await docker(env, "build", ...(noCache ? ["--no-cache"] : []), "-q", "-t", `${dockerRepo}:v1`, repo);
    await docker(env, "push", "-q", `${dockerRepo}:v1`);
    return dockerUploaded(client, dockerRepo, before);
  };
  const editOneLine = async (i: number) => {
    commit++;
    const file = path.join(repo, "src/sample/mod_100.py");
    await writeFile(file, `${await readFile(file, "utf8")}\nCHANGE_${i} = ${i}\n`);
  };

  // Make sure the engine holds the base, as a runner that built before would; both sides start equal.
  await docker(env, "pull", "-q", stack.pythonImage);

  const results: Array<{ scenario: string; registry: Sample; docker: Sample }> = [];
  process.stderr.write("cold…\n");
  results.push({
    scenario: "cold (new repository)",
    registry: await timed(registryBuild),
    docker: await timed(dockerBuild(true)),
  });

  process.stderr.write("no change…\n");
  const reg: Sample[] = [];
  const dock: Sample[] = [];
  for (let i = 0; i < REPEATS; i++) {
    reg.push(await timed(registryBuild));
    dock.push(await timed(dockerBuild(false)));
  }
  results.push({ scenario: "no change", registry: median(reg), docker: median(dock) });

  process.stderr.write("one-line code change…\n");
  const reg2: Sample[] = [];
  const dock2: Sample[] = [];
  const codeLayerSizes: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await editOneLine(i);
    reg2.push(await timed(registryBuild));
    dock2.push(await timed(dockerBuild(false)));
    // What the changed layer weighs, to compare with the bytes sent.
    const m = (await client.getManifest({ ...parseImageName(regRepo), tag: "v1" })).json as {
      layers: Array<{ size: number }>;
    };
    codeLayerSizes.push(m.layers.at(-2)?.size ?? 0);
  }
  results.push({ scenario: "one-line code change", registry: median(reg2), docker: median(dock2) });

  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MB`;
  const rows = results.map((r) => ({
    scenario: r.scenario,
    "registry ms": r.registry.ms.toFixed(0),
    "registry uploaded": mb(r.registry.bytes),
    "docker ms": r.docker.ms.toFixed(0),
    "docker uploaded": mb(r.docker.bytes),
    "speed-up": `${(r.docker.ms / r.registry.ms).toFixed(1)}×`,
  }));
  process.stdout.write(
    `\nbench/build: ${SOURCE_FILES} source files + ${mb(MODEL_BYTES)} model, base ${stack.pythonImage}; medians of ${REPEATS} for the warm scenarios\n`,
  );
  console.table(rows);
  process.stdout.write(
    `one-line change: registry builder sent ${reg2.map((s) => s.bytes).join(", ")} bytes; changed code layer ${codeLayerSizes.join(", ")} bytes (+ config and manifest)\n`,
  );
  const noChange = results[1];
  const oneLine = results[2];
  if (noChange && oneLine) {
    const a = noChange.docker.ms / noChange.registry.ms;
    const b = oneLine.docker.ms / oneLine.registry.ms;
    process.stdout.write(
      `targets: no change ≥ 20× → ${a.toFixed(1)}× ${a >= 20 ? "met" : "MISSED"}; one-line change ≥ 10× → ${b.toFixed(1)}× ${b >= 10 ? "met" : "MISSED"}\n`,
    );
  }
  await rm(work, { recursive: true, force: true });
}

await main();

// The test stack: a private Docker engine, a plain-HTTP registry on loopback, and the two base images the
// integration tests run (Debian bookworm with python3 + gunicorn, and busybox), pushed to that registry.
// This module owns the state directory ($SLIPWAY_STACK_DIR, default /tmp/slipway-stack), the daemons it
// starts there, and the base-image tarball cache under ${XDG_CACHE_HOME:-~/.cache}/slipway.
//
// Nothing is pulled from a public registry: the images are built from Debian packages, so the stack comes up
// on a machine that reaches only the Debian archive. Every wait is bounded and fails with the daemon's log.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, closeSync, constants, openSync, readFileSync, statSync } from "node:fs";
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

export interface Stack {
  /** State directory: sockets, pid files, logs, daemon data. */
  dir: string;
  /** Absolute path of the Docker engine's unix socket. */
  dockerSocket: string;
  /** "unix://" + dockerSocket, for DOCKER_HOST. */
  dockerHost: string;
  /** "127.0.0.1:<port>" of the plain-HTTP registry. */
  registry: string;
  /** "<registry>/slipway-test/python:bookworm": bookworm minbase + python3 + python3-gunicorn. */
  pythonImage: string;
  /** "<registry>/slipway-test/busybox:latest": static busybox with its applet symlinks. */
  busyboxImage: string;
}

// Bump when the way the base images are made changes, so cached tarballs and pushed images are rebuilt.
const BASE_IMAGE_VERSION = "1";
const SUITE = "bookworm";
const MIRROR = "http://deb.debian.org/debian";
const PYTHON_PACKAGES = ["python3", "python3-gunicorn"] as const;
const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const MANIFEST_ACCEPT = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const APT_TIMEOUT = 15 * MINUTE;
const DEBOOTSTRAP_TIMEOUT = 20 * MINUTE;
const DOCKERD_START_TIMEOUT = MINUTE;
const REGISTRY_START_TIMEOUT = 20 * SECOND;
// A lock holder may be running debootstrap or apt-get, so waiters are patient.
const LOCK_WAIT_TIMEOUT = 30 * MINUTE;

// Binaries the stack or the integration tests call, and the Debian package that provides each.
const REQUIRED_BINARIES: ReadonlyArray<readonly [binary: string, pkg: string]> = [
  ["dockerd", "docker.io"],
  ["docker", "docker.io"],
  ["docker-registry", "docker-registry"],
  ["debootstrap", "debootstrap"],
  ["busybox", "busybox-static"],
  ["htpasswd", "apache2-utils"],
  ["kubectl", "kubernetes-client"],
];
// Root's usual sbin directories are searched too: a login PATH may lack them, and dockerd lives there.
const SYSTEM_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

interface Tools {
  dockerd: string;
  docker: string;
  registry: string;
  debootstrap: string;
  busybox: string;
}

interface Paths {
  dir: string;
  socket: string;
  dockerdPid: string;
  dockerdLog: string;
  registryConfig: string;
  registryPid: string;
  registryLog: string;
  state: string;
  lock: string;
}

interface BaseImage {
  repo: string;
  tag: string;
  /** Hash of everything the image is made from; pushed as the tag "key-<key>" to tell stale images apart. */
  key: string;
  changes: string[];
  /** Makes the rootfs tarball (or finds it in the cache) and returns its path. */
  tarball: () => Promise<string>;
}

export function stackDir(): string {
  return process.env.SLIPWAY_STACK_DIR || "/tmp/slipway-stack";
}

/** Environment variables that point tools and tests at the stack. */
export function stackEnv(stack: Stack): Record<string, string> {
  return {
    DOCKER_HOST: stack.dockerHost,
    SLIPWAY_TEST_REGISTRY: stack.registry,
    SLIPWAY_TEST_PYTHON_IMAGE: stack.pythonImage,
    SLIPWAY_TEST_BUSYBOX_IMAGE: stack.busyboxImage,
    SLIPWAY_STACK_DIR: stack.dir,
  };
}

/** The running stack recorded in <dir>/stack.json, if its engine and registry both answer. */
export async function readStack(): Promise<Stack | undefined> {
  const paths = stackPaths(stackDir());
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(paths.state, "utf8"));
  } catch {
    return undefined;
  }
  if (!isStack(parsed)) return undefined;
  if (!(await dockerAnswers(parsed.dockerSocket)) || !(await registryAnswers(parsed.registry)))
    return undefined;
  return parsed;
}

/**
 * Brings the stack up, or finds it already up, and returns its coordinates. Safe to call from several
 * processes at once: start-up runs under a lock file, and a stack that is complete is returned without it.
 */
export async function ensureStack(): Promise<Stack> {
  const paths = stackPaths(stackDir());
  const running = await readStack();
  if (running && (await imagesPresent(running))) return running;

  await mkdir(paths.dir, { recursive: true });
  return withLock(paths.lock, async () => {
    await ensurePackages();
    const tools = resolveTools();
    await ensureDockerd(paths, tools);
    const registry = await ensureRegistry(paths, tools);
    const stack: Stack = {
      dir: paths.dir,
      dockerSocket: paths.socket,
      dockerHost: `unix://${paths.socket}`,
      registry,
      pythonImage: `${registry}/slipway-test/python:${SUITE}`,
      busyboxImage: `${registry}/slipway-test/busybox:latest`,
    };
    for (const image of baseImages(stack, tools)) await ensureImage(stack, tools, image);
    // Written last: its presence means "complete", which is what readStack() and other processes rely on.
    await writeFile(paths.state, `${JSON.stringify(stack, null, 2)}\n`);
    return stack;
  });
}

/** Removes all containers, then stops the registry and the engine. Keeps data dirs and the image cache. */
export async function stopStack(): Promise<void> {
  const paths = stackPaths(stackDir());
  try {
    await stat(paths.dir);
  } catch {
    return;
  }
  await withLock(paths.lock, async () => {
    await rm(paths.state, { force: true });
    await removeAllContainers(paths);
    await terminate(await readPid(paths.registryPid), "docker-registry", 10 * SECOND);
    await terminate(await readPid(paths.dockerdPid), "dockerd", 30 * SECOND);
    log("stack stopped");
  });
}

function stackPaths(dir: string): Paths {
  return {
    dir,
    socket: join(dir, "docker.sock"),
    dockerdPid: join(dir, "dockerd.pid"),
    dockerdLog: join(dir, "dockerd.log"),
    registryConfig: join(dir, "registry.yml"),
    registryPid: join(dir, "registry.pid"),
    registryLog: join(dir, "registry.log"),
    state: join(dir, "stack.json"),
    lock: join(dir, "stack.lock"),
  };
}

function isStack(value: unknown): value is Stack {
  if (typeof value !== "object" || value === null) return false;
  const fields = ["dir", "dockerSocket", "dockerHost", "registry", "pythonImage", "busyboxImage"];
  return fields.every((field) => typeof (value as Record<string, unknown>)[field] === "string");
}

// ---------------------------------------------------------------------------------------------------------
// Packages

async function ensurePackages(): Promise<void> {
  const missing = new Set<string>();
  for (const [binary, pkg] of REQUIRED_BINARIES) {
    const path = findBinary(binary);
    // The busybox image is a lone busybox binary in an empty rootfs, so only a static one will run there.
    if (!path || (binary === "busybox" && !(await isStaticElf(path)))) missing.add(pkg);
  }
  if (missing.size === 0) return;

  const packages = [...missing];
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the test stack needs these Debian packages, and installing them needs root: ${packages.join(" ")}`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const aptLog = join(stackDir(), "apt.log");
  log(`installing ${packages.join(" ")} (log: ${aptLog})`);
  await runLogged("apt-get", ["-o", "DPkg::Lock::Timeout=300", "update"], aptLog, APT_TIMEOUT, env);
  await runLogged(
    "apt-get",
    ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", ...packages],
    aptLog,
    APT_TIMEOUT,
    env,
  );
}

function resolveTools(): Tools {
  const need = (name: string): string => {
    const path = findBinary(name);
    if (!path) throw new Error(`${name} not found on PATH or in ${SYSTEM_DIRS.join(", ")}`);
    return path;
  };
  return {
    dockerd: need("dockerd"),
    docker: need("docker"),
    registry: need("docker-registry"),
    debootstrap: need("debootstrap"),
    busybox: need("busybox"),
  };
}

function searchPath(): string[] {
  const fromEnv = (process.env.PATH ?? "").split(":").filter(Boolean);
  return [...new Set([...fromEnv, ...SYSTEM_DIRS])];
}

function findBinary(name: string): string | undefined {
  for (const dir of searchPath()) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** True for a 64-bit little-endian ELF executable with no program interpreter (PT_INTERP). */
async function isStaticElf(path: string): Promise<boolean> {
  const elf = await readFile(path);
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const offset = phoff + i * phentsize;
    if (offset + 4 > elf.length) return false;
    if (elf.readUInt32LE(offset) === 3) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Docker engine

async function ensureDockerd(paths: Paths, tools: Tools): Promise<void> {
  // Unix socket paths are limited to 108 bytes; fail with a reason rather than a bind error in a log.
  if (Buffer.byteLength(paths.socket) > 100) {
    throw new Error(
      `stack dir ${paths.dir} is too long for a unix socket path; set SLIPWAY_STACK_DIR shorter`,
    );
  }
  if (await dockerAnswers(paths.socket)) return;

  const previous = await readPid(paths.dockerdPid);
  if (previous !== undefined && processIs(previous, "dockerd")) {
    // An engine from an earlier start that is still coming up, or has wedged: give it a moment, then replace it.
    if (await pollUntil(() => dockerAnswers(paths.socket), 15 * SECOND)) return;
    log(`dockerd (pid ${previous}) does not answer; restarting it`);
    await terminate(previous, "dockerd", 30 * SECOND);
  }
  await rm(paths.dockerdPid, { force: true });

  log(`starting dockerd on ${paths.socket}`);
  const daemon = spawnDetached(
    tools.dockerd,
    [
      "--storage-driver=vfs",
      "--iptables=false",
      "--bridge=none",
      "-H",
      `unix://${paths.socket}`,
      "--data-root",
      join(paths.dir, "docker-data"),
      "--exec-root",
      join(paths.dir, "docker-exec"),
      "--pidfile",
      paths.dockerdPid,
    ],
    paths.dockerdLog,
  );
  await waitFor(`dockerd on ${paths.socket}`, () => dockerAnswers(paths.socket), {
    timeoutMs: DOCKERD_START_TIMEOUT,
    daemon,
    logPath: paths.dockerdLog,
  });
}

function dockerAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: 2 * SECOND }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

async function removeAllContainers(paths: Paths): Promise<void> {
  const docker = findBinary("docker");
  if (!docker || !(await dockerAnswers(paths.socket))) return;
  const env = dockerEnv(paths);
  const ids = (await run(docker, ["ps", "-aq"], MINUTE, env)).split("\n").filter(Boolean);
  if (ids.length === 0) return;
  log(`removing ${ids.length} container(s)`);
  await run(docker, ["rm", "-f", ...ids], 2 * MINUTE, env);
}

/** Environment for the docker CLI: the stack's engine, and an empty config so host credentials stay out. */
function dockerEnv(paths: Paths): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith("DOCKER_"));
  return {
    ...Object.fromEntries(inherited),
    DOCKER_HOST: `unix://${paths.socket}`,
    DOCKER_CONFIG: join(paths.dir, "docker-config"),
    DOCKER_CLI_HINTS: "false",
  };
}

// ---------------------------------------------------------------------------------------------------------
// Registry

async function ensureRegistry(paths: Paths, tools: Tools): Promise<string> {
  const previousAddr = await readRegistryAddr(paths.registryConfig);
  const previousPid = await readPid(paths.registryPid);
  const ours = previousPid !== undefined && processIs(previousPid, "docker-registry");
  if (ours && previousAddr && (await registryAnswers(previousAddr))) return previousAddr;
  if (ours) await terminate(previousPid, "docker-registry", 10 * SECOND);

  // The same port again keeps image names stable across restarts; storage is kept either way.
  const previousPort = previousAddr ? Number(previousAddr.split(":")[1]) : undefined;
  let preferred = previousPort !== undefined && (await portIsFree(previousPort)) ? previousPort : undefined;
  // Another process may take a free port before the registry binds it, hence a few attempts.
  for (let attempt = 1; ; attempt++) {
    const addr = `127.0.0.1:${preferred ?? (await freePort())}`;
    preferred = undefined;
    await mkdir(join(paths.dir, "registry-data"), { recursive: true });
    await writeFile(paths.registryConfig, registryConfig(paths.dir, addr));
    log(`starting docker-registry on ${addr}`);
    const daemon = spawnDetached(tools.registry, ["serve", paths.registryConfig], paths.registryLog);
    if (daemon.pid !== undefined) await writeFile(paths.registryPid, `${daemon.pid}\n`);
    try {
      await waitFor(`docker-registry on ${addr}`, () => registryAnswers(addr), {
        timeoutMs: REGISTRY_START_TIMEOUT,
        daemon,
        logPath: paths.registryLog,
      });
      return addr;
    } catch (err) {
      if (daemon.pid !== undefined) await terminate(daemon.pid, "docker-registry", 5 * SECOND);
      if (attempt >= 3) throw err;
      log(`docker-registry did not start (${errorMessage(err).split("\n")[0]}); retrying on another port`);
    }
  }
}

function registryConfig(dir: string, addr: string): string {
  // JSON strings are valid YAML scalars, which keeps odd characters in paths safe.
  return [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(join(dir, "registry-data"))}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${JSON.stringify(addr)}`,
    "",
  ].join("\n");
}

async function readRegistryAddr(configPath: string): Promise<string | undefined> {
  try {
    const match = /^\s*addr:\s*"?(127\.0\.0\.1:\d+)"?\s*$/m.exec(await readFile(configPath, "utf8"));
    return match?.[1];
  } catch {
    return undefined;
  }
}

async function registryAnswers(addr: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${addr}/v2/`, { signal: AbortSignal.timeout(2 * SECOND) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function registryHasTag(registry: string, repo: string, tag: string): Promise<boolean> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: "HEAD",
    headers: { Accept: MANIFEST_ACCEPT },
    signal: AbortSignal.timeout(10 * SECOND),
  });
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw new Error(`registry ${registry} answered ${res.status} for the manifest of ${repo}:${tag}`);
}

/** A loopback TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not find a free port"))));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------------------------------------
// Base images

function baseImages(stack: Stack, tools: Tools): BaseImage[] {
  const cache = cacheDir();
  const pythonKey = hashOf({
    version: BASE_IMAGE_VERSION,
    suite: SUITE,
    variant: "minbase",
    packages: PYTHON_PACKAGES,
    arch: process.arch,
  });
  const busyboxKey = hashOf({
    version: BASE_IMAGE_VERSION,
    busybox: createHash("sha256").update(readFileSync(tools.busybox)).digest("hex"),
    arch: process.arch,
  });
  return [
    {
      repo: "slipway-test/python",
      tag: SUITE,
      key: pythonKey,
      changes: ["ENV LANG=C.UTF-8", `ENV PATH=${IMAGE_PATH}`],
      tarball: () =>
        cachedTarball(join(cache, `base-python-${SUITE}-${pythonKey}.tar`), (rootfs) =>
          buildPythonRootfs(stack, tools, rootfs),
        ),
    },
    {
      repo: "slipway-test/busybox",
      tag: "latest",
      key: busyboxKey,
      changes: [`ENV PATH=${IMAGE_PATH}`],
      tarball: () =>
        cachedTarball(join(cache, `base-busybox-${busyboxKey}.tar`), (rootfs) =>
          buildBusyboxRootfs(tools, rootfs),
        ),
    },
  ];
}

/** True when the registry holds both base images as currently defined. Any doubt (a tool gone, a registry
 * error) answers false, which sends ensureStack() down its full path where the cause gets reported. */
async function imagesPresent(stack: Stack): Promise<boolean> {
  try {
    for (const image of baseImages(stack, resolveTools())) {
      if (!(await imageInRegistry(stack, image))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

async function imageInRegistry(stack: Stack, image: BaseImage): Promise<boolean> {
  return (
    (await registryHasTag(stack.registry, image.repo, `key-${image.key}`)) &&
    (await registryHasTag(stack.registry, image.repo, image.tag))
  );
}

async function ensureImage(stack: Stack, tools: Tools, image: BaseImage): Promise<void> {
  if (await imageInRegistry(stack, image)) return;
  const tarball = await image.tarball();
  const paths = stackPaths(stack.dir);
  const env = dockerEnv(paths);
  const docker = (args: string[], timeoutMs: number) =>
    run(tools.docker, ["-H", stack.dockerHost, ...args], timeoutMs, env);
  const keyed = `${stack.registry}/${image.repo}:key-${image.key}`;
  const named = `${stack.registry}/${image.repo}:${image.tag}`;
  log(`importing ${basename(tarball)} as ${named}`);
  await docker(["import", ...image.changes.flatMap((change) => ["-c", change]), tarball, keyed], 5 * MINUTE);
  await docker(["tag", keyed, named], MINUTE);
  log(`pushing ${named}`);
  await docker(["push", "--quiet", keyed], 10 * MINUTE);
  await docker(["push", "--quiet", named], 10 * MINUTE);
}

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "slipway");
}

function hashOf(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

/** Returns `target`, building it first when absent: a reproducible tar of the rootfs that `fill` makes. */
async function cachedTarball(target: string, fill: (rootfs: string) => Promise<void>): Promise<string> {
  try {
    await stat(target);
    return target;
  } catch {
    // not cached yet
  }
  await mkdir(dirname(target), { recursive: true });
  const work = await mkdtemp(join(tmpdir(), "slipway-rootfs-"));
  const partial = `${target}.partial-${process.pid}`;
  try {
    const rootfs = join(work, "rootfs");
    await mkdir(rootfs);
    await fill(rootfs);
    // Sorted names, one mtime and numeric root ownership: the same inputs give the same bytes.
    await run(
      "tar",
      [
        "--sort=name",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "-C",
        rootfs,
        "-cf",
        partial,
        ".",
      ],
      10 * MINUTE,
    );
    await rename(partial, target);
    log(`cached ${target}`);
    return target;
  } finally {
    await rm(partial, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}

async function buildPythonRootfs(stack: Stack, tools: Tools, rootfs: string): Promise<void> {
  const logPath = join(stack.dir, "debootstrap.log");
  log(`debootstrap ${SUITE} with ${PYTHON_PACKAGES.join(", ")} (about a minute; log: ${logPath})`);
  await runLogged(
    tools.debootstrap,
    ["--variant=minbase", `--include=${PYTHON_PACKAGES.join(",")}`, SUITE, rootfs, MIRROR],
    logPath,
    DEBOOTSTRAP_TIMEOUT,
  );
  // Package caches and install logs are only weight (and the logs differ from run to run).
  for (const sub of ["var/cache/apt/archives", "var/lib/apt/lists", "var/log"]) {
    await emptyDirFiles(join(rootfs, sub));
  }
  await rm(join(rootfs, "var/cache/apt/pkgcache.bin"), { force: true });
  await rm(join(rootfs, "var/cache/apt/srcpkgcache.bin"), { force: true });
  await pinBytecode(rootfs);
}

// The tarball gives every file mtime 0, which would make each .pyc (stamped with its source's mtime) stale, so
// every container would recompile what it imports at start-up. Rewriting them as unchecked-hash .pyc files
// keeps imports fast whatever the mtimes are.
const PIN_BYTECODE = `
import importlib.util, os, py_compile, sys
for top in ("/usr/lib", "/usr/local/lib"):
    for root, _dirs, files in os.walk(top):
        if os.path.basename(root) != "__pycache__":
            continue
        for name in files:
            if not name.endswith(".pyc"):
                continue
            cfile = os.path.join(root, name)
            try:
                source = importlib.util.source_from_cache(cfile)
            except ValueError:
                continue
            if not os.path.exists(source):
                continue
            level = int(name.split(".opt-")[1][0]) if ".opt-" in name else 0
            py_compile.compile(source, cfile=cfile, doraise=True, optimize=level,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
`;

async function pinBytecode(rootfs: string): Promise<void> {
  await run("chroot", [rootfs, "/usr/bin/python3", "-c", PIN_BYTECODE], 10 * MINUTE);
}

async function emptyDirFiles(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await emptyDirFiles(path);
    else await rm(path, { force: true });
  }
}

async function buildBusyboxRootfs(tools: Tools, rootfs: string): Promise<void> {
  await mkdir(join(rootfs, "bin"));
  await copyFile(tools.busybox, join(rootfs, "bin/busybox"));
  await chmod(join(rootfs, "bin/busybox"), 0o755);
  // The links `busybox --install -s` would make, made here so that nothing runs inside the rootfs.
  const applets = (await run(tools.busybox, ["--list-full"], MINUTE)).split("\n").filter(Boolean);
  for (const applet of applets) {
    if (applet === "bin/busybox") continue;
    const link = join(rootfs, applet);
    await mkdir(dirname(link), { recursive: true });
    await symlink("/bin/busybox", link);
  }
  for (const dir of ["tmp", "etc", "root"]) await mkdir(join(rootfs, dir), { recursive: true });
  await chmod(join(rootfs, "tmp"), 0o1777);
}

// ---------------------------------------------------------------------------------------------------------
// Processes, waits and the lock

interface Daemon {
  pid: number | undefined;
  /** Why the process ended, once it has. */
  exitReason: () => string | undefined;
}

/** Starts a long-lived daemon in its own process group, with output appended to `logPath`. */
function spawnDetached(command: string, args: string[], logPath: string): Daemon {
  const fd = openSync(logPath, "a");
  try {
    const child: ChildProcess = spawn(command, args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { ...process.env, PATH: searchPath().join(":") },
    });
    let reason: string | undefined;
    child.on("exit", (code, signal) => {
      reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
    });
    child.on("error", (err) => {
      reason = err.message;
    });
    child.unref();
    return { pid: child.pid, exitReason: () => reason };
  } finally {
    closeSync(fd);
  }
}

interface WaitOptions {
  timeoutMs: number;
  daemon: Daemon;
  logPath: string;
}

async function waitFor(what: string, ready: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await ready()) return;
    const exited = options.daemon.exitReason();
    if (exited) throw new Error(`${what} ${exited} before answering\n${await logTail(options.logPath)}`);
    if (Date.now() > deadline) {
      throw new Error(
        `${what} did not answer within ${options.timeoutMs / SECOND}s\n${await logTail(options.logPath)}`,
      );
    }
    await sleep(100);
  }
}

async function pollUntil(ready: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready()) return true;
    await sleep(250);
  }
  return false;
}

/** SIGTERM, a bounded wait, then SIGKILL to the whole process group (dockerd's containerd goes with it). */
async function terminate(pid: number | undefined, name: string, graceMs: number): Promise<void> {
  if (pid === undefined || !processIs(pid, name)) return;
  log(`stopping ${name} (pid ${pid})`);
  signal(pid, "SIGTERM");
  if (await pollUntil(async () => !processIs(pid, name), graceMs)) return;
  log(`${name} (pid ${pid}) ignored SIGTERM for ${graceMs / SECOND}s; killing it`);
  signal(-pid, "SIGKILL");
  signal(pid, "SIGKILL");
  if (!(await pollUntil(async () => !processIs(pid, name), 10 * SECOND))) {
    throw new Error(`${name} (pid ${pid}) is still running after SIGKILL`);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * True when `pid` is a live process whose program is `name`. Checking the name keeps a recycled pid from
 * being mistaken for (or killed as) a stack daemon; a zombie has an empty command line and counts as gone.
 */
function processIs(pid: number, name: string): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    return basename(argv0) === name;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, "utf8")).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `body` while holding a lock file that records the holder's pid. A lock whose holder is dead is
 * stale and taken over. (Two waiters could both judge the same lock stale; the window is a few microseconds
 * and the steps under the lock are idempotent, so that is accepted for a test harness.)
 */
async function withLock<T>(lockPath: string, body: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_TIMEOUT;
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = await readPid(lockPath);
    // A lock without a pid is one being written right now, unless it has been like that for a while.
    const stale =
      holder === undefined ? Date.now() - (await mtimeMs(lockPath)) > 10 * SECOND : !pidAlive(holder);
    if (stale) {
      log(`removing stale lock ${lockPath} (holder ${holder ?? "unknown"} is gone)`);
      await rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${LOCK_WAIT_TIMEOUT / SECOND}s waiting for ${lockPath} (held by pid ${holder})`,
      );
    }
    if (!announced) {
      log(`waiting for pid ${holder} to finish starting the stack`);
      announced = true;
    }
    await sleep(250);
  }
  try {
    return await body();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function mtimeMs(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return Date.now();
  }
}

/** Runs a command to completion and returns its stdout; on failure the error carries its stderr. */
function run(command: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024, env: env ?? process.env },
      (err, stdout, stderr) => {
        if (err) {
          const detail = (stderr || stdout).trim().split("\n").slice(-20).join("\n");
          reject(
            new Error(
              `${command} ${args.slice(0, 4).join(" ")} failed: ${err.message.split("\n")[0]}\n${detail}`,
            ),
          );
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** Like run(), for chatty commands: output goes to `logPath`, and its tail into the error. */
async function runLogged(
  command: string,
  args: string[],
  logPath: string,
  timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  await mkdir(dirname(logPath), { recursive: true });
  const fd = openSync(logPath, "a");
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ["ignore", fd, fd], env });
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on("exit", (code, sig) => {
        clearTimeout(timer);
        if (code === 0) {
          resolve();
          return;
        }
        const why = sig
          ? `was killed by ${sig} (timeout ${timeoutMs / SECOND}s)`
          : `exited with code ${code}`;
        logTail(logPath).then((tail) => reject(new Error(`${command} ${args.join(" ")} ${why}\n${tail}`)));
      });
    });
  } finally {
    closeSync(fd);
  }
}

async function logTail(path: string, lines = 30): Promise<string> {
  try {
    const text = (await readFile(path, "utf8")).trimEnd().split("\n").slice(-lines).join("\n");
    return `--- last lines of ${path} ---\n${text}`;
  } catch {
    return `(no log at ${path})`;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function log(message: string): void {
  process.stderr.write(`[stack] ${message}\n`);
}

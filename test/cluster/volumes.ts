// The node's volume plugins: sets up a Pod's volumes as directories on the host, which node.ts then
// bind-mounts into the pod's containers. emptyDir is a plain world-writable directory shared by every
// container of the pod, or with `medium: Memory` a tmpfs of the size kubelet gives it (node.ts makes it a
// Docker tmpfs volume the pod's sandbox holds mounted); configMap and secret volumes are projected as kubelet's atomic writer lays them
// out (`..<timestamp>/` holding the files, `..data` pointing at it, one symlink per top-level entry), so
// a later projection swaps every file at once and running containers see the new contents. Any other
// volume type is refused with a mount error: the test cluster never pretends to have mounted it.

import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IVolume } from "kubernetes-models/v1/Volume";
import { parseQuantity } from "./quantity.js";
import { VOLUME_SOURCE_FIELDS } from "./validate.js";

/** What the node reads ConfigMaps and Secrets through. */
export type ObjectLookup = (
  kind: "ConfigMap" | "Secret",
  namespace: string,
  name: string,
) => { data?: Record<string, string>; binaryData?: Record<string, string> } | undefined;

export const SUPPORTED_VOLUME_TYPES = ["emptyDir", "configMap", "secret"] as const;

/** A volume that could not be set up; `message` is what kubelet prints after `MountVolume.SetUp failed`. */
export class VolumeMountError extends Error {
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(message);
    this.name = "VolumeMountError";
  }

  /** The FailedMount event message, as kubelet words it. */
  get event(): string {
    return `MountVolume.SetUp failed for volume ${JSON.stringify(this.volume)} : ${this.message}`;
  }
}

export interface HostVolume {
  /** The directory on the host that holds the volume's contents ("" for a memory-backed volume). */
  readonly path: string;
  /** configMap and secret volumes are always mounted read-only, as kubelet does. */
  readonly readOnly: boolean;
  /** A memory-backed emptyDir: a tmpfs of this many bytes instead of a host directory. */
  readonly tmpfsBytes?: number;
}

/**
 * The size kubelet gives a `medium: Memory` emptyDir (pkg/volume/emptydir/empty_dir.go,
 * calculateEmptyDirMemorySize, SizeMemoryBackedVolumes GA): the node's allocatable memory, lowered to the
 * pod's memory limit when every container declares one, lowered again to `sizeLimit` when that is smaller
 * (a zero or larger sizeLimit changes nothing).
 */
export function memoryVolumeBytes(
  pod: IPod,
  sizeLimit: string | number | undefined,
  nodeAllocatable: number,
): number {
  let size = nodeAllocatable;
  const podLimit = podMemoryLimit(pod);
  if (podLimit !== undefined && podLimit > 0 && podLimit <= size) size = podLimit;
  if (sizeLimit !== undefined) {
    const wanted = Math.ceil(parseQuantity(sizeLimit));
    if (wanted > 0 && wanted <= size) size = wanted;
  }
  return size;
}

/**
 * The pod's memory limit as its cgroup gets it (cm.ResourceConfigForPod): only when every container,
 * init containers included, declares one; the sum of the regular and sidecar containers' limits, or the
 * largest init container's if that is more.
 */
function podMemoryLimit(pod: IPod): number | undefined {
  const spec = pod.spec;
  const all = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  const limitOf = (c: (typeof all)[number]) => c.resources?.limits?.memory;
  if (all.length === 0 || all.some((c) => limitOf(c) === undefined)) return undefined;
  const bytes = (c: (typeof all)[number]) => parseQuantity(limitOf(c) ?? 0);
  const long = [
    ...(spec?.containers ?? []),
    ...(spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always"),
  ];
  const sum = long.reduce((n, c) => n + bytes(c), 0);
  const maxInit = Math.max(
    0,
    ...(spec?.initContainers ?? []).filter((c) => c.restartPolicy !== "Always").map(bytes),
  );
  return Math.max(sum, maxInit);
}

const DEFAULT_MODE = 0o644;

/** The volume source field a volume uses ("emptyDir", "configMap", …), undefined when it has none. */
export function volumeType(v: IVolume): string | undefined {
  const rec = v as unknown as Record<string, unknown>;
  return VOLUME_SOURCE_FIELDS.find((f) => rec[f] !== undefined && rec[f] !== null);
}

/**
 * Sets up every volume of the pod under `podDir/<volume name>`. Idempotent: emptyDirs keep their
 * contents, configMap and secret volumes are projected again. Throws VolumeMountError for the first
 * volume that cannot be set up.
 */
export function setUpVolumes(
  pod: IPod,
  podDir: string,
  lookup: ObjectLookup,
  nodeAllocatableMemory: number,
): Map<string, HostVolume> {
  const ns = pod.metadata?.namespace ?? "default";
  const out = new Map<string, HostVolume>();
  for (const v of pod.spec?.volumes ?? []) {
    const path = join(podDir, v.name);
    const type = volumeType(v);
    const medium = v.emptyDir?.medium ?? "";
    if (type === "emptyDir" && medium === "Memory") {
      out.set(v.name, {
        path: "",
        readOnly: false,
        tmpfsBytes: memoryVolumeBytes(pod, v.emptyDir?.sizeLimit, nodeAllocatableMemory),
      });
    } else if (type === "emptyDir" && medium !== "") {
      // HugePages media need huge pages on the node; kubelet fails the mount without them.
      throw new VolumeMountError(
        v.name,
        `the test cluster does not support emptyDir medium ${JSON.stringify(medium)}`,
      );
    } else if (type === "emptyDir") {
      mkdirSync(path, { recursive: true });
      // World-writable (0777) whatever the umask, as kubelet makes it, so any container user can write.
      chmodSync(path, 0o777);
      out.set(v.name, { path, readOnly: false });
    } else if (type === "configMap" || type === "secret") {
      project(path, projection(v, ns, lookup));
      out.set(v.name, { path, readOnly: true });
    } else {
      throw new VolumeMountError(
        v.name,
        `the test cluster does not support ${type ?? "this"} volumes (only ${SUPPORTED_VOLUME_TYPES.join(", ")})`,
      );
    }
  }
  return out;
}

/** Names of the ConfigMaps and Secrets a pod's volumes project, as "ConfigMap/name" and "Secret/name". */
export function projectedSources(pod: IPod): Set<string> {
  const out = new Set<string>();
  for (const v of pod.spec?.volumes ?? []) {
    if (v.configMap?.name) out.add(`ConfigMap/${v.configMap.name}`);
    if (v.secret?.secretName) out.add(`Secret/${v.secret.secretName}`);
  }
  return out;
}

interface ProjectedFile {
  readonly path: string;
  readonly content: Buffer;
  readonly mode: number;
}

/** The files a configMap or secret volume holds, per `items`, `optional` and the modes (MakePayload). */
function projection(v: IVolume, ns: string, lookup: ObjectLookup): ProjectedFile[] {
  const isSecret = v.secret !== undefined;
  const name = (isSecret ? v.secret?.secretName : v.configMap?.name) ?? "";
  const src = isSecret ? v.secret : v.configMap;
  const optional = src?.optional ?? false;
  const defaultMode = src?.defaultMode ?? DEFAULT_MODE;
  const obj = lookup(isSecret ? "Secret" : "ConfigMap", ns, name);
  if (obj === undefined) {
    if (optional) return [];
    throw new VolumeMountError(
      v.name,
      `${isSecret ? "secret" : "configmap"} ${JSON.stringify(name)} not found`,
    );
  }
  // Secret data and ConfigMap binaryData are base64 on the wire; ConfigMap data is text.
  const values = new Map<string, Buffer>();
  for (const [k, val] of Object.entries(obj.data ?? {}))
    values.set(k, isSecret ? Buffer.from(val, "base64") : Buffer.from(val));
  if (!isSecret)
    for (const [k, val] of Object.entries(obj.binaryData ?? {})) values.set(k, Buffer.from(val, "base64"));
  const items = src?.items ?? [];
  if (items.length === 0) {
    return [...values].map(([key, content]) => ({ path: key, content, mode: defaultMode }));
  }
  const files: ProjectedFile[] = [];
  for (const item of items) {
    const content = values.get(item.key);
    if (content === undefined) {
      if (optional) continue;
      throw new VolumeMountError(
        v.name,
        isSecret
          ? `references non-existent secret key: ${item.key}`
          : `configmap references non-existent config key: ${item.key}`,
      );
    }
    files.push({ path: item.path, content, mode: item.mode ?? defaultMode });
  }
  return files;
}

/**
 * Writes `files` into `dir` as kubelet's atomic writer does: a fresh `..<timestamp>` directory, `..data`
 * swapped to it with one rename, a symlink per top-level entry, the previous timestamp directory removed.
 */
function project(dir: string, files: readonly ProjectedFile[]): void {
  mkdirSync(dir, { recursive: true });
  // kubelet's naming: "..<UTC date and time>.<nanoseconds>".
  const now = new Date().toISOString().slice(0, 19).replace(/[-T:]/g, "_");
  const stamp = `..${now}.${process.hrtime.bigint() % 1_000_000_000n}`;
  const tsDir = join(dir, stamp);
  mkdirSync(tsDir, { mode: 0o755 });
  for (const f of files) {
    const target = join(tsDir, f.path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, f.content);
    chmodSync(target, f.mode); // exact bits: writeFileSync's mode passes through the umask
  }
  let previous: string | undefined;
  try {
    previous = readlinkSync(join(dir, "..data"));
  } catch {
    previous = undefined;
  }
  const tmpLink = join(dir, "..data_tmp");
  rmSync(tmpLink, { force: true });
  symlinkSync(stamp, tmpLink);
  renameSync(tmpLink, join(dir, "..data"));
  const top = new Set(files.map((f) => f.path.split("/")[0] ?? f.path));
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith("..")) continue;
    if (!top.has(entry)) rmSync(join(dir, entry), { force: true });
  }
  for (const entry of top) {
    const link = join(dir, entry);
    rmSync(link, { force: true });
    symlinkSync(join("..data", entry), link);
  }
  if (previous !== undefined && previous !== stamp)
    rmSync(join(dir, previous), { recursive: true, force: true });
}

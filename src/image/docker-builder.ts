// The `builder: docker` path: the same file selection, sent as a build context to a Docker engine
// with a generated Dockerfile (or the user's own), then tagged and pushed by the engine. Build and push
// output is streamed into a log group. Bytes uploaded are taken from the engine's push progress, which
// counts compressed layer bytes per layer; an estimate, where the registry builder counts exactly.

import { Readable } from "node:stream";
import type Docker from "dockerode";
import tar from "tar-stream";
import type { Endpoint } from "../config/types.js";
import { DOCKER_MANIFEST } from "../registry/index.js";
import { formatBytes } from "../report/format-bytes.js";
import { isRecord } from "../util/record.js";
import { CONTEXT_CODE_DIR, CONTEXT_FILES_DIR, generateDockerfile } from "./dockerfile.js";
import { BuildError } from "./errors.js";
import type { SourceInfo } from "./image-config.js";
import { type LayerEntry, packEntries } from "./layer.js";
import type { BuildLog } from "./log.js";
import type { EndpointImage, LayerPush } from "./result.js";
import type { SourceEntry } from "./select-files.js";

export interface DockerBuildInput {
  endpoint: Endpoint;
  imageRepository: string;
  tag: string;
  source: SourceInfo;
  /** Repository files for the code layer (declared files already left out). */
  code: readonly SourceEntry[];
  /** This endpoint's declared files. */
  files: readonly SourceEntry[];
  /**
   * The user's Dockerfile, repository-relative. The context is then the checkout as Docker would send
   * it (`.dockerignore` applied, `.git` left out), declared files included.
   */
  dockerfile?: string;
  /** Passed to the engine for the push; `{}` for anonymous registries (the engine insists on one). */
  auth?: Docker.AuthConfig;
}

/** One JSON message of the engine's build or push stream, narrowed to what we read. */
interface ProgressEvent {
  stream?: string;
  status?: string;
  id?: string;
  error?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { Tag?: string; Digest?: string; Size?: number; ID?: string };
}

function asEvent(v: unknown): ProgressEvent {
  return isRecord(v) ? (v as ProgressEvent) : {};
}

function follow(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onEvent: (e: ProgressEvent) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    docker.modem.followProgress(
      stream,
      (err) => {
        if (err) reject(err);
        else if (failure !== undefined) reject(new Error(failure));
        else resolve();
      },
      (raw: unknown) => {
        const e = asEvent(raw);
        if (typeof e.error === "string") failure ??= e.error;
        onEvent(e);
      },
    );
  });
}

function contextEntries(input: DockerBuildInput): LayerEntry[] {
  if (input.dockerfile !== undefined) {
    // The user's Dockerfile sees the checkout at its own paths.
    return [...input.code, ...input.files].map((e) => ({ ...e, name: e.path }));
  }
  return [
    { name: CONTEXT_CODE_DIR, kind: "directory", mode: 0o755, size: 0 },
    ...input.code.map((e) => ({ ...e, name: `${CONTEXT_CODE_DIR}/${e.path}` })),
    ...input.files.map((e) => ({ ...e, name: `${CONTEXT_FILES_DIR}/${e.path}` })),
  ];
}

function buildContext(input: DockerBuildInput): { stream: NodeJS.ReadableStream; done: Promise<void> } {
  const pack = tar.pack();
  const done = (async () => {
    if (input.dockerfile === undefined) {
      const text = generateDockerfile(input.endpoint, input.source, input.files.length > 0);
      await new Promise<void>((resolve, reject) =>
        pack.entry({ name: "Dockerfile", mode: 0o644, mtime: new Date(0) }, text, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
    await packEntries(pack, contextEntries(input));
    pack.finalize();
  })();
  done.catch((e: unknown) => pack.destroy(e instanceof Error ? e : new Error(String(e))));
  // tar-stream's streams are streamx streams; wrap as a Node stream for dockerode's request piping.
  return { stream: Readable.from(pack), done };
}

export async function dockerBuild(
  docker: Docker,
  input: DockerBuildInput,
  log: BuildLog,
): Promise<EndpointImage> {
  const name = input.endpoint.name;
  const ref = `${input.imageRepository}:${input.tag}`;
  const context = buildContext(input);

  await log.group(`docker build ${ref}`, async () => {
    const stream = await docker.buildImage(context.stream, {
      t: ref,
      dockerfile: input.dockerfile ?? "Dockerfile",
      rm: true,
      forcerm: true,
    });
    try {
      await follow(docker, stream, (e) => {
        if (typeof e.stream === "string") {
          for (const line of e.stream.split("\n")) if (line.trim() !== "") log.info(line);
        } else if (typeof e.status === "string") {
          log.info(e.id ? `${e.id}: ${e.status}` : e.status);
        }
      });
    } catch (e) {
      throw new BuildError(`endpoint "${name}": docker build failed: ${(e as Error).message}`, name);
    }
    await context.done;
  });

  // Per pushed layer: the largest `current` reported and the last status ("Pushed", "Layer already
  // exists", "Mounted from …").
  const layers = new Map<string, { bytes: number; status: string }>();
  let digest: string | undefined;
  let manifestSize = 0;
  await log.group(`docker push ${ref}`, async () => {
    const stream = await docker
      .getImage(input.imageRepository)
      .push({ tag: input.tag, authconfig: input.auth ?? {} });
    try {
      await follow(docker, stream, (e) => {
        if (e.aux?.Digest !== undefined) {
          digest = e.aux.Digest;
          manifestSize = e.aux.Size ?? 0;
        }
        if (e.id === undefined || e.status === undefined) {
          if (e.status) log.info(e.status);
          return;
        }
        const l = layers.get(e.id) ?? { bytes: 0, status: "" };
        l.status = e.status;
        l.bytes = Math.max(l.bytes, e.progressDetail?.current ?? 0);
        layers.set(e.id, l);
        if (e.status !== "Pushing") log.info(`${e.id}: ${e.status}`);
      });
    } catch (e) {
      throw new BuildError(`endpoint "${name}": docker push of ${ref} failed: ${(e as Error).message}`, name);
    }
  });
  if (digest === undefined) throw new BuildError(`endpoint "${name}": docker push reported no digest`, name);

  const blobs: LayerPush[] = [...layers.entries()].map(([id, l]) => {
    const pushed = l.status === "Pushed";
    return {
      role: "image",
      digest: id,
      size: l.bytes,
      how: pushed ? "uploaded" : l.status.startsWith("Mounted") ? "mounted" : "present",
      uploadedBytes: pushed ? l.bytes : 0,
    };
  });
  const layerBytes = blobs.reduce((n, b) => n + b.uploadedBytes, 0);
  log.info(`${name}: ${ref} → ${digest} (~${formatBytes(layerBytes + manifestSize)} uploaded)`);
  return {
    endpoint: name,
    repository: input.imageRepository,
    tag: input.tag,
    digest,
    reference: `${input.imageRepository}@${digest}`,
    mediaType: DOCKER_MANIFEST,
    platforms: [],
    uploadedBytes: layerBytes + manifestSize,
    layerBytesUploaded: layerBytes,
    blobs,
    builder: "docker",
  };
}

// The build use case: every endpoint's version image, built from one checkout and pushed, with
// either builder. Inputs are checked before anything is pushed (a missing declared file fails the
// whole version), the checkout is walked once, and layers are built once per run however many
// endpoints share them: the code layer is common to all, each declared file is its own layer.

import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import type { BuilderKind, Endpoint } from "../config/types.js";
import type { RegistryClient } from "../registry/index.js";
import { dockerBuild } from "./docker-builder.js";
import { BuildError } from "./errors.js";
import { APP_DIR, APP_DIR_IN_LAYER, type SourceInfo } from "./image-config.js";
import { LayerStore } from "./layer.js";
import { type BuildLog, silentLog } from "./log.js";
import { type OwnLayer, RegistryBuilder } from "./registry-builder.js";
import type { EndpointImage } from "./result.js";
import { resolveDeclaredFiles, type SourceEntry, selectRepoFiles } from "./select-files.js";

export interface EndpointTarget {
  endpoint: Endpoint;
  /** `<registry>/<repository>`, e.g. from the plan's `imageRepository`. */
  imageRepository: string;
}

export interface BuildVersionInput {
  repoRoot: string;
  endpoints: readonly EndpointTarget[];
  /** The version name; becomes the tag. What gets deployed is the digest. */
  tag: string;
  source: SourceInfo;
  builder: BuilderKind;
  /** Required by the registry builder. */
  registry?: RegistryClient;
  /** Required by the docker builder. */
  docker?: Docker;
  /** The docker builder uses this repository-relative Dockerfile instead of generating one. */
  dockerfile?: string;
  /** Auth the docker engine sends when pushing; `{}` when not given. */
  dockerAuth?: Docker.AuthConfig;
  log?: BuildLog;
  /** Layer descriptors remembered across runs (registry builder); no cross-run cache when absent. */
  cacheDir?: string;
}

export interface VersionBuild {
  images: EndpointImage[];
  uploadedBytes: number;
  /** Layers whose digest came from the cross-run cache without reading their files. */
  layerCacheHits: number;
}

interface Prepared {
  target: EndpointTarget;
  files: SourceEntry[];
}

export async function buildVersion(input: BuildVersionInput): Promise<VersionBuild> {
  const log = input.log ?? silentLog;
  if (input.endpoints.length === 0) return { images: [], uploadedBytes: 0, layerCacheHits: 0 };

  // The registry builder's reads overlap with the walk below.
  const registryBuilder =
    input.builder === "registry" && input.registry !== undefined
      ? new RegistryBuilder(input.registry, log, input.cacheDir)
      : undefined;
  registryBuilder?.prefetch(
    input.endpoints.map((t) => ({
      image: t.endpoint.image,
      imageRepository: t.imageRepository,
      tag: input.tag,
    })),
  );

  // Every declared file is checked before anything is built or pushed.
  const prepared: Prepared[] = [];
  for (const target of input.endpoints) {
    prepared.push({ target, files: await resolveDeclaredFiles(input.repoRoot, target.endpoint) });
  }
  const declared = new Set(prepared.flatMap((p) => p.files.map((f) => f.path)));
  const selection = await selectRepoFiles(input.repoRoot, declared);
  const code = selection.entries;
  log.info(
    `checkout: ${code.filter((e) => e.kind !== "directory").length} files for the code layer, ${declared.size} declared file(s)`,
  );

  if (input.builder === "docker") {
    if (input.docker === undefined) throw new BuildError("the docker builder needs a Docker engine client");
    const images: EndpointImage[] = [];
    for (const p of prepared) {
      const dockerInput: Parameters<typeof dockerBuild>[1] = {
        endpoint: p.target.endpoint,
        imageRepository: p.target.imageRepository,
        tag: input.tag,
        source: input.source,
        code,
        files: p.files,
      };
      if (input.dockerfile !== undefined) dockerInput.dockerfile = input.dockerfile;
      if (input.dockerAuth !== undefined) dockerInput.auth = input.dockerAuth;
      images.push(await dockerBuild(input.docker, dockerInput, log));
    }
    return { images, uploadedBytes: sum(images), layerCacheHits: 0 };
  }

  if (registryBuilder === undefined) throw new BuildError("the registry builder needs a registry client");
  const storeOptions: ConstructorParameters<typeof LayerStore>[0] = {
    // Created on first use: a rebuild whose layers all come from the cache never touches the disk.
    workDir: path.join(tmpdir(), `slipway-layers-${process.pid}-${randomBytes(6).toString("hex")}`),
  };
  if (input.cacheDir !== undefined) storeOptions.cacheDir = input.cacheDir;
  const store = new LayerStore(storeOptions);
  try {
    const builder = registryBuilder;
    const codeLayer = store.layer(
      "code",
      code.map((e) => ({ ...e, name: `${APP_DIR_IN_LAYER}/${e.path}` })),
    );
    const images: EndpointImage[] = [];
    for (const p of prepared) {
      const layers: OwnLayer[] = [
        { role: "code", layer: await codeLayer, createdBy: `slipway: COPY repository code ${APP_DIR}/` },
      ];
      for (const f of p.files) {
        const layer = await store.layer(f.path, [{ ...f, name: `${APP_DIR_IN_LAYER}/${f.path}` }], "stored");
        layers.push({ role: "files", layer, createdBy: `slipway: COPY ${f.path} ${APP_DIR}/${f.path}` });
      }
      images.push(
        await builder.build({
          endpoint: p.target.endpoint,
          imageRepository: p.target.imageRepository,
          tag: input.tag,
          layers,
          source: input.source,
        }),
      );
    }
    return { images, uploadedBytes: sum(images), layerCacheHits: store.cacheHits };
  } finally {
    await store.dispose();
  }
}

function sum(images: readonly EndpointImage[]): number {
  return images.reduce((n, i) => n + i.uploadedBytes, 0);
}

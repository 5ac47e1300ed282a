// What a version image is, given its base and its layers: how it starts (server-command or a
// gunicorn WSGI server), where the app lives, its labels and history. Pure: the registry builder and
// the Dockerfile generator both derive from these functions, so the two builders agree.
//
// Decisions:
// - The app lives at APP_DIR, which is also the working directory, so declared files' repository-
//   relative `path`s resolve from the working directory, as on Valohai (which runs from the repo root).
// - `server-command` as a string runs as `/bin/sh -c <string>`. As a list, each string is one shell
//   command, run in order and stopping at the first that fails (Valohai runs a step's command list the
//   same way): `/bin/sh -c 'a && b && c'`; the last one is expected to be the server.
// - `wsgi: module:callable` runs `python3 -m gunicorn --bind 0.0.0.0:<port> module:callable`.
//   `python3 -m` rather than a `gunicorn` script because Debian's python3-gunicorn ships no script.
//   SCRIPT_NAME is not baked in: the deployer sets it per version and gunicorn honours it.
// - The base's Entrypoint is cleared: the endpoint says how the server starts, and a base entrypoint
//   such as `python3` would turn our command into its arguments.
// - `created` and the OCI `created` label are the commit time, never the build time, so rebuilding a
//   commit gives the same config and manifest digests.

import type { Endpoint, EndpointServer } from "../config/types.js";
import { sha256Digest } from "../registry/index.js";
import type { Descriptor, ExecConfig, HistoryEntry, ImageConfig, ImageManifest } from "./oci.js";
import { MediaType } from "./oci.js";

export const APP_DIR = "/slipway/app";
/** APP_DIR as a tar path prefix (layers hold relative names). */
export const APP_DIR_IN_LAYER = APP_DIR.slice(1);

export interface SourceInfo {
  /** Web URL of the repository, e.g. https://github.com/owner/repo. */
  url?: string;
  /** Commit SHA. */
  revision?: string;
  /** Commit time; the image's creation time. */
  time: Date;
}

export interface VersionLayer {
  diffId: string;
  /** Shown by `docker history`; says what the layer holds. */
  createdBy: string;
}

export function serverCommand(server: EndpointServer, port: number): string[] {
  if (server.kind === "wsgi") {
    return ["python3", "-m", "gunicorn", "--bind", `0.0.0.0:${port}`, `${server.module}:${server.callable}`];
  }
  const script = typeof server.command === "string" ? server.command : server.command.join(" && ");
  return ["/bin/sh", "-c", script];
}

/** The labels every version image carries (OCI annotation keys, image-spec annotations.md). */
export function versionLabels(source: SourceInfo): Record<string, string> {
  const labels: Record<string, string> = { "org.opencontainers.image.created": source.time.toISOString() };
  if (source.url !== undefined) labels["org.opencontainers.image.source"] = source.url;
  if (source.revision !== undefined) labels["org.opencontainers.image.revision"] = source.revision;
  return labels;
}

/** Build metadata of the base's own build that would be wrong for ours. */
const BASE_ONLY_FIELDS = ["container", "container_config", "id", "parent"];

export function versionConfig(
  base: ImageConfig,
  args: { endpoint: Endpoint; layers: readonly VersionLayer[]; source: SourceInfo },
): ImageConfig {
  const { endpoint, layers, source } = args;
  const created = source.time.toISOString();
  const baseExec: ExecConfig = base.config ?? {};
  const cmd = serverCommand(endpoint.server, endpoint.port);
  const exec: ExecConfig = {
    ...baseExec,
    ExposedPorts: { ...(baseExec.ExposedPorts ?? {}), [`${endpoint.port}/tcp`]: {} },
    Cmd: cmd,
    WorkingDir: APP_DIR,
    Labels: { ...(baseExec.Labels ?? {}), ...versionLabels(source) },
  };
  delete exec.Entrypoint;
  const history: HistoryEntry[] = [
    ...(base.history ?? []),
    ...layers.map((l) => ({ created, created_by: l.createdBy })),
    { created, created_by: `slipway: CMD ${JSON.stringify(cmd)} WORKDIR ${APP_DIR}`, empty_layer: true },
  ];
  const config: ImageConfig = {
    ...base,
    created,
    config: exec,
    rootfs: { type: "layers", diff_ids: [...base.rootfs.diff_ids, ...layers.map((l) => l.diffId)] },
    history,
  };
  for (const f of BASE_ONLY_FIELDS) delete config[f];
  return config;
}

export function versionManifest(args: {
  base: ImageManifest;
  baseName: string;
  baseDigest: string;
  config: { digest: string; size: number };
  layers: readonly Descriptor[];
  source: SourceInfo;
}): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: args.config.digest, size: args.config.size },
    layers: [...args.base.layers, ...args.layers],
    annotations: {
      ...versionLabels(args.source),
      "org.opencontainers.image.base.name": args.baseName,
      "org.opencontainers.image.base.digest": args.baseDigest,
    },
  };
}

/** The exact bytes pushed; digests are over these. Key order is insertion order, hence stable. */
export function encodeJson(value: unknown): { bytes: Buffer; digest: string; size: number } {
  const bytes = Buffer.from(JSON.stringify(value));
  return { bytes, digest: sha256Digest(bytes), size: bytes.length };
}

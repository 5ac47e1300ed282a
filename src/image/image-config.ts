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
// - The server must be PID 1: Kubernetes stops a container by sending SIGTERM to PID 1 only, and
//   Debian's /bin/sh (dash) does not exec the last command of `-c`, so without help the shell is PID 1,
//   ignores the signal and the server is killed without draining when the grace period ends. The last
//   command is therefore run with `exec` when it is a simple command (see `execLast`); anything the
//   check cannot be sure of is left exactly as written (docs/configuration.md says so).
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

/** Characters that make a command compound (lists, pipes, background, subshells, substitutions). */
const COMPOUND = /[;&|()`\n\r]|\[\[|\]\]/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
/** Reserved words and shell builtins: `exec` cannot run them (or they are not a server). */
const NOT_EXECUTABLE = new Set([
  ...["!", "{", "}", "if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until"],
  ...["do", "done", "in", "function", "select", "time", "exec", "command", "builtin", "eval"],
  ...[".", ":", "source", "cd", "export", "set", "unset", "trap", "wait", "ulimit", "umask"],
  ...["alias", "shift", "read", "return", "exit", "break", "continue", "readonly", "local"],
]);
/** Quoting, escapes and substitutions can hide an `&&` that is not a separator. */
const HIDES_SEPARATORS = /["'\\`]/;
/** A function or alias defined before the server: `exec` runs programs, not those. */
const DEFINES_COMMANDS = /\w\s*\(\s*\)|\balias\b|\bfunction\b/;

export function serverCommand(server: EndpointServer, port: number): string[] {
  if (server.kind === "wsgi") {
    return ["python3", "-m", "gunicorn", "--bind", `0.0.0.0:${port}`, `${server.module}:${server.callable}`];
  }
  const commands = typeof server.command === "string" ? [server.command] : [...server.command];
  const last = commands.pop();
  if (last !== undefined)
    commands.push(commands.some((c) => DEFINES_COMMANDS.test(c)) ? last : execLast(last));
  return ["/bin/sh", "-c", commands.join(" && ")];
}

/**
 * Whether `exec` may be put in front of `command`: one command and its arguments (quotes, `$VAR`
 * and `<`/`>` redirections allowed), not a list, pipeline, background job, subshell, substitution,
 * compound command, builtin, or a command prefixed with variable assignments (`exec A=1 cmd` would
 * look for a program called `A=1`).
 */
export function isSimpleCommand(command: string): boolean {
  const text = command.trim();
  if (text === "" || COMPOUND.test(text)) return false;
  const first = text.split(/\s+/)[0] ?? "";
  return !ASSIGNMENT.test(first) && !NOT_EXECUTABLE.has(first);
}

/**
 * One shell command with its last step exec'd when that is safe: `serve` → `exec serve`;
 * `a && serve` → `a && exec serve` (split at the last `&&` only when nothing before it can hide a
 * separator or define a command); anything else unchanged.
 */
export function execLast(command: string): string {
  if (isSimpleCommand(command)) return `exec ${command.trim()}`;
  const cut = command.lastIndexOf("&&");
  if (cut < 0 || HIDES_SEPARATORS.test(command)) return command;
  const head = command.slice(0, cut);
  const tail = command.slice(cut + 2);
  if (DEFINES_COMMANDS.test(head) || !isSimpleCommand(tail)) return command;
  return `${head}&& exec ${tail.trim()}`;
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

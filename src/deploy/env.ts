// An endpoint container's environment: SCRIPT_NAME, the config's variables, Secret references,
// thread counts and gunicorn's timeouts. Values of the managed env Secret are never here, only
// its name (envFrom). Pure.
//
// - One entry per name (server-side apply keys `env` by name and refuses duplicates). Slipway's
//   SCRIPT_NAME wins; then a Secret key reference; then the config's plain value; computed defaults
//   (OMP/MKL threads, GUNICORN_CMD_ARGS) only fill names nothing else set.
// - `env` wins over `envFrom` for the same name, and among envFrom sources the last wins
//   (Kubernetes API reference, Container.envFrom): the managed Secret comes after the config's.
// - Plain values are escaped so Kubernetes' `$(VAR)` expansion leaves them exactly as written.

import type { IEnvFromSource } from "kubernetes-models/v1/EnvFromSource";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { EndpointResources, EndpointServer, RuntimeSettings } from "../config/types.js";
import { gunicornArgs } from "./pod-timing.js";
import { cpuThreads } from "./resources.js";

export const THREAD_VARIABLES = ["OMP_NUM_THREADS", "MKL_NUM_THREADS"] as const;

/**
 * A value Kubernetes passes on unchanged: `$$` reads as `$` and `$(NAME)` as a reference, so every
 * `$` that starts either is doubled; other `$` (e.g. `$HOME`) are already literal.
 */
export function literalEnvValue(value: string): string {
  return value.replace(/\$(?=[($])/g, "$$$$");
}

export interface EnvironmentInput {
  /** The endpoint's version path; absent when the prefix is stripped (gunicorn rejects paths outside it). */
  scriptName?: string;
  server: EndpointServer;
  resources?: EndpointResources;
  runtime: RuntimeSettings;
  /** The managed Secret holding values the workflow passed. */
  envSecretName?: string;
}

export function containerEnvironment(input: EnvironmentInput): { env: IEnvVar[]; envFrom: IEnvFromSource[] } {
  const { runtime } = input;
  const env = new Map<string, IEnvVar>();
  const setIfAbsent = (variable: IEnvVar) => {
    if (!env.has(variable.name)) env.set(variable.name, variable);
  };
  if (input.scriptName !== undefined)
    setIfAbsent({ name: "SCRIPT_NAME", value: literalEnvValue(input.scriptName) });
  for (const ref of runtime.secrets) {
    if (ref.kind === "key")
      setIfAbsent({ name: ref.env, valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } } });
  }
  for (const [name, value] of Object.entries(runtime.env))
    setIfAbsent({ name, value: literalEnvValue(value) });
  const threads = cpuThreads(input.resources);
  if (threads !== undefined)
    for (const name of THREAD_VARIABLES) setIfAbsent({ name, value: String(threads) });
  if (input.server.kind === "wsgi") setIfAbsent({ name: "GUNICORN_CMD_ARGS", value: gunicornArgs(runtime) });

  const envFrom: IEnvFromSource[] = runtime.secrets.flatMap((ref) =>
    ref.kind === "all" ? [{ secretRef: { name: ref.secret } }] : [],
  );
  if (input.envSecretName !== undefined) envFrom.push({ secretRef: { name: input.envSecretName } });
  return { env: [...env.values()], envFrom };
}

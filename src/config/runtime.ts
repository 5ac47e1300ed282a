// Runtime settings (how endpoints run on Kubernetes) from the deployment entry and its `endpoints:`
// map, resolved per endpoint over the defaults; plus the rules the schema cannot state: a secret
// reference names both `env` and `key` or neither, and `endpoints:` names only endpoints of the file.
import { isRecord } from "../util/record.js";
import { DEFAULT_RUNTIME } from "./defaults.js";
import { parseDuration } from "./duration.js";
import type { JsonPath } from "./node-at.js";
import type { EntryScope } from "./problems.js";
import type { RuntimeSettings, SecretReference } from "./types.js";

type Raw = Record<string, unknown>;

function secretsFrom(raw: unknown): SecretReference[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  return raw.filter(isRecord).map((item): SecretReference => {
    const secret = String(item.secret);
    return typeof item.env === "string" && typeof item.key === "string"
      ? { kind: "key", env: item.env, secret, key: item.key }
      : { kind: "all", secret };
  });
}

/** `raw`'s settings over `base`; the schema has checked each one's type and range. */
export function runtimeFrom(raw: Raw, base: RuntimeSettings): RuntimeSettings {
  const out: RuntimeSettings = { ...base };
  if (isRecord(raw.env))
    out.env = { ...base.env, ...Object.fromEntries(Object.entries(raw.env).map(([k, v]) => [k, String(v)])) };
  const secrets = secretsFrom(raw.secrets);
  if (secrets) out.secrets = secrets;
  if (typeof raw["strip-prefix"] === "boolean") out.stripPrefix = raw["strip-prefix"];
  if (typeof raw["health-path"] === "string") out.healthPath = raw["health-path"];
  if (typeof raw["metrics-path"] === "string") out.metricsPath = raw["metrics-path"];
  const seconds = (key: string) => (typeof raw[key] === "string" ? parseDuration(raw[key]) : undefined);
  out.startupTimeoutSeconds = seconds("startup-timeout") ?? base.startupTimeoutSeconds;
  out.requestTimeoutSeconds = seconds("timeout") ?? base.requestTimeoutSeconds;
  out.drainSeconds = seconds("drain") ?? base.drainSeconds;
  if (typeof raw["shm-size"] === "number") out.shmSizeMB = raw["shm-size"];
  if (typeof raw.replicas === "number") out.replicas = raw.replicas;
  if (typeof raw["gpu-toleration"] === "boolean") out.gpuToleration = raw["gpu-toleration"];
  if (typeof raw["image-pull-secret"] === "string") out.imagePullSecret = raw["image-pull-secret"];
  return out;
}

/** One key of a Secret needs the variable it goes to, and the variable needs the key. */
function secretReferenceRule(scope: EntryScope, raw: Raw, path: JsonPath): void {
  if (!Array.isArray(raw.secrets)) return;
  raw.secrets.forEach((item, i) => {
    if (!isRecord(item)) return;
    const hasEnv = item.env !== undefined;
    const hasKey = item.key !== undefined;
    if (hasEnv !== hasKey) {
      scope.at(
        [...path, "secrets", i],
        hasKey
          ? `secret '${String(item.secret)}' key '${String(item.key)}' needs 'env', the variable it is read into`
          : `secret '${String(item.secret)}' into '${String(item.env)}' needs 'key', the Secret's key to read`,
      );
    }
  });
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Variable names a shell and Kubernetes both accept (a C identifier). */
function envNameRule(scope: EntryScope, raw: Raw, path: JsonPath): void {
  if (!isRecord(raw.env)) return;
  for (const name of Object.keys(raw.env)) {
    if (!ENV_NAME.test(name)) {
      scope.at(
        [...path, "env", name],
        `env name '${name}' is invalid: use letters, digits and underscores, not starting with a digit`,
        true,
      );
    }
  }
}

/** Durations that are zero would turn a budget into an instant failure. */
function positiveDurationRule(scope: EntryScope, raw: Raw, path: JsonPath): void {
  for (const key of ["startup-timeout", "timeout"]) {
    if (typeof raw[key] === "string" && parseDuration(raw[key]) === 0) {
      scope.at([...path, key], `${key} must be longer than 0s`);
    }
  }
}

const RULES = [secretReferenceRule, envNameRule, positiveDurationRule];

export interface RuntimeRead {
  runtime: RuntimeSettings;
  endpointRuntime: Record<string, RuntimeSettings>;
}

/** The deployment's runtime settings and each endpoint's; `endpointNames` are the file's endpoints. */
export function readRuntime(scope: EntryScope, value: Raw, endpointNames: readonly string[]): RuntimeRead {
  for (const rule of RULES) rule(scope, value, []);
  const runtime = runtimeFrom(value, DEFAULT_RUNTIME);
  const endpointRuntime: Record<string, RuntimeSettings> = {};
  for (const name of endpointNames) endpointRuntime[name] = runtime;
  if (isRecord(value.endpoints)) {
    for (const [name, raw] of Object.entries(value.endpoints)) {
      if (!isRecord(raw)) continue;
      if (!endpointNames.includes(name)) {
        const known = endpointNames.length > 0 ? `: the endpoints are ${endpointNames.join(", ")}` : "";
        scope.at(["endpoints", name], `endpoints.${name} names no endpoint of this file${known}`, true);
        continue;
      }
      for (const rule of RULES) rule(scope, raw, ["endpoints", name]);
      endpointRuntime[name] = runtimeFrom(raw, runtime);
    }
  }
  return { runtime, endpointRuntime };
}

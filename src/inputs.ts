// The Action's inputs and outputs: one registry of each, checked against action.yml by a test. Every
// input is read and validated once here into typed settings; outputs are set only through `Outputs`.

import { parseDuration } from "./config/duration.js";
import type { BuilderKind } from "./config/types.js";
import { InputError } from "./errors.js";
import { parseSecretValues } from "./intent/secret-values.js";
import { checkOverrides, type OverrideKey } from "./plan/overrides.js";

export { InputError } from "./errors.js";

export const INPUT_NAMES = [
  "config",
  "dry-run",
  "environment",
  "version",
  "base-url",
  "registry",
  "namespace",
  "builder",
  "registry-username",
  "registry-password",
  "kubeconfig",
  "kube-context",
  "alias",
  "timeout",
  "secrets",
  "pull-secret",
  "pull-username",
  "pull-password",
  "github-token",
  "command",
] as const;

export type InputName = (typeof INPUT_NAMES)[number];

export const OUTPUT_NAMES = [
  "deployment",
  "version",
  "plan",
  "urls",
  "alias-urls",
  "images",
  "uploaded-bytes",
  "environment-url",
] as const;

export type OutputName = (typeof OUTPUT_NAMES)[number];

/** What a run sets as step outputs; only registered names can be set. */
export type Outputs = Partial<Record<OutputName, string>>;

export interface Settings {
  config: string;
  dryRun: boolean;
  environment?: string;
  version?: string;
  baseUrl?: string;
  registry?: string;
  namespace?: string;
  builder?: BuilderKind;
  registryUsername?: string;
  /** A secret: masked in the log as soon as it is read. */
  registryPassword?: string;
  /** Kubeconfig content; a secret, and so is every credential in it. */
  kubeconfig?: string;
  kubeContext?: string;
  alias?: string;
  /** How long the deploy waits for every endpoint to be ready. */
  timeoutSeconds?: number;
  /** Values for the endpoints' environment, each masked as soon as it is read. */
  secretValues?: Record<string, string>;
  /** An existing image pull Secret in the namespace. */
  pullSecret?: string;
  pullUsername?: string;
  /** A long-lived read credential for the cluster's image pulls; masked. */
  pullPassword?: string;
  /** For the pull request comment, Deployments and permission checks; masked. */
  githubToken?: string;
  /** A manual run's command (workflow_dispatch): deploy, housekeeping, … */
  command?: string;
}

const OVERRIDE_INPUTS: Record<OverrideKey, InputName> = {
  environment: "environment",
  alias: "alias",
  version: "version",
  baseUrl: "base-url",
  registry: "registry",
  namespace: "namespace",
};

/** As the Actions toolkit's getBooleanInput reads YAML 1.2 core booleans. */
function booleanInput(name: InputName, raw: string): boolean {
  if (["true", "True", "TRUE"].includes(raw)) return true;
  if (["false", "False", "FALSE", ""].includes(raw)) return false;
  throw new InputError(`input '${name}' must be true or false, got '${raw}'`);
}

export function readInputs(
  getInput: (name: InputName) => string,
  setSecret: (secret: string) => void = () => {},
): Settings {
  const text = (name: InputName) => getInput(name).trim();
  // Secrets are read raw and masked first, before anything can fail and print: a password may begin or
  // end with spaces.
  const password = getInput("registry-password");
  if (password) setSecret(password);
  const pullPassword = getInput("pull-password");
  if (pullPassword) setSecret(pullPassword);
  const githubToken = getInput("github-token").trim();
  if (githubToken) setSecret(githubToken);
  const kubeconfig = getInput("kubeconfig");
  if (kubeconfig.trim()) setSecret(kubeconfig);
  const secretValues = parseSecretValues(getInput("secrets"), "input 'secrets'");
  for (const value of Object.values(secretValues)) if (value) setSecret(value);
  const settings: Settings = {
    config: text("config") || "valohai.yaml",
    dryRun: booleanInput("dry-run", text("dry-run")),
  };
  const optional = [
    ["environment", "environment"],
    ["version", "version"],
    ["base-url", "baseUrl"],
    ["registry", "registry"],
    ["namespace", "namespace"],
    ["registry-username", "registryUsername"],
    ["kube-context", "kubeContext"],
    ["alias", "alias"],
    ["pull-secret", "pullSecret"],
    ["pull-username", "pullUsername"],
    ["command", "command"],
  ] as const;
  for (const [input, key] of optional) {
    const value = text(input);
    if (value) settings[key] = value;
  }
  if (password) settings.registryPassword = password;
  if (pullPassword) settings.pullPassword = pullPassword;
  if (kubeconfig.trim()) settings.kubeconfig = kubeconfig;
  if (githubToken) settings.githubToken = githubToken;
  if (Object.keys(secretValues).length > 0) settings.secretValues = secretValues;
  const timeout = text("timeout");
  if (timeout) {
    const seconds = parseDuration(timeout);
    if (seconds === undefined || seconds === 0) {
      throw new InputError(`input 'timeout' must be a duration such as 10m or 1h30m, got '${timeout}'`);
    }
    settings.timeoutSeconds = seconds;
  }
  if ((settings.pullUsername === undefined) !== (settings.pullPassword === undefined)) {
    throw new InputError(
      "inputs 'pull-username' and 'pull-password' go together: give both, or 'pull-secret'",
    );
  }
  const builder = text("builder");
  if (builder === "registry" || builder === "docker") settings.builder = builder;
  else if (builder) throw new InputError(`input 'builder' must be 'registry' or 'docker', got '${builder}'`);
  checkOverrides(settings, (key) => `input '${OVERRIDE_INPUTS[key]}'`);
  return settings;
}

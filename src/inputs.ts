// The Action's inputs and outputs: one registry of each, checked against action.yml by a test. Every
// input is read and validated once here into typed settings; outputs are set only through `Outputs`.

import type { BuilderKind } from "./config/types.js";
import { InputError } from "./errors.js";
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
] as const;

export type InputName = (typeof INPUT_NAMES)[number];

export const OUTPUT_NAMES = ["deployment", "version", "plan", "urls", "images", "uploaded-bytes"] as const;

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
}

const OVERRIDE_INPUTS: Record<OverrideKey, InputName> = {
  environment: "environment",
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
  // Read raw and masked first, before anything can fail and print: a password may begin or end with spaces.
  const password = getInput("registry-password");
  if (password) setSecret(password);
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
  ] as const;
  for (const [input, key] of optional) {
    const value = text(input);
    if (value) settings[key] = value;
  }
  if (password) settings.registryPassword = password;
  const builder = text("builder");
  if (builder === "registry" || builder === "docker") settings.builder = builder;
  else if (builder) throw new InputError(`input 'builder' must be 'registry' or 'docker', got '${builder}'`);
  checkOverrides(settings, (key) => `input '${OVERRIDE_INPUTS[key]}'`);
  return settings;
}

// Every Action input, read and validated once into typed settings. action.yml and INPUT_NAMES
// are checked against each other by a test.
export const INPUT_NAMES = [
  "config",
  "dry-run",
  "environment",
  "version",
  "base-url",
  "registry",
  "namespace",
] as const;

export type InputName = (typeof INPUT_NAMES)[number];

export interface Settings {
  config: string;
  dryRun: boolean;
  environment?: string;
  version?: string;
  baseUrl?: string;
  registry?: string;
  namespace?: string;
}

/** An input the workflow gave a value the Action cannot use. */
export class InputError extends Error {
  override readonly name = "InputError";
}

/** As the Actions toolkit's getBooleanInput reads YAML 1.2 core booleans. */
function booleanInput(name: InputName, raw: string): boolean {
  if (["true", "True", "TRUE"].includes(raw)) return true;
  if (["false", "False", "FALSE", ""].includes(raw)) return false;
  throw new InputError(`input '${name}' must be true or false, got '${raw}'`);
}

export function readInputs(getInput: (name: InputName) => string): Settings {
  const text = (name: InputName) => getInput(name).trim();
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
  ] as const;
  for (const [input, key] of optional) {
    const value = text(input);
    if (value) settings[key] = value;
  }
  if (settings.baseUrl !== undefined && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(settings.baseUrl)) {
    throw new InputError(
      `input 'base-url' must be an http(s) URL without query or fragment, got '${settings.baseUrl}'`,
    );
  }
  return settings;
}

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
  "builder",
  "registry-username",
  "registry-password",
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
  builder?: "registry" | "docker";
  registryUsername?: string;
  /** A secret: masked in the log as soon as it is read. */
  registryPassword?: string;
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

export function readInputs(
  getInput: (name: InputName) => string,
  setSecret: (secret: string) => void = () => {},
): Settings {
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
    ["registry-username", "registryUsername"],
  ] as const;
  for (const [input, key] of optional) {
    const value = text(input);
    if (value) settings[key] = value;
  }
  // Read raw: a password may begin or end with spaces.
  const password = getInput("registry-password");
  if (password) {
    setSecret(password);
    settings.registryPassword = password;
  }
  const builder = text("builder");
  if (builder === "registry" || builder === "docker") settings.builder = builder;
  else if (builder) throw new InputError(`input 'builder' must be 'registry' or 'docker', got '${builder}'`);
  if (settings.baseUrl !== undefined && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(settings.baseUrl)) {
    throw new InputError(
      `input 'base-url' must be an http(s) URL without query or fragment, got '${settings.baseUrl}'`,
    );
  }
  return settings;
}

// Secret values the workflow (or the person at the terminal) hands over for the endpoints' environment:
// the Action's `secrets` input or the CLI's `--secrets-file`, as a JSON object or `NAME=value` lines
// (the form of a .env file and of GitHub's multi-line secrets). Pure; the caller masks every value.
import { InputError } from "../errors.js";
import { isRecord } from "../util/record.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `source` names the input in messages (e.g. "input 'secrets'"). Messages name variables and line
 * numbers, never values.
 */
export function parseSecretValues(text: string, source: string): Record<string, string> {
  const trimmed = text.trim();
  if (trimmed === "") return {};
  const out: Record<string, string> = {};
  const add = (name: string, value: string, where: string) => {
    if (!ENV_NAME.test(name)) {
      throw new InputError(
        `${source}: ${where}: '${name}' is not an environment variable name (letters, digits, underscores, not starting with a digit)`,
      );
    }
    if (Object.hasOwn(out, name)) throw new InputError(`${source}: ${where}: ${name} is given twice`);
    out[name] = value;
  };
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      // The text holds secrets: say where JSON failed, never echo it.
      throw new InputError(`${source} is not valid JSON (an object of NAME: value) nor NAME=value lines`);
    }
    if (!isRecord(parsed)) throw new InputError(`${source} must be a JSON object of NAME: value`);
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value !== "string") throw new InputError(`${source}: the value of ${name} must be a string`);
      add(name, value, "JSON");
    }
    return out;
  }
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq < 0) throw new InputError(`${source}: line ${i + 1} is not NAME=value`);
    add(line.slice(0, eq).trim(), line.slice(eq + 1), `line ${i + 1}`);
  });
  return out;
}

// Slash commands in pull request comments (`/preview`, `/promote staging --canary 30m`): the
// comment's first line, if it starts with a command, becomes a command or a refusal saying what is
// valid. Comments are a stranger's text, so only the first MAX_COMMAND_LINE characters are looked at
// and every step is one pass over them. Pure.
import { didYouMean, MAX_CANDIDATES, suggestion } from "../config/did-you-mean.js";
import { parseDuration } from "../config/duration.js";
import { quote } from "../config/quote.js";

export type EnvironmentCommandName = "rollback" | "deactivate" | "activate" | "abort";

export type SlashCommand =
  | { name: "preview" }
  | {
      name: "promote";
      environment: string;
      /** `--canary <duration>`: the canary's window, overriding the environment's. */
      canarySeconds?: number;
      /** `--no-canary`: move the alias at once. */
      noCanary?: true;
      /** `--steps <n>`: the canary's traffic steps. */
      steps?: number;
    }
  | { name: EnvironmentCommandName; environment: string }
  | { name: "status" };

export type ParsedCommand =
  | { kind: "none" }
  | { kind: "command"; command: SlashCommand }
  | { kind: "invalid"; message: string };

/** Longer first lines are not read further: a command with its flags fits easily. */
export const MAX_COMMAND_LINE = 200;
export const MAX_STEPS = 100;

const ENVIRONMENT_COMMANDS: readonly EnvironmentCommandName[] = [
  "rollback",
  "deactivate",
  "activate",
  "abort",
];
export const COMMAND_NAMES = ["preview", "promote", ...ENVIRONMENT_COMMANDS, "status"] as const;
type CommandName = (typeof COMMAND_NAMES)[number];

const USAGE: Record<CommandName, string> = {
  preview: "/preview",
  promote: "/promote <environment> [--canary <duration> | --no-canary] [--steps <n>]",
  rollback: "/rollback <environment>",
  deactivate: "/deactivate <environment>",
  activate: "/activate <environment>",
  abort: "/abort <environment>",
  status: "/status",
};

/** Environments named in a message at most: a message names what is valid, it does not dump the config. */
const LISTED_ENVIRONMENTS = 20;

function isCommandName(word: string): word is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(word);
}

function validCommands(): string {
  return COMMAND_NAMES.map((name) => `\`${USAGE[name]}\``).join(", ");
}

function listEnvironments(environments: readonly string[]): string {
  if (environments.length === 0) return "the config defines no environments";
  const shown = environments.slice(0, LISTED_ENVIRONMENTS).map(quote).join(", ");
  const more = environments.length - LISTED_ENVIRONMENTS;
  return `the environments are ${shown}${more > 0 ? ` and ${more} more` : ""}`;
}

/** The comment's first line, leading whitespace skipped; `cut` when it is longer than a command may be. */
function firstLine(body: string): { line: string; cut: boolean } {
  const start = body.search(/\S/);
  if (start < 0) return { line: "", cut: false };
  const window = body.slice(start, start + MAX_COMMAND_LINE + 1);
  const end = window.search(/[\r\n]/);
  const line = end < 0 ? window : window.slice(0, end);
  return line.length > MAX_COMMAND_LINE
    ? { line: line.slice(0, MAX_COMMAND_LINE), cut: true }
    : { line: line.trimEnd(), cut: false };
}

const invalid = (message: string): ParsedCommand => ({ kind: "invalid", message });

/**
 * The comment's command. A first line starting with `/word` where the word is no command and close
 * to none is another bot's command (`/retest`, `/assign`), not a mistake: it is `none`, so Slipway
 * does not answer every comment meant for someone else.
 */
export function parseCommand(body: string, environments: readonly string[]): ParsedCommand {
  const { line, cut } = firstLine(body);
  if (!line.startsWith("/")) return { kind: "none" };
  const words = line.split(/\s+/);
  const word = (words[0] as string).slice(1);
  if (!isCommandName(word)) {
    const near = /^[A-Za-z-]+$/.test(word) ? didYouMean(word, COMMAND_NAMES) : undefined;
    if (near === undefined) return { kind: "none" };
    return invalid(
      `unknown command ${quote(`/${word}`)}; did you mean '/${near}'? Valid commands: ${validCommands()}`,
    );
  }
  if (cut) {
    return invalid(
      `the command line is longer than ${MAX_COMMAND_LINE} characters; usage: \`${USAGE[word]}\``,
    );
  }
  const args = words.slice(1);
  if (word === "preview" || word === "status") {
    const extra = args[0];
    return extra === undefined
      ? { kind: "command", command: { name: word } }
      : invalid(`/${word} takes no arguments (got ${quote(extra)}); usage: \`${USAGE[word]}\``);
  }
  return environmentCommand(word, args, environments);
}

function environmentCommand(
  name: "promote" | EnvironmentCommandName,
  args: readonly string[],
  environments: readonly string[],
): ParsedCommand {
  const usage = `usage: \`${USAGE[name]}\``;
  let environment: string | undefined;
  const flags: Flags = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith("-")) {
      if (name !== "promote") return invalid(`/${name} takes no flags (got ${quote(arg)}); ${usage}`);
      const taken = readFlag(arg, args[i + 1], flags);
      if (typeof taken === "string") return invalid(`${taken}; ${usage}`);
      i += taken;
    } else if (environment === undefined) environment = arg;
    else return invalid(`/${name} takes one environment (got also ${quote(arg)}); ${usage}`);
  }
  if (environment === undefined) {
    return invalid(`/${name} needs an environment: ${listEnvironments(environments)}; ${usage}`);
  }
  if (!environments.includes(environment)) {
    const candidates = environments.slice(0, MAX_CANDIDATES);
    return invalid(
      `unknown environment ${quote(environment)}${suggestion(environment, candidates)} (${listEnvironments(environments)})`,
    );
  }
  if (name !== "promote") return { kind: "command", command: { name, environment } };
  const problem = flagsProblem(flags);
  if (problem) return invalid(`${problem}; ${usage}`);
  return { kind: "command", command: { name, environment, ...flags } };
}

interface Flags {
  canarySeconds?: number;
  noCanary?: true;
  steps?: number;
}

/** How many of the following arguments the flag took (0 or 1), or what is wrong with it. */
function readFlag(arg: string, next: string | undefined, flags: Flags): number | string {
  const eq = arg.indexOf("=");
  const flag = eq < 0 ? arg : arg.slice(0, eq);
  const inline = eq < 0 ? undefined : arg.slice(eq + 1);
  if (flag === "--no-canary") {
    if (inline !== undefined) return "--no-canary takes no value";
    if (flags.noCanary) return "--no-canary is given twice";
    flags.noCanary = true;
    return 0;
  }
  if (flag !== "--canary" && flag !== "--steps") {
    return `unknown flag ${quote(flag)}; the flags are --canary <duration>, --no-canary and --steps <n>`;
  }
  const value = inline ?? next;
  if (value === undefined || value === "" || (inline === undefined && value.startsWith("-"))) {
    return flag === "--canary"
      ? "--canary needs a duration, e.g. --canary 30m"
      : `--steps needs a number from 1 to ${MAX_STEPS}`;
  }
  if (flag === "--canary") {
    if (flags.canarySeconds !== undefined) return "--canary is given twice";
    const seconds = parseDuration(value);
    if (seconds === undefined || seconds <= 0 || !Number.isSafeInteger(seconds)) {
      return `--canary ${quote(value)} is not a duration such as 90s, 30m, 2h or 1h30m`;
    }
    flags.canarySeconds = seconds;
  } else {
    if (flags.steps !== undefined) return "--steps is given twice";
    const steps = /^[0-9]{1,3}$/.test(value) ? Number(value) : Number.NaN;
    if (!(steps >= 1 && steps <= MAX_STEPS)) {
      return `--steps ${quote(value)} is not a whole number from 1 to ${MAX_STEPS}`;
    }
    flags.steps = steps;
  }
  return inline === undefined ? 1 : 0;
}

function flagsProblem(flags: Flags): string | undefined {
  if (flags.noCanary && flags.canarySeconds !== undefined)
    return "--canary and --no-canary contradict each other";
  if (flags.noCanary && flags.steps !== undefined)
    return "--steps sets a canary's steps; it cannot go with --no-canary";
  if (flags.canarySeconds !== undefined && flags.steps !== undefined && flags.canarySeconds < flags.steps) {
    return `a canary of ${flags.canarySeconds}s is shorter than its ${flags.steps} steps; give each step at least one second`;
  }
  return undefined;
}

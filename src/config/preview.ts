// Pull request previews: their settings, and the alias pattern (`pr-{number}`) that names them.
// The pattern is user text, so it is never compiled into a regular expression: it is split at
// its one `{number}` and matched by comparing strings, in time linear in the name.
import { isRecord } from "../util/record.js";
import { DEFAULT_PREVIEW } from "./defaults.js";
import { parseDuration } from "./duration.js";
import type { EntryScope } from "./problems.js";
import { quote } from "./quote.js";
import type { PreviewSettings } from "./types.js";

type Raw = Record<string, unknown>;

export const NUMBER_PLACEHOLDER = "{number}";
/** The longest pull request number GitHub gives: its numbers are 32-bit integers. */
const LONGEST_NUMBER = "2147483647";
/** A DNS label (RFC 1123) that starts with a letter, as environment names do. */
const ALIAS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LABEL = 63;

export function previewFrom(value: Raw): PreviewSettings {
  const preview = isRecord(value.preview) ? value.preview : {};
  return {
    enabled: preview.enabled !== false,
    alias: typeof preview.alias === "string" ? preview.alias : DEFAULT_PREVIEW.alias,
    ttlSeconds:
      typeof preview.ttl === "string"
        ? (parseDuration(preview.ttl) ?? DEFAULT_PREVIEW.ttlSeconds)
        : DEFAULT_PREVIEW.ttlSeconds,
    replicas: typeof preview.replicas === "number" ? preview.replicas : DEFAULT_PREVIEW.replicas,
  };
}

/** The pattern's text before and after its only `{number}`; undefined unless there is exactly one. */
function splitPattern(pattern: string): { before: string; after: string } | undefined {
  const at = pattern.indexOf(NUMBER_PLACEHOLDER);
  if (at < 0 || pattern.indexOf(NUMBER_PLACEHOLDER, at + 1) >= 0) return undefined;
  return { before: pattern.slice(0, at), after: pattern.slice(at + NUMBER_PLACEHOLDER.length) };
}

/** What is wrong with an alias pattern, or undefined when every pull request number gives a valid alias. */
export function previewAliasProblem(pattern: string): string | undefined {
  if (!splitPattern(pattern)) {
    const count = pattern.split(NUMBER_PLACEHOLDER).length - 1;
    return `preview alias ${quote(pattern)} must contain '{number}' exactly once (found ${count}), e.g. 'pr-{number}'`;
  }
  const longest = pattern.replace(NUMBER_PLACEHOLDER, LONGEST_NUMBER);
  if (longest.length > MAX_LABEL || !ALIAS_LABEL.test(longest)) {
    return `preview alias ${quote(pattern)} is invalid: with a pull request number in place of '{number}' it must be a DNS label of at most ${MAX_LABEL} characters (${MAX_LABEL - LONGEST_NUMBER.length} besides the number): lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit, e.g. 'pr-{number}'`;
  }
  return undefined;
}

export function previewAliasRule(scope: EntryScope, value: Raw): void {
  const alias = isRecord(value.preview) ? value.preview.alias : undefined;
  if (typeof alias !== "string") return;
  const problem = previewAliasProblem(alias);
  if (problem) scope.at(["preview", "alias"], problem);
}

/** Whether `name` is what the alias pattern gives for some pull request number. */
export function isPreviewAlias(pattern: string, name: string): boolean {
  const parts = splitPattern(pattern);
  if (!parts) return false;
  const { before, after } = parts;
  if (name.length <= before.length + after.length || !name.startsWith(before) || !name.endsWith(after)) {
    return false;
  }
  for (let i = before.length; i < name.length - after.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

// An alias's recent moves, kept in the `slipway.dev/history` annotation of its route: which
// version it pointed at, since when, moved by whom and why. `/rollback` goes back along it. Pure.
import {
  array,
  bounded,
  type Decoded,
  decodeWith,
  field,
  invalid,
  item,
  object,
  oneOf,
  type Path,
  text,
  time,
  version,
} from "./annotation-json.js";

export const ANNOTATION_HISTORY = "slipway.dev/history";
export const DEFAULT_HISTORY_LENGTH = 10;
/** The most entries the decoder reads, whatever length a writer kept. */
export const MAX_HISTORY_LENGTH = 100;

export type MoveReason = "promote" | "rollback" | "push" | "release" | "canary";
const REASONS: readonly MoveReason[] = ["promote", "rollback", "push", "release", "canary"];

export interface HistoryEntry {
  version: string;
  at: Date;
  /** A GitHub login, or what moved it without one (e.g. a push's pusher). */
  by: string;
  why: MoveReason;
}

/** Oldest first; the last entry is the version the alias was last moved to. */
export type AliasHistory = readonly HistoryEntry[];

/** `history` with `entry` as its newest, keeping the newest `keep` entries. */
export function recordMove(
  history: AliasHistory,
  entry: HistoryEntry,
  keep = DEFAULT_HISTORY_LENGTH,
): HistoryEntry[] {
  const limit = Math.max(1, Math.min(Math.floor(keep), MAX_HISTORY_LENGTH));
  return [...history, { ...entry, by: bounded(entry.by) }].slice(-limit);
}

/**
 * Where `/rollback` goes: the newest entry naming another version than `current` (the alias's
 * version, by default the newest entry's). Rolling back twice returns to where it started.
 */
export function previousVersion(history: AliasHistory, current?: string): string | undefined {
  const now = current ?? history[history.length - 1]?.version;
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i];
    if (entry !== undefined && entry.version !== now) return entry.version;
  }
  return undefined;
}

export function encodeHistory(history: AliasHistory): string {
  return JSON.stringify({
    v: 1,
    entries: history.map((e) => ({ version: e.version, at: e.at.toISOString(), by: e.by, why: e.why })),
  });
}

function readEntry(value: unknown, path: Path): HistoryEntry {
  const raw = object(value, path, ["version", "at", "by", "why"]);
  return {
    version: version(raw.version, field(path, "version")),
    at: time(raw.at, field(path, "at")),
    by: text(raw.by, field(path, "by")),
    why: oneOf(raw.why, field(path, "why"), REASONS),
  };
}

function readHistory(value: unknown): HistoryEntry[] {
  const raw = object(value, "", ["v", "entries"]);
  if (raw.v !== 1) invalid("v", "not a history version this Slipway reads (1)");
  return array(raw.entries, "entries", MAX_HISTORY_LENGTH).map((e, i) => readEntry(e, item("entries", i)));
}

export function decodeHistory(annotation: string): Decoded<HistoryEntry[]> {
  return decodeWith(ANNOTATION_HISTORY, annotation, readHistory);
}

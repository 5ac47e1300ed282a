// An alias's recent moves on its route: the newest N kept, where /rollback goes, and the annotation
// read back as untrusted cluster data.
import { describe, expect, it } from "vitest";
import {
  type AliasHistory,
  DEFAULT_HISTORY_LENGTH,
  decodeHistory,
  encodeHistory,
  type HistoryEntry,
  MAX_HISTORY_LENGTH,
  type MoveReason,
  previousVersion,
  recordMove,
} from "../../src/route/alias-history.js";

const START = Date.parse("2025-06-10T12:00:00.000Z");

function entry(version: string, minute = 0, why: MoveReason = "promote"): HistoryEntry {
  return { version, at: new Date(START + minute * 60_000), by: "octocat", why };
}

const history = (...versions: string[]): HistoryEntry[] => versions.map((v, i) => entry(v, i));

describe("recordMove", () => {
  it("appends the move as the newest entry", () => {
    expect(recordMove(history("a1", "b2"), entry("c3", 5, "canary"))).toEqual([
      entry("a1", 0),
      entry("b2", 1),
      entry("c3", 5, "canary"),
    ]);
  });

  it("keeps the newest ten by default", () => {
    let h: AliasHistory = [];
    for (let i = 0; i < 25; i++) h = recordMove(h, entry(`v${i}`, i));
    expect(h).toHaveLength(DEFAULT_HISTORY_LENGTH);
    expect(h.map((e) => e.version)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i + 15}`));
  });

  it.each([
    [3, 3],
    [1, 1],
    [0, 1],
    [-5, 1],
    [1000, MAX_HISTORY_LENGTH],
  ])("keeping %i keeps %i", (keep, kept) => {
    let h: AliasHistory = [];
    for (let i = 0; i < 150; i++) h = recordMove(h, entry(`v${i}`, i), keep);
    expect(h).toHaveLength(kept);
    expect(h.at(-1)?.version).toBe("v149");
  });

  it("leaves the history it was given alone", () => {
    const h = history("a1");
    recordMove(h, entry("b2"));
    expect(h).toEqual(history("a1"));
  });

  it("cuts a long mover's name so the entry reads back", () => {
    const h = recordMove([], { ...entry("a1"), by: "x".repeat(2000) });
    expect(h[0]?.by).toHaveLength(500);
    expect(decodeHistory(encodeHistory(h)).ok).toBe(true);
  });
});

describe("previousVersion", () => {
  it.each<[string, string[], string | undefined, string | undefined]>([
    ["the one before the newest", ["a1", "b2", "c3"], undefined, "b2"],
    ["skipping repeats of the current", ["a1", "b2", "c3", "c3", "c3"], undefined, "b2"],
    ["skipping repeats in between", ["a1", "b2", "b2", "c3"], undefined, "b2"],
    ["back and forth: a second rollback undoes the first", ["a1", "b2", "a1"], undefined, "b2"],
    ["nothing with one entry", ["a1"], undefined, undefined],
    ["nothing when every entry is the current", ["a1", "a1", "a1"], undefined, undefined],
    ["nothing with no history", [], undefined, undefined],
    ["the newest other than the alias's actual version", ["a1", "b2", "c3"], "b2", "c3"],
    ["the newest, when the alias's version is not in the history", ["a1", "b2"], "z9", "b2"],
  ])("%s", (_, versions, current, previous) => {
    expect(previousVersion(history(...versions), current)).toBe(previous);
  });
});

describe("encodeHistory and decodeHistory", () => {
  const h = [entry("a1", 0, "push"), entry("b2", 1, "release"), entry("a1", 2, "rollback")];

  it("reads back what it wrote", () => {
    expect(decodeHistory(encodeHistory(h))).toEqual({ ok: true, value: h });
    expect(decodeHistory(encodeHistory([]))).toEqual({ ok: true, value: [] });
  });

  const written = JSON.parse(encodeHistory(h)) as { v: number; entries: Record<string, unknown>[] };
  const withEntry = (over: Record<string, unknown>) =>
    JSON.stringify({ v: 1, entries: [{ ...written.entries[0], ...over }] });

  it.each<[string, string, string]>([
    ["not JSON", "nope", "slipway.dev/history: not JSON"],
    [
      "another version",
      JSON.stringify({ ...written, v: 2 }),
      "slipway.dev/history: v: not a history version",
    ],
    ["an unknown field", JSON.stringify({ ...written, extra: 1 }), "extra: not a known field"],
    ["entries missing", JSON.stringify({ v: 1 }), "entries: missing"],
    ["entries as text", JSON.stringify({ v: 1, entries: "a1" }), "entries: not a list"],
    [
      "too many entries",
      JSON.stringify({
        v: 1,
        entries: Array.from({ length: MAX_HISTORY_LENGTH + 1 }, () => written.entries[0]),
      }),
      `entries: ${MAX_HISTORY_LENGTH + 1} entries, more than ${MAX_HISTORY_LENGTH}`,
    ],
    ["an entry as a string", JSON.stringify({ v: 1, entries: ["a1"] }), "entries[0]: not an object"],
    ["an invalid version", withEntry({ version: "A1 B2" }), "entries[0].version: not a version name"],
    ["an unknown reason", withEntry({ why: "whim" }), "entries[0].why: not one of promote, rollback"],
    ["a time as a number", withEntry({ at: START }), "entries[0].at: not a UTC time"],
    ["no mover", withEntry({ by: "" }), "entries[0].by: not 1–500 characters"],
    ["a mover as an object", withEntry({ by: { login: "x" } }), "entries[0].by: not a string"],
    ["an extra entry field", withEntry({ sha: "abc" }), "entries[0].sha: not a known field"],
  ])("refuses %s", (_, text, reason) => {
    const decoded = decodeHistory(text);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toContain(reason);
  });

  it("refuses text beyond 64 KiB", () => {
    const decoded = decodeHistory(JSON.stringify({ v: 1, entries: [], pad: " ".repeat(70_000) }));
    expect(decoded).toMatchObject({
      ok: false,
      reason: expect.stringContaining("more than the 65536 allowed"),
    });
  });
});

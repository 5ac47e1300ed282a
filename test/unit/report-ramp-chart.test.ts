// A canary ramp as a comment shows it: the new version's weight over time as a Mermaid chart and as
// a table, every value from the cluster made inert, the same state giving the same text.
import { describe, expect, it } from "vitest";
import { elapsed, rampChart, rampPoints, rampReport, rampTable } from "../../src/report/ramp-chart.js";
import { advanceRamp, nextRampStep, type RampState, startRamp } from "../../src/route/ramp-state.js";

const START = new Date("2025-06-10T12:00:00.000Z");
const at = (seconds: number) => new Date(START.getTime() + seconds * 1000);

const base = (over: Partial<Parameters<typeof startRamp>[0]> = {}): RampState =>
  startRamp({
    from: "1111aaaa2222",
    to: "3333bbbb4444",
    stages: 4,
    windowSeconds: 1200,
    startedAt: START,
    startedBy: "octocat",
    ...over,
  });

/** Raises through `stages` passing stages, then fails the next gate with `reason` if given. */
function run(state: RampState, passing: number, reason?: string): RampState {
  let now = state.startedAt;
  for (;;) {
    const gate =
      state.stage > passing && reason !== undefined
        ? { pass: false as const, reason }
        : { pass: true as const };
    const facts = { now, ...(state.stage > 0 ? { gate } : {}) };
    const step = nextRampStep(state, facts);
    if (step.kind === "wait") {
      if (state.stage > passing && reason === undefined) return state;
      now = step.until;
      continue;
    }
    if (step.kind === "settled" || step.kind === "scale-down-old") return state;
    state = advanceRamp(state, step, facts);
  }
}

describe("rampChart", () => {
  it("draws a failed ramp: up two stages, then back to 0", () => {
    const failed = run(base(), 1, "error rate 5% (5 of 100 requests) is above the limit of 1%");
    expect(rampChart(failed)).toBe(
      [
        "```mermaid",
        "xychart-beta",
        '  title "Traffic to 3333bbbb4444"',
        '  x-axis "time since start" ["+0s", "+5m", "+10m"]',
        '  y-axis "percent of requests" 0 --> 100',
        "  line [25, 50, 0]",
        "```",
      ].join("\n"),
    );
  });

  it("draws a finished ramp up to 100 at the window's end", () => {
    const done = run(base(), 4);
    expect(done.status).toBe("done");
    expect(rampPoints(done)).toEqual([
      { elapsedMs: 0, weight: 25 },
      { elapsedMs: 300_000, weight: 50 },
      { elapsedMs: 600_000, weight: 75 },
      { elapsedMs: 900_000, weight: 100 },
      { elapsedMs: 1_200_000, weight: 100 },
    ]);
    expect(rampChart(done)).toContain("line [25, 50, 75, 100, 100]");
  });

  it("draws a ramp not begun as one point at 0", () => {
    expect(rampPoints(base())).toEqual([{ elapsedMs: 0, weight: 0 }]);
  });

  it("keeps a hostile version name from ending the title or the block", () => {
    const hostile = base({ to: 'x"]\n  line [100]\n```\n<img src=x>%%{init}%%' });
    const chart = rampChart(hostile);
    expect(chart.split("\n")).toHaveLength(7);
    expect(chart).toContain('title "Traffic to x___  line _100_______img src_x____init___"');
    expect(chart.split("\n").filter((l) => l.startsWith("  line"))).toEqual(["  line [0]"]);
  });

  it("gives the same text for the same state", () => {
    const failed = run(base(), 2, "boom");
    expect(rampReport(failed)).toBe(rampReport(structuredClone(failed)));
  });
});

describe("rampTable", () => {
  it.each<[string, () => RampState, string[]]>([
    [
      "a ramp in progress",
      () => run(base(), 2),
      [
        "| 1 | 25% | +0s | passed |",
        "| 2 | 50% | +5m | passed |",
        "| 3 | 75% | +10m | current |",
        "| 4 | 100% | +15m | planned |",
      ],
    ],
    [
      "a failed ramp",
      () => run(base(), 1, "1 of 2 replicas of the new version are ready"),
      [
        "| 1 | 25% | +0s | passed |",
        "| 2 | 50% | +5m | failed: 1 of 2 replicas of the new version are ready |",
        "| 3 | 75% | +10m | not reached |",
        "| 4 | 100% | +15m | not reached |",
      ],
    ],
    [
      "a finished ramp",
      () => run(base({ stages: 2, windowSeconds: 90 }), 2),
      ["| 1 | 50% | +0s | passed |", "| 2 | 100% | +45s | passed |"],
    ],
  ])("shows %s", (_, state, rows) => {
    expect(rampTable(state())).toBe(
      ["| stage | weight | from | gate |", "| --- | --- | --- | --- |", ...rows].join("\n"),
    );
  });

  it("makes a reason inert: no HTML, no cell break, no mention", () => {
    const failed = run(base(), 0, "<script>x</script> | @admin [a](b)\nnext");
    const row = rampTable(failed).split("\n")[2] ?? "";
    expect(row).toBe(
      "| 1 | 25% | +0s | failed: &lt;script&gt;x&lt;/script&gt; \\| @\u200badmin \\[a\\]\\(b\\) next |",
    );
  });
});

describe("rampReport", () => {
  it("says where the ramp stands, who started it, then the chart and the table", () => {
    const aborted = {
      ...run(base(), 1),
      status: "aborted" as const,
      reason: "/abort by @octocat",
      endedAt: at(400),
    };
    const report = rampReport(aborted).split("\n");
    expect(report.slice(0, 3)).toEqual([
      "Canary `1111aaaa2222` → `3333bbbb4444`: aborted at stage 2 of 4: /abort by @\u200boctocat",
      "",
      "Started `2025-06-10T12:00:00.000Z` by octocat; 4 stages over 20m.",
    ]);
    expect(report).toContain("  line [25, 50, 0]");
    expect(report.at(-1)).toBe("| 4 | 100% | +15m | not reached |");
  });
});

describe("elapsed", () => {
  it.each([
    [0, "+0s"],
    [999, "+0s"],
    [45_000, "+45s"],
    [180_000, "+3m"],
    [5_400_000, "+1h30m"],
    [3_661_000, "+1h1m1s"],
    [-5, "+0s"],
  ])("%i ms is %s", (ms, shown) => {
    expect(elapsed(ms)).toBe(shown);
  });
});

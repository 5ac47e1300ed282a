// A canary's schedule: n evenly spaced stages over the window, stage k giving the new version
// round(100·k/n) percent, the last 100; and which stage is due at a time.
import { describe, expect, it } from "vitest";
import {
  canarySchedule,
  dueStage,
  MAX_STAGES,
  ScheduleError,
  stageWeight,
} from "../../src/route/canary-schedule.js";

const START = new Date("2025-06-10T12:00:00.000Z");
const at = (ms: number) => new Date(START.getTime() + ms);

describe("canarySchedule", () => {
  it.each<{ stages: number; windowSeconds: number; weights: number[]; offsetsMs: number[] }>([
    {
      stages: 10,
      windowSeconds: 1800,
      weights: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
      offsetsMs: [0, 180, 360, 540, 720, 900, 1080, 1260, 1440, 1620].map((s) => s * 1000),
    },
    { stages: 1, windowSeconds: 600, weights: [100], offsetsMs: [0] },
    { stages: 2, windowSeconds: 60, weights: [50, 100], offsetsMs: [0, 30_000] },
    // 100/3 = 33.3 → 33, 66.7 → 67
    { stages: 3, windowSeconds: 90, weights: [33, 67, 100], offsetsMs: [0, 30_000, 60_000] },
    // 12.5 rounds half up to 13, 37.5 to 38
    {
      stages: 8,
      windowSeconds: 8,
      weights: [13, 25, 38, 50, 63, 75, 88, 100],
      offsetsMs: [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000],
    },
    // 100 ms / 3 is not whole: offsets round down
    { stages: 3, windowSeconds: 1, weights: [33, 67, 100], offsetsMs: [0, 333, 666] },
    { stages: 4, windowSeconds: 0, weights: [25, 50, 75, 100], offsetsMs: [0, 0, 0, 0] },
  ])("$stages stages over $windowSeconds s", ({ stages, windowSeconds, weights, offsetsMs }) => {
    const schedule = canarySchedule({ stages, windowSeconds, startedAt: START });
    expect(schedule.stages).toEqual(
      weights.map((weight, i) => ({ stage: i + 1, weight, at: at(offsetsMs[i] ?? Number.NaN) })),
    );
    expect(schedule.endsAt).toEqual(at(windowSeconds * 1000));
  });

  it.each([1, 2, 3, 6, 7, 9, 10, 11, 33, 64, 99, 100])(
    "%i stages: weights strictly increase to 100, stages evenly spaced over the window",
    (stages) => {
      const windowSeconds = 1800;
      const schedule = canarySchedule({ stages, windowSeconds, startedAt: START });
      const weights = schedule.stages.map((s) => s.weight);
      expect(weights).toHaveLength(stages);
      expect(weights.at(-1)).toBe(100);
      for (let i = 1; i < weights.length; i++) expect(weights[i]).toBeGreaterThan(weights[i - 1] ?? 0);
      weights.forEach((w, i) => {
        expect(Number.isInteger(w)).toBe(true);
        expect(Math.abs(w - (100 * (i + 1)) / stages)).toBeLessThanOrEqual(0.5);
      });
      const offsets = [...schedule.stages.map((s) => s.at.getTime()), schedule.endsAt.getTime()].map(
        (t) => t - START.getTime(),
      );
      // Stage i+1 begins i/n of the way through the window, to the millisecond below: in integers,
      // o·n ≤ i·W < (o+1)·n.
      const windowMs = windowSeconds * 1000;
      offsets.forEach((o, i) => {
        expect(o * stages).toBeLessThanOrEqual(i * windowMs);
        expect((o + 1) * stages).toBeGreaterThan(i * windowMs);
      });
      // The steps between stages add up to the whole ramp.
      const steps = weights.map((w, i) => w - (weights[i - 1] ?? 0));
      expect(steps.reduce((a, b) => a + b, 0)).toBe(100);
      expect(Math.max(...steps) - Math.min(...steps)).toBeLessThanOrEqual(1);
    },
  );

  it.each<[string, { stages: number; windowSeconds: number; startedAt?: Date }, RegExp]>([
    ["more stages than integer percents", { stages: MAX_STAGES + 1, windowSeconds: 600 }, /1–100 stages/],
    ["no stages", { stages: 0, windowSeconds: 600 }, /not 0/],
    ["a fraction of a stage", { stages: 2.5, windowSeconds: 600 }, /not 2\.5/],
    ["a negative window", { stages: 10, windowSeconds: -1 }, /window/],
    ["a fractional window", { stages: 10, windowSeconds: 1.5 }, /window/],
    ["an invalid start", { stages: 10, windowSeconds: 60, startedAt: new Date(Number.NaN) }, /start time/],
  ])("refuses %s", (_, input, message) => {
    expect(() => canarySchedule({ startedAt: START, ...input })).toThrow(ScheduleError);
    expect(() => canarySchedule({ startedAt: START, ...input })).toThrow(message);
  });

  it("computes weights in integers, as round(100·k/n) with halves up", () => {
    for (let n = 1; n <= MAX_STAGES; n++) {
      for (let k = 1; k <= n; k++) expect(stageWeight(k, n)).toBe(Math.round((100 * k) / n));
    }
  });
});

describe("dueStage", () => {
  const schedule = canarySchedule({ stages: 4, windowSeconds: 400, startedAt: START });
  it.each([
    [-1, 0],
    [0, 1],
    [99_999, 1],
    [100_000, 2],
    [250_000, 3],
    [300_000, 4],
    [10_000_000, 4],
  ])("%i ms after the start: stage %i", (ms, stage) => {
    expect(dueStage(schedule, at(ms))).toBe(stage);
  });

  it("a window of 0 makes every stage due at the start", () => {
    const now = canarySchedule({ stages: 10, windowSeconds: 0, startedAt: START });
    expect(dueStage(now, START)).toBe(10);
    expect(dueStage(now, at(-1))).toBe(0);
  });
});

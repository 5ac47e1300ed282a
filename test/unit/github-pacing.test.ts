// Content-creating requests are spaced and capped per rolling window (GitHub's secondary rate limits).
import { describe, expect, it } from "vitest";
import { createPacer } from "../../src/github/pacing.js";

function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
    at: () => t,
  };
}

describe("createPacer", () => {
  it("spaces starts by the least interval", async () => {
    const clock = fakeClock();
    const pacer = createPacer({ minIntervalMs: 1000, now: clock.now, sleep: clock.sleep });
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) await pacer.key().schedule({}, async () => starts.push(clock.at()));
    expect(starts).toEqual([0, 1000, 2000]);
  });

  it("holds at most `count` starts in any window", async () => {
    const clock = fakeClock();
    const pacer = createPacer({
      minIntervalMs: 0,
      limits: [{ count: 80, windowMs: 60_000 }],
      now: clock.now,
      sleep: clock.sleep,
    });
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 170 }, () => pacer.key().schedule({}, async () => starts.push(clock.at()))),
    );
    expect(starts.filter((t) => t < 60_000)).toHaveLength(80);
    expect(starts.filter((t) => t >= 60_000 && t < 120_000)).toHaveLength(80);
    expect(pacer.granted).toBe(170);
  });

  it("passes the scheduled function's arguments and result through", async () => {
    const pacer = createPacer({ minIntervalMs: 0 });
    expect(await pacer.key("id").schedule({}, (a: number, b: number) => a + b, 2, 3)).toBe(5);
  });
});

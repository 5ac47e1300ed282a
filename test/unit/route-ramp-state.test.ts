// A canary ramp's state on its alias route: what to do next at each moment (whole ramps simulated
// with passing and failing gates), and the annotation's text read back as untrusted cluster data.
import { describe, expect, it } from "vitest";
import { MAX_ANNOTATION_BYTES } from "../../src/route/annotation-json.js";
import type { GateDecision } from "../../src/route/gate.js";
import {
  abortRamp,
  advanceRamp,
  DEFAULT_SCALE_DOWN_DELAY_SECONDS,
  decodeRamp,
  encodeRamp,
  MAX_GATES,
  nextRampStep,
  type RampState,
  type RampStep,
  rampWeights,
  startRamp,
} from "../../src/route/ramp-state.js";

const START = new Date("2025-06-10T12:00:00.000Z");
const SECOND = 1000;
const at = (seconds: number) => new Date(START.getTime() + seconds * SECOND);
const PASS: GateDecision = { pass: true };

const ramp = (over: Partial<Parameters<typeof startRamp>[0]> = {}): RampState =>
  startRamp({
    from: "1111aaaa2222",
    to: "3333bbbb4444",
    stages: 10,
    windowSeconds: 1800,
    startedAt: START,
    startedBy: "octocat",
    ...over,
  });

interface Event {
  second: number;
  step: RampStep["kind"];
  to: number;
}

/** Runs the ramp as the route stage would: sleeping through waits, gating each stage when it ends. */
function simulate(
  state: RampState,
  gate: (stage: number) => GateDecision | undefined,
  limit = 200,
): { events: Event[]; state: RampState } {
  const events: Event[] = [];
  let now = state.startedAt;
  for (let i = 0; i < limit; i++) {
    const g = state.stage > 0 && state.status === "ramping" ? gate(state.stage) : undefined;
    const facts = { now, ...(g !== undefined ? { gate: g } : {}) };
    const step = nextRampStep(state, facts);
    if (step.kind === "settled") return { events, state };
    if (step.kind === "wait") {
      expect(step.until.getTime()).toBeGreaterThan(now.getTime());
      now = step.until;
      continue;
    }
    state = advanceRamp(state, step, facts);
    events.push({
      second: (now.getTime() - START.getTime()) / SECOND,
      step: step.kind,
      to: rampWeights(state).to,
    });
  }
  throw new Error("the ramp did not settle");
}

describe("nextRampStep over a whole ramp", () => {
  it("with passing gates, raises each stage on schedule, finishes at the window's end, scales the old version down after the delay", () => {
    const { events, state } = simulate(ramp(), () => PASS);
    expect(events).toEqual([
      ...[10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((to, i) => ({ second: i * 180, step: "raise", to })),
      { second: 1800, step: "finish", to: 100 },
      { second: 1800 + DEFAULT_SCALE_DOWN_DELAY_SECONDS, step: "scale-down-old", to: 100 },
    ]);
    expect(state).toMatchObject({ status: "done", stage: 10, endedAt: at(1800) });
    expect(state.scaleDownAfter).toBeUndefined();
    expect(state.gates.map((g) => [g.stage, g.pass])).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => [s, true]),
    );
    expect(rampWeights(state)).toEqual({ from: 0, to: 100 });
  });

  it("a failing gate at stage 2 rolls back: the new version's weight returns to 0", () => {
    const failing: GateDecision = {
      pass: false,
      reason: "error rate 5% (5 of 100 requests) is above the limit of 1%",
    };
    const { events, state } = simulate(ramp(), (stage) => (stage === 2 ? failing : PASS));
    expect(events).toEqual([
      { second: 0, step: "raise", to: 10 },
      { second: 180, step: "raise", to: 20 },
      { second: 360, step: "rollback", to: 0 },
    ]);
    expect(state).toMatchObject({
      status: "failed",
      stage: 2,
      reason: "stage 2 (20%): error rate 5% (5 of 100 requests) is above the limit of 1%",
      endedAt: at(360),
    });
    expect(state.gates.at(-1)).toEqual({ stage: 2, pass: false, reason: failing.reason, at: at(360) });
    expect(rampWeights(state)).toEqual({ from: 100, to: 0 });
    // The old version was never left without traffic, so nothing scales it down.
    expect(state.scaleDownAfter).toBeUndefined();
    expect(nextRampStep(state, { now: at(100_000) })).toEqual({ kind: "settled" });
  });

  it("a stage that ends without a gate reading rolls back: no data is no pass", () => {
    const { events, state } = simulate(ramp({ stages: 4, windowSeconds: 400 }), () => undefined);
    expect(events).toEqual([
      { second: 0, step: "raise", to: 25 },
      { second: 100, step: "rollback", to: 0 },
    ]);
    expect(state.reason).toBe("stage 1 (25%) ended without a gate reading");
  });

  it("the last stage, at 100 %, is gated too", () => {
    const { events, state } = simulate(ramp({ stages: 2, windowSeconds: 60 }), (stage) =>
      stage === 2 ? { pass: false, reason: "1 of 2 replicas of the new version are ready" } : PASS,
    );
    expect(events.map((e) => [e.second, e.step, e.to])).toEqual([
      [0, "raise", 50],
      [30, "raise", 100],
      [60, "rollback", 0],
    ]);
    expect(state.status).toBe("failed");
  });

  it("one stage goes to 100 % at once and is watched for the whole window", () => {
    const { events } = simulate(ramp({ stages: 1, windowSeconds: 600 }), () => PASS);
    expect(events.map((e) => [e.second, e.step, e.to])).toEqual([
      [0, "raise", 100],
      [600, "finish", 100],
      [900, "scale-down-old", 100],
    ]);
  });

  it("a window of 0 raises a stage each time its gate passes, without waiting", () => {
    const { events } = simulate(ramp({ stages: 3, windowSeconds: 0 }), () => PASS);
    expect(events.map((e) => [e.second, e.step, e.to])).toEqual([
      [0, "raise", 33],
      [0, "raise", 67],
      [0, "raise", 100],
      [0, "finish", 100],
      [300, "scale-down-old", 100],
    ]);
  });

  it("a late reading raises one stage at a time, never skipping a gate", () => {
    const state = advanceRamp(ramp(), { kind: "raise", stage: 1, weight: 10 }, { now: START });
    const late = { now: at(1000), gate: PASS };
    expect(nextRampStep(state, late)).toEqual({ kind: "raise", stage: 2, weight: 20 });
  });

  it.each<[string, number, RampStep]>([
    ["before the start", -1, { kind: "wait", until: START }],
    ["at the start", 0, { kind: "raise", stage: 1, weight: 10 }],
  ])("a new ramp %s", (_, second, step) => {
    expect(nextRampStep(ramp(), { now: at(second) })).toEqual(step);
  });

  it("waits out a stage whatever its gate says so far", () => {
    const state = advanceRamp(ramp(), { kind: "raise", stage: 1, weight: 10 }, { now: START });
    expect(nextRampStep(state, { now: at(179), gate: { pass: false, reason: "x" } })).toEqual({
      kind: "wait",
      until: at(180),
    });
  });

  it("uses the scale-down delay it is given", () => {
    const last = { ...ramp({ stages: 1, windowSeconds: 60 }), stage: 1 };
    const done = advanceRamp(
      last,
      { kind: "finish" },
      { now: at(60), gate: PASS },
      { scaleDownDelaySeconds: 30 },
    );
    expect(done.scaleDownAfter).toEqual(at(90));
    expect(nextRampStep(done, { now: at(89) })).toEqual({ kind: "wait", until: at(90) });
    expect(nextRampStep(done, { now: at(95) })).toEqual({ kind: "scale-down-old", at: at(90) });
  });

  it("keeps the last gates only", () => {
    const { state } = simulate(ramp({ stages: 50, windowSeconds: 5000 }), () => PASS);
    expect(state.gates).toHaveLength(MAX_GATES);
    expect(state.gates[0]?.stage).toBe(50 - MAX_GATES + 1);
  });
});

describe("abortRamp", () => {
  it("stops a ramping ramp with the new version at 0", () => {
    const raised = advanceRamp(ramp(), { kind: "raise", stage: 1, weight: 10 }, { now: START });
    const result = abortRamp(raised, at(30), "/abort by octocat");
    expect(result).toMatchObject({
      aborted: true,
      state: { status: "aborted", reason: "/abort by octocat" },
    });
    if (!result.aborted) throw new Error("not aborted");
    expect(rampWeights(result.state)).toEqual({ from: 100, to: 0 });
    expect(nextRampStep(result.state, { now: at(40) })).toEqual({ kind: "settled" });
    expect(decodeRamp(encodeRamp(result.state))).toEqual({ ok: true, value: result.state });
  });

  it("refuses a ramp that is over", () => {
    const failed = advanceRamp(ramp(), { kind: "rollback", reason: "r" }, { now: START });
    expect(abortRamp(failed, at(1), "x")).toEqual({
      aborted: false,
      reason: "the ramp from 1111aaaa2222 to 3333bbbb4444 is failed already",
    });
  });
});

describe("encodeRamp and decodeRamp", () => {
  const midway = simulate(ramp(), (stage) => (stage === 3 ? { pass: false, reason: "boom" } : PASS)).state;
  const finished = advanceRamp(
    { ...ramp({ stages: 2 }), stage: 2 },
    { kind: "finish" },
    { now: at(1800), gate: PASS },
  );

  it.each([
    ["a new ramp", ramp()],
    ["a failed ramp", midway],
    ["a finished ramp", finished],
    [
      "a ramp rolled back before its first stage",
      advanceRamp(ramp(), { kind: "rollback", reason: "route not accepted" }, { now: START }),
    ],
  ])("reads back %s as written", (_, state) => {
    expect(decodeRamp(encodeRamp(state))).toEqual({ ok: true, value: state });
  });

  it("writes the same text for the same state", () => {
    expect(encodeRamp(midway)).toBe(encodeRamp(structuredClone(midway)));
  });

  const written = JSON.parse(encodeRamp(finished)) as Record<string, unknown>;
  const tampered = (over: Record<string, unknown>) => JSON.stringify({ ...written, ...over });
  const without = (key: string) => {
    const { [key]: _, ...rest } = written;
    return JSON.stringify(rest);
  };

  it.each<[string, string, string]>([
    ["not JSON", "{", "slipway.dev/ramp: not JSON"],
    ["a list", "[]", "slipway.dev/ramp: not an object"],
    ["null", "null", "slipway.dev/ramp: not an object"],
    [
      "another state version",
      tampered({ v: 2 }),
      "slipway.dev/ramp: v: not a ramp state version this Slipway reads (1)",
    ],
    ["a version as a string", tampered({ v: "1" }), "v: not a ramp state version"],
    ["an unknown field", tampered({ owner: "me" }), "slipway.dev/ramp: owner: not a known field"],
    [
      "a __proto__ key",
      encodeRamp(finished).replace("{", '{"__proto__":{"x":1},'),
      "__proto__: not a known field",
    ],
    ["a missing field", without("status"), "slipway.dev/ramp: status: missing"],
    ["a version name with a slash", tampered({ from: "../x" }), "from: not a version name"],
    ["a version name as a number", tampered({ to: 12 }), "to: not a version name"],
    ["the same version twice", tampered({ to: written.from }), "to: the same version as from"],
    ["too many stages", tampered({ stages: 101 }), "stages: not a whole number from 1 to 100"],
    ["stages as a string", tampered({ stages: "2" }), "stages: not a whole number"],
    ["a fractional window", tampered({ windowSeconds: 1.5 }), "windowSeconds: not a whole number"],
    ["a stage beyond the last", tampered({ stage: 3 }), "stage: not a whole number from 0 to 2"],
    ["a time without zone", tampered({ startedAt: "2025-06-10T12:00:00" }), "startedAt: not a UTC time"],
    ["an impossible date", tampered({ startedAt: "2025-02-30T12:00:00.000Z" }), "startedAt: not a UTC time"],
    ["weights not matching the stages", tampered({ weights: [100] }), "weights: 1 weights for 2 stages"],
    ["weights falling", tampered({ weights: [60, 50] }), "weights[0]: not 50, stage 1 of 2's weight"],
    [
      "weights not ending at 100",
      tampered({ weights: [50, 90] }),
      "weights[1]: not 100, stage 2 of 2's weight",
    ],
    ["a weight over 100", tampered({ weights: [50, 101] }), "weights[1]: not a whole number from 1 to 100"],
    [
      "an unknown status",
      tampered({ status: "paused" }),
      "status: not one of ramping, done, aborted, failed",
    ],
    ["an empty starter", tampered({ startedBy: "" }), "startedBy: not 1–500 characters"],
    ["a long reason", tampered({ reason: "x".repeat(501) }), "reason: not 1–500 characters"],
    ["gates as an object", tampered({ gates: {} }), "gates: not a list"],
    [
      "too many gates",
      tampered({
        gates: Array.from({ length: MAX_GATES + 1 }, () => ({
          stage: 1,
          pass: true,
          at: START.toISOString(),
        })),
      }),
      `gates: ${MAX_GATES + 1} entries, more than ${MAX_GATES}`,
    ],
    [
      "a gate's pass as a string",
      tampered({ gates: [{ stage: 1, pass: "yes", at: START.toISOString() }] }),
      "gates[0].pass: not true or false",
    ],
    [
      "a gate for a stage not reached",
      tampered({ gates: [{ stage: 3, pass: true, at: START.toISOString() }] }),
      "gates[0].stage",
    ],
    [
      "a gate with an extra field",
      tampered({ gates: [{ stage: 1, pass: true, at: START.toISOString(), by: "x" }] }),
      "gates[0].by: not a known field",
    ],
    [
      "a finished ramp short of its last stage",
      tampered({ stage: 1, gates: [] }),
      "stage: 1 of 2 on a finished ramp",
    ],
    [
      "a ramp still ramping with an end",
      tampered({ status: "ramping", scaleDownAfter: undefined }),
      "endedAt: set on a ramp still ramping",
    ],
    ["a finished ramp without an end", without("endedAt"), "endedAt: missing on a ramp done"],
    [
      "an end before the start",
      tampered({ endedAt: "2020-01-01T00:00:00.000Z" }),
      "endedAt: before startedAt",
    ],
    ["a failed ramp scaling down", tampered({ status: "failed" }), "scaleDownAfter: set on a ramp failed"],
  ])("refuses %s", (_, text, reason) => {
    const decoded = decodeRamp(text);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toContain(reason);
  });

  it("refuses text beyond 64 KiB before parsing it", () => {
    const big = tampered({ startedBy: "x".repeat(MAX_ANNOTATION_BYTES) });
    expect(decodeRamp(big)).toEqual({
      ok: false,
      reason: `slipway.dev/ramp: ${Buffer.byteLength(big)} bytes, more than the 65536 allowed`,
    });
    // Counted in bytes, as the API server counts: 30,000 three-byte characters are too many.
    expect(decodeRamp(tampered({ startedBy: "€".repeat(30_000) })).ok).toBe(false);
  });
});

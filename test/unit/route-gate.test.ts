// A canary stage's gate: only evidence passes (no requests seen is a failure), every replica ready,
// no restarts since the ramp began, the error rate within its limit. And when a stage's weight may
// be raised: the route accepted with its references resolved, the new version with ready endpoints.
import { describe, expect, it } from "vitest";
import { type GateFacts, gateDecision, percent, raiseAllowed } from "../../src/route/gate.js";

const healthy: GateFacts = {
  readyReplicas: 2,
  desiredReplicas: 2,
  restartsSinceStart: 0,
  probe: { requests: 1000, errors: 5 },
  maxErrorRate: 0.01,
};

describe("gateDecision", () => {
  it.each<[string, Partial<GateFacts>]>([
    ["a healthy stage", {}],
    ["no errors at all", { probe: { requests: 1, errors: 0 } }],
    ["an error rate exactly at the limit", { probe: { requests: 100, errors: 1 } }],
    ["more replicas ready than wanted (a surge)", { readyReplicas: 3 }],
    ["any errors when the limit is 100%", { probe: { requests: 10, errors: 10 }, maxErrorRate: 1 }],
  ])("passes %s", (_, over) => {
    expect(gateDecision({ ...healthy, ...over })).toEqual({ pass: true });
  });

  it.each<[string, Partial<GateFacts>, string]>([
    ["no probe", { probe: undefined }, "no request counts for the new version: nothing shows it works"],
    [
      "no requests",
      { probe: { requests: 0, errors: 0 } },
      "the new version answered no requests in this stage",
    ],
    ["a replica not ready", { readyReplicas: 1 }, "1 of 2 replicas of the new version are ready"],
    ["none ready", { readyReplicas: 0 }, "0 of 2 replicas of the new version are ready"],
    ["no replicas wanted", { readyReplicas: 0, desiredReplicas: 0 }, "the new version wants no replicas"],
    [
      "one restart",
      { restartsSinceStart: 1 },
      "the new version's containers restarted 1 time since the ramp began",
    ],
    [
      "restarts",
      { restartsSinceStart: 3 },
      "the new version's containers restarted 3 times since the ramp began",
    ],
    [
      "an error rate above the limit",
      { probe: { requests: 1000, errors: 11 } },
      "error rate 1.1% (11 of 1000 requests) is above the limit of 1%",
    ],
    [
      "any error when the limit is 0",
      { probe: { requests: 3, errors: 1 }, maxErrorRate: 0 },
      "error rate 33.33% (1 of 3 requests) is above the limit of 0%",
    ],
    [
      "more errors than requests",
      { probe: { requests: 2, errors: 3 } },
      "request counts are inconsistent (3 errors of 2 requests)",
    ],
    [
      "negative counts",
      { probe: { requests: -1, errors: 0 } },
      "request counts are inconsistent (0 errors of -1 requests)",
    ],
    [
      "a fractional count",
      { probe: { requests: Number.NaN, errors: 0 } },
      "request counts are inconsistent (0 errors of NaN requests)",
    ],
    [
      "a replica count that is no count",
      { readyReplicas: 1.5 },
      "the replica counts read are not whole numbers",
    ],
    [
      "a limit that is not a number",
      { maxErrorRate: Number.NaN },
      "error rate 0.5% (5 of 1000 requests) is above the limit of NaN%",
    ],
  ])("fails %s", (_, over, reason) => {
    expect(gateDecision({ ...healthy, ...over })).toEqual({ pass: false, reason });
  });

  it("names readiness before restarts before traffic", () => {
    expect(gateDecision({ ...healthy, readyReplicas: 0, restartsSinceStart: 2, probe: undefined })).toEqual({
      pass: false,
      reason: "0 of 2 replicas of the new version are ready",
    });
    expect(gateDecision({ ...healthy, restartsSinceStart: 2, probe: undefined })).toMatchObject({
      reason: expect.stringContaining("restarted"),
    });
  });
});

describe("raiseAllowed", () => {
  it.each<[boolean, boolean, number, string | undefined]>([
    [true, true, 1, undefined],
    [true, true, 4, undefined],
    [false, true, 1, "the Gateway has not accepted the alias route"],
    [true, false, 1, "the alias route names a backend the Gateway cannot resolve"],
    [false, false, 0, "the Gateway has not accepted the alias route"],
    [true, true, 0, "the new version has no ready endpoints"],
  ])(
    "accepted %s, refs resolved %s, %i ready endpoints",
    (routeAccepted, resolvedRefs, newReadyEndpoints, reason) => {
      expect(raiseAllowed({ routeAccepted, resolvedRefs, newReadyEndpoints })).toEqual(
        reason === undefined ? { pass: true } : { pass: false, reason },
      );
    },
  );
});

describe("percent", () => {
  it.each([
    [0.01, "1%"],
    [0.0125, "1.25%"],
    [1 / 3, "33.33%"],
    [0, "0%"],
    [1, "100%"],
  ])("%d is %s", (ratio, shown) => {
    expect(percent(ratio)).toBe(shown);
  });
});

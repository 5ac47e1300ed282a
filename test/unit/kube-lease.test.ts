// The promotion lock's pure parts: the decision each acquire makes from the lease it read (create,
// take, keep, refuse — client-go's rules: an empty holder is free, a lease is held until renewTime +
// leaseDurationSeconds), the expiry, and MicroTime as apimachinery writes it.

import { describe, expect, it } from "vitest";
import {
  formatMicroTime,
  type Lease,
  type LeaseSpec,
  leaseExpiry,
  lockDecision,
} from "../../src/kube/lease.js";

const NOW = new Date("2025-03-01T12:00:00.000Z");
const lease = (spec: LeaseSpec): Lease => ({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", spec });
const held = (holder: string, renewTime: string, leaseDurationSeconds = 30, leaseTransitions = 2) =>
  lease({
    holderIdentity: holder,
    acquireTime: "2025-03-01T11:50:00.000000Z",
    renewTime,
    leaseDurationSeconds,
    leaseTransitions,
  });

describe("lockDecision", () => {
  it.each([
    ["no Lease yet", undefined, { action: "create" }],
    [
      "held by another run, not expired",
      held("hubot via run 2", "2025-03-01T11:59:45.000000Z"),
      { action: "refuse", holder: "hubot via run 2", expiresAt: new Date("2025-03-01T12:00:15.000Z") },
    ],
    [
      "held by another run, expired",
      held("hubot via run 2", "2025-03-01T11:59:00.000000Z"),
      { action: "take", transitions: 3 },
    ],
    [
      "expiring exactly now (no longer valid, as client-go's After)",
      held("hubot via run 2", "2025-03-01T11:59:30.000000Z"),
      { action: "take", transitions: 3 },
    ],
    [
      "released (empty holder), though renewed just now",
      held("", "2025-03-01T12:00:00.000000Z", 1),
      { action: "take", transitions: 3 },
    ],
    ["no holder field", lease({ leaseDurationSeconds: 30 }), { action: "take", transitions: 1 }],
    [
      "a holder but no times",
      lease({ holderIdentity: "hubot", leaseDurationSeconds: 30 }),
      { action: "take", transitions: 1 },
    ],
    [
      "this run's own, even expired",
      held("octocat via run 1", "2025-03-01T10:00:00.000000Z"),
      { action: "keep", acquireTime: "2025-03-01T11:50:00.000000Z", transitions: 2 },
    ],
  ])("%s", (_, live, decision) => {
    expect(lockDecision(live, "octocat via run 1", NOW)).toEqual(decision);
  });
});

describe("leaseExpiry", () => {
  it.each([
    [{ renewTime: "2025-03-01T12:00:00.250000Z", leaseDurationSeconds: 2 }, "2025-03-01T12:00:02.250Z"],
    [{ acquireTime: "2025-03-01T12:00:00.000000Z", leaseDurationSeconds: 15 }, "2025-03-01T12:00:15.000Z"],
    [{ renewTime: "2025-03-01T12:00:00.000000Z" }, undefined],
    [{ leaseDurationSeconds: 15 }, undefined],
  ])("%j → %s", (spec, expected) => {
    expect(leaseExpiry(spec)?.toISOString()).toBe(expected);
  });
});

describe("formatMicroTime", () => {
  it.each([
    ["2025-03-01T12:00:00.000Z", "2025-03-01T12:00:00.000000Z"],
    ["2025-03-01T12:00:00.123Z", "2025-03-01T12:00:00.123000Z"],
    // Always UTC, whatever offset the date was written with.
    ["2025-03-01T14:00:00.5+02:00", "2025-03-01T12:00:00.500000Z"],
  ])("%s → %s", (input, expected) => {
    expect(formatMicroTime(new Date(input))).toBe(expected);
  });
});

// The test cluster's Deployment arithmetic against the real controller's documented cases
// (pkg/controller/deployment/util/deployment_util.go: ResolveFenceposts, NewRSNewReplicas, MaxUnavailable).

import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import { describe, expect, it } from "vitest";
import {
  maxUnavailableOf,
  newRSNewReplicas,
  podTemplateHash,
  resolveFenceposts,
  scaledValue,
} from "../controllers.js";

describe("ResolveFenceposts: surge rounds up, unavailable rounds down, never both zero", () => {
  it.each([
    // The examples in the real function's doc comment.
    [2, "0%", "1%", 0, 1],
    [1, "0%", "1%", 0, 1],
    [2, "1%", "25%", 1, 0],
    [1, "1%", "25%", 1, 0],
    [2, "1%", "0%", 1, 0],
    [1, "1%", "0%", 1, 0],
    // The API defaults (25%/25%) on common sizes.
    [3, "25%", "25%", 1, 0],
    [4, "25%", "25%", 1, 1],
    [10, "25%", "25%", 3, 2],
    [10, 3, 2, 3, 2],
    [5, 0, 0, 0, 1],
  ] as const)(
    "replicas %d, maxSurge %j, maxUnavailable %j → surge %d, unavailable %d",
    (desired, surge, unavailable, s, u) => {
      expect(resolveFenceposts(surge, unavailable, desired)).toEqual({ surge: s, unavailable: u });
    },
  );

  it("rejects values that are neither integers nor percentages", () => {
    expect(() => scaledValue("abc", 10, true)).toThrow(/invalid value/);
  });
});

type Strategy = NonNullable<NonNullable<IDeployment["spec"]>["strategy"]>;

function deployment(replicas: number, strategy: Strategy): IDeployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    spec: { replicas, selector: {}, template: {}, strategy },
  };
}

function rs(replicas: number): IReplicaSet {
  return { apiVersion: "apps/v1", kind: "ReplicaSet", spec: { replicas, selector: {} } };
}

describe("NewRSNewReplicas and MaxUnavailable", () => {
  it("grows the new ReplicaSet only up to replicas + maxSurge pods in total", () => {
    const d = deployment(10, { type: "RollingUpdate", rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } });
    const fresh = rs(0);
    expect(newRSNewReplicas(d, [rs(10), fresh], fresh)).toBe(3);
    const grown = rs(3);
    expect(newRSNewReplicas(d, [rs(10), grown], grown)).toBe(3);
    const later = rs(5);
    expect(newRSNewReplicas(d, [rs(5), later], later)).toBe(8);
    const nearly = rs(9);
    expect(newRSNewReplicas(d, [rs(0), nearly], nearly)).toBe(10);
  });

  it("Recreate sizes the new ReplicaSet at once and allows no unavailability budget", () => {
    const d = deployment(4, { type: "Recreate" });
    const fresh = rs(0);
    expect(newRSNewReplicas(d, [fresh], fresh)).toBe(4);
    expect(maxUnavailableOf(d)).toBe(0);
  });

  it("MaxUnavailable is 0 for zero replicas and never more than replicas", () => {
    expect(maxUnavailableOf(deployment(0, { type: "RollingUpdate" }))).toBe(0);
    expect(
      maxUnavailableOf(deployment(2, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 5 } })),
    ).toBe(2);
    expect(maxUnavailableOf(deployment(4, {}))).toBe(1);
  });
});

describe("pod-template-hash", () => {
  it("is stable for equal templates, differs with the template or collisionCount, and uses the safe alphabet", () => {
    const t = { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "m", image: "i:1" }] } };
    const same = { spec: { containers: [{ image: "i:1", name: "m" }] }, metadata: { labels: { app: "x" } } };
    expect(podTemplateHash(t)).toBe(podTemplateHash(same));
    expect(podTemplateHash(t)).not.toBe(podTemplateHash({ ...t, metadata: { labels: { app: "y" } } }));
    expect(podTemplateHash(t, 1)).not.toBe(podTemplateHash(t, 0));
    expect(podTemplateHash(t)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
  });

  it("ignores nulls and empty maps/lists, as Go's semantic equality does (kubectl rollout undo sends them)", () => {
    const t = { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "m", image: "i:1" }] } };
    const undo = {
      metadata: { labels: { app: "x" }, creationTimestamp: null as unknown as string, annotations: {} },
      spec: { containers: [{ name: "m", image: "i:1", env: [] }] },
    };
    expect(podTemplateHash(undo)).toBe(podTemplateHash(t));
  });
});

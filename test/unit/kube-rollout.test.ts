// Which pods a rollout is judged by — those of the Deployment's newest ReplicaSet, found the way the
// Deployment controller links them (controller ownerReferences, the deployment.kubernetes.io/revision
// annotation it keeps equal on the Deployment and its new ReplicaSet) — and how waits are written.

import { describe, expect, it } from "vitest";
import { formatDuration, podsOfNewReplicaSet } from "../../src/kube/rollout.js";
import type { Deployment, Pod, ReplicaSet } from "../../src/kube/types.js";

const owner = (kind: string, name: string, uid: string) => ({
  apiVersion: "apps/v1",
  kind,
  name,
  uid,
  controller: true,
  blockOwnerDeletion: true,
});

const deployment = (revision: string | undefined): Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "web",
    uid: "d-1",
    ...(revision !== undefined ? { annotations: { "deployment.kubernetes.io/revision": revision } } : {}),
  },
});

const rs = (hash: string, revision: string, ownerUid = "d-1"): ReplicaSet => ({
  apiVersion: "apps/v1",
  kind: "ReplicaSet",
  metadata: {
    name: `web-${hash}`,
    uid: `rs-${hash}`,
    labels: { "pod-template-hash": hash },
    annotations: { "deployment.kubernetes.io/revision": revision },
    ownerReferences: [owner("Deployment", "web", ownerUid)],
  },
});

const pod = (hash: string, suffix: string): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: `web-${hash}-${suffix}`,
    uid: `pod-${hash}-${suffix}`,
    labels: { "pod-template-hash": hash },
    ownerReferences: [{ ...owner("ReplicaSet", `web-${hash}`, `rs-${hash}`), apiVersion: "apps/v1" }],
  },
});

describe("podsOfNewReplicaSet", () => {
  const replicaSets = [rs("7c9d8f6b5d", "1"), rs("5f8b9c7d6e", "2"), rs("4a3b2c1d0e", "2", "someone-else")];
  const pods = [
    pod("7c9d8f6b5d", "abcde"),
    pod("5f8b9c7d6e", "fghij"),
    pod("5f8b9c7d6e", "klmno"),
    pod("4a3b2c1d0e", "pqrst"),
  ];

  it("takes the pods of the ReplicaSet with the Deployment's revision that the Deployment controls", () => {
    expect(podsOfNewReplicaSet(deployment("2"), replicaSets, pods).map((p) => p.metadata?.name)).toEqual([
      "web-5f8b9c7d6e-fghij",
      "web-5f8b9c7d6e-klmno",
    ]);
  });

  it("takes none before the controller has set the revision or created the ReplicaSet", () => {
    expect(podsOfNewReplicaSet(deployment(undefined), replicaSets, pods)).toEqual([]);
    expect(podsOfNewReplicaSet(deployment("3"), replicaSets, pods)).toEqual([]);
    expect(podsOfNewReplicaSet(undefined, replicaSets, pods)).toEqual([]);
  });
});

describe("formatDuration", () => {
  it.each([
    [850, "850ms"],
    [1000, "1s"],
    [45_000, "45s"],
    [90_000, "1m30s"],
    [600_000, "10m"],
    [3_660_000, "1h1m"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

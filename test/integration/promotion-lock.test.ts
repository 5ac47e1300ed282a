// The promotion lock on the local test cluster (Leases with their real schema, resourceVersion
// concurrency, AlreadyExists on a second create): the first run takes it, the next is refused with the
// holder and its expiry, of ten racing runs exactly one wins, a renewal keeps it, an expired lease is
// taken over (one more transition) and its old holder's renewal then fails with LockLost, a release
// frees it for the next run at once, and a keep-alive holds a 2 s lease for 5 s.

import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  acquireLock,
  createKubeClient,
  type HeldLock,
  type KubeClient,
  type Lease,
  LockLost,
  type LockRequest,
  type LockResult,
} from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";

const NS = "promotion-lock";

let cluster: TestCluster;
let kube: KubeClient;

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath, namespace: NS });
  await kube.ensureNamespace(NS);
});

afterAll(async () => {
  kube?.close();
  await cluster?.stop();
});

/** The lock of `environment` for the deployment mnist, as `holder`. */
function request(environment: string, holder: string, more: Partial<LockRequest> = {}): LockRequest {
  return {
    namespace: NS,
    name: `mnist-promote-${environment}`,
    labels: {
      "app.kubernetes.io/managed-by": "slipway",
      "slipway.dev/deployment": "mnist",
      "slipway.dev/environment": environment,
    },
    holder,
    durationSeconds: 30,
    ...more,
  };
}

function held(result: LockResult): HeldLock {
  if (!result.acquired) throw new Error(`expected the lock, but "${result.holder}" holds it`);
  return result.lock;
}

const lease = async (environment: string) =>
  kube.get<Lease>({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    name: `mnist-promote-${environment}`,
    namespace: NS,
  });

/** A clock `seconds` ahead of the real one: a run that comes along after the lease expired. */
const later = (seconds: number) => () => new Date(Date.now() + seconds * 1000);

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe("promotion lock", () => {
  it("is created for the first run, with the labels, and refuses the next naming holder and expiry", async () => {
    const first = held(await acquireLock(kube, request("staging", "octocat via run 123")));
    const stored = await lease("staging");
    expect(stored?.metadata?.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "slipway",
      "slipway.dev/deployment": "mnist",
      "slipway.dev/environment": "staging",
    });
    expect(stored?.spec).toMatchObject({
      holderIdentity: "octocat via run 123",
      leaseDurationSeconds: 30,
      leaseTransitions: 0,
    });
    expect(stored?.spec?.renewTime).toMatch(MICRO_TIME);
    expect(stored?.spec?.acquireTime).toBe(stored?.spec?.renewTime);

    const second = await acquireLock(kube, request("staging", "hubot via run 124"));
    expect(second).toEqual({ acquired: false, holder: "octocat via run 123", expiresAt: first.expiresAt });
    expect(first.expiresAt.getTime()).toBe(Date.parse(stored?.spec?.renewTime ?? "") + 30_000);
    await first.release();
  });

  it("goes to exactly one of ten runs racing for it; the others are told who has it", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => acquireLock(kube, request("race", `run ${i}`))),
    );
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    const winner = held(winners[0] as LockResult);
    for (const r of results.filter((r) => !r.acquired)) expect(r).toMatchObject({ holder: winner.holder });
    expect((await lease("race"))?.spec?.holderIdentity).toBe(winner.holder);

    // Racing for an expired lease: again one winner, one transition.
    const takers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        acquireLock(kube, request("race", `late ${i}`, { now: later(60) })),
      ),
    );
    expect(takers.filter((r) => r.acquired)).toHaveLength(1);
    expect((await lease("race"))?.spec?.leaseTransitions).toBe(1);
  });

  it("is kept by a renewal, which moves renewTime only", async () => {
    const lock = held(await acquireLock(kube, request("renew", "octocat via run 200")));
    const before = (await lease("renew"))?.spec;
    await sleep(20);
    await lock.renew();
    const after = (await lease("renew"))?.spec;
    expect(after?.holderIdentity).toBe("octocat via run 200");
    expect(after?.acquireTime).toBe(before?.acquireTime);
    expect(after?.leaseTransitions).toBe(before?.leaseTransitions);
    expect(Date.parse(after?.renewTime ?? "")).toBeGreaterThan(Date.parse(before?.renewTime ?? ""));
    expect(lock.expiresAt.getTime()).toBe(Date.parse(after?.renewTime ?? "") + 30_000);
    await lock.release();
  });

  it("is taken over once expired, and the old holder's renewal then fails with LockLost", async () => {
    const dead = held(await acquireLock(kube, request("production", "octocat via run 300")));
    const taker = held(
      await acquireLock(kube, request("production", "hubot via run 301", { now: later(31) })),
    );
    const spec = (await lease("production"))?.spec;
    expect(spec).toMatchObject({ holderIdentity: "hubot via run 301", leaseTransitions: 1 });
    expect(spec?.acquireTime).toBe(spec?.renewTime);
    expect(taker.transitions).toBe(1);

    const lost = await dead.renew().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(lost).toBeInstanceOf(LockLost);
    expect((lost as LockLost).heldBy).toBe("hubot via run 301");
    expect((lost as LockLost).message).toContain('"hubot via run 301" took it over');
    // Its release leaves the new holder's lock alone.
    expect(await dead.release()).toBe(false);
    expect((await lease("production"))?.spec?.holderIdentity).toBe("hubot via run 301");
    await taker.release();
  });

  it("is taken over on a real clock once a short lease expired", async () => {
    const dead = held(
      await acquireLock(kube, request("short", "octocat via run 350", { durationSeconds: 2 })),
    );
    let result = await acquireLock(kube, request("short", "hubot via run 351"));
    expect(result).toMatchObject({ acquired: false, holder: "octocat via run 350" });
    for (let i = 0; i < 40 && !result.acquired; i++) {
      await sleep(250);
      result = await acquireLock(kube, request("short", "hubot via run 351"));
    }
    expect(held(result).transitions).toBe(1);
    await expect(dead.renew()).rejects.toBeInstanceOf(LockLost);
    await held(result).release();
  });

  it("is free at once after a release, with its count of transitions kept", async () => {
    const first = held(await acquireLock(kube, request("release", "octocat via run 400")));
    expect(await first.release()).toBe(true);
    expect((await lease("release"))?.spec).toMatchObject({
      holderIdentity: "",
      leaseDurationSeconds: 1,
      leaseTransitions: 0,
    });
    const next = held(await acquireLock(kube, request("release", "hubot via run 401")));
    expect(next.transitions).toBe(1);
    expect(await first.release()).toBe(false);
    await expect(first.renew()).rejects.toThrow(/released it/);
    await next.release();
  });

  it("is kept alive across 5 s although its lease lasts 2 s", async () => {
    const lock = held(
      await acquireLock(kube, request("ramp", "octocat via run 500", { durationSeconds: 2 })),
    );
    const errors: unknown[] = [];
    const stop = lock.keepAlive(500, (e) => errors.push(e));
    for (let waited = 0; waited < 5000; waited += 1000) {
      await sleep(1000);
      const other = await acquireLock(kube, request("ramp", "hubot via run 501", { durationSeconds: 2 }));
      expect(other).toMatchObject({ acquired: false, holder: "octocat via run 500" });
    }
    await stop();
    expect(errors).toEqual([]);
    expect(() => lock.keepAlive(2000, () => {})).toThrow(RangeError);
    // Releasing stops any keep-alive first; none of them reports the release as a lost lock.
    lock.keepAlive(300, (e) => errors.push(e));
    await sleep(700);
    expect(await lock.release()).toBe(true);
    await sleep(700);
    expect(errors).toEqual([]);
  });

  it("reports a keep-alive whose lock was taken over, and stops it", async () => {
    const lock = held(
      await acquireLock(kube, request("taken", "octocat via run 600", { durationSeconds: 2 })),
    );
    const errors: unknown[] = [];
    lock.keepAlive(300, (e) => errors.push(e));
    held(await acquireLock(kube, request("taken", "hubot via run 601", { now: later(10) })));
    for (let i = 0; i < 40 && errors.length === 0; i++) await sleep(100);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(LockLost);
    await sleep(700);
    expect(errors).toHaveLength(1);
  });
});

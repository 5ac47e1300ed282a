// The promotion lock: one coordination.k8s.io/v1 Lease per deployment and environment, so that one
// promotion at a time runs there, and a run that died is taken over once its lease expired instead of
// holding the environment for ever. The Lease's fields are used as the API reference defines them
// (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/lease-v1/) and as client-go's
// leader election (tools/leaderelection) uses them: holderIdentity names the run, renewTime plus
// leaseDurationSeconds is when it expires, leaseTransitions counts changes of holder, acquireTime is
// when the current holder took it, and an empty holderIdentity is a released lock anyone may take.
//
// Every write is conditional. The Lease is made by a create, which fails if another run made it first,
// and changed by an update carrying the resourceVersion that was read, which fails if another run wrote
// in between; either way the lease is read and the decision made again, a bounded number of times. So
// two runs never both hold it. (A server-side apply would not do: it creates when the object is missing
// whoever else is creating it, and changing a field the create recorded under an Update manager is a
// field-manager conflict.)
//
// Unlike client-go, which times a lease on its own clock from when it saw the record change, a run
// here reads the lease once and compares renewTime + leaseDurationSeconds with its own clock: runs on
// different runners must keep their clocks roughly right, and the duration should dwarf their skew.

import type { KubeClient } from "./client.js";
import { isAlreadyExists, isNotFound, isStaleWrite, KubeError, LockLost } from "./errors.js";
import type { KubeObject, ObjectRef } from "./types.js";

/** The Lease's spec as the API server sends it; timestamps are MicroTime strings. */
export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  readonly spec?: LeaseSpec;
}

export interface LockRequest {
  readonly namespace: string;
  /** The Lease's name, e.g. `<deployment>-promote-<environment>`. */
  readonly name: string;
  /** Set on the Lease like on Slipway's other objects (managed-by, deployment, environment). */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Who holds it, e.g. "octocat via run 123": shown to the runs it refuses. Unique per run: a holder
   * finding its own name in the lease takes it as its own (a re-run after a crash need not wait).
   */
  readonly holder: string;
  /** How long the lock outlives its last renewal: a dead holder blocks the environment that long. */
  readonly durationSeconds: number;
  /** The clock (tests move it forward instead of waiting). */
  readonly now?: () => Date;
  readonly signal?: AbortSignal;
}

/** The refusal: another run holds the lock until `expiresAt`, unless it renews it. */
export interface LockHeld {
  readonly acquired: false;
  readonly holder: string;
  readonly expiresAt: Date;
}

export type LockResult = { readonly acquired: true; readonly lock: HeldLock } | LockHeld;

export interface HeldLock {
  readonly namespace: string;
  readonly name: string;
  readonly holder: string;
  /** When the lease, as this run last wrote it, expires. */
  readonly expiresAt: Date;
  /** leaseTransitions as this run last wrote it. */
  readonly transitions: number;
  /** Moves renewTime to now; LockLost if another run holds the lock now (or nobody does). */
  renew(): Promise<void>;
  /**
   * Gives the lock up if it is still this run's, as client-go's ReleaseOnCancel does (LeaderElector
   * .release: an update keeping leaseTransitions, with an empty holderIdentity, leaseDurationSeconds 1
   * and acquireTime = renewTime = now), so the next run takes it at once and the Lease keeps its count
   * of transitions. Stops keep-alives first. False if the lock was no longer this run's.
   */
  release(): Promise<boolean>;
  /**
   * Renews every `intervalMs` (less than the lease's duration) until stopped, released or a renewal
   * fails, which is handed to `onError` and ends the keep-alive. One renewal at a time, each bounded
   * by the client's timeouts; the timer never keeps the process alive. The returned function stops it
   * and resolves once a renewal under way has finished.
   */
  keepAlive(intervalMs: number, onError: (error: unknown) => void): () => Promise<void>;
}

/** What to do about the lease as read: the pure decision each attempt makes. */
export type LockDecision =
  | { readonly action: "create" }
  /** Free, expired or released: take it, one more transition. */
  | { readonly action: "take"; readonly transitions: number }
  /** Already this holder's: renew, keeping when it was acquired. */
  | { readonly action: "keep"; readonly acquireTime: string | undefined; readonly transitions: number }
  | { readonly action: "refuse"; readonly holder: string; readonly expiresAt: Date };

/** Writes whose resourceVersion went stale (or creates that lost a race) retried this many times. */
const MAX_ATTEMPTS = 5;

const LEASE = { apiVersion: "coordination.k8s.io/v1", kind: "Lease" } as const;

/**
 * MicroTime on the wire: RFC 3339 in UTC with exactly six fractional digits, the layout apimachinery
 * marshals and parses (metav1.RFC3339Micro, "2006-01-02T15:04:05.000000Z07:00").
 */
export function formatMicroTime(date: Date): string {
  const iso = date.toISOString(); // 2024-05-01T12:00:00.123Z: milliseconds
  return `${iso.slice(0, 23)}000Z`;
}

/** When the lease expires: renewTime (else acquireTime) + leaseDurationSeconds; undefined if unknowable. */
export function leaseExpiry(spec: LeaseSpec | undefined): Date | undefined {
  const from = spec?.renewTime ?? spec?.acquireTime;
  const seconds = spec?.leaseDurationSeconds;
  if (from === undefined || seconds === undefined) return undefined;
  const at = Date.parse(from);
  return Number.isNaN(at) ? undefined : new Date(at + seconds * 1000);
}

export function lockDecision(lease: Lease | undefined, holder: string, now: Date): LockDecision {
  if (lease === undefined) return { action: "create" };
  const spec = lease.spec;
  const transitions = spec?.leaseTransitions ?? 0;
  const current = spec?.holderIdentity ?? "";
  if (current === holder) return { action: "keep", acquireTime: spec?.acquireTime, transitions };
  // As client-go: an empty holder is free at once; otherwise held while now is before the expiry.
  // A lease without times or duration was never validly held (client-go's zero duration: expired).
  const expiresAt = leaseExpiry(spec);
  if (current !== "" && expiresAt !== undefined && expiresAt.getTime() > now.getTime()) {
    return { action: "refuse", holder: current, expiresAt };
  }
  return { action: "take", transitions: transitions + 1 };
}

export async function acquireLock(kube: KubeClient, request: LockRequest): Promise<LockResult> {
  const now = request.now ?? (() => new Date());
  const signal = request.signal ? { signal: request.signal } : {};
  const ref: ObjectRef = { ...LEASE, name: request.name, namespace: request.namespace };
  for (let attempt = 1; ; attempt++) {
    const live = await kube.get<Lease>(ref, signal);
    const at = now();
    const decision = lockDecision(live, request.holder, at);
    if (decision.action === "refuse") {
      return { acquired: false, holder: decision.holder, expiresAt: decision.expiresAt };
    }
    const stamp = formatMicroTime(at);
    const spec: LeaseSpec = {
      holderIdentity: request.holder,
      leaseDurationSeconds: request.durationSeconds,
      acquireTime: decision.action === "keep" ? (decision.acquireTime ?? stamp) : stamp,
      renewTime: stamp,
      leaseTransitions: decision.action === "create" ? 0 : decision.transitions,
    };
    try {
      const stored =
        live === undefined
          ? await kube.create<Lease>(
              {
                ...LEASE,
                metadata: { name: request.name, namespace: request.namespace, labels: request.labels },
                spec,
              },
              signal,
            )
          : await kube.update<Lease>(
              {
                ...live,
                ...LEASE,
                metadata: {
                  ...live.metadata,
                  labels: { ...live.metadata?.labels, ...request.labels },
                },
                spec,
              },
              signal,
            );
      return { acquired: true, lock: new Lock(kube, request, now, stored) };
    } catch (error) {
      // Another run created or wrote it first, or it was deleted since the read, or a create's reply
      // was lost (it may have landed: the next read shows this holder's name if so).
      const again =
        isAlreadyExists(error) ||
        isStaleWrite(error) ||
        isNotFound(error) ||
        (live === undefined && unsure(error));
      if (!again || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

/** A failure after which a create may or may not have been stored. */
function unsure(error: unknown): boolean {
  return error instanceof KubeError && (error.code !== undefined || (error.status ?? 0) >= 500);
}

class Lock implements HeldLock {
  readonly namespace: string;
  readonly name: string;
  readonly holder: string;
  readonly #kube: KubeClient;
  readonly #durationSeconds: number;
  readonly #now: () => Date;
  readonly #signal: { signal?: AbortSignal };
  /** The lease as this run last wrote or read it while it was still its own. */
  #lease: Lease;
  #released = false;
  /** Renewals and the release run one after another, never overlapping. */
  #tail: Promise<unknown> = Promise.resolve();
  readonly #keepAlives = new Set<() => Promise<void>>();

  constructor(kube: KubeClient, request: LockRequest, now: () => Date, lease: Lease) {
    this.#kube = kube;
    this.namespace = request.namespace;
    this.name = request.name;
    this.holder = request.holder;
    this.#durationSeconds = request.durationSeconds;
    this.#now = now;
    this.#signal = request.signal ? { signal: request.signal } : {};
    this.#lease = lease;
  }

  get expiresAt(): Date {
    return leaseExpiry(this.#lease.spec) ?? new Date(0);
  }

  get transitions(): number {
    return this.#lease.spec?.leaseTransitions ?? 0;
  }

  renew(): Promise<void> {
    return this.#serial(async () => {
      if (this.#released) {
        throw new Error(`renew lock Lease "${this.namespace}/${this.name}": "${this.holder}" released it`);
      }
      await this.#write("renew", () => ({
        ...this.#lease.spec,
        holderIdentity: this.holder,
        leaseDurationSeconds: this.#durationSeconds,
        renewTime: formatMicroTime(this.#now()),
      }));
    });
  }

  async release(): Promise<boolean> {
    await Promise.all([...this.#keepAlives].map((stop) => stop()));
    return this.#serial(async () => {
      if (this.#released) return false;
      try {
        await this.#write("release", () => {
          const stamp = formatMicroTime(this.#now());
          return {
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: stamp,
            renewTime: stamp,
            leaseTransitions: this.transitions,
          };
        });
        this.#released = true;
        return true;
      } catch (error) {
        // Not released for any other failure: the caller may try again (or let the lease expire).
        if (!(error instanceof LockLost)) throw error;
        this.#released = true;
        return false;
      }
    });
  }

  keepAlive(intervalMs: number, onError: (error: unknown) => void): () => Promise<void> {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0 || intervalMs >= this.#durationSeconds * 1000) {
      throw new RangeError(
        `keepAlive: the interval must be more than 0 and less than the lease's ${this.#durationSeconds} s (got ${intervalMs} ms)`,
      );
    }
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    const tick = () => {
      timer = undefined;
      if (stopped) return;
      running = this.renew().then(
        () => {
          if (!stopped) schedule();
        },
        (error: unknown) => {
          if (stopped) return;
          stopped = true;
          this.#keepAlives.delete(stop);
          onError(error);
        },
      );
    };
    const schedule = () => {
      timer = setTimeout(tick, intervalMs);
      timer.unref();
    };
    const stop = async () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      this.#keepAlives.delete(stop);
      await running;
    };
    this.#keepAlives.add(stop);
    schedule();
    return stop;
  }

  /**
   * One conditional update of the lease, with the spec `next` makes from the lease as last known. A
   * stale resourceVersion is read again: still this holder's (its own earlier write, whose reply was
   * lost), it is written again over the new version; anyone else's, or gone, it is LockLost.
   */
  async #write(during: string, next: () => LeaseSpec): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.#lease = await this.#kube.update<Lease>({ ...this.#lease, spec: next() }, this.#signal);
        return;
      } catch (error) {
        if (isNotFound(error)) throw this.#lost(during, undefined);
        if (!isStaleWrite(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
      const live = await this.#kube.get<Lease>(
        { ...LEASE, name: this.name, namespace: this.namespace },
        this.#signal,
      );
      const holder = live?.spec?.holderIdentity ?? "";
      if (live === undefined || holder !== this.holder)
        throw this.#lost(during, holder === "" ? undefined : holder);
      this.#lease = live;
    }
  }

  #lost(during: string, heldBy: string | undefined): LockLost {
    return new LockLost({ namespace: this.namespace, name: this.name, holder: this.holder, heldBy, during });
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(op, op);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

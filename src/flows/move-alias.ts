// Moving an alias: one apply of its route, made conditional when runs can race. The route is read,
// the caller's guard decides whether this run may still move it (a pull request's preview moves only
// to the pull request's current head), and the apply carries the resourceVersion that was read, so a
// write by another run in between fails with 409 Conflict instead of being overwritten; the read and
// the decision are then made again. An older run therefore never moves an alias back over a newer one:
// either its decision came after the newer push (and the guard refuses), or its write came before the
// newer run's (which then wins).
import type { SlipwayConfig } from "../config/types.js";
import { aliasRoute, aliasRouteName, type VersionTarget } from "../deploy/index.js";
import { type KubeClient, KubeError, type KubeObject } from "../kube/index.js";
import type { Plan, PlannedAlias } from "../plan/plan.js";

/** Whether this run may (still) move `alias` to its version; a refusal says why, for the log. */
export type AliasGuard = (alias: PlannedAlias) => Promise<{ move: true } | { move: false; reason: string }>;

/** Stale-object conflicts retried at most this many times: each one means another run just wrote. */
const MAX_CONFLICTS = 5;

export interface MoveAlias {
  plan: Plan;
  config: SlipwayConfig;
  alias: PlannedAlias;
  target: VersionTarget;
  guard?: AliasGuard;
  /** Kept on the route beside its targets (e.g. the pull request's comment). */
  annotations?: Readonly<Record<string, string>>;
  signal?: AbortSignal;
}

export type MoveResult =
  | { moved: true; changed: boolean; route: KubeObject }
  | { moved: false; reason: string };

function isStale(error: unknown): boolean {
  // A 409 is also what a field-manager conflict answers; only a stale resourceVersion is another run's write.
  return error instanceof KubeError && error.status === 409 && /has been modified/.test(error.message);
}

export async function moveAlias(kube: KubeClient, request: MoveAlias): Promise<MoveResult> {
  const { plan, alias } = request;
  const signal = request.signal ? { signal: request.signal } : {};
  const manifest = aliasRoute({
    plan,
    config: request.config,
    alias,
    backends: [{ target: request.target, weight: 100 }],
    ...(request.annotations ? { annotations: request.annotations } : {}),
  }) as unknown as KubeObject;
  for (let attempt = 1; ; attempt++) {
    const ref = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      name: aliasRouteName(plan, alias),
      namespace: plan.namespace,
    };
    const live = request.guard ? await kube.get(ref, signal) : undefined;
    if (request.guard) {
      const decision = await request.guard(alias);
      if (!decision.move) return { moved: false, reason: decision.reason };
    }
    const rv = live?.metadata?.resourceVersion;
    const object: KubeObject =
      rv === undefined ? manifest : { ...manifest, metadata: { ...manifest.metadata, resourceVersion: rv } };
    try {
      const result = await kube.apply(object, {
        ...signal,
        ...(rv !== undefined ? { previousResourceVersion: rv } : {}),
      });
      return { moved: true, changed: result.created || result.changed !== false, route: result.object };
    } catch (error) {
      if (!isStale(error) || attempt >= MAX_CONFLICTS) throw error;
    }
  }
}

// Whether a canary stage went well enough to go on, from facts the route stage has read: the new
// version's replicas and restarts, and the requests it answered in the stage. Pure.
//
// Only evidence passes. Without a probe, or with a probe that saw no requests, nothing is known
// about the new version, and a ramp that raised traffic on no evidence would let a broken version
// reach everyone just because nobody called it: so no data fails the stage.

export type GateDecision = { pass: true } | { pass: false; reason: string };

export interface ProbeCounts {
  /** Requests the new version answered in the stage. */
  requests: number;
  /** Of those, the failed ones (5xx and timeouts). */
  errors: number;
}

export interface GateFacts {
  readyReplicas: number;
  desiredReplicas: number;
  /** Container restarts of the new version's pods since the ramp began. */
  restartsSinceStart: number;
  probe: ProbeCounts | undefined;
  /** The highest error ratio (0–1) that still passes. */
  maxErrorRate: number;
}

const PASS: GateDecision = { pass: true };

function fail(reason: string): GateDecision {
  return { pass: false, reason };
}

function isCount(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

/** A ratio as a percent with at most two decimals: 0.0125 → "1.25%". */
export function percent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(2))}%`;
}

export function gateDecision(facts: GateFacts): GateDecision {
  const { readyReplicas, desiredReplicas, restartsSinceStart, probe, maxErrorRate } = facts;
  if (!isCount(readyReplicas) || !isCount(desiredReplicas) || !isCount(restartsSinceStart)) {
    return fail("the replica counts read are not whole numbers");
  }
  if (desiredReplicas === 0) return fail("the new version wants no replicas");
  if (readyReplicas < desiredReplicas) {
    return fail(`${readyReplicas} of ${desiredReplicas} replicas of the new version are ready`);
  }
  if (restartsSinceStart > 0) {
    return fail(
      `the new version's containers restarted ${restartsSinceStart} time${restartsSinceStart === 1 ? "" : "s"} since the ramp began`,
    );
  }
  if (probe === undefined) return fail("no request counts for the new version: nothing shows it works");
  if (!isCount(probe.requests) || !isCount(probe.errors) || probe.errors > probe.requests) {
    return fail(`request counts are inconsistent (${probe.errors} errors of ${probe.requests} requests)`);
  }
  if (probe.requests === 0) return fail("the new version answered no requests in this stage");
  const rate = probe.errors / probe.requests;
  if (!(rate <= maxErrorRate)) {
    return fail(
      `error rate ${percent(rate)} (${probe.errors} of ${probe.requests} requests) is above the limit of ${percent(maxErrorRate)}`,
    );
  }
  return PASS;
}

export interface RouteFacts {
  /** The route's status has Accepted=True from its Gateway. */
  routeAccepted: boolean;
  /** ...and ResolvedRefs=True: every backend it names exists. */
  resolvedRefs: boolean;
  /** Ready endpoint addresses of the new version's Services. */
  newReadyEndpoints: number;
}

/**
 * Whether a stage's weight may be raised now: a weight the Gateway has not accepted, or one sent to a
 * version without ready endpoints, would be traffic to nowhere.
 */
export function raiseAllowed(facts: RouteFacts): GateDecision {
  if (!facts.routeAccepted) return fail("the Gateway has not accepted the alias route");
  if (!facts.resolvedRefs) return fail("the alias route names a backend the Gateway cannot resolve");
  if (!(facts.newReadyEndpoints > 0)) return fail("the new version has no ready endpoints");
  return PASS;
}

// How long an endpoint's pod may take to start, to answer and to stop, derived from its
// RuntimeSettings: probe periods and thresholds, the Deployment's progress deadline, the termination
// grace period and gunicorn's worker timeouts. Pure; every constant here is one decision.
//
// Stopping a pod runs, in order: the preStop sleep (the router is still sending while the endpoint's
// removal propagates), SIGTERM to PID 1, `drainSeconds` for in-flight requests, SIGKILL at the end of
// terminationGracePeriodSeconds, whose countdown starts before the preStop hook (Kubernetes API
// reference, Lifecycle.preStop).

import type { RuntimeSettings } from "../config/types.js";

/**
 * preStop `sleep` (the native action: alpha 1.29, beta and on by default 1.30, GA 1.34, feature gate
 * PodLifecycleSleepAction). Five seconds covers endpoint removal reaching kube-proxy and Gateway
 * implementations in the common case. Clusters older than 1.30 (or with the gate off) drop the field,
 * so the pod stops at once; there, an `exec: {command: [sleep, "5"]}` preStop hook in an image that
 * has `sleep` is the fallback.
 */
export const PRESTOP_SLEEP_SECONDS = 5;
/** Slack between the server's own drain deadline and the kubelet's SIGKILL. */
export const TERMINATION_MARGIN_SECONDS = 5;

/** The startup probe polls every 10 s: fine enough for minutes-long model loads, cheap for the kubelet. */
export const STARTUP_PROBE_PERIOD_SECONDS = 10;
/** A ready pod joins the router within ~5 s of answering. */
export const READINESS_PROBE_PERIOD_SECONDS = 5;
export const READINESS_FAILURE_THRESHOLD = 3;
/**
 * Liveness is a TCP connect every 10 s, 3 failures (30 s) before a restart: a listening socket accepts
 * even while a sync worker is busy with a long prediction, so only a dead or wedged server fails it.
 * It starts only after the startup probe succeeded, so it never kills a loading model.
 */
export const LIVENESS_PROBE_PERIOD_SECONDS = 10;
export const LIVENESS_FAILURE_THRESHOLD = 3;
/** Every probe may take 5 s: an HTTP health check on a loaded host is slower than the 1 s default. */
export const PROBE_TIMEOUT_SECONDS = 5;

/**
 * The progress deadline covers what happens before the startup probe's budget starts: scheduling,
 * pulling a multi-gigabyte ML image, creating the container. Kubernetes' own default deadline (600 s)
 * is that margin; the model load's budget comes on top.
 */
export const PROGRESS_MARGIN_SECONDS = 600;
/** gunicorn's worker timeout exceeds the router's, so a slow request ends in the router's 504, not a killed worker. */
export const GUNICORN_TIMEOUT_MARGIN_SECONDS = 5;

/** Startup probe failures allowed: the startup budget in probe periods, rounded up. */
export function startupFailureThreshold(runtime: RuntimeSettings): number {
  return Math.max(1, Math.ceil(runtime.startupTimeoutSeconds / STARTUP_PROBE_PERIOD_SECONDS));
}

/** Seconds the startup probe lets a server take before the kubelet restarts it (≥ startupTimeoutSeconds). */
export function startupBudgetSeconds(runtime: RuntimeSettings): number {
  return startupFailureThreshold(runtime) * STARTUP_PROBE_PERIOD_SECONDS;
}

export function progressDeadlineSeconds(runtime: RuntimeSettings): number {
  return startupBudgetSeconds(runtime) + PROGRESS_MARGIN_SECONDS;
}

export function terminationGracePeriodSeconds(runtime: RuntimeSettings): number {
  return PRESTOP_SLEEP_SECONDS + runtime.drainSeconds + TERMINATION_MARGIN_SECONDS;
}

/**
 * GUNICORN_CMD_ARGS for a `wsgi` endpoint. `--timeout`: a sync worker silent that long is killed,
 * so it must outlast the longest request the router allows. `--graceful-timeout`: after SIGTERM,
 * workers get this long to finish their requests (gunicorn's settings reference), the drain.
 * `--preload`: the master loads the app (the model) before it binds the port — gunicorn's Arbiter
 * runs setup, which loads a preloaded app, before start, which creates the listeners — so a TCP
 * readiness probe passes only once the model is loaded, not while workers are still loading it.
 * GUNICORN_CMD_ARGS ranks above a gunicorn.conf.py and below the command line.
 */
export function gunicornArgs(runtime: RuntimeSettings): string {
  const timeout = runtime.requestTimeoutSeconds + GUNICORN_TIMEOUT_MARGIN_SECONDS;
  return `--preload --timeout=${timeout} --graceful-timeout=${runtime.drainSeconds}`;
}

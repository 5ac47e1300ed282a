// A canary ramp's state, kept in the `slipway.dev/ramp` annotation of the alias route it moves, and
// what to do next from it. Pure; the time and the gate's decision are passed in.
//
// The state and the weights it implies live on one object, so each step is one apply: a ramp
// cannot be recorded at one stage while the route serves another. Stages run on the schedule of
// `canarySchedule`; a stage's gate is judged when the stage is due to end, and only a pass raises
// the next one (a gate that was not read counts as a failure). Every stage, the last (100 %) too,
// is watched before the ramp finishes.
//
// The old version keeps all its replicas until no weight points at it and a delay has passed since:
// a Gateway applies a route some time after accepting it, and scaling down on the accepting alone
// drops requests still sent to the old pods (Argo Rollouts #4390, #4926). Then it is scaled to zero,
// not deleted, so a rollback needs no rebuild.
import {
  array,
  boolean,
  bounded,
  type Decoded,
  decodeWith,
  field,
  integer,
  invalid,
  item,
  object,
  oneOf,
  type Path,
  text,
  time,
  version,
} from "./annotation-json.js";
import { canarySchedule, MAX_STAGES, stageWeight } from "./canary-schedule.js";
import type { GateDecision } from "./gate.js";

export const ANNOTATION_RAMP = "slipway.dev/ramp";
/** Gate results kept on the state, newest last: enough to show why a ramp went as it did. */
export const MAX_GATES = 20;
export const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 5 * 60;
/** The longest window the decoder believes: a year. */
export const MAX_WINDOW_SECONDS = 366 * 86400;

export type RampStatus = "ramping" | "done" | "aborted" | "failed";
const STATUSES: readonly RampStatus[] = ["ramping", "done", "aborted", "failed"];

export interface GateRecord {
  stage: number;
  pass: boolean;
  reason?: string;
  at: Date;
}

export interface RampState {
  v: 1;
  /** The version the alias pointed at when the ramp began. */
  from: string;
  to: string;
  stages: number;
  windowSeconds: number;
  startedAt: Date;
  /** Stages raised so far: 0 before the first, `stages` once the new version has all the traffic. */
  stage: number;
  /** The new version's percent in each stage, from `canarySchedule`. */
  weights: number[];
  startedBy: string;
  /** Why the ramp stopped, when it was aborted or failed. */
  reason?: string;
  status: RampStatus;
  /** The last MAX_GATES gate results, oldest first. */
  gates: GateRecord[];
  /** When the ramp finished, failed or was aborted. */
  endedAt?: Date;
  /** A finished ramp's old version is scaled to zero from then on; absent once it has been. */
  scaleDownAfter?: Date;
}

export type RampStep =
  | { kind: "wait"; until: Date }
  | { kind: "raise"; stage: number; weight: number }
  | { kind: "rollback"; reason: string }
  | { kind: "finish" }
  | { kind: "scale-down-old"; at: Date }
  /** Nothing is left to do: the ramp stopped, or finished and the old version was scaled down. */
  | { kind: "settled" };

export interface RampFacts {
  now: Date;
  /** The current stage's gate, read when the stage is due to end. */
  gate?: GateDecision;
}

export interface StartRamp {
  from: string;
  to: string;
  stages: number;
  windowSeconds: number;
  startedAt: Date;
  startedBy: string;
}

export function startRamp(input: StartRamp): RampState {
  const schedule = canarySchedule(input);
  return {
    v: 1,
    from: input.from,
    to: input.to,
    stages: input.stages,
    windowSeconds: input.windowSeconds,
    startedAt: input.startedAt,
    stage: 0,
    weights: schedule.stages.map((s) => s.weight),
    startedBy: bounded(input.startedBy),
    status: "ramping",
    gates: [],
  };
}

/** The alias's split in percent the state stands for. */
export function rampWeights(state: RampState): { from: number; to: number } {
  const to =
    state.status === "done"
      ? 100
      : state.status === "ramping"
        ? state.stage === 0
          ? 0
          : (state.weights[state.stage - 1] ?? 0)
        : 0;
  return { from: 100 - to, to };
}

export function nextRampStep(state: RampState, facts: RampFacts): RampStep {
  const now = facts.now.getTime();
  if (state.status === "done") {
    if (state.scaleDownAfter === undefined) return { kind: "settled" };
    return now < state.scaleDownAfter.getTime()
      ? { kind: "wait", until: state.scaleDownAfter }
      : { kind: "scale-down-old", at: state.scaleDownAfter };
  }
  if (state.status !== "ramping") return { kind: "settled" };

  const schedule = canarySchedule(state);
  const next = schedule.stages[state.stage];
  const due = next === undefined ? schedule.endsAt : next.at;
  if (now < due.getTime()) return { kind: "wait", until: due };
  if (state.stage > 0) {
    const weight = state.weights[state.stage - 1] ?? 0;
    const at = `stage ${state.stage} (${weight}%)`;
    if (facts.gate === undefined) return { kind: "rollback", reason: `${at} ended without a gate reading` };
    if (!facts.gate.pass) return { kind: "rollback", reason: `${at}: ${facts.gate.reason}` };
  }
  return next === undefined ? { kind: "finish" } : { kind: "raise", stage: next.stage, weight: next.weight };
}

function withGate(state: RampState, record: GateRecord): GateRecord[] {
  return [...state.gates, record].slice(-MAX_GATES);
}

export interface AdvanceOptions {
  scaleDownDelaySeconds?: number;
}

/**
 * The state once `step` (from `nextRampStep` with the same facts) has been done; written with the
 * weights `rampWeights` gives it, in one apply.
 */
export function advanceRamp(
  state: RampState,
  step: RampStep,
  facts: RampFacts,
  options: AdvanceOptions = {},
): RampState {
  const passed = (): GateRecord[] =>
    state.stage === 0 ? state.gates : withGate(state, { stage: state.stage, pass: true, at: facts.now });
  switch (step.kind) {
    case "wait":
    case "settled":
      return state;
    case "raise":
      return { ...state, stage: step.stage, gates: passed() };
    case "finish": {
      const delay = (options.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS) * 1000;
      return {
        ...state,
        status: "done",
        gates: passed(),
        endedAt: facts.now,
        scaleDownAfter: new Date(facts.now.getTime() + delay),
      };
    }
    case "rollback": {
      const reason = bounded(step.reason);
      const failed = facts.gate !== undefined && !facts.gate.pass ? bounded(facts.gate.reason) : reason;
      return {
        ...state,
        status: "failed",
        reason,
        endedAt: facts.now,
        gates:
          state.stage === 0
            ? state.gates
            : withGate(state, { stage: state.stage, pass: false, reason: failed, at: facts.now }),
      };
    }
    case "scale-down-old": {
      const { scaleDownAfter: _, ...rest } = state;
      return rest;
    }
  }
}

export type AbortResult = { aborted: true; state: RampState } | { aborted: false; reason: string };

/** `/abort`: the new version's weight back to 0 now. Only a ramp still ramping can be aborted. */
export function abortRamp(state: RampState, now: Date, reason: string): AbortResult {
  if (state.status !== "ramping") {
    return {
      aborted: false,
      reason: `the ramp from ${state.from} to ${state.to} is ${state.status} already`,
    };
  }
  return { aborted: true, state: { ...state, status: "aborted", reason: bounded(reason), endedAt: now } };
}

export function encodeRamp(state: RampState): string {
  return JSON.stringify({
    v: state.v,
    from: state.from,
    to: state.to,
    stages: state.stages,
    windowSeconds: state.windowSeconds,
    startedAt: state.startedAt.toISOString(),
    stage: state.stage,
    weights: state.weights,
    startedBy: state.startedBy,
    ...(state.reason !== undefined ? { reason: state.reason } : {}),
    status: state.status,
    gates: state.gates.map((g) => ({
      stage: g.stage,
      pass: g.pass,
      ...(g.reason !== undefined ? { reason: g.reason } : {}),
      at: g.at.toISOString(),
    })),
    ...(state.endedAt !== undefined ? { endedAt: state.endedAt.toISOString() } : {}),
    ...(state.scaleDownAfter !== undefined ? { scaleDownAfter: state.scaleDownAfter.toISOString() } : {}),
  });
}

function readGate(value: unknown, path: Path, stage: number): GateRecord {
  const raw = object(value, path, ["stage", "pass", "at"], ["reason"]);
  return {
    stage: integer(raw.stage, field(path, "stage"), 1, stage),
    pass: boolean(raw.pass, field(path, "pass")),
    ...(raw.reason !== undefined ? { reason: text(raw.reason, field(path, "reason")) } : {}),
    at: time(raw.at, field(path, "at")),
  };
}

/** The weights are the schedule's: stored so readers need not know the rule, checked so none differs. */
function readWeights(value: unknown, stages: number): number[] {
  const list = array(value, "weights", MAX_STAGES);
  if (list.length !== stages) invalid("weights", `${list.length} weights for ${stages} stages`);
  return list.map((w, i) => {
    const weight = integer(w, item("weights", i), 1, 100);
    const expected = stageWeight(i + 1, stages);
    if (weight !== expected)
      invalid(item("weights", i), `not ${expected}, stage ${i + 1} of ${stages}'s weight`);
    return weight;
  });
}

function readRamp(value: unknown): RampState {
  const raw = object(
    value,
    "",
    [
      "v",
      "from",
      "to",
      "stages",
      "windowSeconds",
      "startedAt",
      "stage",
      "weights",
      "startedBy",
      "status",
      "gates",
    ],
    ["reason", "endedAt", "scaleDownAfter"],
  );
  if (raw.v !== 1) invalid("v", "not a ramp state version this Slipway reads (1)");
  const from = version(raw.from, "from");
  const to = version(raw.to, "to");
  if (from === to) invalid("to", "the same version as from");
  const stages = integer(raw.stages, "stages", 1, MAX_STAGES);
  const windowSeconds = integer(raw.windowSeconds, "windowSeconds", 0, MAX_WINDOW_SECONDS);
  const startedAt = time(raw.startedAt, "startedAt");
  const stage = integer(raw.stage, "stage", 0, stages);
  const weights = readWeights(raw.weights, stages);
  const startedBy = text(raw.startedBy, "startedBy");
  const status = oneOf(raw.status, "status", STATUSES);
  const gates = array(raw.gates, "gates", MAX_GATES).map((g, i) => readGate(g, item("gates", i), stage));
  const reason = raw.reason === undefined ? undefined : text(raw.reason, "reason");
  const endedAt = raw.endedAt === undefined ? undefined : time(raw.endedAt, "endedAt");
  const scaleDownAfter =
    raw.scaleDownAfter === undefined ? undefined : time(raw.scaleDownAfter, "scaleDownAfter");

  if (status === "ramping" && endedAt !== undefined) invalid("endedAt", "set on a ramp still ramping");
  if (status !== "ramping" && endedAt === undefined) invalid("endedAt", `missing on a ramp ${status}`);
  if (endedAt !== undefined && endedAt < startedAt) invalid("endedAt", "before startedAt");
  if (status === "done" && stage !== stages) invalid("stage", `${stage} of ${stages} on a finished ramp`);
  if (scaleDownAfter !== undefined && status !== "done") invalid("scaleDownAfter", `set on a ramp ${status}`);
  return {
    v: 1,
    from,
    to,
    stages,
    windowSeconds,
    startedAt,
    stage,
    weights,
    startedBy,
    ...(reason !== undefined ? { reason } : {}),
    status,
    gates,
    ...(endedAt !== undefined ? { endedAt } : {}),
    ...(scaleDownAfter !== undefined ? { scaleDownAfter } : {}),
  };
}

/** The state from the annotation's text, or where it is wrong. */
export function decodeRamp(annotation: string): Decoded<RampState> {
  return decodeWith(ANNOTATION_RAMP, annotation, readRamp);
}

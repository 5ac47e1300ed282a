// A canary's schedule: when each stage of the ramp begins and which share of the alias's traffic the
// new version gets in it. Pure; the start time is passed in.
//
// With n stages over a window of W seconds, stage k (1 ≤ k ≤ n) begins at startedAt + (k−1)·W/n
// (milliseconds, rounded down) and gives the new version round(100·k/n) percent; the last stage is
// always 100. Every stage lasts W/n, so the ramp ends at startedAt + W, after the last stage too has
// been watched. One stage goes to 100 % at once; a window of 0 makes every stage due at the start,
// each still waiting for its gate.

/** At most as many stages as integer percents: more would give two stages the same weight. */
export const MAX_STAGES = 100;

export interface CanaryStage {
  /** 1-based. */
  stage: number;
  /** The new version's share of the alias's traffic, integer percent. */
  weight: number;
  at: Date;
}

export interface CanarySchedule {
  stages: CanaryStage[];
  /** When the last stage has been held for its length too: the ramp may finish. */
  endsAt: Date;
}

export interface ScheduleInput {
  stages: number;
  windowSeconds: number;
  startedAt: Date;
}

/** Inputs reach here checked (config schema, `--steps`, the ramp state's decoder); others are bugs. */
export class ScheduleError extends Error {
  override name = "ScheduleError";
}

/** round(100·k/n) in integers: ⌊(200k + n) / 2n⌋, halves rounding up, without floating point. */
export function stageWeight(stage: number, stages: number): number {
  return Math.floor((200 * stage + stages) / (2 * stages));
}

export function canarySchedule(input: ScheduleInput): CanarySchedule {
  const { stages, windowSeconds, startedAt } = input;
  if (!Number.isInteger(stages) || stages < 1 || stages > MAX_STAGES) {
    throw new ScheduleError(`a canary has 1–${MAX_STAGES} stages, not ${stages}`);
  }
  if (!Number.isInteger(windowSeconds) || windowSeconds < 0) {
    throw new ScheduleError(`a canary window is a whole number of seconds ≥ 0, not ${windowSeconds}`);
  }
  const start = startedAt.getTime();
  if (!Number.isFinite(start)) throw new ScheduleError("a canary's start time is not a valid time");
  const windowMs = windowSeconds * 1000;
  return {
    stages: Array.from({ length: stages }, (_, i) => ({
      stage: i + 1,
      weight: stageWeight(i + 1, stages),
      at: new Date(start + Math.floor((windowMs * i) / stages)),
    })),
    endsAt: new Date(start + windowMs),
  };
}

/** The latest stage begun by `now` (0 before the first). */
export function dueStage(schedule: CanarySchedule, now: Date): number {
  let due = 0;
  for (const s of schedule.stages) {
    if (s.at.getTime() <= now.getTime()) due = s.stage;
  }
  return due;
}

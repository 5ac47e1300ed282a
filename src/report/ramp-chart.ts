// A canary ramp for a pull request comment or job summary: the new version's weight over time as a
// Mermaid `xychart-beta` chart (GitHub renders Mermaid blocks), and the same as a table for readers
// that do not. The state is read from the cluster, so every value in it is made inert: Markdown
// through markdown.ts, Mermaid text cut to a plain character set. Pure and deterministic: times are
// shown relative to the ramp's start, from the state alone.
import { canarySchedule } from "../route/canary-schedule.js";
import type { GateRecord, RampState } from "../route/ramp-state.js";
import { code, codeBlock, text } from "./markdown.js";

export interface RampPoint {
  /** Milliseconds since the ramp began. */
  elapsedMs: number;
  /** The new version's percent from then on. */
  weight: number;
}

/** `+1h30m`, `+3m`, `+45s`, `+0s`: whole seconds since the start. */
export function elapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts = [h > 0 ? `${h}h` : "", m > 0 ? `${m}m` : "", s > 0 ? `${s}s` : ""].join("");
  return `+${parts === "" ? "0s" : parts}`;
}

/** The weight's changes: each stage reached at its scheduled time, then the end (100 or back to 0). */
export function rampPoints(state: RampState): RampPoint[] {
  const start = state.startedAt.getTime();
  const schedule = canarySchedule(state);
  const points = schedule.stages
    .filter((s) => s.stage <= state.stage)
    .map((s) => ({ elapsedMs: s.at.getTime() - start, weight: s.weight }));
  if (state.endedAt !== undefined) {
    points.push({ elapsedMs: state.endedAt.getTime() - start, weight: state.status === "done" ? 100 : 0 });
  }
  return points.length > 0 ? points : [{ elapsedMs: 0, weight: 0 }];
}

/** Mermaid reads quotes, brackets, `%%` and more as syntax: only a plain set of characters passes. */
function mermaidText(value: string): string {
  return value.replace(/[^A-Za-z0-9 ._+-]/g, "_").slice(0, 80);
}

function headline(state: RampState): string {
  const move = `${code(state.from)} → ${code(state.to)}`;
  const stage = `stage ${state.stage} of ${state.stages}`;
  const why = state.reason === undefined ? "" : `: ${text(state.reason)}`;
  switch (state.status) {
    case "ramping":
      return `Canary ${move}: ramping, ${stage}`;
    case "done":
      return `Canary ${move}: done, all traffic on ${code(state.to)}`;
    case "failed":
      return `Canary ${move}: rolled back at ${stage}${why}`;
    case "aborted":
      return `Canary ${move}: aborted at ${stage}${why}`;
  }
}

/** The chart alone, as a fenced `mermaid` block. */
export function rampChart(state: RampState): string {
  const points = rampPoints(state);
  const lines = [
    "xychart-beta",
    `  title "Traffic to ${mermaidText(state.to)}"`,
    `  x-axis "time since start" [${points.map((p) => `"${elapsed(p.elapsedMs)}"`).join(", ")}]`,
    `  y-axis "percent of requests" 0 --> 100`,
    `  line [${points.map((p) => p.weight).join(", ")}]`,
  ];
  return codeBlock(lines.join("\n"), "mermaid");
}

function stageState(state: RampState, stage: number, gate: GateRecord | undefined): string {
  if (gate !== undefined)
    return gate.pass ? "passed" : `failed${gate.reason ? `: ${text(gate.reason)}` : ""}`;
  if (stage < state.stage || state.status === "done") return "passed";
  if (stage === state.stage) return state.status === "ramping" ? "current" : text(state.status);
  return state.status === "ramping" ? "planned" : "not reached";
}

/** Each stage's weight, start and outcome, as a Markdown table. */
export function rampTable(state: RampState): string {
  const start = state.startedAt.getTime();
  const schedule = canarySchedule(state);
  const rows = schedule.stages.map((s) => {
    const gate = state.gates.findLast((g) => g.stage === s.stage);
    return `| ${s.stage} | ${s.weight}% | ${elapsed(s.at.getTime() - start)} | ${stageState(state, s.stage, gate)} |`;
  });
  return ["| stage | weight | from | gate |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** Headline, chart and table: the ramp as a comment or summary shows it. */
export function rampReport(state: RampState): string {
  const started = `Started ${code(state.startedAt.toISOString())} by ${text(state.startedBy)}; ${state.stages} stages over ${elapsed(state.windowSeconds * 1000).slice(1)}.`;
  return [headline(state), "", started, "", rampChart(state), "", rampTable(state)].join("\n");
}

// Scans everything a run of the bundled Action leaves for people or later steps to read — the log
// (minus the mask commands themselves), stderr, GITHUB_OUTPUT and the job summary — for secrets.
import { expect } from "vitest";
import type { ActionRun } from "./run-action.js";

export function visibleOutput(run: ActionRun): string {
  const stdout = run.stdout
    .split("\n")
    .filter((line) => !line.startsWith("::add-mask::"))
    .join("\n");
  return [stdout, run.stderr, run.output, run.summary].join("\n");
}

/** Each secret, and its base64 forms as an HTTP Basic header would carry it, appears nowhere visible. */
export function expectNoSecret(run: ActionRun, secrets: readonly string[], user?: string): void {
  const text = visibleOutput(run);
  for (const secret of secrets) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(Buffer.from(secret).toString("base64"));
    if (user !== undefined) expect(text).not.toContain(Buffer.from(`${user}:${secret}`).toString("base64"));
  }
}

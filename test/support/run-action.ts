// Runs the bundled Action (dist/index.js) exactly as the runner does: under Node 24 (action.yml's
// `using: node24`), inputs and context in environment variables, a webhook payload in GITHUB_EVENT_PATH, outputs read back from GITHUB_OUTPUT.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureNode24 } from "./node24.js";

export { webhookPayload } from "./github-events.js";

const exec = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The GITHUB_OUTPUT file's text. */
  output: string;
  summary: string;
}

export async function runAction(
  inputs: Record<string, string>,
  workspace: string,
  event: unknown,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-action-"));
  const files = {
    event: join(dir, "event.json"),
    output: join(dir, "output"),
    summary: join(dir, "summary.md"),
  };
  writeFileSync(files.event, JSON.stringify(event));
  writeFileSync(files.output, "");
  writeFileSync(files.summary, "");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    RUNNER_TEMP: dir,
    GITHUB_ACTIONS: "true",
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: "Codertocat/Hello-World",
    GITHUB_SHA: "0000000000000000000000000000000000000000",
    GITHUB_EVENT_NAME: "pull_request",
    GITHUB_EVENT_PATH: files.event,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    ...extraEnv,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const result = await exec(await ensureNode24(), [join(root, "dist/index.js")], {
    env,
    timeout: 120_000,
  }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      code: e.code,
    }),
  );
  return {
    ...result,
    output: readFileSync(files.output, "utf8"),
    summary: readFileSync(files.summary, "utf8"),
  };
}

/** Values from the GITHUB_OUTPUT file (the heredoc format @actions/core writes). */
export function actionOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) out[m[1] as string] = m[3] as string;
  return out;
}

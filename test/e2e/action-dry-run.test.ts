// Drives the bundled Action (dist/index.js) exactly as the runner does: inputs and context in
// environment variables, a real webhook payload in GITHUB_EVENT_PATH, outputs read from GITHUB_OUTPUT.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import { describe, expect, it } from "vitest";

const exec = promisify(execFile);
// The package's entry point is a JSON file; require reads it as the runner-independent data it is.
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as WebhookDefinition[];
const root = new URL("../../", import.meta.url).pathname;

function payload(event: string, action: string): unknown {
  const found = examples
    .find((e) => e.name === event)
    ?.examples.find((e) => (e as { action?: string }).action === action);
  if (!found) throw new Error(`no ${event}.${action} example`);
  return found;
}

async function runAction(inputs: Record<string, string>, workspace: string, event: unknown) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-e2e-"));
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
    GITHUB_ACTIONS: "true",
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: "Codertocat/Hello-World",
    GITHUB_SHA: "0000000000000000000000000000000000000000",
    GITHUB_EVENT_NAME: "pull_request",
    GITHUB_EVENT_PATH: files.event,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const result = await exec(process.execPath, [join(root, "dist/index.js")], { env, timeout: 30_000 }).then(
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

/** Values from the GITHUB_OUTPUT file (heredoc format written by @actions/core). */
function outputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) out[m[1] as string] = m[3] as string;
  return out;
}

describe("the bundled Action on a pull_request event", () => {
  it("plans the preview in dry-run: outputs, job summary, head commit of the PR", async () => {
    const event = payload("pull_request", "opened") as {
      number: number;
      pull_request: { head: { sha: string } };
    };
    const r = await runAction({ "dry-run": "true" }, join(root, "fixtures/sample-repo"), event);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = outputs(r.output);
    const version = event.pull_request.head.sha.slice(0, 12);
    expect(out.version).toBe(version);
    expect(out.deployment).toBe("mnist");
    expect(JSON.parse(out.urls ?? "{}")).toEqual({
      "predict-digits": `https://ml.example.com/codertocat/hello-world/mnist/${version}/predict-digits`,
      "health-check": `https://ml.example.com/codertocat/hello-world/mnist/${version}/health-check`,
    });
    const plan = JSON.parse(out.plan ?? "{}") as { aliases: { name: string }[] };
    expect(plan.aliases.map((a) => a.name)).toEqual([`pr-${event.number}`]);
    expect(r.summary).toContain("| `predict-digits` | 8000 |");
  });

  it("annotates every config problem on the file and fails before building anything", async () => {
    const workspace = mkdtempSync(join(tmpdir(), "slipway-ws-"));
    writeFileSync(
      join(workspace, "valohai.yaml"),
      ["- endpoint:", "    name: Server-endpoint", "    image: x", "    port: 80", "    wsgi: app"].join(
        "\n",
      ),
    );
    const r = await runAction({ "dry-run": "true" }, workspace, payload("pull_request", "opened"));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "::error title=Slipway config,file=valohai.yaml,line=2,col=11::endpoint 'Server-endpoint': name 'Server-endpoint' is invalid",
    );
    expect(r.stdout).toContain(
      "::error title=Slipway config,file=valohai.yaml,line=4,col=11::endpoint 'Server-endpoint': port 80 is out of range",
    );
    expect(r.stdout).toContain("::error::2 problems in valohai.yaml; nothing was built or deployed");
    expect(outputs(r.output)).toEqual({});
  });

  it("says plainly that only dry-run is available when asked to deploy", async () => {
    const r = await runAction({}, join(root, "fixtures/sample-repo"), payload("pull_request", "opened"));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("::error::This release of Slipway plans only: set `dry-run: true`.");
  });
});

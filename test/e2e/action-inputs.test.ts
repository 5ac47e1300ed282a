// The bundled Action holding the line on what it is given: the event payload it acts on, the inputs,
// and a pull request's config asking for things only the workflow may allow.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { actionOutputs, runAction, webhookPayload } from "../support/run-action.js";

const root = new URL("../../", import.meta.url).pathname;
const sample = join(root, "fixtures/sample-repo");

/** The sample repository with its config's text changed by `edit`. */
function sampleWith(edit: (config: string) => string): string {
  const workspace = mkdtempSync(join(tmpdir(), "slipway-e2e-"));
  cpSync(sample, workspace, { recursive: true });
  const file = join(workspace, "valohai.yaml");
  writeFileSync(file, edit(readFileSync(file, "utf8")));
  return workspace;
}

describe("the event payload", () => {
  it("is required for a pull_request event: a missing file is an error, not a plain commit build", async () => {
    const r = await runAction(
      { "dry-run": "true" },
      sample,
      {},
      { GITHUB_EVENT_PATH: join(tmpdir(), "no-such-event.json") },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /::error::cannot read the pull_request event's payload at .*no-such-event\.json/,
    );
    expect(actionOutputs(r.output)).toEqual({});
  });

  it("is refused when it is not JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-event-"));
    writeFileSync(join(dir, "event.json"), "{ not json");
    const r = await runAction(
      { "dry-run": "true" },
      sample,
      {},
      { GITHUB_EVENT_PATH: join(dir, "event.json") },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("it is not valid JSON");
  });

  it("is refused when a pull_request event's payload has no pull request", async () => {
    const r = await runAction({ "dry-run": "true" }, sample, webhookPayload("push", undefined));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("the pull_request event's payload has no pull_request.head.sha");
  });

  it("is optional for a workflow_dispatch run", async () => {
    const r = await runAction(
      { "dry-run": "true" },
      sample,
      {},
      { GITHUB_EVENT_NAME: "workflow_dispatch", GITHUB_EVENT_PATH: "", GITHUB_SHA: "a".repeat(40) },
    );
    expect(r.code).toBe(0);
    expect(actionOutputs(r.output).version).toBe("a".repeat(12));
  });
});

describe("inputs", () => {
  it.each([
    [{ namespace: "Prod_NS" }, "input 'namespace' must be a Kubernetes namespace name"],
    [{ registry: "https://ghcr.io/acme" }, "input 'registry' must be an image repository prefix"],
    [{ "base-url": "https://bot:hunter2@ml.example.com" }, "got 'https://***@ml.example.com'"],
  ])("%j is refused before anything is planned", async (inputs, message) => {
    const r = await runAction(
      { "dry-run": "true", ...inputs },
      sample,
      webhookPayload("pull_request", "opened"),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(message);
    expect(r.stdout + r.output + r.summary).not.toContain("hunter2");
    expect(actionOutputs(r.output)).toEqual({});
  });
});

describe("a pull request's config", () => {
  it("cannot choose the docker builder, which runs its Dockerfile's steps on the runner, without the workflow's builder input", async () => {
    const workspace = sampleWith((c) =>
      c.replace("    name: mnist\n", "    name: mnist\n    builder: docker\n"),
    );
    const r = await runAction(
      { "dry-run": "false", registry: "ghcr.io/codertocat/hello-world" },
      workspace,
      webhookPayload("pull_request", "opened"),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "for a pull request only the workflow may choose it: set the Action's `builder` input to docker",
    );
    expect(actionOutputs(r.output).images).toBeUndefined();
  });

  it("cannot put HTML or markdown into the job summary through its base-url", async () => {
    const workspace = sampleWith((c) =>
      c.replace("https://ml.example.com", "https://ml.example.com/<script>alert(1)</script>"),
    );
    const r = await runAction({ "dry-run": "true" }, workspace, webhookPayload("pull_request", "opened"));
    expect(r.code).toBe(0);
    expect(r.summary).not.toContain("<script>");
    expect(r.summary).toContain("<https://ml.example.com/%3Cscript%3Ealert(1)%3C/script%3E/codertocat/");
  });
});

// The trust boundary, written as the attacks: a pull request's config tries to steer the runner's
// credentials to a registry it controls, or the runner's docker login to another repository; a fork's
// pull request tries to get built with credentials. Each attacker registry below records every request:
// none may reach it, and nothing secret may show in anything the run leaves behind.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RecordingServer, startRecordingServer } from "../support/recording-server.js";
import { actionOutputs, runAction, webhookPayload } from "../support/run-action.js";
import { expectNoSecret } from "../support/secret-scan.js";

const root = new URL("../../", import.meta.url).pathname;
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-secret`;
const TOKEN = `ghs_${Math.random().toString(36).slice(2)}jobtoken`;

let attacker: RecordingServer;
let trusted: RecordingServer;

/** The build sample, its base image in the stack's registry, with `deployment` lines the "pull request" wrote. */
function workspaceWith(deploymentLines: string): string {
  const workspace = mkdtempSync(join(tmpdir(), "slipway-trust-"));
  cpSync(join(root, "fixtures/build-sample"), workspace, { recursive: true });
  const python = process.env.SLIPWAY_TEST_PYTHON_IMAGE;
  if (!python) throw new Error("SLIPWAY_TEST_PYTHON_IMAGE is not set: run through the integration project");
  const config = readFileSync(join(workspace, "valohai.yaml"), "utf8")
    .replaceAll("127.0.0.1:5000/slipway-test/python:bookworm", python)
    .replace("- deployment:\n    name: sample", `- deployment:\n    name: sample\n${deploymentLines}`);
  writeFileSync(join(workspace, "valohai.yaml"), config);
  return workspace;
}

beforeAll(async () => {
  [attacker, trusted] = await Promise.all([startRecordingServer(), startRecordingServer()]);
});

beforeEach(() => {
  attacker.requests.length = 0;
  trusted.requests.length = 0;
});

afterAll(async () => {
  await Promise.all([attacker?.stop(), trusted?.stop()]);
});

describe("a pull request's config cannot steer credentials", () => {
  it("gets no registry-password for a registry the workflow did not name, and is told which input allows it", async () => {
    const workspace = workspaceWith(`    registry: ${attacker.host}/loot`);
    const run = await runAction(
      { "dry-run": "false", "registry-username": "bot", "registry-password": PASSWORD },
      workspace,
      webhookPayload("pull_request", "opened"),
      { GITHUB_TOKEN: TOKEN },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::.*did not allow.*the Action's `registry` input/);
    expect(attacker.requests).toEqual([]);
    expectNoSecret(run, [PASSWORD, TOKEN], "bot");
  });

  it("cannot aim the runner's docker login at a repository the workflow did not name", async () => {
    const dockerConfig = mkdtempSync(join(tmpdir(), "slipway-docker-config-"));
    const auth = Buffer.from(`bot:${PASSWORD}`).toString("base64");
    writeFileSync(
      join(dockerConfig, "config.json"),
      JSON.stringify({ auths: { [attacker.host]: { auth } } }),
    );
    const workspace = workspaceWith(`    registry: ${attacker.host}/other-team/their-model`);
    const run = await runAction({ "dry-run": "false" }, workspace, webhookPayload("pull_request", "opened"), {
      DOCKER_CONFIG: dockerConfig,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `set the Action's \`registry\` input to ${attacker.host}/other-team/their-model`,
    );
    expect(attacker.requests).toEqual([]);
    expectNoSecret(run, [PASSWORD], "bot");
  });

  it("sends the password only to the registry the workflow named", async () => {
    const workspace = workspaceWith(`    registry: ${attacker.host}/loot`);
    const run = await runAction(
      {
        "dry-run": "false",
        registry: `${trusted.host}/acme`,
        "registry-username": "bot",
        "registry-password": PASSWORD,
      },
      workspace,
      webhookPayload("pull_request", "opened"),
    );
    // The input wins over the config; the trusted registry refuses the password, so the push fails there.
    expect(run.code).toBe(1);
    expect(attacker.requests).toEqual([]);
    const basic = `Basic ${Buffer.from(`bot:${PASSWORD}`).toString("base64")}`;
    expect(trusted.requests.some((r) => r.headers.authorization === basic)).toBe(true);
    expectNoSecret(run, [PASSWORD], "bot");
  });
});

describe("a fork's pull request", () => {
  it("is planned, never built, and no credential is read or sent", async () => {
    const event = structuredClone(webhookPayload("pull_request", "opened")) as {
      number: number;
      pull_request: { head: { repo: { full_name: string } } };
    };
    event.pull_request.head.repo.full_name = "stranger/Hello-World";
    const workspace = workspaceWith("");
    const run = await runAction(
      { "dry-run": "false", registry: `${attacker.host}/acme`, "registry-password": PASSWORD },
      workspace,
      event,
      { GITHUB_TOKEN: TOKEN },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`::notice::Pull request #${event.number} comes from stranger/Hello-World`);
    const outputs = actionOutputs(run.output);
    expect(outputs.version).toBeDefined();
    expect(outputs.images).toBeUndefined();
    expect(attacker.requests).toEqual([]);
    expectNoSecret(run, [PASSWORD, TOKEN]);
  });
});

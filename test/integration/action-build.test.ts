// The bundled Action with dry-run off, as a workflow runs it: builds and pushes every endpoint's
// version image to a registry that requires a password, reports references with digests, sends
// nothing the second time, and never lets the password reach the log, the outputs or the summary.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RegistryInstance, startRegistry } from "../support/registry-instance.js";
import { type ActionRun, actionOutputs, runAction, webhookPayload } from "../support/run-action.js";
import { expectNoSecret as expectSecretsHidden, visibleOutput as visible } from "../support/secret-scan.js";

const root = new URL("../../", import.meta.url).pathname;
const USER = "slipway-bot";
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-secret`;

let registry: RegistryInstance;
let workspace: string;

beforeAll(async () => {
  registry = await startRegistry({ auth: { kind: "htpasswd", users: { [USER]: PASSWORD } } });
  workspace = mkdtempSync(join(tmpdir(), "slipway-action-build-"));
  cpSync(join(root, "fixtures/build-sample"), workspace, { recursive: true });
  const python = process.env.SLIPWAY_TEST_PYTHON_IMAGE;
  if (!python) throw new Error("SLIPWAY_TEST_PYTHON_IMAGE is not set: run through the integration project");
  // The base image stays in the stack's open registry; versions go to the password-protected one.
  const config = readFileSync(join(workspace, "valohai.yaml"), "utf8")
    .replaceAll("127.0.0.1:5000/slipway-test/python:bookworm", python)
    .replace(
      "- deployment:\n    name: sample",
      `- deployment:\n    name: sample\n    registry: ${registry.host}/acme/sample`,
    );
  writeFileSync(join(workspace, "valohai.yaml"), config);
});

afterAll(async () => {
  await registry?.stop();
});

const event = () => webhookPayload("pull_request", "opened");
// The workflow names the registry its credentials are for; the config naming the same one is then allowed.
const inputs = (password: string) => ({
  "dry-run": "false",
  registry: `${registry.host}/acme/sample`,
  "registry-username": USER,
  "registry-password": password,
});

function expectNoSecret(run: ActionRun): void {
  expect(run.stdout).toContain(`::add-mask::${PASSWORD}`);
  expectSecretsHidden(run, [PASSWORD], USER);
}

describe("the Action building version images", () => {
  let first: Record<string, string>;

  it("pushes each endpoint's image and outputs its reference with digest", async () => {
    const run = await runAction(inputs(PASSWORD), workspace, event());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expectNoSecret(run);
    first = actionOutputs(run.output);
    const images = JSON.parse(first.images ?? "{}") as Record<string, string>;
    expect(Object.keys(images).sort()).toEqual(["predict-command", "predict-wsgi"]);
    for (const [endpoint, reference] of Object.entries(images)) {
      expect(reference).toMatch(new RegExp(`^${registry.host}/acme/sample/${endpoint}@sha256:[0-9a-f]{64}$`));
      const [repository, digest] = reference.slice(registry.host.length + 1).split("@");
      const manifest = await fetch(`http://${registry.host}/v2/${repository}/manifests/${digest}`, {
        headers: {
          authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`,
          accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        },
      });
      expect(manifest.status).toBe(200);
    }
    expect(Number(first["uploaded-bytes"])).toBeGreaterThan(0);
    expect(run.summary).toContain("### Version images");
  });

  it("sends nothing and yields the same digests when nothing changed", async () => {
    const run = await runAction(inputs(PASSWORD), workspace, event());
    expect(run.code).toBe(0);
    expectNoSecret(run);
    const again = actionOutputs(run.output);
    expect(again.images).toBe(first.images);
    expect(again["uploaded-bytes"]).toBe("0");
  });

  it("builds with the Docker engine when asked, pushing with the same credentials", async () => {
    const run = await runAction(
      { ...inputs(PASSWORD), builder: "docker", version: "docker-build" },
      workspace,
      event(),
      {
        DOCKER_HOST: process.env.DOCKER_HOST,
      },
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expectNoSecret(run);
    const images = JSON.parse(actionOutputs(run.output).images ?? "{}") as Record<string, string>;
    expect(Object.values(images)).toHaveLength(2);
    for (const reference of Object.values(images)) {
      expect(reference).toMatch(new RegExp(`^${registry.host}/acme/sample/[a-z-]+@sha256:[0-9a-f]{64}$`));
    }
    // The engine's build output is folded into log groups.
    expect(run.stdout).toMatch(/::group::docker build .*predict-wsgi:docker-build/);
  });

  it("fails clearly with a wrong password, naming the registry and never the password", async () => {
    const wrong = `${PASSWORD}-wrong`;
    const run = await runAction(inputs(wrong), workspace, event());
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`::add-mask::${wrong}`);
    const text = visible(run);
    expect(text).toMatch(new RegExp(`::error::.*${registry.host.replace(/\./g, "\\.")}`));
    expect(text).not.toContain(wrong);
    expect(actionOutputs(run.output).images).toBeUndefined();
  });
});

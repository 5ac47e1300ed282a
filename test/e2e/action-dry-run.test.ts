// Drives the bundled Action (dist/index.js) exactly as the runner does: inputs and context in
// environment variables, a real webhook payload in GITHUB_EVENT_PATH, outputs read from GITHUB_OUTPUT.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { actionOutputs as outputs, webhookPayload as payload, runAction } from "../support/run-action.js";

const root = new URL("../../", import.meta.url).pathname;

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
});

// The test stack itself: the engine, the registry and both base images work, and the coordinates reach the
// tests. Every other integration test stands on these.

import { execFile } from "node:child_process";
import Docker from "dockerode";
import { describe, expect, inject, it } from "vitest";
import { ensureStack, stackEnv } from "../support/stack.js";

const stack = inject("slipwayStack");

function docker(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile("docker", ["-H", stack.dockerHost, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`docker ${args.join(" ")}: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

describe("test stack", () => {
  it("exports its coordinates to the test environment", () => {
    for (const [name, value] of Object.entries(stackEnv(stack))) expect(process.env[name]).toBe(value);
    expect(stack.dockerHost).toBe(`unix://${stack.dockerSocket}`);
    expect(stack.registry).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("is reused rather than started again", async () => {
    expect(await ensureStack()).toEqual(stack);
  });

  it("has a Docker engine answering on its own socket", async () => {
    expect(stack.dockerSocket).not.toBe("/var/run/docker.sock");
    const engine = new Docker({ socketPath: stack.dockerSocket, version: "v1.41" });
    const version = await engine.version();
    expect(version.ApiVersion).toMatch(/^1\.\d+$/);
    expect(version.Os).toBe("linux");
  });

  it("has a registry answering /v2/ on loopback", async () => {
    const res = await fetch(`http://${stack.registry}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
  });

  it.each([
    ["python", () => stack.pythonImage],
    ["busybox", () => stack.busyboxImage],
  ])("serves the %s base image manifest", async (_name, image) => {
    const ref = image();
    const slash = ref.indexOf("/");
    const colon = ref.lastIndexOf(":");
    const repo = ref.slice(slash + 1, colon);
    const tag = ref.slice(colon + 1);
    const res = await fetch(`http://${stack.registry}/v2/${repo}/manifests/${tag}`, {
      headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.docker.distribution.manifest.v2+json");
    const manifest = (await res.json()) as { layers?: unknown[] };
    expect(manifest.layers).toHaveLength(1);
  });

  it("runs python with gunicorn from the registry's python image", async () => {
    const { stdout } = await docker(
      "run",
      "--rm",
      "--pull=always",
      "--network=none",
      stack.pythonImage,
      "python3",
      "-c",
      "import gunicorn, os; print(gunicorn.__version__, os.environ['LANG'])",
    );
    expect(stdout.trim()).toMatch(/^\d+\.\d+(\.\d+)? C\.UTF-8$/);
  });

  it("runs busybox and its applet links from the registry's busybox image", async () => {
    await docker("run", "--rm", "--pull=always", "--network=none", stack.busyboxImage, "busybox", "true");
    const { stdout } = await docker(
      "run",
      "--rm",
      "--network=none",
      stack.busyboxImage,
      "sh",
      "-c",
      "echo ok",
    );
    expect(stdout.trim()).toBe("ok");
  });
});

// Helpers shared by the build integration tests: the docker CLI against the test stack's engine,
// and a probe that runs a version image and asks its server for a page from inside the container.

import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through the integration project (globalSetup)`);
  return v;
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { env: process.env, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/**
 * Runs the image with no network but loopback (the engine's default here, so versions never collide
 * on a port) and fetches `/probe` from inside the container, retrying while the server starts.
 */
export async function probe(reference: string, port: number): Promise<Record<string, unknown>> {
  await docker("pull", "-q", reference);
  const id = await docker("run", "-d", reference);
  try {
    const script = `import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:${port}/probe', timeout=2).read().decode())`;
    let last = "";
    for (let i = 0; i < 60; i++) {
      try {
        return JSON.parse(await docker("exec", id, "python3", "-c", script)) as Record<string, unknown>;
      } catch (e) {
        last = String(e);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`no answer on port ${port}: ${last}\n${await docker("logs", id).catch(() => "")}`);
  } finally {
    await docker("rm", "-f", id);
  }
}

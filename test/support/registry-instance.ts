// Test support: an extra distribution registry (`docker-registry`, 2.8.2 on Debian) on a free
// loopback port with its own config, storage directory and auth mode (none, htpasswd, token), for
// tests that need a registry the shared stack does not provide. Stopped by its own PID only.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "./stack.js";

export type RegistryAuth =
  | { kind: "none" }
  | { kind: "htpasswd"; users: Record<string, string> }
  | { kind: "token"; realm: string; service: string; issuer: string; rootCertBundle: string };

/** Token auth with this issuer as the realm (the registry's `auth.token` settings). */
export function tokenAuth(issuer: {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
}): RegistryAuth {
  const { realm, service, rootCertBundle } = issuer;
  return { kind: "token", realm, service, issuer: issuer.issuer, rootCertBundle };
}

export interface RegistryInstance {
  /** "127.0.0.1:<port>", the form ImageName.registry takes. */
  host: string;
  port: number;
  dir: string;
  logs(): string;
  stop(): Promise<void>;
}

export { freePort };

export async function startRegistry(
  opts: {
    auth?: RegistryAuth;
    dir?: string;
    /** `storage.delete.enabled` (distribution's configuration reference); default true. */
    deleteEnabled?: boolean;
  } = {},
): Promise<RegistryInstance> {
  const auth = opts.auth ?? { kind: "none" };
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "slipway-registry-")));
  const port = await freePort();
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: "info", accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dir, "data") },
      delete: { enabled: opts.deleteEnabled ?? true },
    },
    // A fixed secret: upload URLs carry HMAC-signed state, and an unset one is random per start.
    http: { addr: `127.0.0.1:${port}`, secret: "slipway-test-registry" },
  };
  if (auth.kind === "htpasswd") {
    const lines = Object.entries(auth.users).map(([user, pass]) =>
      execFileSync("htpasswd", ["-Bbn", user, pass], { encoding: "utf8" }).trim(),
    );
    const path = join(dir, "htpasswd");
    await writeFile(path, `${lines.join("\n")}\n`);
    config.auth = { htpasswd: { realm: "slipway-test", path } };
  } else if (auth.kind === "token") {
    config.auth = {
      token: {
        realm: auth.realm,
        service: auth.service,
        issuer: auth.issuer,
        rootcertbundle: auth.rootCertBundle,
      },
    };
  }
  const configPath = join(dir, "config.yml");
  await writeFile(configPath, stringify(config));

  let output = "";
  const child: ChildProcess = spawn("docker-registry", ["serve", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const collect = (b: Buffer) => {
    output = (output + b.toString("utf8")).slice(-256 * 1024);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });

  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) throw new Error(`docker-registry exited during startup:\n${output}`);
    try {
      // 200 without auth, 401 with: either way it is serving.
      await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`docker-registry did not start within 10 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  return {
    host,
    port,
    dir,
    logs: () => output,
    async stop() {
      if (!exited && child.pid !== undefined) {
        const done = new Promise<void>((r) => child.once("exit", () => r()));
        process.kill(child.pid, "SIGTERM");
        await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
        if (!exited) process.kill(child.pid, "SIGKILL");
      }
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

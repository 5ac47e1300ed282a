// Test support: registry client calls run in a Node process of their own that trusts a test
// certificate through NODE_EXTRA_CA_CERTS, the way a runner is made to trust a private registry's
// CA (Node reads that variable only at start-up, so the test process itself cannot). Tests with an
// https registry on loopback run their client here; what it logged and threw comes back as text for
// the secret scan. Run as a script, this file reads one ClientScript (JSON) on stdin and prints one
// ClientRun (JSON) on stdout.

import { spawn } from "node:child_process";
import { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  combineCredentials,
  createRegistryClient,
  RegistryError,
  sha256Digest,
  staticCredentials,
} from "../../src/registry/index.js";
import { errorTexts } from "./secret-scan.js";

export type ClientCall =
  | { op: "getBlob"; registry: string; repository: string; digest: string }
  | { op: "ensureBlob"; registry: string; repository: string; contentBase64: string };

export interface ClientScript {
  /** Registries the client treats as plain http; every other host is https. */
  plainHttp: string[];
  credentials: Array<{ registry: string; username: string; password: string }>;
  calls: ClientCall[];
}

export interface CallResult {
  ok: boolean;
  /** getBlob: the digest of what arrived; ensureBlob: how the blob got there. */
  value?: string;
  error?: { message: string; code?: string; status?: number; texts: string[] };
}

export interface ClientRun {
  results: CallResult[];
  logs: string[];
}

const SELF = fileURLToPath(import.meta.url);
const CHILD_TIMEOUT_MS = 30_000;

export function runClientProcess(script: ClientScript, caPath: string): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", SELF], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath },
      stdio: ["pipe", "pipe", "pipe"],
      timeout: CHILD_TIMEOUT_MS,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString("utf8");
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`client process exited with ${code}:\n${err}`));
      try {
        resolve(JSON.parse(out) as ClientRun);
      } catch {
        reject(new Error(`client process printed no result:\n${out}\n${err}`));
      }
    });
    child.stdin.end(JSON.stringify(script));
  });
}

async function main(): Promise<void> {
  let input = "";
  for await (const c of process.stdin) input += (c as Buffer).toString("utf8");
  const script = JSON.parse(input) as ClientScript;
  const logs: string[] = [];
  const client = createRegistryClient({
    credentials: combineCredentials(
      ...script.credentials.map((c) =>
        staticCredentials(c.registry, { username: c.username, password: c.password }),
      ),
    ),
    insecure: (registry) => script.plainHttp.includes(registry),
    retries: 2,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    timeoutMs: 5_000,
    log: (l) => logs.push(l),
  });
  const results: CallResult[] = [];
  for (const call of script.calls) {
    try {
      if (call.op === "getBlob") {
        const parts: Buffer[] = [];
        for await (const c of await client.getBlob(call.registry, call.repository, call.digest)) {
          parts.push(typeof c === "string" ? Buffer.from(c) : c);
        }
        results.push({ ok: true, value: sha256Digest(Buffer.concat(parts)) });
      } else {
        const bytes = Buffer.from(call.contentBase64, "base64");
        const r = await client.ensureBlob(
          { registry: call.registry, repository: call.repository },
          { digest: sha256Digest(bytes), size: bytes.length, open: () => Readable.from([bytes]) },
        );
        results.push({ ok: true, value: r.how });
      }
    } catch (e) {
      const error: NonNullable<CallResult["error"]> = {
        message: e instanceof Error ? e.message : String(e),
        texts: errorTexts(e),
      };
      if (e instanceof RegistryError) {
        if (e.code !== undefined) error.code = e.code;
        if (e.status !== undefined) error.status = e.status;
      }
      results.push({ ok: false, error });
    }
  }
  process.stdout.write(JSON.stringify({ results, logs } satisfies ClientRun));
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  await main();
}

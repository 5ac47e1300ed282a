// Test support: the leak scan. Collects everything a registry client lets out — every line it passes
// to its log callback, every error as a user could meet it (message, String(), JSON, stack, and the
// same for each cause) — plus whatever else a test adds (what a hostile server received), and checks
// that no secret is in any of it, in any form the client could send it: the password itself, the
// base64 of "user:password" that a Basic header carries, and tokens (docs/security.md, "Secrets").

import { expect } from "vitest";
import {
  createRegistryClient,
  type RegistryClient,
  type RegistryClientOptions,
  RegistryError,
} from "../../src/registry/index.js";
import type { ActionRun } from "./run-action.js";

/** A secret and the encodings it travels in. */
export function secretForms(secret: string, username?: string): string[] {
  const forms = [secret];
  if (username !== undefined) forms.push(Buffer.from(`${username}:${secret}`).toString("base64"));
  return forms;
}

/** Every text of an error a user or a log could show, its causes included (bounded depth). */
export function errorTexts(err: unknown): string[] {
  const out: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    if (e instanceof Error) {
      out.push(e.message, String(e), JSON.stringify(e), e.stack ?? "");
      e = e.cause;
    } else {
      out.push(String(e));
      break;
    }
  }
  return out;
}

export class SecretScan {
  readonly logs: string[] = [];
  readonly errors: string[] = [];
  /** Other text that must stay clean, e.g. every request a hostile server received. */
  readonly extra: string[] = [];
  /** Every secret the client reported through onSecret. */
  readonly reported = new Set<string>();

  readonly log = (line: string): void => {
    this.logs.push(line);
  };

  readonly onSecret = (secret: string): void => {
    this.reported.add(secret);
  };

  record(err: unknown): void {
    this.errors.push(...errorTexts(err));
  }

  /** The RegistryError `p` fails with, recorded for the scan. */
  async capture(p: Promise<unknown>): Promise<RegistryError> {
    try {
      await p;
    } catch (err) {
      this.record(err);
      expect(err).toBeInstanceOf(RegistryError);
      return err as RegistryError;
    }
    throw new Error("expected the call to fail");
  }

  expectClean(secrets: Iterable<string>): void {
    const haystack = [...this.logs, ...this.errors, ...this.extra].join("\n");
    for (const s of secrets) {
      expect(s.length, "a secret to scan for is too short to mean anything").toBeGreaterThanOrEqual(8);
      expect(haystack.includes(s), `secret of length ${s.length} leaked`).toBe(false);
    }
  }
}

/** A registry client whose every log line and reported secret go to `scan`; quick retries for tests. */
export function scannedClient(scan: SecretScan, options: RegistryClientOptions = {}): RegistryClient {
  return createRegistryClient({
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 50,
    log: scan.log,
    onSecret: scan.onSecret,
    ...options,
  });
}

/**
 * Everything a run of the bundled Action leaves for people or later steps to read — the log (minus
 * the mask commands themselves), stderr, GITHUB_OUTPUT and the job summary.
 */
export function visibleOutput(run: ActionRun): string {
  const stdout = run.stdout
    .split("\n")
    .filter((line) => !line.startsWith("::add-mask::"))
    .join("\n");
  return [stdout, run.stderr, run.output, run.summary].join("\n");
}

/** Each secret, in every form it travels in (and its base64), appears nowhere an Action run shows. */
export function expectNoSecret(run: ActionRun, secrets: readonly string[], user?: string): void {
  const text = visibleOutput(run);
  for (const secret of secrets) {
    for (const form of [...secretForms(secret, user), Buffer.from(secret).toString("base64")]) {
      expect(text.includes(form), `a form of a secret of length ${secret.length} leaked`).toBe(false);
    }
  }
}

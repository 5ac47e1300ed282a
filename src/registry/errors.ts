// RegistryError, the one error class the registry client throws, and the redaction every message
// passes through so that no secret reaches an error, its cause, or a log line.

export interface RegistryErrorDetails {
  registry: string;
  repository?: string;
  /** What the client was doing, e.g. "PUT manifest" — part of the message, kept for callers. */
  operation?: string;
  status?: number;
  /** OCI error code, e.g. UNAUTHORIZED, BLOB_UNKNOWN, or a network code such as ECONNRESET. */
  code?: string;
  cause?: Error;
}

export class RegistryError extends Error {
  readonly registry: string;
  readonly repository?: string;
  readonly operation?: string;
  readonly status?: number;
  readonly code?: string;

  constructor(message: string, details: RegistryErrorDetails) {
    super(message, details.cause ? { cause: details.cause } : undefined);
    this.name = "RegistryError";
    this.registry = details.registry;
    if (details.repository !== undefined) this.repository = details.repository;
    if (details.operation !== undefined) this.operation = details.operation;
    if (details.status !== undefined) this.status = details.status;
    if (details.code !== undefined) this.code = details.code;
  }
}

/** Knows every secret the client has seen; replaces them in any text that leaves the client. */
export class SecretRedactor {
  readonly #secrets = new Set<string>();
  readonly #onSecret: ((s: string) => void) | undefined;

  constructor(onSecret?: (s: string) => void) {
    this.#onSecret = onSecret;
  }

  add(secret: string | undefined): void {
    // Very short strings would redact ordinary words; nothing that short is a real secret.
    if (!secret || secret.length < 4 || this.#secrets.has(secret)) return;
    this.#secrets.add(secret);
    this.#onSecret?.(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) out = out.split(s).join("***");
    return out;
  }

  /**
   * A copy of `err` safe to attach as `cause`: name, message and code only. Library errors can carry
   * request objects (headers included), so the original is never attached.
   */
  sanitize(err: unknown): Error {
    const src = err instanceof Error ? err : new Error(String(err));
    const copy = new Error(this.redact(src.message));
    copy.name = src.name;
    const code = errorCode(src);
    if (code) Object.assign(copy, { code });
    return copy;
  }
}

/** The errno-style code of an error or of its cause chain (undici wraps socket errors in `cause`). */
export function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = e.cause;
  }
  return undefined;
}

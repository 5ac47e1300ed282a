// Narrowing of untrusted JSON (webhook payloads, registry bodies, config files) to a plain object.
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

// Reading the route stage's JSON annotations back from the cluster. Anyone who may edit the alias
// route may write them, so they are untrusted: bounded before parsing, every field checked, keys
// nobody writes refused, and a problem named by where it is (`gates[2].at: ...`). Pure.
import { isVersionName } from "../plan/plan.js";
import { isRecord } from "../util/record.js";

/** Larger than anything Slipway writes; the API server caps all of an object's annotations at 256 KiB. */
export const MAX_ANNOTATION_BYTES = 64 * 1024;
/** Who moved an alias (a GitHub login, `push`, a CLI user) or why a ramp stopped: short text. */
export const MAX_TEXT_LENGTH = 500;

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Thrown inside a decoder only; `decodeWith` turns it into a value. */
class Invalid extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export type Path = string;

export function field(path: Path, key: string): Path {
  return path === "" ? key : `${path}.${key}`;
}

export function item(path: Path, index: number): Path {
  return `${path}[${index}]`;
}

export function invalid(path: Path, message: string): never {
  throw new Invalid(path, message);
}

/** `text` parsed and handed to `read`; any problem becomes `annotation: path: message`. */
export function decodeWith<T>(annotation: string, text: string, read: (value: unknown) => T): Decoded<T> {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_ANNOTATION_BYTES) {
    return {
      ok: false,
      reason: `${annotation}: ${bytes} bytes, more than the ${MAX_ANNOTATION_BYTES} allowed`,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: `${annotation}: not JSON` };
  }
  try {
    return { ok: true, value: read(value) };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    return {
      ok: false,
      reason: `${annotation}: ${error.path === "" ? "" : `${error.path}: `}${error.message}`,
    };
  }
}

/** An object with exactly `required` and any of `optional` as keys. */
export function object(
  value: unknown,
  path: Path,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (!isRecord(value)) invalid(path, "not an object");
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) invalid(field(path, key), "not a known field");
  }
  for (const key of required) {
    if (!Object.hasOwn(value, key)) invalid(field(path, key), "missing");
  }
  return value;
}

export function array(value: unknown, path: Path, max: number): unknown[] {
  if (!Array.isArray(value)) invalid(path, "not a list");
  if (value.length > max) invalid(path, `${value.length} entries, more than ${max}`);
  return value;
}

export function integer(value: unknown, path: Path, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    invalid(path, `not a whole number from ${min} to ${max}`);
  }
  return value;
}

export function boolean(value: unknown, path: Path): boolean {
  if (typeof value !== "boolean") invalid(path, "not true or false");
  return value;
}

export function text(value: unknown, path: Path, max = MAX_TEXT_LENGTH): string {
  if (typeof value !== "string") invalid(path, "not a string");
  if (value.length === 0 || value.length > max) invalid(path, `not 1–${max} characters`);
  return value;
}

export function version(value: unknown, path: Path): string {
  if (typeof value !== "string" || !isVersionName(value)) invalid(path, "not a version name");
  return value;
}

export function oneOf<T extends string>(value: unknown, path: Path, options: readonly T[]): T {
  const found = options.find((o) => o === value);
  if (found === undefined) invalid(path, `not one of ${options.join(", ")}`);
  return found;
}

/** A time as `toISOString` writes it, and only a real one (no 30 February). */
export function time(value: unknown, path: Path): Date {
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)) {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime()) && date.toISOString() === value) return date;
  }
  return invalid(path, "not a UTC time like 2025-06-10T12:00:00.000Z");
}

/** Cut to MAX_TEXT_LENGTH, so what is written always reads back. */
export function bounded(value: string, max = MAX_TEXT_LENGTH): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

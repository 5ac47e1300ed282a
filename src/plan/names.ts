// Kubernetes-safe names and label values derived from user-chosen names.
import { createHash } from "node:crypto";

export const MAX_LABEL_LENGTH = 63;
const HASH_LENGTH = 8;

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, HASH_LENGTH);
}

/**
 * A DNS-1123 label (lowercase alphanumerics and '-', starts and ends alphanumeric, ≤ 63) made from
 * `parts` joined by '-'. When it must be shortened or changed, a hash of the full input is
 * appended so distinct inputs keep distinct names, stable from run to run.
 */
export function dnsLabel(...parts: string[]): string {
  const full = parts.join("-");
  const cleaned = full
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (cleaned === full && cleaned.length <= MAX_LABEL_LENGTH && cleaned.length > 0) return cleaned;
  const room = MAX_LABEL_LENGTH - HASH_LENGTH - 1;
  const head = cleaned.slice(0, room).replace(/-+$/g, "");
  return head ? `${head}-${shortHash(full)}` : `x-${shortHash(full)}`;
}

/** A label value (≤ 63, alphanumeric ends, [-_.A-Za-z0-9] inside), shortened with a hash like dnsLabel. */
export function labelValue(value: string): string {
  const valid = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
  if (value.length <= MAX_LABEL_LENGTH && valid.test(value)) return value;
  return dnsLabel(value);
}

// What a workflow input or a CLI flag may override in the plan, checked once for both edges: the
// caller says how to name each override in a message (an input, a flag), so the rule lives here only.
import { InputError } from "../errors.js";
import { parseImageName } from "../registry/index.js";
import type { PlanOverrides } from "./plan.js";

export type OverrideKey = keyof PlanOverrides;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Scheme and host (no user:password@), an optional path, no query or fragment.
const BASE_URL = /^https?:\/\/[^/?#\s@]+(\/[^?#\s]*)?$/;

/** Throws InputError naming the override through `label` (e.g. "input 'base-url'" or "--base-url"). */
export function checkOverrides(overrides: PlanOverrides, label: (key: OverrideKey) => string): void {
  const { baseUrl, registry, namespace } = overrides;
  if (baseUrl !== undefined && !BASE_URL.test(baseUrl)) {
    throw new InputError(
      `${label("baseUrl")} must be an http(s) URL without credentials, query or fragment, got '${redactUserinfo(baseUrl)}'`,
    );
  }
  if (registry !== undefined) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(registry) || registry.includes("@")) {
      throw new InputError(
        `${label("registry")} must be an image repository prefix such as ghcr.io/acme/models, without scheme or credentials, got '${redactUserinfo(registry)}'`,
      );
    }
    try {
      // A prefix is valid when an endpoint name appended to it makes a valid image name.
      parseImageName(`${registry}/endpoint`);
    } catch (error) {
      throw new InputError(
        `${label("registry")} is not an image repository prefix: ${(error as Error).message}`,
      );
    }
  }
  if (namespace !== undefined && (!DNS_LABEL.test(namespace) || namespace.length > 63)) {
    throw new InputError(
      `${label("namespace")} must be a Kubernetes namespace name (at most 63 lowercase letters, digits and dashes, starting and ending with a letter or digit), got '${namespace}'`,
    );
  }
}

/** `scheme://user:pass@host/…` and `user:pass@host/…` with the credentials cut out, for messages. */
export function redactUserinfo(text: string): string {
  return text.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)?[^/@\s]*@/i,
    (_m, scheme: string | undefined) => `${scheme ?? ""}***@`,
  );
}

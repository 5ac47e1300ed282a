// Pull request previews: their settings, and the alias pattern (`pr-{number}`) that names them.
import { isRecord } from "../util/record.js";
import { DEFAULT_PREVIEW } from "./defaults.js";
import { parseDuration } from "./duration.js";
import type { PreviewSettings } from "./types.js";

type Raw = Record<string, unknown>;

export function previewFrom(value: Raw): PreviewSettings {
  const preview = isRecord(value.preview) ? value.preview : {};
  return {
    enabled: preview.enabled !== false,
    alias: typeof preview.alias === "string" ? preview.alias : DEFAULT_PREVIEW.alias,
    ttlSeconds:
      typeof preview.ttl === "string"
        ? (parseDuration(preview.ttl) ?? DEFAULT_PREVIEW.ttlSeconds)
        : DEFAULT_PREVIEW.ttlSeconds,
    replicas: typeof preview.replicas === "number" ? preview.replicas : DEFAULT_PREVIEW.replicas,
  };
}

/** Whether `name` is what the alias pattern gives for some pull request number. */
export function isPreviewAlias(pattern: string, name: string): boolean {
  const previewPattern = new RegExp(`^${pattern.replace(/[-]/g, "\\-").replace("{number}", "[0-9]+")}$`);
  return previewPattern.test(name);
}

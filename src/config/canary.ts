// Canary settings: the deployment's defaults and each environment's overrides of them.
import { isRecord } from "../util/record.js";
import { parseDuration } from "./duration.js";
import type { JsonPath } from "./node-at.js";
import type { EntryScope } from "./problems.js";
import type { CanarySettings } from "./types.js";

/** `raw`'s settings over `defaults`; the schema has checked each one's type and range. */
export function canaryFrom(raw: unknown, defaults: CanarySettings): CanarySettings {
  if (!isRecord(raw)) return defaults;
  return {
    stages: typeof raw.stages === "number" ? raw.stages : defaults.stages,
    windowSeconds:
      typeof raw.window === "string"
        ? (parseDuration(raw.window) ?? defaults.windowSeconds)
        : defaults.windowSeconds,
    maxErrorRate: typeof raw["max-error-rate"] === "number" ? raw["max-error-rate"] : defaults.maxErrorRate,
  };
}

/** Each stage lasts at least a second. */
export function canaryWindowRule(scope: EntryScope, settings: CanarySettings, path: JsonPath): void {
  if (settings.windowSeconds < settings.stages) {
    scope.at(
      [...path, "window"],
      `canary window of ${settings.windowSeconds}s is shorter than its ${settings.stages} stages; give each stage at least one second`,
    );
  }
}

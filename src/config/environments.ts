// `environments.<name>`: named aliases such as staging and production, what moves them, what
// they require, and how they ramp.
import { isRecord } from "../util/record.js";
import { canaryFrom, canaryWindowRule } from "./canary.js";
import { DEFAULT_ENVIRONMENT_REPLICAS, DEFAULT_PROMOTE_ON } from "./defaults.js";
import { suggestion } from "./did-you-mean.js";
import { isPreviewAlias } from "./preview.js";
import type { EntryScope } from "./problems.js";
import type { CanarySettings, Environment, PromotionTrigger } from "./types.js";

type Raw = Record<string, unknown>;

export function readEnvironments(
  scope: EntryScope,
  value: Raw,
  canary: CanarySettings,
  previewAlias: string,
): Environment[] {
  const rawEnvs = isRecord(value.environments) ? value.environments : {};
  const names = Object.keys(rawEnvs);
  const environments: Environment[] = [];
  for (const [name, rawEnv] of Object.entries(rawEnvs)) {
    const env = isRecord(rawEnv) ? rawEnv : {};
    notPreviewAliasRule(scope, name, previewAlias);
    const environment: Environment = {
      name,
      promoteOn: promoteOnFrom(env["promote-on"]),
      requires: requiresRule(scope, name, env, names),
      replicas: typeof env.replicas === "number" ? env.replicas : DEFAULT_ENVIRONMENT_REPLICAS,
      location: scope.location(["environments", name], true),
    };
    if (env.canary === true) environment.canary = canary;
    else if (isRecord(env.canary)) {
      environment.canary = canaryFrom(env.canary, canary);
      canaryWindowRule(scope, environment.canary, ["environments", name, "canary"]);
    }
    environments.push(environment);
  }
  requiresCycleRule(scope, environments);
  return environments;
}

/** An environment named like a preview alias would take over a pull request's URLs. */
function notPreviewAliasRule(scope: EntryScope, name: string, previewAlias: string): void {
  if (isPreviewAlias(previewAlias, name)) {
    scope.at(
      ["environments", name],
      `environment '${name}' looks like a preview alias ('${previewAlias}'); choose another name`,
      true,
    );
  }
}

/** Required environments exist and are not the environment itself. */
function requiresRule(scope: EntryScope, name: string, env: Raw, names: readonly string[]): string[] {
  const requires = Array.isArray(env.requires)
    ? env.requires.filter((r): r is string => typeof r === "string")
    : [];
  requires.forEach((required, i) => {
    const at = ["environments", name, "requires", i];
    if (required === name) scope.at(at, `environment '${name}' cannot require itself`);
    else if (!names.includes(required)) {
      scope.at(
        at,
        `environment '${name}' requires unknown environment '${required}'${suggestion(required, names)}`,
      );
    }
  });
  return requires;
}

function promoteOnFrom(raw: unknown): PromotionTrigger[] {
  if (!Array.isArray(raw)) return [...DEFAULT_PROMOTE_ON];
  const promoteOn: PromotionTrigger[] = [];
  for (const trigger of raw) {
    if (trigger === "command") promoteOn.push({ kind: "command" });
    else if (isRecord(trigger)) {
      if (typeof trigger.push === "string") promoteOn.push({ kind: "push", branch: trigger.push });
      if (typeof trigger.release === "string") promoteOn.push({ kind: "release", tag: trigger.release });
    }
  }
  return promoteOn;
}

/** A cycle in `requires` would make every environment on it unreachable. */
function requiresCycleRule(scope: EntryScope, environments: readonly Environment[]): void {
  const byName = new Map(environments.map((e) => [e.name, e]));
  for (const env of environments) {
    const seen = new Set<string>();
    const stack = [...env.requires];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (next === env.name) {
        scope.at(
          ["environments", env.name, "requires"],
          `environment '${env.name}' requires itself through a cycle`,
          true,
        );
        break;
      }
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(byName.get(next)?.requires ?? []));
    }
  }
}

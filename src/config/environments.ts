// `environments.<name>`: named aliases such as staging and production, what moves them, what
// they require, and how they ramp.
import { isRecord } from "../util/record.js";
import { canaryFrom, canaryWindowRule } from "./canary.js";
import { DEFAULT_ENVIRONMENT_REPLICAS, DEFAULT_PROMOTE_ON } from "./defaults.js";
import { MAX_CANDIDATES, suggestion } from "./did-you-mean.js";
import { isPreviewAlias } from "./preview.js";
import type { EntryScope } from "./problems.js";
import { quote } from "./quote.js";
import type { CanarySettings, Environment, PromotionTrigger } from "./types.js";

type Raw = Record<string, unknown>;

export function readEnvironments(
  scope: EntryScope,
  value: Raw,
  canary: CanarySettings,
  previewAlias: string,
): Environment[] {
  const rawEnvs = isRecord(value.environments) ? value.environments : {};
  const names = new Set(Object.keys(rawEnvs));
  const candidates = [...names].slice(0, MAX_CANDIDATES);
  const environments: Environment[] = [];
  for (const [name, rawEnv] of Object.entries(rawEnvs)) {
    const env = isRecord(rawEnv) ? rawEnv : {};
    notPreviewAliasRule(scope, name, previewAlias);
    const environment: Environment = {
      name,
      promoteOn: promoteOnFrom(env["promote-on"]),
      requires: requiresRule(scope, name, env, names, candidates),
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
      `environment ${quote(name)} looks like a preview alias (${quote(previewAlias)}); choose another name`,
      true,
    );
  }
}

/** Required environments exist and are not the environment itself. */
function requiresRule(
  scope: EntryScope,
  name: string,
  env: Raw,
  names: ReadonlySet<string>,
  candidates: readonly string[],
): string[] {
  const requires = Array.isArray(env.requires)
    ? env.requires.filter((r): r is string => typeof r === "string")
    : [];
  requires.forEach((required, i) => {
    const at = ["environments", name, "requires", i];
    if (required === name) scope.at(at, `environment ${quote(name)} cannot require itself`);
    else if (!names.has(required)) {
      scope.at(
        at,
        `environment ${quote(name)} requires unknown environment ${quote(required)}${suggestion(required, candidates)}`,
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
  const onCycle = environmentsOnCycles(environments);
  for (const env of environments) {
    if (onCycle.has(env.name)) {
      scope.at(
        ["environments", env.name, "requires"],
        `environment ${quote(env.name)} requires itself through a cycle`,
        true,
      );
    }
  }
}

/**
 * Names of the environments that can reach themselves through `requires`: those in a strongly
 * connected component of more than one, or requiring themselves. Tarjan's algorithm, iterative,
 * linear in environments and requirements.
 */
export function environmentsOnCycles(environments: readonly Environment[]): Set<string> {
  const edges = new Map(environments.map((e) => [e.name, e.requires]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const result = new Set<string>();
  let counter = 0;
  for (const root of edges.keys()) {
    if (index.has(root)) continue;
    const work: [string, number][] = [[root, 0]];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as [string, number];
      const [v, i] = frame;
      const next = edges.get(v) ?? [];
      if (i < next.length) {
        frame[1] = i + 1;
        const w = next[i] as string;
        if (w === v) result.add(v);
        if (!edges.has(w)) continue;
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) {
          low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0]) as number, low.get(v) as number));
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop() as string;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1) for (const c of component) result.add(c);
      }
    }
  }
  return result;
}

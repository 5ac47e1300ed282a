// The Action's step outputs as data, from a plan and a build. Pure; main.ts sets them.
import type { BuiltVersion } from "../flows/build.js";
import type { DeployResult } from "../flows/deploy.js";
import type { Outputs } from "../inputs.js";
import type { Plan } from "../plan/plan.js";

export function planOutputs(plan: Plan): Outputs {
  return {
    deployment: plan.deployment,
    version: plan.version,
    plan: JSON.stringify(plan),
    urls: JSON.stringify(Object.fromEntries(plan.endpoints.map((e) => [e.name, e.url ?? e.path]))),
  };
}

export function buildOutputs(build: BuiltVersion): Outputs {
  return {
    images: JSON.stringify(Object.fromEntries(build.images.map((i) => [i.endpoint, i.reference]))),
    "uploaded-bytes": String(build.uploadedBytes),
  };
}

export function deployOutputs(result: DeployResult): Outputs {
  const aliases: Record<string, Record<string, string>> = {};
  for (const endpoint of result.endpoints) {
    for (const alias of endpoint.aliases) {
      aliases[alias.name] = { ...aliases[alias.name], [endpoint.name]: alias.url ?? alias.path };
    }
  }
  return { "alias-urls": JSON.stringify(aliases) };
}

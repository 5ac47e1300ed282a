// The managed env Secret: values the workflow passed for one version, read by its endpoints through
// envFrom. The only object that ever holds a secret value. Pure.
//
// `data` (base64) rather than `stringData`: stringData is write-only and merged into data by the API
// server, so with server-side apply a key dropped from stringData would stay in data.

import type { Plan } from "../plan/plan.js";
import { versionLabels } from "./labels.js";
import type { ISecret } from "./types.js";

export function envSecret(plan: Plan, name: string, values: Readonly<Record<string, string>>): ISecret {
  const data: Record<string, string> = {};
  for (const key of Object.keys(values).sort())
    data[key] = Buffer.from(values[key] ?? "", "utf8").toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: plan.namespace, labels: versionLabels(plan, "env-secret") },
    type: "Opaque",
    data,
  };
}

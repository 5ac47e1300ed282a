// The image pull Secret: a `kubernetes.io/dockerconfigjson` Secret made from a long-lived read
// credential the workflow provides, so the cluster can pull private version images long after the
// run (and its GITHUB_TOKEN) ended. One per deployment and namespace, shared by its versions: it is
// never owned by a version record, and every deploy re-applies it, so a rotated credential takes effect.
// Pure.
import { dnsLabel } from "../plan/names.js";
import type { Plan } from "../plan/plan.js";

export interface PullCredential {
  /** Registry host as image references name it, e.g. ghcr.io or 127.0.0.1:5000. */
  registry: string;
  username: string;
  password: string;
}

export function pullSecretName(plan: Plan): string {
  return dnsLabel(plan.deployment, "pull");
}

/** The Secret's manifest; its data holds the credential, so it goes only to the API server. */
export function pullSecret(plan: Plan, credential: PullCredential): Record<string, unknown> {
  // The docker config format kubelet reads (kubernetes.io/docs/concepts/containers/images/#config-json).
  const auth = Buffer.from(`${credential.username}:${credential.password}`).toString("base64");
  const config = {
    auths: { [credential.registry]: { username: credential.username, password: credential.password, auth } },
  };
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/dockerconfigjson",
    metadata: {
      name: pullSecretName(plan),
      namespace: plan.namespace,
      labels: {
        "app.kubernetes.io/managed-by": "slipway",
        "app.kubernetes.io/part-of": plan.deployment,
        "app.kubernetes.io/component": "image-pull-secret",
        "slipway.dev/owner": plan.labels["slipway.dev/owner"] ?? "",
        "slipway.dev/project": plan.labels["slipway.dev/project"] ?? "",
        "slipway.dev/deployment": plan.labels["slipway.dev/deployment"] ?? "",
      },
    },
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") },
  };
}

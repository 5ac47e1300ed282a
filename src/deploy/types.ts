// What manifest rendering takes (the plan, the config, the build's image digests, who and when) and
// what it gives: objects typed as the Kubernetes and Gateway API schemas define them.

import type { IHTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import type { Endpoint, RuntimeSettings, SlipwayConfig } from "../config/types.js";
import type { Plan, PlannedEndpoint } from "../plan/plan.js";

export type { IConfigMap, IDeployment, IHTTPRoute, ISecret, IService };

/** Every object a version or an alias consists of. */
export type KubeObject = IConfigMap | ISecret | IDeployment | IService | IHTTPRoute;

export interface VersionInput {
  plan: Plan;
  config: SlipwayConfig;
  /** Per endpoint name, the pushed image by digest: `<repository>@sha256:<64 hex>`. */
  images: Readonly<Record<string, string>>;
  /** Who deployed (a GitHub login, or the CLI's user), recorded in the version record. */
  deployedBy: string;
  deployedAt: Date;
  /**
   * The managed env Secret: values the workflow passed, rendered only into that Secret; the record
   * and the Deployments carry its name, never a value.
   */
  envSecret?: { name: string; values: Readonly<Record<string, string>> };
  /** An image pull Secret for every endpoint (beside each endpoint's `imagePullSecret` setting). */
  imagePullSecret?: string;
  /**
   * The version record's uid once it exists in the cluster. With it, every other object is owned by
   * the record (deleting the record deletes the version); without it (`slipway manifests` for GitOps)
   * objects carry no ownerReferences.
   */
  recordUid?: string;
  /** Pods per endpoint when the flow decides (e.g. an environment's `replicas`); else each endpoint's runtime setting. */
  replicas?: number;
}

/** One endpoint with everything its objects are made from. */
export interface EndpointParts {
  endpoint: Endpoint;
  planned: PlannedEndpoint;
  runtime: RuntimeSettings;
  image: string;
}

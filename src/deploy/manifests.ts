// A version as Kubernetes objects, in the order they are applied: the version record first (the
// others name it as their owner, by uid), then the managed env Secret, each endpoint's Deployment and
// Service, and last the route, so traffic is routed only to Services that exist. Pure: the same input
// gives the same objects, byte for byte once serialised.

import type { Plan } from "../plan/plan.js";
import { endpointDeployment } from "./deployment.js";
import { ManifestError } from "./errors.js";
import { endpointTarget, ownedBy, runtimeFor, type VersionTarget, versionRecord } from "./record.js";
import { versionRoute } from "./routes.js";
import { envSecret } from "./secret.js";
import { endpointService } from "./service.js";
import type { EndpointParts, IConfigMap, KubeObject, VersionInput } from "./types.js";

const IMAGE_BY_DIGEST = /^[^@\s]+@sha256:[0-9a-f]{64}$/;

function endpointParts(input: Pick<VersionInput, "plan" | "config" | "images">): EndpointParts[] {
  return input.plan.endpoints.map((planned) => {
    const endpoint = input.config.endpoints.find((e) => e.name === planned.name);
    if (!endpoint)
      throw new ManifestError(`endpoint ${planned.name} is in the plan but not in ${input.config.file}`);
    const image = input.images[planned.name];
    if (image === undefined) throw new ManifestError(`no image was built for endpoint ${planned.name}`);
    if (!IMAGE_BY_DIGEST.test(image)) {
      throw new ManifestError(
        `the image of endpoint ${planned.name} must be referenced by digest (<repository>@sha256:…), not '${image}'`,
      );
    }
    return { endpoint, planned, runtime: runtimeFor(input.config, planned.name), image };
  });
}

function withOwner<T extends KubeObject>(object: T, plan: Plan, uid: string | undefined): T {
  if (uid === undefined || !object.metadata) return object;
  return { ...object, metadata: { ...object.metadata, ownerReferences: ownedBy(plan, uid) } };
}

/** The version record alone: apply it first, then render the rest with its uid. */
export function versionRecordFor(input: VersionInput): IConfigMap {
  return versionRecord({
    plan: input.plan,
    config: input.config,
    endpoints: endpointParts(input),
    deployedBy: input.deployedBy,
    deployedAt: input.deployedAt,
    ...(input.envSecret ? { envSecretName: input.envSecret.name } : {}),
  });
}

/** Where each endpoint of this version is served: what an alias route needs (see aliasRoute). */
export function versionTarget(input: Pick<VersionInput, "plan" | "config" | "images">): VersionTarget {
  return { version: input.plan.version, endpoints: endpointParts(input).map(endpointTarget) };
}

export function versionManifests(input: VersionInput): KubeObject[] {
  const { plan } = input;
  const parts = endpointParts(input);
  const uid = input.recordUid;
  const envSecretName = input.envSecret?.name;
  const options = {
    ...(envSecretName !== undefined ? { envSecretName } : {}),
    ...(input.imagePullSecret !== undefined ? { imagePullSecret: input.imagePullSecret } : {}),
    ...(input.replicas !== undefined ? { replicas: input.replicas } : {}),
  };
  const owned: KubeObject[] = [
    ...(input.envSecret ? [envSecret(plan, input.envSecret.name, input.envSecret.values)] : []),
    ...parts.flatMap((p) => [endpointDeployment(plan, p, options), endpointService(plan, p)]),
    versionRoute(plan, input.config, parts.map(endpointTarget)),
  ];
  return [versionRecordFor(input), ...owned.map((o) => withOwner(o, plan, uid))];
}

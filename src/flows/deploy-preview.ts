// `deploy --dry-run`: what a deploy would change, as the API server itself decides it (server-side
// apply with dryRun=All: validation, defaults, admission and field ownership included), compared with
// what the cluster holds now. Nothing is written.
import { aliasRoute, versionManifests, versionTarget } from "../deploy/index.js";
import { pullSecret } from "../deploy/pull-secret.js";
import type { KubeClient, KubeObject } from "../kube/index.js";
import { isRecord } from "../util/record.js";
import { type DeployClients, type DeployRequest, existingRecord, versionInput } from "./deploy.js";

export interface PlannedChange {
  action: "create" | "change" | "unchanged";
  kind: string;
  name: string;
  /** Top-level fields that would differ (metadata, spec, data…), for `change`. */
  fields?: string[];
}

/** What people compare: the object without what the server keeps for itself. */
function comparable(object: KubeObject): Record<string, unknown> {
  const {
    metadata,
    status: _status,
    ...rest
  } = object as Record<string, unknown> & { metadata?: Record<string, unknown> };
  const meta = isRecord(metadata) ? metadata : {};
  return {
    ...rest,
    metadata: {
      labels: meta.labels ?? {},
      annotations: meta.annotations ?? {},
      ownerReferences: meta.ownerReferences ?? [],
    },
  };
}

function differingFields(before: KubeObject, after: KubeObject): string[] {
  const a = comparable(before);
  const b = comparable(after);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]))
    .sort();
}

async function preview(kube: KubeClient, object: KubeObject): Promise<PlannedChange> {
  const ref = {
    apiVersion: object.apiVersion ?? "",
    kind: object.kind ?? "",
    name: object.metadata?.name ?? "",
    ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
  };
  const current = await kube.get(ref);
  const { object: after } = await kube.apply(object, { dryRun: true });
  const base = { kind: ref.kind, name: ref.name };
  if (!current) return { action: "create", ...base };
  const fields = differingFields(current, after);
  return fields.length === 0 ? { action: "unchanged", ...base } : { action: "change", ...base, fields };
}

export async function previewDeploy(
  request: DeployRequest,
  clients: DeployClients,
): Promise<PlannedChange[]> {
  const { kube } = clients;
  const { plan, config } = request.planned;
  // As deployVersion renders them: the existing record's first deploy time and author, and its uid as owner.
  const existing = await existingRecord(kube, plan);
  const input = versionInput(
    { ...request, deployedBy: existing?.deployedBy ?? request.deployedBy },
    existing?.deployedAt ?? request.now ?? new Date(),
  );
  const objects: unknown[] = [
    ...versionManifests({ ...input, ...(existing?.uid ? { recordUid: existing.uid } : {}) }),
  ];
  if (request.pull && !("secret" in request.pull)) objects.push(pullSecret(plan, request.pull));
  const target = versionTarget({ plan, config, images: request.images });
  for (const alias of plan.aliases)
    objects.push(aliasRoute({ plan, config, alias, backends: [{ target, weight: 100 }] }));
  const changes: PlannedChange[] = [];
  for (const object of objects) changes.push(await preview(kube, object as KubeObject));
  return changes;
}

// Conformance-style checks of the test cluster's API server against the Kubernetes documentation:
// each case names the documentation section whose behaviour it pins down. The server runs in-process;
// clients are the ones Slipway uses (@kubernetes/client-node) plus kubectl and raw HTTP where a header
// or status line is the point.

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../api-server.js";
import { type KubeObject, Store } from "../store.js";

const run = promisify(execFile);
/** client-node's typed patch methods send JSON patch unless told otherwise. */
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

interface Cluster {
  store: Store;
  server: ApiServer;
  kc: KubeConfig;
  objects: KubernetesObjectApi;
  core: CoreV1Api;
  apps: AppsV1Api;
}

async function cluster(
  opts: {
    historyLimit?: number;
    tokens?: Parameters<typeof startApiServer>[0]["tokens"];
    token?: string;
  } = {},
): Promise<Cluster> {
  const store = new Store(opts.historyLimit !== undefined ? { historyLimit: opts.historyLimit } : {});
  const server = await startApiServer({ store, ...(opts.tokens ? { tokens: opts.tokens } : {}) });
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig(opts.token !== undefined ? { token: opts.token } : {}));
  return {
    store,
    server,
    kc,
    objects: KubernetesObjectApi.makeApiClient(kc),
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
  };
}

/** Server-side apply as Slipway sends it: KubernetesObjectApi's PATCH with a field manager. */
function ssa<T extends KubernetesObject>(
  c: Cluster,
  obj: T,
  fieldManager: string,
  force = false,
): Promise<T> {
  return c.objects.patch(obj, undefined, undefined, fieldManager, force, PatchStrategy.ServerSideApply);
}

function deployment(
  name: string,
  extra: { replicas?: number; labels?: Record<string, string>; image?: string } = {},
): V1Deployment & KubernetesObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default", ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: {
      replicas: extra.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            { name: "app", image: extra.image ?? "registry.local/model:1", ports: [{ containerPort: 8080 }] },
          ],
        },
      },
    },
  };
}

/** The `Status` body of a failed client-node call. */
async function failure(p: Promise<unknown>): Promise<{
  code: number;
  reason: string;
  message: string;
  details?: { causes?: { reason?: string; field?: string; message?: string }[] };
}> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) {
      const body = typeof err.body === "string" ? (JSON.parse(err.body) as unknown) : err.body;
      return body as Awaited<ReturnType<typeof failure>>;
    }
    throw err;
  }
  throw new Error("expected the call to fail");
}

function must<T>(value: T | undefined | null): T {
  if (value === undefined || value === null) throw new Error("expected a value");
  return value;
}

async function until(check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function managers(obj: { metadata?: { managedFields?: unknown } }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of (obj.metadata?.managedFields ?? []) as {
    manager: string;
    operation: string;
    fieldsV1: unknown;
  }[]) {
    out[`${m.manager}/${m.operation}`] = m.fieldsV1;
  }
  return out;
}

describe("test cluster API server", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await cluster();
  });
  afterAll(async () => {
    await c.server.close();
  });

  describe("Server-Side Apply", () => {
    it("Field management: an apply creates a missing object and records the applier's fields as FieldsV1", async () => {
      const created = await ssa(c, deployment("ssa-create"), "slipway");
      expect(created.metadata?.uid).toBeTruthy();
      const fields = managers(created)["slipway/Apply"] as Record<string, Record<string, unknown>>;
      expect(fields["f:spec"]?.["f:replicas"]).toEqual({});
      const template = fields["f:spec"]?.["f:template"] as Record<
        string,
        Record<string, Record<string, unknown>>
      >;
      const containers = template["f:spec"]?.["f:containers"];
      expect(containers?.['k:{"name":"app"}']).toMatchObject({ ".": {}, "f:image": {}, "f:name": {} });
      // Defaults are filled in, but nobody owns them.
      expect((created.spec as { strategy?: unknown }).strategy).toEqual({
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
      });
    });

    it("Conflicts: a different manager setting a field it does not own gets 409 listing the field", async () => {
      await ssa(c, deployment("ssa-conflict"), "slipway");
      const status = await failure(ssa(c, deployment("ssa-conflict", { replicas: 5 }), "other-manager"));
      expect(status.code).toBe(409);
      expect(status.reason).toBe("Conflict");
      expect(status.message).toBe('Apply failed with 1 conflict: conflict with "slipway": .spec.replicas');
      expect(status.details?.causes).toEqual([
        { reason: "FieldManagerConflict", message: 'conflict with "slipway"', field: ".spec.replicas" },
      ]);
    });

    it('Conflicts: a field taken over by a non-apply update conflicts as "<manager> using <apiVersion>"', async () => {
      await ssa(c, deployment("ssa-hpa"), "slipway");
      // What an autoscaler does: an Update that changes replicas takes ownership of the field.
      await c.apps.patchNamespacedDeployment(
        {
          name: "ssa-hpa",
          namespace: "default",
          body: { spec: { replicas: 7 } },
          fieldManager: "autoscaler",
        },
        MERGE_PATCH,
      );
      const status = await failure(ssa(c, deployment("ssa-hpa", { replicas: 3 }), "slipway"));
      expect(status.message).toBe(
        'Apply failed with 1 conflict: conflict with "autoscaler" using apps/v1: .spec.replicas',
      );
    });

    it("Conflicts: force=true overrides the value and transfers ownership to the applier", async () => {
      await ssa(c, deployment("ssa-force"), "slipway");
      const forced = await ssa(c, deployment("ssa-force", { replicas: 5 }), "other-manager", true);
      expect((forced.spec as { replicas: number }).replicas).toBe(5);
      const owners = managers(forced) as Record<string, { "f:spec"?: Record<string, unknown> }>;
      expect(owners["other-manager/Apply"]?.["f:spec"]?.["f:replicas"]).toEqual({});
      expect(owners["slipway/Apply"]?.["f:spec"]?.["f:replicas"]).toBeUndefined();
    });

    it("Field management: appliers that set a field to the same value share it, without conflict", async () => {
      await ssa(c, deployment("ssa-share"), "slipway");
      const shared = await ssa(c, deployment("ssa-share"), "co-owner");
      const owners = managers(shared) as Record<string, { "f:spec"?: Record<string, unknown> }>;
      expect(owners["slipway/Apply"]?.["f:spec"]?.["f:replicas"]).toEqual({});
      expect(owners["co-owner/Apply"]?.["f:spec"]?.["f:replicas"]).toEqual({});
      // Either one changing it now conflicts with the other.
      const status = await failure(ssa(c, deployment("ssa-share", { replicas: 9 }), "slipway"));
      expect(status.message).toContain('conflict with "co-owner"');
    });

    it("Field management: a field dropped from the applier's configuration is removed unless another manager owns it", async () => {
      await ssa(c, deployment("ssa-prune", { labels: { tier: "web", team: "ml" } }), "slipway");
      // A second applier co-owns one of the labels.
      await ssa(
        c,
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "ssa-prune", namespace: "default", labels: { team: "ml" } },
        },
        "labeller",
      );
      const after = await ssa(c, deployment("ssa-prune"), "slipway");
      expect(after.metadata?.labels).toEqual({ team: "ml" });
      // A dropped field with a default goes back to the default.
      const spec = deployment("ssa-prune");
      delete (spec.spec as { replicas?: number }).replicas;
      const reset = await ssa(c, spec, "slipway");
      expect((reset.spec as { replicas: number }).replicas).toBe(1);
    });

    it("Merge strategy: associative lists merge by key, so two managers each keep their own container", async () => {
      await ssa(c, deployment("ssa-lists"), "slipway");
      const sidecar = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "ssa-lists", namespace: "default" },
        spec: {
          template: {
            spec: {
              containers: [
                { name: "proxy", image: "registry.local/proxy:1", env: [{ name: "MODE", value: "edge" }] },
              ],
            },
          },
        },
      };
      await ssa(c, sidecar, "mesh");
      const again = await ssa(c, deployment("ssa-lists", { image: "registry.local/model:2" }), "slipway");
      const containers = (again.spec as V1Deployment["spec"])?.template.spec?.containers ?? [];
      expect(containers.map((x) => `${x.name}=${x.image}`)).toEqual([
        "app=registry.local/model:2",
        "proxy=registry.local/proxy:1",
      ]);
    });

    it("Using Server-Side Apply in a controller: status is applied through the /status subresource and owned there", async () => {
      await ssa(c, deployment("ssa-status"), "slipway");
      const res = await fetch(
        `${c.server.url}/apis/apps/v1/namespaces/default/deployments/ssa-status/status?fieldManager=rollout-controller&force=true`,
        {
          method: "PATCH",
          headers: { "Content-Type": "application/apply-patch+yaml" },
          body: JSON.stringify({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "ssa-status" },
            spec: { replicas: 99 },
            status: { replicas: 2, readyReplicas: 1 },
          }),
        },
      );
      expect(res.status).toBe(200);
      const obj = (await res.json()) as KubeObject & {
        spec: { replicas: number };
        status: { readyReplicas: number };
      };
      expect(obj.status.readyReplicas).toBe(1);
      expect(obj.spec.replicas).toBe(2); // the status endpoint ignores everything but status
      const entry = (
        obj.metadata.managedFields as { manager: string; subresource?: string; fieldsV1: unknown }[]
      ).find((m) => m.manager === "rollout-controller");
      expect(entry).toMatchObject({
        subresource: "status",
        fieldsV1: { "f:status": { "f:readyReplicas": {}, "f:replicas": {} } },
      });
    });

    it("Apply and Update: fieldManager is required for apply requests (422 on PatchOptions)", async () => {
      const res = await fetch(`${c.server.url}/apis/apps/v1/namespaces/default/deployments/x`, {
        method: "PATCH",
        headers: { "Content-Type": "application/apply-patch+yaml" },
        body: JSON.stringify(deployment("x")),
      });
      expect(res.status).toBe(422);
      expect(((await res.json()) as { message: string }).message).toBe(
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    });
  });

  describe("API Concepts", () => {
    it("Resource versions: an update carrying a stale resourceVersion fails with 409 Conflict", async () => {
      const first = await c.apps.createNamespacedDeployment({
        namespace: "default",
        body: deployment("stale"),
      });
      await c.apps.replaceNamespacedDeployment({
        name: "stale",
        namespace: "default",
        body: { ...first, spec: { ...must(first.spec), replicas: 3 } },
      });
      const status = await failure(
        c.apps.replaceNamespacedDeployment({
          name: "stale",
          namespace: "default",
          body: { ...first, spec: { ...must(first.spec), replicas: 4 } },
        }),
      );
      expect(status.code).toBe(409);
      expect(status.reason).toBe("Conflict");
      expect(status.message).toBe(
        'Operation cannot be fulfilled on deployments.apps "stale": the object has been modified; please apply your changes to the latest version and try again',
      );
    });

    it("Resource versions: metadata.generation advances on spec changes only; a no-op update keeps the resourceVersion", async () => {
      const d = await c.apps.createNamespacedDeployment({ namespace: "default", body: deployment("gen") });
      expect(d.metadata?.generation).toBe(1);
      const labelled = await c.apps.replaceNamespacedDeployment({
        name: "gen",
        namespace: "default",
        body: { ...d, metadata: { ...must(d.metadata), labels: { x: "y" } } },
      });
      expect(labelled.metadata?.generation).toBe(1);
      const scaled = await c.apps.replaceNamespacedDeployment({
        name: "gen",
        namespace: "default",
        body: { ...labelled, spec: { ...must(labelled.spec), replicas: 5 } },
      });
      expect(scaled.metadata?.generation).toBe(2);
      const same = await c.apps.replaceNamespacedDeployment({
        name: "gen",
        namespace: "default",
        body: scaled,
      });
      expect(same.metadata?.resourceVersion).toBe(scaled.metadata?.resourceVersion);
    });

    it("Subresources: the status subresource writes only .status, and the main resource ignores .status", async () => {
      const d = await c.apps.createNamespacedDeployment({ namespace: "default", body: deployment("status") });
      const viaMain = await c.apps.replaceNamespacedDeployment({
        name: "status",
        namespace: "default",
        body: { ...d, status: { replicas: 9 } },
      });
      expect(viaMain.status?.replicas).toBeUndefined();
      const viaStatus = await c.apps.replaceNamespacedDeploymentStatus({
        name: "status",
        namespace: "default",
        body: {
          ...viaMain,
          spec: { ...must(viaMain.spec), replicas: 42 },
          status: { replicas: 2, observedGeneration: 1 },
        },
      });
      expect(viaStatus.status?.replicas).toBe(2);
      expect(viaStatus.spec?.replicas).toBe(2);
      expect(viaStatus.metadata?.generation).toBe(1);
    });

    it("Efficient detection of changes: a watch from a resourceVersion delivers only later events", async () => {
      const before = await c.core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "w-before" }, data: { a: "1" } },
      });
      await c.core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "w-after-1" } },
      });
      const seen: string[] = [];
      const ctl = await new Watch(c.kc).watch(
        "/api/v1/namespaces/default/configmaps",
        { resourceVersion: before.metadata?.resourceVersion },
        (type: string, obj: KubeObject) => seen.push(`${type} ${obj.metadata.name}`),
        () => undefined,
      );
      await c.core.patchNamespacedConfigMap(
        { name: "w-before", namespace: "default", body: { data: { a: "2" } } },
        MERGE_PATCH,
      );
      await c.core.deleteNamespacedConfigMap({ name: "w-after-1", namespace: "default" });
      await until(() => seen.length >= 3);
      ctl.abort();
      expect(seen).toEqual(["ADDED w-after-1", "MODIFIED w-before", "DELETED w-after-1"]);
    });

    it("Efficient detection of changes: a watch with a label selector sees objects enter and leave the selection", async () => {
      const seen: string[] = [];
      const ctl = await new Watch(c.kc).watch(
        "/api/v1/namespaces/default/configmaps",
        { labelSelector: "track=canary" },
        (type: string, obj: KubeObject) =>
          seen.push(`${type} ${obj.metadata.name} ${obj.metadata.labels?.track ?? "-"}`),
        () => undefined,
      );
      await c.core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "sel-w", labels: { track: "stable" } } },
      });
      await c.core.patchNamespacedConfigMap(
        { name: "sel-w", namespace: "default", body: { metadata: { labels: { track: "canary" } } } },
        MERGE_PATCH,
      );
      await c.core.patchNamespacedConfigMap(
        { name: "sel-w", namespace: "default", body: { metadata: { labels: { track: "stable" } } } },
        MERGE_PATCH,
      );
      await until(() => seen.length >= 2);
      ctl.abort();
      // Leaving the selection is reported with the last content that matched.
      expect(seen).toEqual(["ADDED sel-w canary", "DELETED sel-w canary"]);
    });

    it("Efficient detection of changes: a resourceVersion older than the retained history gets 410 Gone (Expired)", async () => {
      const small = await cluster({ historyLimit: 3 });
      try {
        const first = await small.core.createNamespacedConfigMap({
          namespace: "default",
          body: { metadata: { name: "old" } },
        });
        for (let i = 0; i < 5; i++)
          await small.core.createNamespacedConfigMap({
            namespace: "default",
            body: { metadata: { name: `n${i}` } },
          });
        const events: { type: string; obj: { code?: number; reason?: string; message?: string } }[] = [];
        let done = false;
        await new Watch(small.kc).watch(
          "/api/v1/namespaces/default/configmaps",
          { resourceVersion: first.metadata?.resourceVersion },
          (type: string, obj: { code?: number; reason?: string }) => events.push({ type, obj }),
          () => {
            done = true;
          },
        );
        await until(() => done);
        expect(events).toHaveLength(1);
        expect(events[0]?.type).toBe("ERROR");
        expect(events[0]?.obj).toMatchObject({ code: 410, reason: "Expired" });
        expect(events[0]?.obj.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
      } finally {
        await small.server.close();
      }
    });

    it("Field validation: Strict rejects unknown fields with 400; the default (Warn) drops them and warns", async () => {
      const body = { ...deployment("fv"), spec: { ...deployment("fv").spec, colour: "blue" } };
      const strict = await fetch(
        `${c.server.url}/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict`,
        {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        },
      );
      expect(strict.status).toBe(400);
      expect(await strict.json()).toMatchObject({
        kind: "Status",
        status: "Failure",
        reason: "BadRequest",
        message:
          'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.colour"',
      });
      const warn = await fetch(`${c.server.url}/apis/apps/v1/namespaces/default/deployments`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(warn.status).toBe(201);
      expect(warn.headers.get("warning")).toBe('299 - "unknown field \\"spec.colour\\""');
      expect(((await warn.json()) as { spec: Record<string, unknown> }).spec.colour).toBeUndefined();
      // A PATCH has the unknown field reported against the patch, as 422 Invalid.
      const patched = await fetch(
        `${c.server.url}/apis/apps/v1/namespaces/default/deployments/fv?fieldValidation=Strict`,
        {
          method: "PATCH",
          headers: { "Content-Type": "application/merge-patch+json" },
          body: JSON.stringify({ spec: { colour: "red" } }),
        },
      );
      expect(patched.status).toBe(422);
      expect(await patched.json()).toMatchObject({
        reason: "Invalid",
        details: {
          causes: [{ field: "patch", message: expect.stringContaining('unknown field "spec.colour"') }],
        },
      });
    });
  });

  describe("Object Names and IDs / validation", () => {
    it("DNS Subdomain Names: an invalid object name is rejected with 422 Invalid and the real message", async () => {
      const status = await failure(
        c.core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "Model_V1" } } }),
      );
      expect(status.code).toBe(422);
      expect(status.reason).toBe("Invalid");
      expect(status.message).toBe(
        `ConfigMap "Model_V1" is invalid: metadata.name: Invalid value: "Model_V1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      );
      expect(status.details?.causes?.[0]).toMatchObject({
        reason: "FieldValueInvalid",
        field: "metadata.name",
      });
    });

    it("RFC 1123 Label Names: namespace names may not contain dots", async () => {
      const status = await failure(c.core.createNamespace({ body: { metadata: { name: "pr.42" } } }));
      expect(status.code).toBe(422);
      expect(status.message).toContain("a lowercase RFC 1123 label must consist of");
    });

    it("Field validation: a wrong JSON type cannot be decoded into a built-in kind (400 naming the field)", async () => {
      const res = await fetch(`${c.server.url}/apis/apps/v1/namespaces/default/deployments`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          ...deployment("typed"),
          spec: { ...deployment("typed").spec, replicas: "three" },
        }),
      });
      expect(res.status).toBe(400);
      const status = (await res.json()) as { message: string };
      expect(status.message).toContain("spec.replicas");
    });

    it("Custom resources › validation: an HTTPRoute violating its schema is rejected with 422 naming the field", async () => {
      const status = await failure(
        c.objects.create({
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "HTTPRoute",
          metadata: { name: "route", namespace: "default" },
          spec: { parentRefs: [{ name: "gw" }], rules: [{ backendRefs: [{ name: "svc", port: "http" }] }] },
        } as KubernetesObject),
      );
      expect(status.code).toBe(422);
      expect(status.details?.causes?.map((x) => x.field)).toContain("spec.rules[0].backendRefs[0].port");
    });

    it("Deployments › Selector: a selector that does not match the template labels is invalid", async () => {
      const d = deployment("mismatch");
      must(d.spec).selector = { matchLabels: { app: "other" } };
      const status = await failure(c.apps.createNamespacedDeployment({ namespace: "default", body: d }));
      expect(status.code).toBe(422);
      expect(status.details?.causes).toContainEqual(
        expect.objectContaining({ field: "spec.template.metadata.labels" }),
      );
    });

    it("Namespaces: creating an object in a namespace that does not exist fails with 404 NotFound", async () => {
      const status = await failure(
        c.core.createNamespacedConfigMap({ namespace: "pr-404", body: { metadata: { name: "cfg" } } }),
      );
      expect(status).toMatchObject({
        code: 404,
        reason: "NotFound",
        message: 'namespaces "pr-404" not found',
      });
    });

    it("Service: a ClusterIP is allocated on create", async () => {
      const svc = await c.core.createNamespacedService({
        namespace: "default",
        body: {
          metadata: { name: "model" },
          spec: { selector: { app: "model" }, ports: [{ port: 80, targetPort: 8080 }] },
        },
      });
      expect(svc.spec?.clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
      expect(svc.spec?.ports?.[0]?.protocol).toBe("TCP");
    });
  });

  describe("Garbage Collection", () => {
    async function ownerAndDependent(name: string) {
      const owner = await c.apps.createNamespacedDeployment({ namespace: "default", body: deployment(name) });
      await c.core.createNamespacedConfigMap({
        namespace: "default",
        body: {
          metadata: {
            name: `${name}-dep`,
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "Deployment",
                name,
                uid: must(owner.metadata?.uid),
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
        },
      });
    }
    const exists = async (name: string) =>
      (await c.core.listNamespacedConfigMap({ namespace: "default", fieldSelector: `metadata.name=${name}` }))
        .items.length > 0;

    it("Cascading deletion › Background: deleting an owner deletes its dependents", async () => {
      await ownerAndDependent("gc-bg");
      await c.apps.deleteNamespacedDeployment({
        name: "gc-bg",
        namespace: "default",
        propagationPolicy: "Background",
      });
      await until(async () => !(await exists("gc-bg-dep")));
    });

    it("Cascading deletion › Foreground: the owner stays (with deletionTimestamp) until its dependents are gone", async () => {
      await ownerAndDependent("gc-fg");
      const pending = await fetch(
        `${c.server.url}/apis/apps/v1/namespaces/default/deployments/gc-fg?propagationPolicy=Foreground`,
        { method: "DELETE" },
      );
      const body = (await pending.json()) as KubeObject;
      expect(body.metadata.deletionTimestamp).toBeTruthy();
      expect(body.metadata.finalizers).toContain("foregroundDeletion");
      await until(async () => !(await exists("gc-fg-dep")));
      await until(
        async () =>
          (
            await c.apps.listNamespacedDeployment({
              namespace: "default",
              fieldSelector: "metadata.name=gc-fg",
            })
          ).items.length === 0,
      );
    });

    it("Orphaned dependents: propagationPolicy=Orphan keeps dependents and clears their ownerReferences", async () => {
      await ownerAndDependent("gc-orphan");
      await c.apps.deleteNamespacedDeployment({
        name: "gc-orphan",
        namespace: "default",
        propagationPolicy: "Orphan",
      });
      await until(
        async () =>
          (
            await c.apps.listNamespacedDeployment({
              namespace: "default",
              fieldSelector: "metadata.name=gc-orphan",
            })
          ).items.length === 0,
      );
      await c.store.gcIdle();
      const dep = await c.core.readNamespacedConfigMap({ name: "gc-orphan-dep", namespace: "default" });
      expect(dep.metadata?.ownerReferences).toBeUndefined();
    });
  });

  describe("Labels and Selectors", () => {
    beforeAll(async () => {
      const labelled: Record<string, Record<string, string>> = {
        "sel-a": { app: "model", track: "stable", pr: "1" },
        "sel-b": { app: "model", track: "canary", pr: "2" },
        "sel-c": { app: "gateway" },
        "sel-d": { app: "model", track: "preview" },
      };
      await c.core.createNamespace({ body: { metadata: { name: "selectors" } } });
      for (const [name, labels] of Object.entries(labelled)) {
        await c.core.createNamespacedConfigMap({
          namespace: "selectors",
          body: { metadata: { name, labels } },
        });
      }
    });
    const names = async (labelSelector: string) =>
      (await c.core.listNamespacedConfigMap({ namespace: "selectors", labelSelector })).items.map(
        (x) => x.metadata?.name,
      );

    it.each([
      ["Equality-based requirement: =", "app=model", ["sel-a", "sel-b", "sel-d"]],
      ["Equality-based requirement: !=", "app=model,track!=canary", ["sel-a", "sel-d"]],
      ["Set-based requirement: in", "track in (stable, canary)", ["sel-a", "sel-b"]],
      [
        "Set-based requirement: notin (also matches objects without the key)",
        "track notin (canary)",
        ["sel-a", "sel-c", "sel-d"],
      ],
      ["Set-based requirement: exists", "pr", ["sel-a", "sel-b"]],
      ["Set-based requirement: !key", "app=model,!pr", ["sel-d"]],
    ])("%s (%s)", async (_title, selector, expected) => {
      expect(await names(selector)).toEqual(expected);
    });

    it("Field selectors: metadata.name, and a 400 for fields the resource does not support", async () => {
      const got = await c.core.listNamespacedConfigMap({
        namespace: "selectors",
        fieldSelector: "metadata.name=sel-c",
      });
      expect(got.items.map((x) => x.metadata?.name)).toEqual(["sel-c"]);
      const status = await failure(
        c.core.listNamespacedConfigMap({ namespace: "default", fieldSelector: "data.key=x" }),
      );
      expect(status).toMatchObject({
        code: 400,
        reason: "BadRequest",
        message: "field label not supported: data.key",
      });
    });

    it("Syntax: a malformed selector is a 400 BadRequest", async () => {
      const status = await failure(
        c.core.listNamespacedConfigMap({ namespace: "default", labelSelector: "app in (a" }),
      );
      expect(status.code).toBe(400);
    });
  });

  describe("Pods", () => {
    it("Pod termination: a pod bound to a node stays Terminating until its kubelet deletes it with grace period 0", async () => {
      await c.core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name: "bound" },
          spec: { nodeName: "node-1", containers: [{ name: "model", image: "registry.local/model:1" }] },
        },
      });
      const terminating = await fetch(`${c.server.url}/api/v1/namespaces/default/pods/bound`, {
        method: "DELETE",
      });
      const pod = (await terminating.json()) as KubeObject;
      expect(pod.metadata.deletionTimestamp).toBeTruthy();
      expect(pod.metadata.deletionGracePeriodSeconds).toBe(30);
      // The kubelet's status writes do not finish the deletion; its own delete with 0 does.
      c.store.updateStatus({ ...pod, status: { phase: "Running" } }, { fieldManager: "kubelet" });
      expect(c.store.get("v1", "Pod", "default", "bound")).toBeDefined();
      c.store.delete("v1", "Pod", "default", "bound", { gracePeriodSeconds: 0 });
      expect(c.store.get("v1", "Pod", "default", "bound")).toBeUndefined();
    });

    it("pods/log: log text comes from the provider the node registers", async () => {
      c.store.setLogProvider(
        async (ns, pod, container, opts) => `${ns}/${pod}/${container} tail=${opts.tailLines ?? "all"}\n`,
      );
      await c.core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name: "p" },
          spec: { containers: [{ name: "model", image: "registry.local/model:1" }] },
        },
      });
      const text = await c.core.readNamespacedPodLog({
        name: "p",
        namespace: "default",
        container: "model",
        tailLines: 5,
      });
      expect(text).toBe("default/p/model tail=5\n");
    });
  });
});

describe("RBAC Authorization", () => {
  let c: Cluster;
  let url: string;
  beforeAll(async () => {
    const store = new Store();
    store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "apps" } });
    const server = await startApiServer({
      store,
      tokens: {
        "deployer-token": {
          user: "system:serviceaccount:apps:deployer",
          rules: [
            {
              verbs: ["get", "list", "watch", "create"],
              apiGroups: ["apps"],
              resources: ["deployments"],
              namespaces: ["apps"],
            },
          ],
        },
      },
    });
    url = server.url;
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfig({ token: "deployer-token" }));
    c = {
      store,
      server,
      kc,
      objects: KubernetesObjectApi.makeApiClient(kc),
      core: kc.makeApiClient(CoreV1Api),
      apps: kc.makeApiClient(AppsV1Api),
    };
  });
  afterAll(async () => {
    await c.server.close();
  });

  it("a verb the role does not grant is 403 Forbidden with the authorizer's message", async () => {
    await c.apps.createNamespacedDeployment({
      namespace: "apps",
      body: { ...deployment("model"), metadata: { name: "model", namespace: "apps" } },
    });
    const spec = { ...deployment("model"), metadata: { name: "model", namespace: "apps" } };
    const status = await failure(ssa(c, spec, "slipway"));
    expect(status).toMatchObject({
      code: 403,
      reason: "Forbidden",
      message:
        'deployments.apps "model" is forbidden: User "system:serviceaccount:apps:deployer" cannot patch resource "deployments" in API group "apps" in the namespace "apps"',
    });
  });

  it("a namespaced grant does not reach other namespaces", async () => {
    const status = await failure(c.apps.listNamespacedDeployment({ namespace: "default" }));
    expect(status.message).toBe(
      'deployments.apps is forbidden: User "system:serviceaccount:apps:deployer" cannot list resource "deployments" in API group "apps" in the namespace "default"',
    );
  });

  it("Authenticating: a missing or unknown bearer token is 401 Unauthorized", async () => {
    for (const headers of [{}, { Authorization: "Bearer nope" }]) {
      const res = await fetch(`${url}/api/v1/namespaces`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    }
  });
});

describe("kubectl against the test cluster", () => {
  let c: Cluster;
  let dir: string;
  let kubeconfig: string;
  const kubectl = (...args: string[]) => run("kubectl", ["--kubeconfig", kubeconfig, ...args]);

  beforeAll(async () => {
    c = await cluster();
    dir = mkdtempSync(join(tmpdir(), "kube-api-"));
    kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, c.server.kubeconfig());
  });
  afterAll(async () => {
    await c.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("kubectl get ns lists the namespaces every cluster starts with", async () => {
    const { stdout } = await kubectl("get", "ns");
    const rows = stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^NAME\s+STATUS\s+AGE$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 2).join(" "))).toEqual([
      "default Active",
      "kube-node-lease Active",
      "kube-public Active",
      "kube-system Active",
    ]);
  });

  it("kubectl apply --server-side creates, then kubectl get deploy -o json reads it back", async () => {
    const file = join(dir, "deploy.json");
    writeFileSync(file, JSON.stringify(deployment("cli")));
    const applied = await kubectl("apply", "--server-side", "--field-manager", "slipway", "-f", file);
    expect(applied.stdout.trim()).toBe("deployment.apps/cli serverside-applied");
    const { stdout } = await kubectl("get", "deploy", "cli", "-o", "json");
    const obj = JSON.parse(stdout) as KubeObject & { spec: { replicas: number } };
    expect(obj.spec.replicas).toBe(2);
  });

  it("kubectl apply --server-side validates on the server: an unknown field fails under Strict", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({ ...deployment("bad"), spec: { ...deployment("bad").spec, colour: "blue" } }),
    );
    // kubectl ≥ 1.25 asks for fieldValidation=Strict and the server refuses; older kubectl (Debian's 1.20)
    // does not ask, and the server applies it with the warning the real one sends.
    const result = await kubectl("apply", "--server-side", "-f", file).then(
      (r) => ({ failed: false, stderr: r.stderr }),
      (e: { stderr: string }) => ({ failed: true, stderr: e.stderr }),
    );
    expect(result.stderr).toContain(
      result.failed ? 'strict decoding error: unknown field "spec.colour"' : 'unknown field "spec.colour"',
    );
  });

  it("the watch kubectl rollout status uses (fieldSelector=metadata.name) streams that one Deployment's changes", async () => {
    const d = await c.apps.createNamespacedDeployment({ namespace: "default", body: deployment("rollout") });
    await c.apps.createNamespacedDeployment({ namespace: "default", body: deployment("bystander") });
    const res = await fetch(
      `${c.server.url}/apis/apps/v1/namespaces/default/deployments?fieldSelector=metadata.name%3Drollout&resourceVersion=${d.metadata?.resourceVersion}&watch=true`,
    );
    expect(res.headers.get("content-type")).toBe("application/json");
    const reader = must(res.body).getReader();
    await c.apps.patchNamespacedDeployment(
      { name: "bystander", namespace: "default", body: { spec: { replicas: 4 } } },
      MERGE_PATCH,
    );
    await c.apps.patchNamespacedDeployment(
      { name: "rollout", namespace: "default", body: { spec: { replicas: 3 } } },
      MERGE_PATCH,
    );
    const { value } = await reader.read();
    await reader.cancel();
    const event = JSON.parse(new TextDecoder().decode(value).split("\n")[0] ?? "") as {
      type: string;
      object: KubeObject;
    };
    expect(event.type).toBe("MODIFIED");
    expect(event.object.metadata.name).toBe("rollout");
  });
});

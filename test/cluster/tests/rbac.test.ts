// RBAC from the objects in the cluster (https://kubernetes.io/docs/reference/access-authn-authz/rbac/):
// a service account's token is authorized by the Roles, RoleBindings, ClusterRoles and
// ClusterRoleBindings stored in the cluster, and a denial is the Forbidden Status the real API server
// writes. Clients are the ones Slipway uses (@kubernetes/client-node's server-side apply) and kubectl.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiServer, startApiServer } from "../api-server.js";
import { startTestCluster } from "../cluster.js";
import { kubectl } from "../kubectl.js";
import { type KubeObject, Store } from "../store.js";

const RBAC = "rbac.authorization.k8s.io/v1";
const SA = "system:serviceaccount:team:deployer";

let store: Store;
let server: ApiServer;
let dir: string;

/** A client for the service account team/deployer, through a TokenRequest token. */
function asDeployer(): { objects: KubernetesObjectApi; core: CoreV1Api; kubeconfig: string } {
  const kc = new KubeConfig();
  const text = server.kubeconfig({
    token: server.serviceAccountToken("team", "deployer"),
    namespace: "team",
  });
  kc.loadFromString(text);
  const kubeconfig = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(kubeconfig, text);
  return { objects: KubernetesObjectApi.makeApiClient(kc), core: kc.makeApiClient(CoreV1Api), kubeconfig };
}

async function status(p: Promise<unknown>): Promise<{ code: number; reason?: string; message?: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException) return JSON.parse(String(e.body)) as { code: number; message: string };
    throw e;
  }
  throw new Error("expected the request to fail");
}

function apply<T extends KubernetesObject>(objects: KubernetesObjectApi, obj: T): Promise<T> {
  return objects.patch(obj, undefined, undefined, "slipway", true, PatchStrategy.ServerSideApply);
}

const deployment = (name: string, namespace = "team") => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: "main", image: "registry.local/model:1" }] },
    },
  },
});

const service = (name: string) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "team" },
  spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8000 }] },
});

beforeAll(async () => {
  store = new Store();
  server = await startApiServer({ store });
  dir = mkdtempSync(join(tmpdir(), "kube-rbac-"));
  for (const ns of ["team", "other"])
    store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  store.create({
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: "deployer", namespace: "team" },
  });
  // The deployer may read and patch Deployments in its namespace, and read Services and pod logs.
  store.create({
    apiVersion: RBAC,
    kind: "Role",
    metadata: { name: "deployer", namespace: "team" },
    rules: [
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "create", "patch"] },
      { apiGroups: [""], resources: ["services"], verbs: ["get", "list"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
    ],
  } as KubeObject);
  store.create({
    apiVersion: RBAC,
    kind: "RoleBinding",
    metadata: { name: "deployer", namespace: "team" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "deployer" },
    subjects: [{ kind: "ServiceAccount", name: "deployer", namespace: "team" }],
  } as KubeObject);
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a Role bound to a service account", () => {
  it("allows what it grants: server-side apply of a Deployment (patch, then create)", async () => {
    const { objects } = asDeployer();
    const applied: KubernetesObject = await apply(objects, deployment("model"));
    expect(applied.metadata?.uid).toBeDefined();
  });

  it("applying a Service it may not patch is Forbidden, naming the user, verb, resource, group and namespace", async () => {
    const { objects } = asDeployer();
    expect(await status(apply(objects, service("model")))).toMatchObject({
      kind: "Status",
      status: "Failure",
      code: 403,
      reason: "Forbidden",
      message: `services "model" is forbidden: User "${SA}" cannot patch resource "services" in API group "" in the namespace "team"`,
      details: { name: "model", kind: "services" },
    });
  });

  it.each([
    {
      what: "create (POST, no name)",
      path: "/apis/apps/v1/namespaces/team/replicasets",
      method: "POST",
      message: `replicasets.apps is forbidden: User "${SA}" cannot create resource "replicasets" in API group "apps" in the namespace "team"`,
    },
    {
      what: "list in another namespace",
      path: "/apis/apps/v1/namespaces/other/deployments",
      method: "GET",
      message: `deployments.apps is forbidden: User "${SA}" cannot list resource "deployments" in API group "apps" in the namespace "other"`,
    },
    {
      what: "watch across all namespaces (the cluster scope)",
      path: "/apis/apps/v1/deployments?watch=true",
      method: "GET",
      message: `deployments.apps is forbidden: User "${SA}" cannot watch resource "deployments" in API group "apps" at the cluster scope`,
    },
    {
      what: "deletecollection (DELETE without a name)",
      path: "/apis/apps/v1/namespaces/team/deployments",
      method: "DELETE",
      message: `deployments.apps is forbidden: User "${SA}" cannot deletecollection resource "deployments" in API group "apps" in the namespace "team"`,
    },
    {
      what: "a subresource (pods/log)",
      path: "/api/v1/namespaces/team/pods/p/log",
      method: "GET",
      message: `pods "p" is forbidden: User "${SA}" cannot get resource "pods/log" in API group "" in the namespace "team"`,
    },
    {
      what: "a cluster-scoped create",
      path: "/api/v1/namespaces",
      method: "POST",
      message: `namespaces is forbidden: User "${SA}" cannot create resource "namespaces" in API group "" at the cluster scope`,
    },
    {
      what: "a Namespace by name (its own namespace for RBAC)",
      path: "/api/v1/namespaces/team",
      method: "GET",
      message: `namespaces "team" is forbidden: User "${SA}" cannot get resource "namespaces" in API group "" in the namespace "team"`,
    },
  ])("denies $what with the authorizer's wording", async ({ path, method, message }) => {
    const token = server.serviceAccountToken("team", "deployer");
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      ...(method === "POST" ? { body: "{}" } : {}),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ reason: "Forbidden", code: 403, message });
  });

  it("server-side apply that would create without the create verb is refused inside the handler, with RBAC's empty reason", async () => {
    store.create({
      apiVersion: RBAC,
      kind: "Role",
      metadata: { name: "patcher", namespace: "other" },
      rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "patch"] }],
    } as KubeObject);
    store.create({
      apiVersion: RBAC,
      kind: "RoleBinding",
      metadata: { name: "patcher", namespace: "other" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "patcher" },
      subjects: [{ kind: "ServiceAccount", name: "deployer", namespace: "team" }],
    } as KubeObject);
    const { objects } = asDeployer();
    // handlers/patch.go authorizes the implied create with withAuthorization, whose Forbidden carries
    // only the authorizer's reason (empty for RBAC), not the usual "User … cannot …" sentence.
    expect(await status(apply(objects, deployment("new", "other")))).toMatchObject({
      code: 403,
      message: 'deployments.apps "new" is forbidden: ',
    });
  });

  it("a binding to a Role that does not exist adds RBAC's reason to the denial", async () => {
    store.create({
      apiVersion: RBAC,
      kind: "RoleBinding",
      metadata: { name: "dangling", namespace: "team" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "missing" },
      subjects: [{ kind: "ServiceAccount", name: "deployer" }],
    } as KubeObject);
    const { core } = asDeployer();
    expect(await status(core.listNamespacedSecret({ namespace: "team" }))).toMatchObject({
      message: `secrets is forbidden: User "${SA}" cannot list resource "secrets" in API group "" in the namespace "team": RBAC: role.rbac.authorization.k8s.io "missing" not found`,
    });
    store.delete(RBAC, "RoleBinding", "team", "dangling");
  });

  it("resourceNames narrow a rule to those names, also for a list whose field selector pins one; */status matches any status", async () => {
    store.create({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "watcher", namespace: "team" },
    });
    store.create({
      apiVersion: RBAC,
      kind: "Role",
      metadata: { name: "watcher", namespace: "team" },
      rules: [
        { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["model"], verbs: ["get", "list"] },
        { apiGroups: ["apps"], resources: ["*/status"], verbs: ["get"] },
      ],
    } as KubeObject);
    store.create({
      apiVersion: RBAC,
      kind: "RoleBinding",
      metadata: { name: "watcher", namespace: "team" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "watcher" },
      subjects: [{ kind: "ServiceAccount", name: "watcher" }],
    } as KubeObject);
    const token = server.serviceAccountToken("team", "watcher");
    const get = (path: string) =>
      fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    const base = "/apis/apps/v1/namespaces/team/deployments";
    expect((await get(`${base}/model`)).status).toBe(200);
    expect((await get(`${base}/model/status`)).status).toBe(200);
    expect((await get(`${base}?fieldSelector=metadata.name%3Dmodel`)).status).toBe(200);
    const all = await get(base);
    expect(all.status).toBe(403);
    expect(((await all.json()) as { message: string }).message).toBe(
      'deployments.apps is forbidden: User "system:serviceaccount:team:watcher" cannot list resource "deployments" in API group "apps" in the namespace "team"',
    );
    expect((await get(`${base}/other`)).status).toBe(403);
  });

  it("kubectl with the service account's kubeconfig shows the same Forbidden", async () => {
    const { kubeconfig } = asDeployer();
    const file = join(dir, "svc.json");
    writeFileSync(file, JSON.stringify(service("web")));
    const r = await kubectl(kubeconfig, ["apply", "--server-side", "-f", file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `services "web" is forbidden: User "${SA}" cannot patch resource "services" in API group "" in the namespace "team"`,
    );
    expect((await kubectl(kubeconfig, ["get", "services"])).code).toBe(0);
  });
});

describe("a ClusterRoleBinding", () => {
  it("grants its ClusterRole in every namespace and at the cluster scope; a RoleBinding to it only in its own", async () => {
    store.create({
      apiVersion: RBAC,
      kind: "ClusterRole",
      metadata: { name: "config-reader" },
      rules: [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["list"] },
        { apiGroups: [""], resources: ["namespaces"], verbs: ["create"] },
      ],
    } as KubeObject);
    const { core } = asDeployer();
    expect((await status(core.listNamespacedConfigMap({ namespace: "other" }))).code).toBe(403);

    // Bound through a RoleBinding in "other", the ClusterRole's rules apply in "other" only.
    store.create({
      apiVersion: RBAC,
      kind: "RoleBinding",
      metadata: { name: "config-reader", namespace: "other" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "config-reader" },
      subjects: [{ kind: "ServiceAccount", name: "deployer", namespace: "team" }],
    } as KubeObject);
    await core.listNamespacedConfigMap({ namespace: "other" });
    expect((await status(core.listNamespacedConfigMap({ namespace: "default" }))).code).toBe(403);
    expect((await status(core.createNamespace({ body: { metadata: { name: "made-by-sa" } } }))).message).toBe(
      `namespaces is forbidden: User "${SA}" cannot create resource "namespaces" in API group "" at the cluster scope`,
    );

    store.create({
      apiVersion: RBAC,
      kind: "ClusterRoleBinding",
      metadata: { name: "config-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "config-reader" },
      subjects: [{ kind: "ServiceAccount", name: "deployer", namespace: "team" }],
    } as KubeObject);
    await core.listNamespacedConfigMap({ namespace: "default" });
    await core.listNamespacedConfigMap({ namespace: "kube-system" });
    await core.listConfigMapForAllNamespaces();
    const created = await core.createNamespace({ body: { metadata: { name: "made-by-sa" } } });
    expect(created.metadata?.name).toBe("made-by-sa");
  });

  it("the bootstrap cluster-admin ClusterRole grants everything to whoever it is bound to", async () => {
    expect(store.get(RBAC, "ClusterRole", undefined, "cluster-admin")).toBeDefined();
    store.create({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "root", namespace: "other" },
    });
    store.create({
      apiVersion: RBAC,
      kind: "ClusterRoleBinding",
      metadata: { name: "root-admin" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: "root", namespace: "other" }],
    } as KubeObject);
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfig({ token: server.serviceAccountToken("other", "root") }));
    const core = kc.makeApiClient(CoreV1Api);
    await core.listSecretForAllNamespaces();
    await core.deleteNamespace({ name: "made-by-sa" });
  });
});

describe("service-account tokens", () => {
  it("stop authenticating once the ServiceAccount is deleted (401), and need an existing ServiceAccount", async () => {
    store.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "temp", namespace: "team" } });
    const token = server.serviceAccountToken("team", "temp");
    const get = () =>
      fetch(`${server.url}/api/v1/namespaces/team/pods`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await get()).status).toBe(403);
    store.delete("v1", "ServiceAccount", "team", "temp");
    const res = await get();
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    expect(() => server.serviceAccountToken("team", "temp")).toThrow('serviceaccounts "temp" not found');
  });
});

describe("on the whole cluster", () => {
  it("serviceAccountKubeconfig gives kubectl the service account's identity and namespace", async () => {
    const cluster = await startTestCluster({ stack: inject("slipwayStack") });
    try {
      const admin = (args: string[]) => kubectl(cluster.kubeconfigPath, args);
      expect((await admin(["create", "namespace", "ml"])).code).toBe(0);
      expect((await admin(["create", "serviceaccount", "slipway", "-n", "ml"])).code).toBe(0);
      expect(
        (await admin(["create", "role", "cm", "--verb=get,list,create", "--resource=configmaps", "-n", "ml"]))
          .code,
      ).toBe(0);
      expect(
        (await admin(["create", "rolebinding", "cm", "--role=cm", "--serviceaccount=ml:slipway", "-n", "ml"]))
          .code,
      ).toBe(0);
      const kubeconfig = await cluster.serviceAccountKubeconfig("ml", "slipway");
      const sa = (args: string[]) => kubectl(kubeconfig, args);
      expect(await sa(["create", "configmap", "c", "--from-literal=a=b"])).toMatchObject({
        code: 0,
        stdout: "configmap/c created\n",
      });
      const denied = await sa(["create", "secret", "generic", "s", "--from-literal=a=b"]);
      expect(denied.stderr).toContain(
        'secrets is forbidden: User "system:serviceaccount:ml:slipway" cannot create resource "secrets" in API group "" in the namespace "ml"',
      );
    } finally {
      await cluster.stop();
    }
  });
});

// The bundled Action deploying a pull request's preview, as a workflow runs it on the local test
// cluster: `dry-run: false`, the registry the workflow names, a kubeconfig whose credential is a
// ServiceAccount token, and a secret for the endpoints. Both endpoints of the sample repository answer
// at their version URLs and at the pull request's alias; the token and the secret are masked and
// appear in no log, output or summary, nor in the version record; a second run of the same event
// changes nothing; and without Kubernetes access the Action builds and says it did not deploy.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { createKubeClient, type KubeClient, type KubeObject } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { CLUSTER_LABEL } from "../cluster/node.js";
import { type ActionRun, actionOutputs, runAction, webhookPayload } from "../support/run-action.js";
import { type SampleRepo, sampleRepoFor } from "../support/sample-deploy.js";
import { expectNoSecret } from "../support/secret-scan.js";

const NAMESPACE = "ml-previews";
const API_KEY = `key-${randomBytes(12).toString("hex")}`;
const event = webhookPayload("pull_request", "opened") as {
  number: number;
  pull_request: { head: { sha: string } };
};
const VERSION = event.pull_request.head.sha.slice(0, 12);
const ALIAS = `pr-${event.number}`;
// GITHUB_REPOSITORY in run-action is Codertocat/Hello-World: the URLs are that project's.
const PREFIX = "/codertocat/hello-world/mnist";

let cluster: TestCluster;
let sample: SampleRepo;
let admin: KubeClient;
/** The kubeconfig the workflow passes: a deployer ServiceAccount's, its token the credential to hide. */
let kubeconfig: string;
let token: string;

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  sample = sampleRepoFor(cluster);
  admin = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
  await admin.apply({
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: "deployer", namespace: "default" },
  });
  await admin.apply({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "deployer" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ kind: "ServiceAccount", name: "deployer", namespace: "default" }],
  });
  kubeconfig = readFileSync(await cluster.serviceAccountKubeconfig("default", "deployer"), "utf8");
  const parsed = parseYaml(kubeconfig) as { users: { user: { token: string } }[] };
  token = parsed.users[0]?.user.token ?? "";
  expect(token.length).toBeGreaterThan(16);
});

afterAll(async () => {
  admin?.close();
  await cluster?.stop();
});

const inputs = (extra: Record<string, string> = {}) => ({
  "dry-run": "false",
  // The workflow names the registry; the config naming the same one is then allowed.
  registry: `${cluster.registry}/acme/mnist`,
  secrets: `API_KEY=${API_KEY}`,
  ...extra,
});

async function get(url: string): Promise<{ status: number; body: string }> {
  expect(url.startsWith(cluster.gatewayUrl), url).toBe(true);
  const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

function expectSecretsHidden(run: ActionRun): void {
  expect(run.stdout).toContain(`::add-mask::${API_KEY}`);
  expect(run.stdout).toContain(`::add-mask::${token}`);
  expectNoSecret(run, [API_KEY, token]);
}

/** resourceVersion of every object Slipway manages in the namespace. */
async function snapshot(): Promise<Record<string, string | undefined>> {
  const kinds = [
    { apiVersion: "v1", kind: "ConfigMap" },
    { apiVersion: "v1", kind: "Secret" },
    { apiVersion: "v1", kind: "Service" },
    { apiVersion: "apps/v1", kind: "Deployment" },
    { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
  ];
  const lists = await Promise.all(
    kinds.map((k) =>
      admin.list<KubeObject>(k, NAMESPACE, { labelSelector: "app.kubernetes.io/managed-by=slipway" }),
    ),
  );
  return Object.fromEntries(
    lists.flatMap((l) => l.items).map((o) => [`${o.kind}/${o.metadata?.name}`, o.metadata?.resourceVersion]),
  );
}

describe("the Action deploying a pull request's preview", () => {
  let first: ActionRun;

  it("builds, deploys and outputs the version's URLs and the pull request's alias URLs", async () => {
    first = await runAction(inputs({ kubeconfig }), sample.dir, event);
    expect(first.stderr).toBe("");
    expect(first.code, first.stdout).toBe(0);
    const out = actionOutputs(first.output);
    expect(out.version).toBe(VERSION);
    const urls = JSON.parse(out.urls ?? "{}") as Record<string, string>;
    expect(urls).toEqual({
      "predict-digits": `${cluster.gatewayUrl}${PREFIX}/${VERSION}/predict-digits`,
      "health-check": `${cluster.gatewayUrl}${PREFIX}/${VERSION}/health-check`,
    });
    const aliasUrls = JSON.parse(out["alias-urls"] ?? "{}") as Record<string, Record<string, string>>;
    // The log says where the version answers too.
    expect(first.stdout).toContain(`Version ${VERSION} is ready in namespace ${NAMESPACE}`);
    expect(first.stdout).toContain(`${ALIAS}: ${cluster.gatewayUrl}${PREFIX}/${ALIAS}/predict-digits`);
    expect(aliasUrls).toEqual({
      [ALIAS]: {
        "predict-digits": `${cluster.gatewayUrl}${PREFIX}/${ALIAS}/predict-digits`,
        "health-check": `${cluster.gatewayUrl}${PREFIX}/${ALIAS}/health-check`,
      },
    });
  });

  it("serves each endpoint at its version URL with the app's own response", async () => {
    const urls = JSON.parse(actionOutputs(first.output).urls ?? "{}") as Record<string, string>;
    const predict = await get(urls["predict-digits"] ?? "");
    expect(predict.status).toBe(200);
    expect(JSON.parse(predict.body)).toEqual({
      model: "digits-v1",
      prediction: expect.anything(),
      script_name: `${PREFIX}/${VERSION}/predict-digits`,
      path: "/",
      forwarded_prefix: `${PREFIX}/${VERSION}/predict-digits`,
    });
    expect(await get(urls["health-check"] ?? "")).toEqual({ status: 200, body: "ok\n" });
  });

  it("serves the same pods at the alias, rewritten onto the version, with X-Forwarded-Prefix", async () => {
    const aliasUrls = JSON.parse(actionOutputs(first.output)["alias-urls"] ?? "{}") as Record<
      string,
      Record<string, string>
    >;
    const predict = await get(aliasUrls[ALIAS]?.["predict-digits"] ?? "");
    expect(predict.status).toBe(200);
    expect(JSON.parse(predict.body)).toMatchObject({
      script_name: `${PREFIX}/${VERSION}/predict-digits`,
      path: "/",
      forwarded_prefix: `${PREFIX}/${ALIAS}/predict-digits`,
    });
    expect(await get(aliasUrls[ALIAS]?.["health-check"] ?? "")).toEqual({ status: 200, body: "ok\n" });
  });

  it("reports the deploy in the job summary", () => {
    expect(first.summary).toContain(`### Deployed version \`${VERSION}\` to \`${NAMESPACE}\``);
    expect(first.summary).toContain("| Endpoint | State | URL | Aliases | Image |");
    for (const endpoint of ["predict-digits", "health-check"]) {
      expect(first.summary).toMatch(
        new RegExp(
          `\\| \`${endpoint}\` \\| ready \\| <[^>]*/${VERSION}/${endpoint}> \\| pr\\\\-${event.number}: <[^>]*/${ALIAS}/${endpoint}> \\| \`[^\`]*@sha256:`,
        ),
      );
    }
  });

  it("masks the secret and the kubeconfig's token, and shows neither anywhere", () => {
    expectSecretsHidden(first);
  });

  it("keeps the secret in the Secret Slipway owns, never in the version record", async () => {
    const secrets = await admin.list<KubeObject & { data?: Record<string, string> }>(
      { apiVersion: "v1", kind: "Secret" },
      NAMESPACE,
      { labelSelector: "app.kubernetes.io/managed-by=slipway" },
    );
    const held = secrets.items.filter((s) => s.data?.API_KEY !== undefined);
    expect(held).toHaveLength(1);
    expect(Buffer.from(held[0]?.data?.API_KEY ?? "", "base64").toString()).toBe(API_KEY);
    const records = await admin.list<KubeObject>({ apiVersion: "v1", kind: "ConfigMap" }, NAMESPACE, {
      labelSelector: "app.kubernetes.io/managed-by=slipway",
    });
    expect(records.items.length).toBeGreaterThan(0);
    const text = JSON.stringify(records.items);
    expect(text).toContain(VERSION);
    for (const form of [API_KEY, Buffer.from(API_KEY).toString("base64"), token])
      expect(text.includes(form)).toBe(false);
  });

  it("passes the secret to each endpoint's container by reference to that Secret", async () => {
    const deployments = await admin.list<KubeObject & { spec?: unknown }>(
      { apiVersion: "apps/v1", kind: "Deployment" },
      NAMESPACE,
      { labelSelector: "app.kubernetes.io/managed-by=slipway" },
    );
    expect(deployments.items).toHaveLength(2);
    for (const d of deployments.items) expect(JSON.stringify(d).includes(API_KEY)).toBe(false);
    for (const endpoint of ["predict-digits", "health-check"]) {
      const [container] = await cluster.docker.listContainers({
        filters: {
          label: [`${CLUSTER_LABEL}=${cluster.clusterId}`, `io.kubernetes.container.name=${endpoint}`],
        },
      });
      expect(container, endpoint).toBeDefined();
      const env = (await cluster.docker.getContainer(container?.Id ?? "").inspect()).Config.Env;
      expect(env).toContain(`API_KEY=${API_KEY}`);
    }
  });

  it("changes nothing when the same event runs again", async () => {
    const before = await snapshot();
    const again = await runAction(inputs({ kubeconfig }), sample.dir, event);
    expect(again.stderr).toBe("");
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toMatch(
      new RegExp(`Applied version ${VERSION} to ${NAMESPACE}: 0 of \\d+ objects changed`),
    );
    expect(await snapshot()).toEqual(before);
    expect(actionOutputs(again.output)["alias-urls"]).toBe(actionOutputs(first.output)["alias-urls"]);
    expectSecretsHidden(again);
  });
});

describe("the Action without Kubernetes access", () => {
  it("builds, and ends with the notice that it did not deploy", async () => {
    const run = await runAction(inputs(), sample.dir, event);
    expect(run.stderr).toBe("");
    expect(run.code, run.stdout).toBe(0);
    const images = JSON.parse(actionOutputs(run.output).images ?? "{}") as Record<string, string>;
    expect(Object.keys(images).sort()).toEqual(["health-check", "predict-digits"]);
    expect(actionOutputs(run.output)["alias-urls"]).toBeUndefined();
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.at(-1)).toMatch(/^::notice::No Kubernetes access .*built, not deployed\.$/);
    expect(run.summary).not.toContain("### Deployed version");
    expectNoSecret(run, [API_KEY]);
  });
});

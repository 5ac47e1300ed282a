// Who may deploy, and what bad access looks like, on the local test cluster: a ServiceAccount with
// exactly docs/rbac.yaml's permissions deploys, re-deploys, previews, lists, retires, promotes and tears down, and uses every
// one of them (a recording proxy between Slipway and the API server says which it used); a Role short
// of one verb stops a deploy with that verb, resource and namespace, says what was applied, leaves
// nothing of the version running and moves no alias; an unreachable server, a missing context and a
// namespace it may neither read nor create are clear errors that apply nothing; and a secret value that
// is the kubeconfig's own token reaches only the managed Secret.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments, parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ANNOTATION_FAILURE } from "../../src/flows/deploy.js";
import { createKubeClient, type KubeClient, type KubeObject } from "../../src/kube/index.js";
import { startTestCluster, type TestCluster } from "../cluster/cluster.js";
import { type CliRun, runCli } from "../support/run-cli.js";
import { type SampleRepo, sampleRepoFor } from "../support/sample-deploy.js";
import { SecretScan } from "../support/secret-scan.js";
import { makeTestCert } from "../support/test-cert.js";

const NAMESPACE = "ml-previews";
const root = new URL("../../", import.meta.url).pathname;
const version = (commit: string) => commit.slice(0, 12);
const GOOD = "a1".repeat(20);
const PREVIEWED = "b2".repeat(20);
const CRASH = "c3".repeat(20);
const PULL_REQUEST = "e7".repeat(20);
const TOKEN_IN_SECRET = "f6".repeat(20);
const CRASH_LINE = "predict.server: cannot load weights";

let cluster: TestCluster;
let admin: KubeClient;
let work: string;
let cacheDir: string;
let sample: SampleRepo;
/** The ServiceAccount ml-previews/slipway, bound to docs/rbac.yaml's objects. */
let saKubeconfig: string;
let saToken: string;
/** The good version's --secrets-file. */
let secrets: string;

function slipway(repo: SampleRepo, ...argv: string[]) {
  return runCli(argv, repo.dir, { HOME: cacheDir, PATH: process.env.PATH, USER: "tester" });
}

const target = (kubeconfig: string) => ["--kubeconfig", kubeconfig, "--repo", "acme/mnist"];
// The layer cache lives outside the checkout: inside it, it would be part of the next version's code.
const deploy = (kubeconfig: string, commit: string, ...more: string[]) => [
  "deploy",
  ...target(kubeconfig),
  "--cache-dir",
  cacheDir,
  "--commit",
  commit,
  ...more,
];

async function get(path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${cluster.gatewayUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

async function stagingServes(commit: string): Promise<void> {
  const response = await get("/acme/mnist/mnist/staging/predict-digits/");
  expect(response.status).toBe(200);
  expect(JSON.parse(response.body).script_name).toBe(`/acme/mnist/mnist/${version(commit)}/predict-digits`);
}

/** docs/rbac.yaml for a namespace, as the objects it defines. */
function rbacObjects(namespace: string): KubeObject[] {
  const text = readFileSync(join(root, "docs/rbac.yaml"), "utf8").replaceAll("NAMESPACE", namespace);
  return parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Every (group, resource, verb) a list of RBAC rules grants, as `group/resource verb`. */
function grants(rules: readonly Rule[]): string[] {
  return [
    ...new Set(
      rules.flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res} ${v}`))),
      ),
    ),
  ].sort();
}

const rulesOf = (objects: KubeObject[], kind: string) =>
  (objects.find((o) => o.kind === kind) as unknown as { rules: Rule[] }).rules;

/**
 * What RBAC authorizes a request as (https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb):
 * `<namespace or "cluster"> <group>/<resource[/subresource]> <verb>`; a server-side apply that created
 * its object (201) is authorized as create too. Discovery is no resource request.
 */
function authorizedAs(method: string, url: string, status: number): string[] {
  const u = new URL(url, "https://api.invalid");
  const parts = u.pathname.split("/").filter(Boolean);
  let group: string;
  let rest: string[];
  if (parts[0] === "api") [group, rest] = ["", parts.slice(2)];
  else if (parts[0] === "apis") [group, rest] = [parts[1] ?? "", parts.slice(3)];
  else return [];
  let scope = "cluster";
  if (rest[0] === "namespaces" && rest.length >= 3) [scope, rest] = [rest[1] ?? "", rest.slice(2)];
  const [resource, name, sub] = rest;
  if (resource === undefined) return [];
  const watching = ["1", "true"].includes(u.searchParams.get("watch") ?? "");
  const verbs =
    method === "GET"
      ? [name !== undefined ? "get" : watching ? "watch" : "list"]
      : method === "POST"
        ? ["create"]
        : method === "PATCH"
          ? status === 201
            ? ["patch", "create"]
            : ["patch"]
          : method === "PUT"
            ? ["update"]
            : [name !== undefined ? "delete" : "deletecollection"];
  const res = sub !== undefined ? `${resource}/${sub}` : resource;
  return verbs.map((v) => `${scope} ${group}/${res} ${v}`);
}

/**
 * An HTTPS proxy in front of the API server that notes what each request is authorized as, and a
 * kubeconfig that goes through it with the ServiceAccount's token.
 */
async function recordingProxy(kubeconfigPath: string) {
  const config = parseYaml(readFileSync(kubeconfigPath, "utf8")) as {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
  };
  const upstream = config.clusters[0]?.cluster;
  if (!upstream) throw new Error("the ServiceAccount kubeconfig names no cluster");
  const ca = Buffer.from(upstream["certificate-authority-data"], "base64");
  const cert = makeTestCert(work, "proxy", "127.0.0.1", "127.0.0.1");
  const used = new Set<string>();
  const denied = new Set<string>();
  const server = createHttpsServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const forward = httpsRequest(
      new URL(req.url ?? "/", upstream.server),
      { method: req.method, headers: { ...req.headers, host: new URL(upstream.server).host }, ca },
      (reply: IncomingMessage) => {
        // Authorization comes first: a 404 was authorized too.
        const status = reply.statusCode ?? 0;
        for (const p of authorizedAs(req.method ?? "GET", req.url ?? "/", status)) {
          (status === 401 || status === 403 ? denied : used).add(p);
        }
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    res.on("close", () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const proxied = structuredClone(config);
  if (proxied.clusters[0]) {
    proxied.clusters[0].cluster.server = `https://127.0.0.1:${port}`;
    proxied.clusters[0].cluster["certificate-authority-data"] = cert.cert.toString("base64");
  }
  const path = join(work, "kubeconfig-proxied");
  writeFileSync(path, stringifyYaml(proxied), { mode: 0o600 });
  return {
    kubeconfig: path,
    used,
    denied,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function applyAll(objects: readonly KubeObject[]): Promise<void> {
  for (const o of objects) await admin.apply(o);
}

/** The version's Deployments, as the administrator sees them. */
async function deploymentsOf(commit: string) {
  return (
    await admin.list<KubeObject & { spec?: { replicas?: number } }>(
      { apiVersion: "apps/v1", kind: "Deployment" },
      NAMESPACE,
      { labelSelector: `slipway.dev/version=${version(commit)}` },
    )
  ).items;
}

async function objectsOf(commit: string, namespace = NAMESPACE): Promise<string[]> {
  const kinds = [
    { apiVersion: "v1", kind: "ConfigMap" },
    { apiVersion: "v1", kind: "Secret" },
    { apiVersion: "v1", kind: "Service" },
    { apiVersion: "apps/v1", kind: "Deployment" },
    { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
  ];
  const lists = await Promise.all(
    kinds.map((k) => admin.list(k, namespace, { labelSelector: `slipway.dev/version=${version(commit)}` })),
  );
  return lists.flatMap((l) => l.items.map((o) => `${o.kind}/${o.metadata?.name}`));
}

beforeAll(async () => {
  cluster = await startTestCluster({ stack: inject("slipwayStack") });
  admin = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
  work = mkdtempSync(join(tmpdir(), "slipway-access-"));
  cacheDir = mkdtempSync(join(tmpdir(), "slipway-layers-"));
  sample = sampleRepoFor(cluster);
  secrets = join(work, "secrets.env");
  writeFileSync(secrets, "MODEL_API_KEY=not-a-real-key-0123456789\n");
  await applyAll([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "slipway", namespace: NAMESPACE } },
    ...rbacObjects(NAMESPACE),
  ]);
  saKubeconfig = await cluster.serviceAccountKubeconfig(NAMESPACE, "slipway");
  const config = parseYaml(readFileSync(saKubeconfig, "utf8")) as { users: { user: { token: string } }[] };
  saToken = config.users[0]?.user.token ?? "";
  expect(saToken.length).toBeGreaterThan(16);
});

afterAll(async () => {
  admin?.close();
  await cluster?.stop();
});

describe("RBAC: docs/rbac.yaml", () => {
  it("is enough to deploy, re-deploy, preview, fail, list, retire, promote and tear down, and every permission in it is used", async () => {
    const proxy = await recordingProxy(saKubeconfig);
    try {
      const first = await slipway(
        sample,
        ...deploy(proxy.kubeconfig, GOOD, "--alias", "staging", "--secrets-file", secrets),
      );
      expect(first.code, first.stderr).toBe(0);
      await stagingServes(GOOD);
      // A re-run reads what the deployment has before applying; a dry run reads each object.
      const again = await slipway(
        sample,
        ...deploy(proxy.kubeconfig, GOOD, "--alias", "staging", "--secrets-file", secrets),
      );
      expect(again.code, again.stderr).toBe(0);
      const preview = await slipway(
        sample,
        ...deploy(proxy.kubeconfig, PREVIEWED, "--dry-run", "--secrets-file", secrets),
      );
      expect(preview.code, preview.stderr).toBe(0);
      expect(await objectsOf(PREVIEWED)).toEqual([]);
      // A crash is reported with its log lines: the identity may read them.
      const crashing = sampleRepoFor(cluster, (c) =>
        c.replace(
          "server-command: python3 -m predict.server",
          `server-command: "echo '${CRASH_LINE}'; exit 3"`,
        ),
      );
      const crash = await slipway(crashing, ...deploy(proxy.kubeconfig, CRASH, "--alias", "staging"));
      expect(crash.code).toBe(1);
      expect(crash.stderr).toContain("CrashLoopBackOff");
      expect(crash.stderr).toMatch(new RegExp(`last log lines:\\n${CRASH_LINE}`));
      await stagingServes(GOOD);

      const listed = await slipway(sample, "versions", ...target(proxy.kubeconfig), "--json");
      expect(listed.code, listed.stderr).toBe(0);
      const versions = (JSON.parse(listed.stdout) as { version: string; state: { kind: string } }[])
        .map((v) => [v.version, v.state.kind])
        .sort();
      expect(versions).toEqual([
        [version(GOOD), "ready"],
        [version(CRASH), "failed"],
      ]);
      const retired = await slipway(sample, "retire", version(CRASH), ...target(proxy.kubeconfig));
      expect(retired.code, retired.stderr).toBe(0);
      // A promotion takes the environment's lock (a Lease: read, created, released by an update).
      const promoted = await slipway(
        sample,
        "promote",
        "staging",
        "--version",
        version(GOOD),
        ...target(proxy.kubeconfig),
      );
      expect(promoted.code, promoted.stderr).toBe(0);
      await stagingServes(GOOD);
      // A pull request's preview, then its teardown: the alias route and the version deleted.
      const pr = await slipway(sample, ...deploy(proxy.kubeconfig, PULL_REQUEST, "--pr", "9"));
      expect(pr.code, pr.stderr).toBe(0);
      const torn = await slipway(sample, "teardown", "--pr", "9", ...target(proxy.kubeconfig));
      expect(torn.code, torn.stderr).toBe(0);
      expect(torn.stdout).toBe(`removed pr-9, version ${version(PULL_REQUEST)}\n`);
    } finally {
      await proxy.close();
    }

    const objects = rbacObjects(NAMESPACE);
    const scoped = (scope: string) =>
      [
        ...new Set(
          [...proxy.used].filter((p) => p.startsWith(`${scope} `)).map((p) => p.slice(scope.length + 1)),
        ),
      ].sort();
    // Nothing was refused (a refusal some step shrugs off, such as unreadable logs, would show here),
    // and nothing was asked for outside the namespace but the namespace itself.
    expect([...proxy.denied]).toEqual([]);
    expect(
      [...proxy.used].filter((p) => !p.startsWith(`${NAMESPACE} `) && !p.startsWith("cluster ")),
    ).toEqual([]);
    // The Role grants what these commands used, and nothing spare but the route watch: the route was
    // accepted before Slipway looked, here, where a real Gateway controller may take its time.
    const granted = grants(rulesOf(objects, "Role"));
    const used = scoped(NAMESPACE);
    expect(used.filter((p) => !granted.includes(p))).toEqual([]);
    expect(
      granted.filter((p) => !used.includes(p) && p !== "gateway.networking.k8s.io/httproutes watch"),
    ).toEqual([]);
    // The optional ClusterRole: reading the namespace (creating it is for a namespace that is missing).
    expect(scoped("cluster")).toEqual(["/namespaces get"]);
    expect(grants(rulesOf(objects, "ClusterRole"))).toEqual(["/namespaces create", "/namespaces get"]);
  });

  function role(): KubeObject {
    const found = rbacObjects(NAMESPACE).find((o) => o.kind === "Role");
    if (!found) throw new Error("docs/rbac.yaml has no Role");
    return found;
  }
  /** docs/rbac.yaml's Role less one verb on one resource. */
  function without(group: string, resource: string, verb: string): KubeObject {
    const r = structuredClone(role()) as KubeObject & { rules: Rule[] };
    const rules = r.rules.flatMap((rule) => {
      if (!rule.apiGroups.includes(group) || !rule.resources.includes(resource)) return [rule];
      const others = rule.resources.filter((x) => x !== resource);
      return [
        ...(others.length > 0 ? [{ ...rule, resources: others }] : []),
        { apiGroups: [group], resources: [resource], verbs: rule.verbs.filter((v) => v !== verb) },
      ];
    });
    return { ...r, rules } as KubeObject;
  }

  it.each([
    { group: "", resource: "services", verb: "create", commit: "d4".repeat(20), named: "services" },
    {
      group: "apps",
      resource: "deployments",
      verb: "patch",
      commit: "e5".repeat(20),
      named: "deployments.apps",
    },
  ])(
    "a Role without $verb on $resource: the deploy names them and the namespace, says what it applied, runs nothing of the version and moves no alias",
    async ({ group, resource, verb, commit, named }) => {
      await admin.apply(without(group, resource, verb));
      try {
        const r = await slipway(sample, ...deploy(saKubeconfig, commit, "--alias", "staging"));
        expect(r.code, r.stderr).toBe(1);
        const error = r.stderr
          .split("\n")
          .filter((l) => l.startsWith("slipway: "))
          .join("\n");
        expect(error).toContain(`"${verb}"`);
        expect(error).toContain(`"${named}"`);
        expect(error).toContain(`namespace "${NAMESPACE}"`);
        // What it applied before the refusal is named, and none of it runs.
        const applied = await objectsOf(commit);
        expect(applied).toContain(`ConfigMap/mnist-${version(commit)}`);
        for (const object of applied) expect(r.stderr).toContain(object);
        for (const d of await deploymentsOf(commit)) expect(d.spec?.replicas, d.metadata?.name).toBe(0);
        const record = await admin.get({
          apiVersion: "v1",
          kind: "ConfigMap",
          name: `mnist-${version(commit)}`,
          namespace: NAMESPACE,
        });
        expect(record?.metadata?.annotations?.[ANNOTATION_FAILURE]).toContain(named);
        await stagingServes(GOOD);
      } finally {
        await admin.apply(role());
      }
    },
  );

  it("a re-run of the version staging points at, refused partway: it keeps running, and says so", async () => {
    await admin.apply(without("apps", "deployments", "patch"));
    try {
      const r = await slipway(
        sample,
        ...deploy(saKubeconfig, GOOD, "--alias", "staging", "--secrets-file", secrets),
      );
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('RBAC verbs "patch" and, for an object that does not exist yet, "create"');
      expect(r.stderr).toContain(
        `Version ${version(GOOD)} was deployed before this run and keeps running; no alias moved.`,
      );
      for (const d of await deploymentsOf(GOOD)) expect(d.spec?.replicas, d.metadata?.name).toBe(1);
      const record = await admin.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        name: `mnist-${version(GOOD)}`,
        namespace: NAMESPACE,
      });
      expect(record?.metadata?.annotations?.[ANNOTATION_FAILURE]).toBeUndefined();
      await stagingServes(GOOD);
    } finally {
      await admin.apply(role());
    }
  });
});

describe("bad access is a clear error that applies nothing and shows no secret", () => {
  function expectNoSecret(run: CliRun, secrets: string[]): void {
    const scan = new SecretScan();
    scan.extra.push(run.stdout, run.stderr);
    scan.expectClean(secrets.flatMap((s) => [s, Buffer.from(s).toString("base64")]));
  }

  it("an API server nobody answers at: the URL and the cause, after a bounded number of attempts", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createNetServer().listen(0, "127.0.0.1", () => {
        const a = s.address();
        s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
      });
    });
    const token = "unreachable-cluster-token-5b1e0c9d";
    const path = join(work, "kubeconfig-closed");
    const config = parseYaml(readFileSync(saKubeconfig, "utf8")) as {
      clusters: { cluster: { server: string } }[];
      users: { user: { token: string } }[];
    };
    if (config.clusters[0]) config.clusters[0].cluster.server = `https://127.0.0.1:${port}`;
    if (config.users[0]) config.users[0].user.token = token;
    writeFileSync(path, stringifyYaml(config), { mode: 0o600 });
    const commit = "17".repeat(20);
    const r = await slipway(sample, ...deploy(path, commit, "--alias", "staging"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `slipway: .*cannot reach the Kubernetes API server at https://127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED\\) after \\d+ attempts`,
      ),
    );
    expect(await objectsOf(commit)).toEqual([]);
    expectNoSecret(r, [token]);
  });

  it("a context the kubeconfig does not have: the ones it has, before anything is built", async () => {
    const r = await slipway(sample, ...deploy(saKubeconfig, "18".repeat(20), "--context", "production"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `slipway: context "production" is not in ${saKubeconfig} (it has: slipway-test)`,
    );
    expect(r.stderr).not.toContain("Built version");
    expectNoSecret(r, [saToken]);
  });

  it("a namespace it may neither read nor create: names it and says what to do", async () => {
    // Only the Role in ml-previews, not the optional namespace ClusterRole.
    await applyAll([
      {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "slipway-limited", namespace: NAMESPACE },
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "slipway-limited", namespace: NAMESPACE },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "slipway" },
        subjects: [{ kind: "ServiceAccount", name: "slipway-limited", namespace: NAMESPACE }],
      } as KubeObject,
    ]);
    const limited = await cluster.serviceAccountKubeconfig(NAMESPACE, "slipway-limited");
    const token = (parseYaml(readFileSync(limited, "utf8")) as { users: { user: { token: string } }[] })
      .users[0]?.user.token;
    const commit = "19".repeat(20);
    const r = await slipway(sample, ...deploy(limited, commit, "--namespace", "ml-elsewhere"));
    expect(r.code).toBe(1);
    const error = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("slipway: "))
      .join("\n");
    expect(error).toContain('namespace "ml-elsewhere"');
    expect(error).toContain("Create the namespace");
    expect(error).toContain("docs/rbac.yaml");
    expect(await admin.get({ apiVersion: "v1", kind: "Namespace", name: "ml-elsewhere" })).toBeUndefined();
    expect(await objectsOf(commit, "ml-elsewhere")).toEqual([]);
    expectNoSecret(r, [token ?? ""]);
  });

  it("a secret value that is the kubeconfig's own token: only in the managed Secret", async () => {
    const secrets = join(work, "token.env");
    writeFileSync(secrets, `CLUSTER_TOKEN=${saToken}\n`);
    const r = await slipway(
      sample,
      ...deploy(saKubeconfig, TOKEN_IN_SECRET, "--secrets-file", secrets, "--json"),
    );
    expect(r.code, r.stderr).toBe(0);
    expectNoSecret(r, [saToken]);
    const v = version(TOKEN_IN_SECRET);
    const record = await admin.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      name: `mnist-${v}`,
      namespace: NAMESPACE,
    });
    expect(record).toBeDefined();
    const deployments = await deploymentsOf(TOKEN_IN_SECRET);
    expect(deployments).toHaveLength(2);
    const scan = new SecretScan();
    scan.extra.push(JSON.stringify(record), ...deployments.map((d) => JSON.stringify(d)));
    scan.expectClean([saToken, Buffer.from(saToken).toString("base64")]);
    const secret = await admin.get<KubeObject & { data?: Record<string, string> }>({
      apiVersion: "v1",
      kind: "Secret",
      name: `mnist-${v}-env`,
      namespace: NAMESPACE,
    });
    expect(Buffer.from(secret?.data?.CLUSTER_TOKEN ?? "", "base64").toString()).toBe(saToken);
  });
});

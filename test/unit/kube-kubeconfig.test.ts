// Where the kube client's credentials come from, and what it says when they cannot be used: kubeconfig
// text (also base64, as CI secrets hold it), one file, the KUBECONFIG list merged as kubectl merges it
// (https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/#merging-kubeconfig-files),
// ~/.kube/config, the in-cluster service account; the context and namespace chosen; every secret in
// the kubeconfig reported for masking, and none of them in an error.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { KubeConfigError } from "../../src/kube/errors.js";
import { type KubeconfigSourceOptions, loadKubeAccess } from "../../src/kube/kubeconfig.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-kubeconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImNpIn0.ci-token-body.signature";

interface ConfigArgs {
  current?: string;
  contexts?: { name: string; cluster: string; user?: string; namespace?: string }[];
  clusters?: { name: string; server: string; [k: string]: unknown }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

function config(a: ConfigArgs = {}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: (a.clusters ?? [{ name: "prod", server: "https://k8s.example.com:6443/" }]).map(
      ({ name, ...cluster }) => ({ name, cluster }),
    ),
    users: a.users ?? [{ name: "ci", user: { token: TOKEN } }],
    contexts: (a.contexts ?? [{ name: "prod", cluster: "prod", user: "ci", namespace: "ml" }]).map(
      ({ name, ...context }) => ({ name, context }),
    ),
    ...(a.current !== "" ? { "current-context": a.current ?? "prod" } : {}),
  });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function fails(opts: KubeconfigSourceOptions): string {
  try {
    loadKubeAccess(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(KubeConfigError);
    return (err as Error).message;
  }
  throw new Error("expected loadKubeAccess to fail");
}

describe("kubeconfig text", () => {
  it("uses the current context: server, namespace, where it came from", () => {
    const a = loadKubeAccess({ kubeconfig: config() });
    expect(a).toMatchObject({
      server: "https://k8s.example.com:6443",
      context: "prod",
      namespace: "ml",
      source: "the kubeconfig input",
    });
  });

  it("accepts the kubeconfig base64-encoded, as CI secrets often hold it", () => {
    const a = loadKubeAccess({ kubeconfig: Buffer.from(config()).toString("base64") });
    expect(a.server).toBe("https://k8s.example.com:6443");
  });

  it("takes a namespace given over the context's, and 'default' when neither has one", () => {
    expect(loadKubeAccess({ kubeconfig: config(), namespace: "previews" }).namespace).toBe("previews");
    const bare = config({ contexts: [{ name: "prod", cluster: "prod", user: "ci" }] });
    expect(loadKubeAccess({ kubeconfig: bare }).namespace).toBe("default");
  });

  it.each<[string, KubeconfigSourceOptions, string]>([
    [
      "an unknown context lists the ones it has",
      {
        kubeconfig: config({
          contexts: [
            { name: "prod", cluster: "prod", user: "ci" },
            { name: "staging", cluster: "prod", user: "ci" },
          ],
        }),
        context: "production",
      },
      'context "production" is not in the kubeconfig input (it has: prod, staging)',
    ],
    [
      "no current-context and none asked for",
      { kubeconfig: config({ current: "" }) },
      "the kubeconfig input sets no current-context; choose a context (it has: prod)",
    ],
    [
      "a current-context that is not defined",
      { kubeconfig: config({ current: "gone" }) },
      'current-context "gone" is not in the kubeconfig input (it has: prod)',
    ],
    [
      "a context naming an undefined cluster",
      { kubeconfig: config({ contexts: [{ name: "prod", cluster: "nowhere", user: "ci" }] }) },
      'context "prod" names cluster "nowhere", which the kubeconfig input does not define',
    ],
    [
      "a context naming an undefined user",
      { kubeconfig: config({ contexts: [{ name: "prod", cluster: "prod", user: "nobody" }] }) },
      'context "prod" names user "nobody", which the kubeconfig input does not define',
    ],
    [
      "plain HTTP without insecure-skip-tls-verify",
      { kubeconfig: config({ clusters: [{ name: "prod", server: "http://10.0.0.1:8080" }] }) },
      'cluster "prod" in the kubeconfig input: plain-HTTP server http://10.0.0.1:8080 needs insecure-skip-tls-verify: true',
    ],
    ["an empty input", { kubeconfig: "  \n" }, "the kubeconfig input is empty"],
    [
      "several sources at once",
      { kubeconfig: config(), inCluster: true },
      "give one of kubeconfig (content), kubeconfigPath or inCluster, not several",
    ],
  ])("%s", (_name, opts, message) => {
    expect(fails(opts)).toBe(message);
  });

  it("a YAML error names the place but quotes none of the (secret) text", () => {
    const broken = `${config()}\nusers: [ { name: ci, user: { token: ${TOKEN} }\n`;
    const message = fails({ kubeconfig: broken });
    expect(message).toMatch(/^the kubeconfig input is not valid YAML: .* at line \d+, column \d+$/);
    expect(message).not.toContain(TOKEN);
  });
});

describe("kubeconfig files", () => {
  it("--kubeconfig: one file, certificate paths relative to its directory", () => {
    mkdirSync(join(dir, "certs"), { recursive: true });
    writeFileSync(join(dir, "certs", "ca.crt"), "not read until a request is made");
    const path = file(
      "single.yaml",
      config({
        clusters: [
          { name: "prod", server: "https://k8s.example.com", "certificate-authority": "certs/ca.crt" },
        ],
      }),
    );
    const a = loadKubeAccess({ kubeconfigPath: path, env: {} });
    expect(a.source).toBe(path);
    expect(a.cluster.caFile).toBe(join(dir, "certs", "ca.crt"));
  });

  it("--kubeconfig that does not exist", () => {
    expect(fails({ kubeconfigPath: join(dir, "missing.yaml") })).toBe(
      `kubeconfig file ${join(dir, "missing.yaml")} does not exist`,
    );
  });

  it("KUBECONFIG: missing files skipped, the first to define a name or current-context wins", () => {
    const first = file(
      "first.yaml",
      config({
        current: "staging",
        clusters: [{ name: "staging", server: "https://staging.example.com" }],
        contexts: [{ name: "staging", cluster: "staging", user: "ci", namespace: "stage" }],
        users: [{ name: "ci", user: { token: "first-token-1234" } }],
      }),
    );
    const second = file(
      "second.yaml",
      config({
        current: "prod",
        users: [{ name: "ci", user: { token: "second-token-5678" } }],
      }),
    );
    const list = ["", join(dir, "absent.yaml"), first, second].join(delimiter);
    const a = loadKubeAccess({ env: { KUBECONFIG: list } });
    expect(a).toMatchObject({
      context: "staging",
      server: "https://staging.example.com",
      namespace: "stage",
    });
    expect(a.source).toBe(`KUBECONFIG=${list}`);
    expect(a.kubeConfig.getUser("ci")?.token).toBe("first-token-1234");
    // The second file's contexts and clusters are still there to choose from.
    expect(loadKubeAccess({ env: { KUBECONFIG: list }, context: "prod" }).server).toBe(
      "https://k8s.example.com:6443",
    );
  });

  it("KUBECONFIG where no file exists", () => {
    const list = [join(dir, "a.yaml"), join(dir, "b.yaml")].join(delimiter);
    expect(fails({ env: { KUBECONFIG: list } })).toBe(`none of the files in KUBECONFIG=${list} exists`);
  });

  it("~/.kube/config when KUBECONFIG is unset, and a clear error when nothing is there", () => {
    const home = join(dir, "home");
    mkdirSync(join(home, ".kube"), { recursive: true });
    writeFileSync(join(home, ".kube", "config"), config());
    expect(loadKubeAccess({ env: { HOME: home } }).source).toBe(join(home, ".kube", "config"));
    const empty = join(dir, "empty-home");
    mkdirSync(empty, { recursive: true });
    expect(fails({ env: { HOME: empty } })).toMatch(
      /^no kubeconfig: give one \(kubeconfig input or --kubeconfig\)/,
    );
  });
});

describe("in-cluster service account", () => {
  const prefix = join(dir, "pod");
  const sa = join(prefix, "var/run/secrets/kubernetes.io/serviceaccount");

  it("the API server from the environment, the namespace from the mounted file", () => {
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, "token"), TOKEN);
    writeFileSync(join(sa, "namespace"), "slipway");
    writeFileSync(join(sa, "ca.crt"), "ca");
    const a = loadKubeAccess({
      inCluster: true,
      serviceAccountPrefix: prefix,
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
    });
    expect(a).toMatchObject({
      server: "https://10.96.0.1:443",
      namespace: "slipway",
      source: "the in-cluster service account",
    });
    expect(process.env.KUBERNETES_SERVICE_HOST).toBeUndefined();
  });

  it("outside a pod, or without the mounted token", () => {
    expect(fails({ inCluster: true, env: {} })).toMatch(
      /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/,
    );
    expect(
      fails({
        inCluster: true,
        serviceAccountPrefix: join(dir, "no-pod"),
        env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      }),
    ).toMatch(/serviceaccount\/token does not exist/);
  });
});

describe("secrets for masking", () => {
  it("reports every token, password, client key (whole and line by line) and provider secret, of every user", () => {
    const key =
      "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oz\nAwEHoUQDQgAEI4h1JmMs\n-----END EC PRIVATE KEY-----\n";
    const text = config({
      users: [
        { name: "ci", user: { token: TOKEN } },
        { name: "basic", user: { username: "deployer", password: "s3cret-pass" } },
        {
          name: "cert",
          user: {
            "client-certificate-data": Buffer.from("cert").toString("base64"),
            "client-key-data": Buffer.from(key).toString("base64"),
          },
        },
        {
          name: "oidc",
          user: {
            "auth-provider": {
              name: "oidc",
              config: {
                "client-id": "slipway",
                "client-secret": "oidc-client-secret",
                "id-token": "oidc-id-token-value",
                "refresh-token": "oidc-refresh-token",
                "idp-issuer-url": "https://issuer.example.com",
              },
            },
          },
        },
        {
          name: "aws",
          user: {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1beta1",
              command: "aws",
              args: ["eks", "get-token"],
              env: [
                { name: "AWS_PROFILE", value: "ci" },
                { name: "AWS_SECRET_ACCESS_KEY", value: "aws-secret-key-value" },
              ],
            },
          },
        },
      ],
    });
    const seen: string[] = [];
    loadKubeAccess({ kubeconfig: text, onSecret: (s) => seen.push(s) });
    expect(seen).toEqual(
      expect.arrayContaining([
        TOKEN,
        "s3cret-pass",
        Buffer.from(key).toString("base64"),
        key.trim(),
        "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oz",
        "AwEHoUQDQgAEI4h1JmMs",
        "oidc-client-secret",
        "oidc-id-token-value",
        "oidc-refresh-token",
        "aws-secret-key-value",
      ]),
    );
    for (const notSecret of ["slipway", "https://issuer.example.com", "ci", "deployer"]) {
      expect(seen).not.toContain(notSecret);
    }
    expect(new Set(seen).size).toBe(seen.length);
  });
});

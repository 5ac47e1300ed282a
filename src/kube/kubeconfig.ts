// Where the kube client's credentials come from: kubeconfig text (an Action input), one kubeconfig
// file (`--kubeconfig`), the KUBECONFIG list, ~/.kube/config, or the pod's service account — loaded
// by @kubernetes/client-node's KubeConfig, which also applies every auth method (token, basic,
// client certificates, exec plugins, auth providers, the service account's rotating token file).
// This module picks the source and the context, fails with a KubeConfigError a person can act on,
// and reports every secret the kubeconfig holds so the edge can mask it.

import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { type Cluster, type Context, KubeConfig, type User } from "@kubernetes/client-node";
import { isRecord } from "../util/record.js";
import { KubeConfigError } from "./errors.js";

export interface KubeconfigSourceOptions {
  /** Kubeconfig YAML (or its base64, as CI secrets often hold it): a masked Action input. */
  readonly kubeconfig?: string;
  /** One kubeconfig file, as kubectl's `--kubeconfig`: it must exist and nothing is merged. */
  readonly kubeconfigPath?: string;
  /** The pod's service account (KUBERNETES_SERVICE_HOST/PORT and its mounted token). */
  readonly inCluster?: boolean;
  /** A context other than the kubeconfig's current-context. */
  readonly context?: string;
  /** Overrides the context's namespace (default "default"). */
  readonly namespace?: string;
  /** Called once with every token, password and client key found, so the edge can mask them. */
  readonly onSecret?: (secret: string) => void;
  /** Environment read for KUBECONFIG, HOME and KUBERNETES_SERVICE_*; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Prefix of the service account mount (/var/run/secrets/kubernetes.io/serviceaccount), for tests. */
  readonly serviceAccountPrefix?: string;
}

export interface KubeAccess {
  readonly kubeConfig: KubeConfig;
  /** The API server URL, without a trailing slash. */
  readonly server: string;
  readonly context: string;
  readonly namespace: string;
  /** Where the kubeconfig came from, in words: "the kubeconfig input", a path, "KUBECONFIG=a:b". */
  readonly source: string;
  readonly cluster: Cluster;
}

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

export function loadKubeAccess(opts: KubeconfigSourceOptions): KubeAccess {
  const env = opts.env ?? process.env;
  const given = [opts.kubeconfig !== undefined, opts.kubeconfigPath !== undefined, opts.inCluster === true];
  if (given.filter(Boolean).length > 1) {
    throw new KubeConfigError("give one of kubeconfig (content), kubeconfigPath or inCluster, not several");
  }
  const { kc, source } = load(opts, env);
  const access = selectContext(kc, source, opts);
  reportSecrets(kc, opts.onSecret);
  return access;
}

function load(opts: KubeconfigSourceOptions, env: Readonly<Record<string, string | undefined>>) {
  if (opts.kubeconfig !== undefined) {
    return { kc: fromText(opts.kubeconfig, "the kubeconfig input"), source: "the kubeconfig input" };
  }
  if (opts.kubeconfigPath !== undefined) {
    if (!existsSync(opts.kubeconfigPath)) {
      throw new KubeConfigError(`kubeconfig file ${opts.kubeconfigPath} does not exist`);
    }
    return { kc: fromFile(opts.kubeconfigPath), source: opts.kubeconfigPath };
  }
  if (opts.inCluster) return inCluster(env, opts.serviceAccountPrefix ?? "");
  const list = env.KUBECONFIG;
  if (list !== undefined && list !== "") return fromList(list);
  const home = env.HOME ?? homedir();
  const file = join(home, ".kube", "config");
  if (existsSync(file)) return { kc: fromFile(file), source: file };
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(env, opts.serviceAccountPrefix ?? "");
  throw new KubeConfigError(
    `no kubeconfig: give one (kubeconfig input or --kubeconfig), set KUBECONFIG, create ${file}, or run in a cluster`,
  );
}

function fromText(text: string, source: string): KubeConfig {
  const kc = new KubeConfig();
  let yaml = text;
  // A kubeconfig is YAML with `apiVersion`/`clusters`; a secret that is one long base64 word is the
  // same file encoded, a common way CI secrets hold it.
  const trimmed = text.trim();
  if (trimmed === "") throw new KubeConfigError(`${source} is empty`);
  if (/^[A-Za-z0-9+/=\s]+$/.test(trimmed) && !trimmed.includes(":") && trimmed.length > 16) {
    const decoded = Buffer.from(trimmed, "base64").toString("utf8");
    if (/^\s*(apiVersion|clusters|kind|contexts)\s*:/m.test(decoded)) yaml = decoded;
  }
  try {
    kc.loadFromString(yaml);
  } catch (err) {
    throw invalid(err, source);
  }
  return kc;
}

function fromFile(file: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    // Relative certificate and key paths are resolved against the file's directory, as kubectl does.
    kc.loadFromFile(file);
  } catch (err) {
    throw invalid(err, file);
  }
  return kc;
}

/**
 * The KUBECONFIG merging rules (https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/#merging-kubeconfig-files):
 * empty names and missing files are skipped, the first file to set a value or a named entry wins, and
 * the first current-context wins. By hand because KubeConfig.loadFromDefault lets later files override
 * current-context, throws on a name defined twice, and fails on a missing first file.
 */
function fromList(list: string): { kc: KubeConfig; source: string } {
  const files = list.split(delimiter).filter((f) => f !== "");
  const clusters: Cluster[] = [];
  const users: User[] = [];
  const contexts: Context[] = [];
  let currentContext = "";
  let found = 0;
  for (const file of files) {
    if (!existsSync(file)) continue;
    found++;
    const kc = fromFile(file);
    for (const c of kc.getClusters()) if (!clusters.some((x) => x.name === c.name)) clusters.push(c);
    for (const u of kc.getUsers()) if (!users.some((x) => x.name === u.name)) users.push(u);
    for (const c of kc.getContexts()) if (!contexts.some((x) => x.name === c.name)) contexts.push(c);
    if (!currentContext && kc.getCurrentContext()) currentContext = kc.getCurrentContext();
  }
  const source = `KUBECONFIG=${list}`;
  if (found === 0) throw new KubeConfigError(`none of the files in ${source} exists`);
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters, users, contexts, currentContext });
  return { kc, source };
}

function inCluster(env: Readonly<Record<string, string | undefined>>, prefix: string) {
  const source = "the in-cluster service account";
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
    throw new KubeConfigError(
      `cannot use ${source}: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod?)`,
    );
  }
  const token = `${prefix}${SERVICE_ACCOUNT}/token`;
  if (!existsSync(token)) {
    throw new KubeConfigError(
      `cannot use ${source}: ${token} does not exist (automountServiceAccountToken off?)`,
    );
  }
  const kc = new KubeConfig();
  // loadFromCluster reads the host and port from process.env; hand it the environment we were given.
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  process.env.KUBERNETES_SERVICE_HOST = env.KUBERNETES_SERVICE_HOST;
  process.env.KUBERNETES_SERVICE_PORT = env.KUBERNETES_SERVICE_PORT;
  try {
    kc.loadFromCluster(prefix);
  } finally {
    restoreEnv("KUBERNETES_SERVICE_HOST", saved.host);
    restoreEnv("KUBERNETES_SERVICE_PORT", saved.port);
  }
  return { kc, source };
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function selectContext(kc: KubeConfig, source: string, opts: KubeconfigSourceOptions): KubeAccess {
  const names = kc.getContexts().map((c) => c.name);
  const has = names.length > 0 ? `it has: ${names.join(", ")}` : "it has none";
  const wanted = opts.context ?? kc.getCurrentContext();
  if (!wanted) {
    throw new KubeConfigError(`${source} sets no current-context; choose a context (${has})`);
  }
  const context = kc.getContextObject(wanted);
  if (context === null) {
    const what = opts.context !== undefined ? "context" : "current-context";
    throw new KubeConfigError(`${what} "${wanted}" is not in ${source} (${has})`);
  }
  kc.setCurrentContext(wanted);
  const cluster = kc.getCluster(context.cluster);
  if (cluster === null) {
    throw new KubeConfigError(
      `context "${wanted}" names cluster "${context.cluster}", which ${source} does not define`,
    );
  }
  if (context.user && kc.getUser(context.user) === null) {
    throw new KubeConfigError(
      `context "${wanted}" names user "${context.user}", which ${source} does not define`,
    );
  }
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    throw new KubeConfigError(
      `cluster "${cluster.name}" in ${source} has server "${cluster.server}", which is not a URL`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KubeConfigError(
      `cluster "${cluster.name}" in ${source}: server ${cluster.server} is not http(s)`,
    );
  }
  if (url.protocol === "http:" && !cluster.skipTLSVerify) {
    // Credentials in clear text only when the kubeconfig asks for it explicitly (as client-node requires).
    throw new KubeConfigError(
      `cluster "${cluster.name}" in ${source}: plain-HTTP server ${cluster.server} needs insecure-skip-tls-verify: true`,
    );
  }
  return {
    kubeConfig: kc,
    server: cluster.server.replace(/\/+$/, ""),
    context: wanted,
    namespace: opts.namespace ?? context.namespace ?? "default",
    source,
    cluster,
  };
}

const SECRET_KEY = /token|secret|password|passwd|credential|key/i;
/** Auth-provider settings that are names of fields, not values (gcp's token-key, expiry-key). */
const NOT_SECRET = /-key$|^cmd-|^expiry|^client-id$|^idp-issuer-url$/i;

/** Every secret of every user in the kubeconfig, not just the context's: the whole input is sensitive. */
function reportSecrets(kc: KubeConfig, onSecret: ((s: string) => void) | undefined): void {
  if (!onSecret) return;
  const seen = new Set<string>();
  const report = (s: unknown) => {
    if (typeof s !== "string" || s.length < 4 || seen.has(s)) return;
    seen.add(s);
    onSecret(s);
  };
  for (const user of kc.getUsers()) {
    report(user.token);
    report(user.password);
    if (user.keyData) {
      report(user.keyData);
      const pem = Buffer.from(user.keyData, "base64").toString("utf8");
      report(pem.trim());
      // Log masking works line by line: each line of the key's body is secret on its own.
      for (const line of pem.split(/\r?\n/)) if (!line.startsWith("-----")) report(line.trim());
    }
    const providerConfig: unknown = user.authProvider?.config;
    if (isRecord(providerConfig)) {
      for (const [k, v] of Object.entries(providerConfig)) {
        if (SECRET_KEY.test(k) && !NOT_SECRET.test(k)) report(v);
      }
    }
    const execEnv: unknown = user.exec?.env;
    if (Array.isArray(execEnv)) {
      for (const e of execEnv as unknown[]) {
        if (isRecord(e) && SECRET_KEY.test(String(e.name))) report(e.value);
      }
    }
  }
}

function invalid(err: unknown, source: string): KubeConfigError {
  // js-yaml's message quotes the offending lines; the input is secret, so keep only the reason and place.
  const e = err as {
    name?: string;
    reason?: string;
    mark?: { line?: number; column?: number };
    message?: string;
  };
  if (e?.name === "YAMLException") {
    const where =
      e.mark?.line !== undefined ? ` at line ${e.mark.line + 1}, column ${(e.mark.column ?? 0) + 1}` : "";
    return new KubeConfigError(`${source} is not valid YAML: ${e.reason ?? "parse error"}${where}`);
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/ENOENT|EACCES/.test(text)) return new KubeConfigError(`${source}: ${text}`);
  return new KubeConfigError(`${source} is not a usable kubeconfig: ${text}`);
}

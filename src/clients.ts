// One factory per client Slipway talks to the world through (registry, Docker engine; Kubernetes and
// GitHub as those stages land). The edges create them from their trusted side — Action inputs, the
// runner's environment and files, CLI flags — and pass them into the use cases, so tests hand in the
// local services instead. Nothing here reads the checkout.
import { readFile } from "node:fs/promises";
import { Agent } from "node:https";
import { homedir } from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { InputError } from "./errors.js";
import { createKubeClient, type KubeClient, type KubeClientOptions } from "./kube/index.js";
import {
  type CredentialSource,
  type Credentials,
  combineCredentials,
  createRegistryClient,
  credentialsFromDockerConfig,
  type RegistryClient,
  type RegistryClientOptions,
  staticCredentials,
} from "./registry/index.js";

/** dockerd 20.10 speaks API 1.41 and dockerode does not negotiate down by itself. */
export const DOCKER_API_VERSION = "v1.41";

/**
 * The Docker engine the docker CLI would use: DOCKER_HOST (unix:// or tcp://), with TLS as the CLI
 * decides it — DOCKER_TLS_VERIFY set: TLS verified against $DOCKER_CERT_PATH/ca.pem with the client's
 * cert.pem and key.pem; DOCKER_TLS set: TLS with the client certificate, server not verified.
 */
export async function dockerClient(env: NodeJS.ProcessEnv): Promise<Docker> {
  const host = env.DOCKER_HOST || "unix:///var/run/docker.sock";
  if (host.startsWith("unix://")) {
    return new Docker({ socketPath: host.slice("unix://".length), version: DOCKER_API_VERSION });
  }
  if (!host.startsWith("tcp://")) {
    throw new InputError(`DOCKER_HOST '${host}' is not supported: use unix:///path or tcp://host:port`);
  }
  const url = new URL(host.replace(/^tcp:/, "http:"));
  const verify = Boolean(env.DOCKER_TLS_VERIFY);
  const tls = verify || Boolean(env.DOCKER_TLS);
  if (!tls) {
    return new Docker({
      host: url.hostname,
      port: Number(url.port || 2375),
      protocol: "http",
      version: DOCKER_API_VERSION,
    });
  }
  const certDir = env.DOCKER_CERT_PATH || path.join(env.HOME ?? homedir(), ".docker");
  const read = async (name: string, required: boolean) => {
    try {
      return await readFile(path.join(certDir, name));
    } catch (error) {
      if (!required && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new InputError(
        `cannot read ${name} from DOCKER_CERT_PATH ${certDir} for TLS to ${host}: ${(error as Error).message}`,
      );
    }
  };
  const [ca, cert, key] = await Promise.all([
    read("ca.pem", verify),
    read("cert.pem", false),
    read("key.pem", false),
  ]);
  // docker-modem passes no TLS verification setting of its own, so the agent carries all of TLS. Without
  // DOCKER_TLS_VERIFY the docker CLI encrypts but does not check the server's certificate: so do we.
  const agent = new Agent({
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: verify,
  });
  // dockerode's types omit `agent`, which docker-modem reads and hands to every request.
  const options: Docker.DockerOptions & { agent: Agent } = {
    host: url.hostname,
    port: Number(url.port || 2376),
    protocol: "https",
    version: DOCKER_API_VERSION,
    agent,
  };
  return new Docker(options);
}

/** Credentials the workflow gave as inputs, bound to the registry host the workflow named. */
export interface ExplicitCredentials {
  registry: string;
  credentials: Credentials;
}

/**
 * Every credential source of the runner in priority order: explicit ones (Action inputs) for the
 * registry the workflow named, the Docker config file ($DOCKER_CONFIG/config.json or
 * ~/.docker/config.json, written by the workflow's login steps), then GITHUB_TOKEN for ghcr.io.
 */
export async function registryCredentials(
  env: NodeJS.ProcessEnv,
  explicit?: ExplicitCredentials,
): Promise<CredentialSource> {
  const sources: CredentialSource[] = [];
  if (explicit) sources.push(staticCredentials(explicit.registry, explicit.credentials));
  const file = path.join(env.DOCKER_CONFIG ?? path.join(env.HOME ?? homedir(), ".docker"), "config.json");
  try {
    sources.push(credentialsFromDockerConfig(await readFile(file, "utf8")));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  // In GitHub Actions the job token may push to the repository's own packages.
  if (env.GITHUB_TOKEN) {
    sources.push(
      staticCredentials("ghcr.io", {
        username: env.GITHUB_ACTOR ?? "x-access-token",
        password: env.GITHUB_TOKEN,
      }),
    );
  }
  return combineCredentials(...sources);
}

export function registryClient(options: RegistryClientOptions): RegistryClient {
  return createRegistryClient(options);
}

/** Where Kubernetes access comes from, as the trusted side said: never from the checkout. */
export interface KubeAccess {
  /** Kubeconfig content (the Action's masked input). */
  kubeconfig?: string;
  /** A kubeconfig file (`--kubeconfig`); without either, KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfigPath?: string;
  context?: string;
  env: NodeJS.ProcessEnv;
  onSecret?: (secret: string) => void;
  log?: (line: string) => void;
}

/** Whether the Action has any way to reach a cluster: only then does it deploy after building. */
export function hasKubeAccess(access: Pick<KubeAccess, "kubeconfig" | "kubeconfigPath" | "env">): boolean {
  return Boolean(
    access.kubeconfig || access.kubeconfigPath || access.env.KUBECONFIG || access.env.KUBERNETES_SERVICE_HOST,
  );
}

export function kubeClient(access: KubeAccess): KubeClient {
  const options: KubeClientOptions = { env: access.env };
  const set = <K extends keyof KubeClientOptions>(key: K, value: KubeClientOptions[K] | undefined) => {
    if (value !== undefined) (options as Record<string, unknown>)[key] = value;
  };
  set("kubeconfig", access.kubeconfig);
  set("kubeconfigPath", access.kubeconfigPath);
  set("context", access.context);
  set("onSecret", access.onSecret);
  set("log", access.log);
  return createKubeClient(options);
}

/** GitHub: Octokit with the retry and throttling plugins loaded, timeouts and pacing (github/client.ts). */
export { createGitHubClient as githubClient } from "./github/index.js";

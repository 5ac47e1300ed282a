// Starts the whole local test cluster in-process: store + API server (kubeconfig for kubectl and
// @kubernetes/client-node), Deployment/ReplicaSet controllers, the scheduler, the Docker-backed node
// (registered as a Node object with its capacity and taints), and the Gateway.
// Owns their start order and their teardown: stop() closes every server and removes every container
// this cluster created (they all carry CLUSTER_LABEL=<clusterId>).

import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { ensureStack, type Stack } from "../support/stack.js";
import { type ApiServer, startApiServer, type TokenGrant } from "./api-server.js";
import { DeploymentController, ReplicaSetController, resolveService } from "./controllers.js";
import { TestGateway } from "./gateway.js";
import { type Backoff, removeClusterContainers, TestNode } from "./node.js";
import { nodeObject, type TestNodeResources } from "./node-object.js";
import { Scheduler } from "./scheduler.js";
import { type KubeObject, Store } from "./store.js";

export interface TestClusterOptions {
  /** The stack to run on; ensureStack() when omitted. */
  readonly stack?: Stack;
  /** Where to write the kubeconfig; a fresh temp file when omitted. */
  readonly kubeconfigPath?: string;
  /** CrashLoopBackOff schedule. Defaults to a test-friendly 500ms doubling to 5s (kubelet: 10s to 300s). */
  readonly restartBackoff?: Backoff;
  /** ImagePullBackOff schedule. Defaults to 500ms doubling to 5s (kubelet: 10s to 300s). */
  readonly pullBackoff?: Backoff;
  /** FailedMount retry schedule. Defaults to 500ms doubling to 5s (kubelet: 500ms to 2m2s). */
  readonly mountBackoff?: Backoff;
  /** Bearer tokens the API server accepts (enables authentication and RBAC). */
  readonly tokens?: Record<string, TokenGrant>;
  /**
   * The node's capacity, labels and taints: by default this machine's cores and memory, 110 pods, no
   * extended resources and no taints. E.g. `{ extendedResources: { "nvidia.com/gpu": 2 }, taints: [GPU_TAINT] }`.
   */
  readonly node?: TestNodeResources;
  /** The scheduler's retry backoff per pod; kube-scheduler's 1s doubling to 10s by default. */
  readonly schedulerBackoff?: Backoff;
  /** The Gateway routes attach to: `default/slipway-test` unless given. */
  readonly gateway?: { readonly namespace: string; readonly name: string };
  /**
   * How long the gateway's data plane takes to see a change to routes, Services or ready endpoints (ms).
   * Default 1000: a real Gateway is never programmed at once, and a pod whose deletion starts keeps
   * getting requests for about this long. 0 makes routing follow the API objects at once (for tests of
   * the matching rules only; it is kinder than any real cluster).
   */
  readonly gatewayPropagationDelayMs?: number;
}

export interface TestCluster {
  readonly clusterId: string;
  readonly kubeconfigPath: string;
  readonly kubeconfig: string;
  readonly apiUrl: string;
  readonly gatewayUrl: string;
  readonly gateway: { readonly namespace: string; readonly name: string };
  readonly registry: string;
  readonly stack: Stack;
  readonly store: Store;
  readonly docker: Docker;
  readonly node: TestNode;
  /**
   * Writes a kubeconfig that authenticates as the ServiceAccount `namespace/name` (which must exist) with
   * a TokenRequest token, its context's namespace set to `namespace`, and returns its path. Requests
   * through it are authorized by the Roles, RoleBindings, ClusterRoles and ClusterRoleBindings in the
   * cluster, as `system:serviceaccount:<namespace>:<name>`.
   */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  /** Ready endpoints of a Service port, as `127.0.0.1:<forwarded port>`; undefined if it does not exist. */
  resolveService(namespace: string, name: string, port: number): Promise<string[] | undefined>;
  /** Closes every server and removes every container of this cluster. Safe to call twice. */
  stop(): Promise<void>;
}

const TEST_BACKOFF: Backoff = { baseMs: 500, maxMs: 5000 };
const GATEWAY_PROPAGATION_DELAY_MS = 1000;

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const stack = opts.stack ?? (await ensureStack());
  const clusterId = randomBytes(4).toString("hex");
  const docker = new Docker({ socketPath: stack.dockerSocket, version: "v1.41" });
  const store = new Store();
  const workDir = await mkdtemp(join(tmpdir(), `slipway-cluster-${clusterId}-`));
  const gatewayRef = opts.gateway ?? { namespace: "default", name: "slipway-test" };

  const deployments = new DeploymentController(store);
  const replicaSets = new ReplicaSetController(store);
  const scheduler = new Scheduler({
    store,
    ...(opts.schedulerBackoff ? { backoff: opts.schedulerBackoff } : {}),
  });
  const node = new TestNode({
    docker,
    store,
    pauseImage: stack.busyboxImage,
    clusterId,
    runDir: join(workDir, "pods"),
    restartBackoff: opts.restartBackoff ?? TEST_BACKOFF,
    pullBackoff: opts.pullBackoff ?? TEST_BACKOFF,
    mountBackoff: opts.mountBackoff ?? TEST_BACKOFF,
    volumeDir: join(workDir, "volumes"),
  });
  const gateway = new TestGateway({
    store,
    node,
    ...gatewayRef,
    propagationDelayMs: opts.gatewayPropagationDelayMs ?? GATEWAY_PROPAGATION_DELAY_MS,
  });
  let api: ApiServer | undefined;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    deployments.stop();
    replicaSets.stop();
    scheduler.stop();
    store.setLogProvider(undefined);
    await Promise.allSettled([gateway.stop(), api?.close(), node.stop()]);
    // A belt-and-braces sweep in case a pod was being created while the node stopped.
    await removeClusterContainers(docker, clusterId);
    await rm(workDir, { recursive: true, force: true });
  };

  try {
    deployments.start();
    replicaSets.start();
    // The kubelet registers its Node before the scheduler can place anything on it.
    store.create(nodeObject(opts.node) as KubeObject, { fieldManager: "kubelet" });
    scheduler.start();
    await node.start();
    store.setLogProvider((ns, pod, container, o) => node.logs(ns, pod, { ...o, container }));
    const gatewayUrl = await gateway.start();
    api = await startApiServer({ store, ...(opts.tokens ? { tokens: opts.tokens } : {}) });
    const kubeconfig = api.kubeconfig();
    const kubeconfigPath = opts.kubeconfigPath ?? join(workDir, "kubeconfig");
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
    return {
      clusterId,
      kubeconfigPath,
      kubeconfig,
      apiUrl: api.url,
      gatewayUrl,
      gateway: gatewayRef,
      registry: stack.registry,
      stack,
      store,
      docker,
      node,
      resolveService: (ns, name, port) => resolveService(store, node, ns, name, port),
      async serviceAccountKubeconfig(namespace, name) {
        const server = api;
        if (server === undefined) throw new Error("the test cluster is stopped");
        const path = join(workDir, `kubeconfig-${namespace}-${name}`);
        const token = server.serviceAccountToken(namespace, name);
        await writeFile(path, server.kubeconfig({ token, namespace }), { mode: 0o600 });
        return path;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

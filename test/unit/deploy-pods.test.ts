// How an endpoint's pods are specified: Valohai's resources in Kubernetes units, GPU placement and
// rollout, probes and deadlines from the startup budget, graceful shutdown, the environment
// (SCRIPT_NAME, threads, gunicorn, secrets) and metrics annotations.
import { describe, expect, it } from "vitest";
import { DEFAULT_RUNTIME } from "../../src/config/defaults.js";
import type { EndpointResources, RuntimeSettings, SlipwayConfig } from "../../src/config/types.js";
import { literalEnvValue } from "../../src/deploy/env.js";
import {
  PRESTOP_SLEEP_SECONDS,
  progressDeadlineSeconds,
  startupBudgetSeconds,
  startupFailureThreshold,
  terminationGracePeriodSeconds,
  versionManifests,
} from "../../src/deploy/index.js";
import { cpuQuantity, megabytes, resourceRequirements, tolerationsFor } from "../../src/deploy/resources.js";
import { inputFor, ofKind, sampleConfig, validate, withEndpoint, withRuntime } from "./deploy-sample.js";

const WSGI = "predict-digits";
const COMMAND = "health-check";

function deploymentOf(config: SlipwayConfig, endpoint = WSGI) {
  const deployment = ofKind(versionManifests(inputFor(config)), "Deployment").find(
    (d) => d.metadata?.labels?.["slipway.dev/endpoint"] === endpoint,
  );
  if (!deployment?.spec?.template.spec) throw new Error(`no Deployment for ${endpoint}`);
  validate(deployment);
  return { deployment, spec: deployment.spec, pod: deployment.spec.template.spec };
}

function containerOf(config: SlipwayConfig, endpoint = WSGI) {
  const container = deploymentOf(config, endpoint).pod.containers[0];
  if (!container) throw new Error("no container");
  return container;
}

function envOf(config: SlipwayConfig, endpoint = WSGI): Record<string, unknown> {
  return Object.fromEntries(
    (containerOf(config, endpoint).env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]),
  );
}

const runtime = (change: Partial<RuntimeSettings> = {}): RuntimeSettings => ({
  ...DEFAULT_RUNTIME,
  ...change,
});

describe("resources: Valohai's vCPUs and MB as Kubernetes quantities", () => {
  it.each([
    [0.25, "250m"],
    [1, "1"],
    [0.1, "100m"],
    [1.5, "1500m"],
    [16, "16"],
    [0.0001, "1m"],
  ])("cpu %d → %s", (vcpus, quantity) => {
    expect(cpuQuantity(vcpus)).toBe(quantity);
  });

  it.each([
    [256, "256M"],
    [4096, "4096M"],
    [0.5, "500000"],
  ])("%d MB → %s (decimal megabytes, as Valohai writes MB)", (mb, quantity) => {
    expect(megabytes(mb)).toBe(quantity);
  });

  it.each<[string, EndpointResources | undefined, unknown]>([
    ["none", undefined, undefined],
    [
      "min → requests, max → limits",
      {
        cpu: { min: 0.25, max: 1 },
        memory: { min: 256, max: 512 },
        ephemeralStorage: { min: 2048, max: 4096 },
      },
      {
        requests: { cpu: "250m", memory: "256M", "ephemeral-storage": "2048M" },
        limits: { cpu: "1", memory: "512M", "ephemeral-storage": "4096M" },
      },
    ],
    ["a limit alone", { memory: { max: 64 } }, { limits: { memory: "64M" } }],
    ["a GPU: a limit only", { devices: { "nvidia.com/gpu": 1 } }, { limits: { "nvidia.com/gpu": "1" } }],
    ["MIG slices", { devices: { "nvidia.com/mig-1g.5gb": 2 } }, { limits: { "nvidia.com/mig-1g.5gb": "2" } }],
    [
      "cpu, memory and a GPU",
      { cpu: { min: 2 }, memory: { min: 8000, max: 16000 }, devices: { "nvidia.com/gpu": 2 } },
      { requests: { cpu: "2", memory: "8000M" }, limits: { memory: "16000M", "nvidia.com/gpu": "2" } },
    ],
  ])("%s", (_name, resources, expected) => {
    expect(resourceRequirements(resources)).toEqual(expected);
  });

  it("the sample's predict-digits requests 250m/256M and is limited to 1/512M", () => {
    expect(containerOf(sampleConfig).resources).toEqual({
      requests: { cpu: "250m", memory: "256M" },
      limits: { cpu: "1", memory: "512M" },
    });
  });
});

describe("GPUs: toleration and a rollout without surge", () => {
  const gpuTaint = { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" };
  it.each<[string, EndpointResources | undefined, Parameters<typeof tolerationsFor>[0], boolean, unknown[]]>([
    ["a GPU", { devices: { "nvidia.com/gpu": 1 } }, [], true, [gpuTaint]],
    ["a MIG slice", { devices: { "nvidia.com/mig-1g.5gb": 1 } }, [], true, [gpuTaint]],
    ["gpu-toleration off", { devices: { "nvidia.com/gpu": 1 } }, [], false, []],
    ["no device", { cpu: { max: 1 } }, [], true, []],
    ["another vendor's device", { devices: { "amd.com/gpu": 1 } }, [], true, []],
    [
      "the config tolerates it already",
      { devices: { "nvidia.com/gpu": 1 } },
      [{ key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" }],
      true,
      [{ key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" }],
    ],
    [
      "kept after the config's own",
      { devices: { "nvidia.com/gpu": 1 } },
      [{ key: "dedicated", operator: "Equal", value: "ml", effect: "NoExecute" }],
      true,
      [{ key: "dedicated", operator: "Equal", value: "ml", effect: "NoExecute" }, gpuTaint],
    ],
  ])("%s", (_name, resources, tolerations, gpuToleration, expected) => {
    expect(tolerationsFor(tolerations, resources, runtime({ gpuToleration }))).toEqual(expected);
  });

  it("surges one pod normally; with a device replaces pods one at a time instead", () => {
    expect(deploymentOf(sampleConfig).spec.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    const gpu = withEndpoint(sampleConfig, WSGI, { resources: { devices: { "nvidia.com/gpu": 1 } } });
    expect(deploymentOf(gpu).spec.strategy?.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(deploymentOf(gpu).pod.tolerations).toEqual([gpuTaint]);
  });

  it("places pods with the endpoint's node-selector", () => {
    const pinned = withEndpoint(sampleConfig, WSGI, {
      nodeSelector: { key: "accelerator", value: "tesla-v100" },
    });
    expect(deploymentOf(pinned).pod.nodeSelector).toEqual({ accelerator: "tesla-v100" });
    expect(deploymentOf(sampleConfig).pod).not.toHaveProperty("nodeSelector");
  });
});

describe("starting: the startup budget", () => {
  it.each([
    [900, 90, 900, 1500],
    [95, 10, 100, 700],
    [5, 1, 10, 610],
    [3600, 360, 3600, 4200],
  ])(
    "startup-timeout %is → %i probes of 10 s (%is), progress deadline %is",
    (seconds, threshold, budget, deadline) => {
      const r = runtime({ startupTimeoutSeconds: seconds });
      expect([startupFailureThreshold(r), startupBudgetSeconds(r), progressDeadlineSeconds(r)]).toEqual([
        threshold,
        budget,
        deadline,
      ]);
      const config = withRuntime(sampleConfig, WSGI, { startupTimeoutSeconds: seconds });
      expect(containerOf(config).startupProbe).toMatchObject({
        periodSeconds: 10,
        failureThreshold: threshold,
      });
      expect(deploymentOf(config).spec.progressDeadlineSeconds).toBe(deadline);
    },
  );

  it("readiness starts at once and liveness is a lenient TCP check (the startup probe gates both)", () => {
    const c = containerOf(sampleConfig);
    expect(c.readinessProbe).toMatchObject({ initialDelaySeconds: 0, tcpSocket: { port: "http" } });
    expect(c.livenessProbe).toEqual({
      tcpSocket: { port: "http" },
      periodSeconds: 10,
      failureThreshold: 3,
      timeoutSeconds: 5,
    });
  });

  it.each<[string, Partial<RuntimeSettings>, string]>([
    [
      "under the version path",
      { healthPath: "/healthz" },
      "/acme/mnist/mnist/3f2a9c1d0b7e/predict-digits/healthz",
    ],
    ["as is when the prefix is stripped", { healthPath: "/healthz", stripPrefix: true }, "/healthz"],
    [
      "with a leading slash added",
      { healthPath: "ready" },
      "/acme/mnist/mnist/3f2a9c1d0b7e/predict-digits/ready",
    ],
  ])("a health path is probed where the router would send it: %s", (_name, change, path) => {
    const c = containerOf(withRuntime(sampleConfig, WSGI, change));
    expect(c.startupProbe?.httpGet).toEqual({ path, port: "http" });
    expect(c.readinessProbe?.httpGet).toEqual({ path, port: "http" });
    expect(c.livenessProbe).toHaveProperty("tcpSocket");
  });
});

describe("stopping: sleep, drain, then SIGKILL", () => {
  it.each([
    [30, 40],
    [120, 130],
    [0, 10],
  ])("drain %is → terminationGracePeriodSeconds %i (5 s preStop sleep + drain + 5 s)", (drain, grace) => {
    expect(terminationGracePeriodSeconds(runtime({ drainSeconds: drain }))).toBe(grace);
    const { pod } = deploymentOf(withRuntime(sampleConfig, WSGI, { drainSeconds: drain }));
    expect(pod.terminationGracePeriodSeconds).toBe(grace);
    expect(pod.containers[0]?.lifecycle).toEqual({ preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } });
  });

  it.each([
    [60, 30, "--preload --timeout=65 --graceful-timeout=30"],
    [600, 45, "--preload --timeout=605 --graceful-timeout=45"],
  ])("gunicorn outlives a %is request and drains for %is: %s", (request, drain, args) => {
    const config = withRuntime(sampleConfig, WSGI, { requestTimeoutSeconds: request, drainSeconds: drain });
    expect(envOf(config).GUNICORN_CMD_ARGS).toBe(args);
  });

  it("only wsgi endpoints get GUNICORN_CMD_ARGS, and the config's own wins", () => {
    expect(envOf(sampleConfig, COMMAND)).not.toHaveProperty("GUNICORN_CMD_ARGS");
    const own = withRuntime(sampleConfig, WSGI, { env: { GUNICORN_CMD_ARGS: "--workers=4" } });
    expect(envOf(own).GUNICORN_CMD_ARGS).toBe("--workers=4");
  });
});

describe("the environment", () => {
  it("SCRIPT_NAME is the version path; with strip-prefix it is not set (gunicorn would refuse every path)", () => {
    expect(envOf(sampleConfig).SCRIPT_NAME).toBe("/acme/mnist/mnist/3f2a9c1d0b7e/predict-digits");
    expect(envOf(sampleConfig, COMMAND).SCRIPT_NAME).toBe("/acme/mnist/mnist/3f2a9c1d0b7e/health-check");
    expect(envOf(withRuntime(sampleConfig, WSGI, { stripPrefix: true }))).not.toHaveProperty("SCRIPT_NAME");
  });

  it("the config cannot move SCRIPT_NAME", () => {
    const config = withRuntime(sampleConfig, WSGI, { env: { SCRIPT_NAME: "/elsewhere" } });
    expect(envOf(config).SCRIPT_NAME).toBe("/acme/mnist/mnist/3f2a9c1d0b7e/predict-digits");
  });

  it.each<[string, EndpointResources | undefined, Record<string, string>, Record<string, unknown>]>([
    ["cpu limit 1", { cpu: { max: 1 } }, {}, { OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" }],
    [
      "cpu limit 2.5, rounded up",
      { cpu: { min: 1, max: 2.5 } },
      {},
      { OMP_NUM_THREADS: "3", MKL_NUM_THREADS: "3" },
    ],
    [
      "cpu limit 0.25, at least 1",
      { cpu: { max: 0.25 } },
      {},
      { OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
    ],
    [
      "the config's value wins",
      { cpu: { max: 4 } },
      { OMP_NUM_THREADS: "2" },
      { OMP_NUM_THREADS: "2", MKL_NUM_THREADS: "4" },
    ],
    ["no cpu limit: unset", { cpu: { min: 2 } }, {}, {}],
  ])("threads from the cpu limit: %s", (_name, resources, env, expected) => {
    const config = withRuntime(withEndpoint(sampleConfig, WSGI, resources ? { resources } : {}), WSGI, {
      env,
    });
    const actual = envOf(config);
    for (const name of ["OMP_NUM_THREADS", "MKL_NUM_THREADS"]) expect(actual[name]).toBe(expected[name]);
  });

  it("secrets are references: one key as a variable, a whole Secret through envFrom, the managed Secret last", () => {
    const config = withRuntime(sampleConfig, WSGI, {
      env: { DB_PASSWORD: "plain" },
      secrets: [
        { kind: "key", env: "DB_PASSWORD", secret: "db", key: "password" },
        { kind: "all", secret: "shared-env" },
      ],
    });
    const rendered = versionManifests(
      inputFor(config, { envSecret: { name: "run-env", values: { T: "v" } } }),
    );
    const c = ofKind(rendered, "Deployment")[0]?.spec?.template.spec?.containers[0];
    expect(c?.env?.filter((e) => e.name === "DB_PASSWORD")).toEqual([
      { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
    ]);
    expect(c?.envFrom).toEqual([{ secretRef: { name: "shared-env" } }, { secretRef: { name: "run-env" } }]);
  });

  it.each([
    ["plain", "plain"],
    ["$HOME stays", "$HOME stays"],
    ["$(HOME)", "$$(HOME)"],
    ["cost $$5", "cost $$$5"], // $$ → $, then $5 as is
  ])("a plain value reaches the app as written: %j is rendered %j", (value, rendered) => {
    expect(literalEnvValue(value)).toBe(rendered);
    expect(envOf(withRuntime(sampleConfig, WSGI, { env: { V: value } })).V).toBe(rendered);
  });
});

describe("the pod", () => {
  it("has no service links, no API token, /dev/shm in memory, pull secrets when given", () => {
    const config = withRuntime(sampleConfig, WSGI, { shmSizeMB: 2048, imagePullSecret: "ghcr-pull" });
    const { pod } = deploymentOf(config);
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.volumes).toEqual([{ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "2048M" } }]);
    expect(pod.containers[0]?.volumeMounts).toEqual([{ name: "dshm", mountPath: "/dev/shm" }]);
    expect(pod.imagePullSecrets).toEqual([{ name: "ghcr-pull" }]);
    expect(deploymentOf(sampleConfig).pod).not.toHaveProperty("imagePullSecrets");
  });

  it("takes the run's pull Secret too, once", () => {
    const config = withRuntime(sampleConfig, WSGI, { imagePullSecret: "ghcr-pull" });
    const rendered = versionManifests(inputFor(config, { imagePullSecret: "ghcr-pull" }));
    expect(ofKind(rendered, "Deployment")[0]?.spec?.template.spec?.imagePullSecrets).toEqual([
      { name: "ghcr-pull" },
    ]);
  });

  it("replicas come from the runtime settings unless the flow decides", () => {
    const config = withRuntime(sampleConfig, WSGI, { replicas: 3 });
    expect(deploymentOf(config).spec.replicas).toBe(3);
    const rendered = versionManifests(inputFor(config, { replicas: 2 }));
    expect(ofKind(rendered, "Deployment").map((d) => d.spec?.replicas)).toEqual([2, 2]);
  });

  it("is scraped by Prometheus, pod and Service, where the metrics path is served", () => {
    const config = withRuntime(sampleConfig, WSGI, { metricsPath: "/metrics" });
    const rendered = versionManifests(inputFor(config));
    const expected = {
      "prometheus.io/scrape": "true",
      "prometheus.io/path": "/acme/mnist/mnist/3f2a9c1d0b7e/predict-digits/metrics",
      "prometheus.io/port": "8000",
    };
    expect(ofKind(rendered, "Deployment")[0]?.spec?.template.metadata?.annotations).toEqual(expected);
    expect(ofKind(rendered, "Service")[0]?.metadata?.annotations).toEqual(expected);
    expect(ofKind(rendered, "Deployment")[1]?.spec?.template.metadata).not.toHaveProperty("annotations");
    expect(ofKind(versionManifests(inputFor(sampleConfig)), "Service")[0]?.metadata).not.toHaveProperty(
      "annotations",
    );
  });

  it("selects its pods by labels fixed for the Deployment's life, and labels them fully", () => {
    const { deployment, spec } = deploymentOf(sampleConfig);
    expect(spec.selector.matchLabels).toEqual({
      "app.kubernetes.io/managed-by": "slipway",
      "slipway.dev/owner": "acme",
      "slipway.dev/project": "mnist",
      "slipway.dev/deployment": "mnist",
      "slipway.dev/version": "3f2a9c1d0b7e",
      "slipway.dev/endpoint": "predict-digits",
    });
    expect(spec.template.metadata?.labels).toEqual(deployment.metadata?.labels);
    expect(spec.template.metadata?.labels).toMatchObject({
      "app.kubernetes.io/name": "predict-digits",
      "app.kubernetes.io/instance": "mnist-3f2a9c1d0b7e-predict-digits",
      "app.kubernetes.io/version": "3f2a9c1d0b7e",
      "app.kubernetes.io/component": "endpoint",
      "app.kubernetes.io/part-of": "mnist",
      "slipway.dev/commit": "3f2a9c1d0b7e55aa12ff00112233445566778899",
    });
  });
});

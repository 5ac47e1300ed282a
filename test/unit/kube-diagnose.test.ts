// diagnose(): Ready as `kubectl rollout status` decides, Failed only when waiting cannot help, Pending
// otherwise. The objects are shaped as the API server sends them; their structure (and the messages)
// are those of the Kubernetes documentation's examples:
// - Deployment status and conditions: https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status
//   (the nginx-deployment examples, including "ReplicaSet … has timed out progressing.")
// - Container states and pod conditions: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/
//   and the API reference for ContainerStatus / PodCondition
// - Events in both forms: core/v1 with first/lastTimestamp and count (kubelet), and the events.k8s.io
//   form seen through core/v1 with eventTime/series and null timestamps (the scheduler's FailedScheduling).

import { describe, expect, it } from "vitest";
import { type Diagnosis, diagnose } from "../../src/kube/diagnose.js";
import type { ContainerStatus, Deployment, KubeEvent, Pod, PodCondition } from "../../src/kube/types.js";

const NS = "slipway";
const DEPLOYMENT_UID = "8f5f1d6e-3c1c-4c8e-9a43-4f8cbd1e7c11";
const POD_UID = "a1d2c3e4-5f60-4a7b-8c9d-0e1f2a3b4c5d";
const IMAGE =
  "ghcr.io/acme/mnist-predict@sha256:3b1f0d2c9c7d8e4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2";

function deploymentObj(
  status: NonNullable<Deployment["status"]>,
  opts: { replicas?: number; generation?: number } = {},
): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "predict-digits",
      namespace: NS,
      uid: DEPLOYMENT_UID,
      generation: opts.generation ?? 1,
      annotations: { "deployment.kubernetes.io/revision": "1" },
    },
    spec: { replicas: opts.replicas ?? 1, progressDeadlineSeconds: 600 },
    status,
  };
}

const progressing = {
  type: "Progressing",
  status: "True",
  reason: "ReplicaSetUpdated",
  message: 'ReplicaSet "predict-digits-6d4cf56db6" is progressing.',
  lastUpdateTime: "2026-05-04T12:25:39Z",
  lastTransitionTime: "2026-05-04T12:25:39Z",
};
const unavailable = {
  type: "Available",
  status: "False",
  reason: "MinimumReplicasUnavailable",
  message: "Deployment does not have minimum availability.",
  lastUpdateTime: "2026-05-04T12:25:39Z",
  lastTransitionTime: "2026-05-04T12:25:39Z",
};
/** One replica created, not available: the state every failure below starts from. */
const rollingOut = deploymentObj({
  observedGeneration: 1,
  replicas: 1,
  updatedReplicas: 1,
  unavailableReplicas: 1,
  conditions: [unavailable, progressing],
});

function pod(
  status: {
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
    conditions?: PodCondition[];
  },
  opts: { deleting?: boolean; phase?: string } = {},
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "predict-digits-6d4cf56db6-x7k2p",
      namespace: NS,
      uid: POD_UID,
      labels: { "pod-template-hash": "6d4cf56db6" },
      ...(opts.deleting ? { deletionTimestamp: "2026-05-04T12:27:00Z" } : {}),
    },
    spec: {
      nodeName: "node-1",
      initContainers: [{ name: "fetch-model", image: "busybox:1.36" }],
      containers: [{ name: "server", image: IMAGE }],
    },
    status: {
      phase: opts.phase ?? "Pending",
      conditions: status.conditions ?? [
        {
          type: "PodScheduled",
          status: "True",
          lastProbeTime: null,
          lastTransitionTime: "2026-05-04T12:25:39Z",
        },
      ],
      ...(status.initContainerStatuses ? { initContainerStatuses: status.initContainerStatuses } : {}),
      containerStatuses: status.containerStatuses ?? [],
    },
  };
}

function container(
  state: NonNullable<ContainerStatus["state"]>,
  extra: Partial<ContainerStatus> = {},
): ContainerStatus {
  return {
    name: "server",
    image: IMAGE,
    imageID: "",
    ready: false,
    started: false,
    restartCount: 0,
    state,
    ...extra,
  };
}

/** A kubelet event in the core/v1 form (firstTimestamp, lastTimestamp, count). */
function kubeletEvent(
  reason: string,
  message: string,
  type: string,
  lastTimestamp: string,
  count = 1,
  uid = POD_UID,
): KubeEvent {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `predict-digits-6d4cf56db6-x7k2p.17c2b1a${count}`, namespace: NS },
    involvedObject: {
      kind: "Pod",
      namespace: NS,
      name: "predict-digits-6d4cf56db6-x7k2p",
      uid,
      fieldPath: "spec.containers{server}",
    },
    reason,
    message,
    type,
    count,
    firstTimestamp: "2026-05-04T12:25:41Z",
    lastTimestamp,
    source: { component: "kubelet", host: "node-1" },
    reportingComponent: "kubelet",
  };
}

function withoutCount(e: KubeEvent): KubeEvent {
  const { count: _count, ...rest } = e;
  return rest;
}

const PULL_ERROR = `Failed to pull image "${IMAGE}": rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": not found`;

const unschedulable: PodCondition = {
  type: "PodScheduled",
  status: "False",
  reason: "Unschedulable",
  message: "0/1 nodes are available: 1 Insufficient cpu.",
  lastProbeTime: null,
  lastTransitionTime: "2026-05-04T12:25:40Z",
};

/** The scheduler's event, in the events.k8s.io form: eventTime set, first/lastTimestamp null. */
const failedScheduling: KubeEvent = {
  apiVersion: "v1",
  kind: "Event",
  metadata: {
    name: "predict-digits-6d4cf56db6-x7k2p.162224c8f153d194",
    namespace: NS,
    creationTimestamp: "2026-05-04T12:25:40Z",
  },
  involvedObject: { kind: "Pod", namespace: NS, name: "predict-digits-6d4cf56db6-x7k2p", uid: POD_UID },
  reason: "FailedScheduling",
  message: "0/1 nodes are available: 1 Insufficient cpu.",
  type: "Warning",
  eventTime: "2026-05-04T12:25:40.503432Z",
  firstTimestamp: null,
  lastTimestamp: null,
  reportingComponent: "default-scheduler",
  source: { component: "default-scheduler" },
};

const crashLoop = container(
  {
    waiting: {
      reason: "CrashLoopBackOff",
      message: `back-off 20s restarting failed container=server pod=predict-digits-6d4cf56db6-x7k2p_slipway(${POD_UID})`,
    },
  },
  {
    restartCount: 2,
    lastState: {
      terminated: {
        exitCode: 1,
        reason: "Error",
        startedAt: "2026-05-04T12:25:58Z",
        finishedAt: "2026-05-04T12:25:59Z",
      },
    },
  },
);

interface Case {
  name: string;
  deployment: Deployment | undefined;
  pods?: Pod[];
  events?: KubeEvent[];
  expected: Partial<Diagnosis> & { state: Diagnosis["state"] };
  /** Also required of the message. */
  message?: RegExp;
}

const cases: Case[] = [
  { name: "no Deployment yet", deployment: undefined, expected: { state: "Pending", reason: "NotFound" } },
  {
    name: "a spec the controller has not observed yet",
    deployment: deploymentObj(
      { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
      { generation: 2 },
    ),
    expected: {
      state: "Pending",
      reason: "SpecNotObserved",
      message: "Waiting for deployment spec update to be observed",
    },
  },
  {
    name: "complete: updated, available, no old replicas (since the later of the two conditions)",
    deployment: deploymentObj({
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [
        {
          type: "Available",
          status: "True",
          reason: "MinimumReplicasAvailable",
          message: "Deployment has minimum availability.",
          lastUpdateTime: "2026-05-04T12:25:42Z",
          lastTransitionTime: "2026-05-04T12:25:42Z",
        },
        {
          type: "Progressing",
          status: "True",
          reason: "NewReplicaSetAvailable",
          message: 'ReplicaSet "predict-digits-6d4cf56db6" has successfully progressed.',
          lastUpdateTime: "2026-05-04T12:25:43Z",
          lastTransitionTime: "2026-05-04T12:25:39Z",
        },
      ],
    }),
    expected: {
      state: "Ready",
      message: 'deployment "predict-digits" successfully rolled out',
      since: "2026-05-04T12:25:43Z",
    },
  },
  {
    name: "scaled to zero is rolled out",
    deployment: deploymentObj({ observedGeneration: 1 }, { replicas: 0 }),
    expected: { state: "Ready" },
  },
  {
    name: "fewer updated replicas than wanted",
    deployment: deploymentObj(
      {
        observedGeneration: 1,
        replicas: 2,
        updatedReplicas: 1,
        availableReplicas: 1,
        conditions: [progressing],
      },
      { replicas: 2 },
    ),
    expected: {
      state: "Pending",
      reason: "NoPods",
      message:
        'Waiting for deployment "predict-digits" rollout to finish: 1 out of 2 new replicas have been updated',
    },
  },
  {
    name: "old replicas still terminating",
    deployment: deploymentObj({
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 1,
      availableReplicas: 1,
    }),
    expected: { state: "Pending" },
    message: /1 old replicas are pending termination$/,
  },
  {
    name: "ImagePullBackOff is certain: the image and the registry's words from the Failed event",
    deployment: rollingOut,
    pods: [
      pod({
        containerStatuses: [
          container({
            waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${IMAGE}"` },
          }),
        ],
      }),
    ],
    events: [
      kubeletEvent("Pulling", `Pulling image "${IMAGE}"`, "Normal", "2026-05-04T12:25:41Z"),
      kubeletEvent("Failed", PULL_ERROR, "Warning", "2026-05-04T12:25:42Z"),
      kubeletEvent("Failed", "Error: ErrImagePull", "Warning", "2026-05-04T12:25:42Z"),
      kubeletEvent("BackOff", `Back-off pulling image "${IMAGE}"`, "Normal", "2026-05-04T12:25:43Z"),
    ],
    expected: {
      state: "Failed",
      reason: "ImagePullBackOff",
      message: PULL_ERROR,
      pod: "predict-digits-6d4cf56db6-x7k2p",
      container: "server",
      image: IMAGE,
      since: "2026-05-04T12:25:42Z",
      sinceFrom: "event",
    },
  },
  {
    name: "one ErrImagePull may be a registry hiccup: still Pending",
    deployment: rollingOut,
    pods: [
      pod({
        containerStatuses: [
          container({ waiting: { reason: "ErrImagePull", message: "rpc error: code = Unavailable" } }),
        ],
      }),
    ],
    events: [kubeletEvent("Failed", PULL_ERROR, "Warning", "2026-05-04T12:25:42Z")],
    expected: { state: "Pending", reason: "Progressing" },
    message: /ErrImagePull \(first failure, kubelet retries\)/,
  },
  {
    name: "ErrImagePull reported twice (an event's count) is certain",
    deployment: rollingOut,
    pods: [pod({ containerStatuses: [container({ waiting: { reason: "ErrImagePull" } })] })],
    events: [kubeletEvent("Failed", PULL_ERROR, "Warning", "2026-05-04T12:26:02Z", 2)],
    expected: { state: "Failed", reason: "ErrImagePull", image: IMAGE, since: "2026-05-04T12:26:02Z" },
  },
  {
    name: "ErrImagePull twice in the events.k8s.io form (series.count)",
    deployment: rollingOut,
    pods: [pod({ containerStatuses: [container({ waiting: { reason: "ErrImagePull" } })] })],
    events: [
      {
        ...withoutCount(kubeletEvent("Failed", PULL_ERROR, "Warning", "2026-05-04T12:25:42Z")),
        firstTimestamp: null,
        lastTimestamp: null,
        eventTime: "2026-05-04T12:25:42.100000Z",
        series: { count: 2, lastObservedTime: "2026-05-04T12:26:02.100000Z" },
      },
    ],
    expected: { state: "Failed", reason: "ErrImagePull", since: "2026-05-04T12:26:02.100000Z" },
  },
  {
    name: "a pull error naming the image differently is still this container's (by the event's fieldPath)",
    deployment: rollingOut,
    pods: [
      pod({
        containerStatuses: [
          container(
            {
              waiting: {
                reason: "ImagePullBackOff",
                message: 'Back-off pulling image "nginx:1.0-nonexistent"',
              },
            },
            { image: "nginx:1.0-nonexistent" },
          ),
        ],
      }),
    ],
    events: [
      kubeletEvent(
        "Failed",
        'Failed to pull image "docker.io/library/nginx:1.0-nonexistent": not found',
        "Warning",
        "2026-05-04T12:25:42Z",
      ),
    ],
    expected: {
      state: "Failed",
      reason: "ImagePullBackOff",
      image: "nginx:1.0-nonexistent",
      message: 'Failed to pull image "docker.io/library/nginx:1.0-nonexistent": not found',
    },
  },
  {
    name: "an image name the runtime refuses fails at once",
    deployment: rollingOut,
    pods: [
      pod({
        containerStatuses: [
          container(
            {
              waiting: {
                reason: "InvalidImageName",
                message:
                  'Failed to apply default image tag "ghcr.io/Acme/x": couldn\'t parse image reference',
              },
            },
            { image: "ghcr.io/Acme/x" },
          ),
        ],
      }),
    ],
    expected: { state: "Failed", reason: "InvalidImageName", image: "ghcr.io/Acme/x" },
  },
  {
    name: "CrashLoopBackOff is certain, timed by kubelet's BackOff event",
    deployment: rollingOut,
    pods: [pod({ containerStatuses: [crashLoop] }, { phase: "Running" })],
    events: [
      kubeletEvent(
        "BackOff",
        "Back-off restarting failed container server in pod predict-digits-6d4cf56db6-x7k2p_slipway(a1d2c3e4-5f60-4a7b-8c9d-0e1f2a3b4c5d)",
        "Warning",
        "2026-05-04T12:26:00Z",
        2,
      ),
    ],
    expected: {
      state: "Failed",
      reason: "CrashLoopBackOff",
      message: 'container "server" keeps crashing: last exit code 1 (Error), restarted 2 times',
      container: "server",
      since: "2026-05-04T12:26:00Z",
      sinceFrom: "event",
    },
  },
  {
    name: "CrashLoopBackOff without events: timed by the last termination",
    deployment: rollingOut,
    pods: [pod({ containerStatuses: [crashLoop] }, { phase: "Running" })],
    expected: {
      state: "Failed",
      reason: "CrashLoopBackOff",
      since: "2026-05-04T12:25:59Z",
      sinceFrom: "container-status",
    },
  },
  {
    name: "an init container in CrashLoopBackOff",
    deployment: rollingOut,
    pods: [
      pod({
        initContainerStatuses: [{ ...crashLoop, name: "fetch-model", image: "busybox:1.36" }],
        containerStatuses: [container({ waiting: { reason: "PodInitializing" } })],
      }),
    ],
    expected: { state: "Failed", reason: "CrashLoopBackOff", container: "fetch-model" },
  },
  {
    name: "a pod being deleted says nothing about the new template",
    deployment: rollingOut,
    pods: [pod({ containerStatuses: [crashLoop] }, { deleting: true })],
    expected: { state: "Pending", reason: "NoPods" },
  },
  {
    name: "Unschedulable: the scheduler's message",
    deployment: rollingOut,
    pods: [pod({ conditions: [unschedulable] })],
    events: [failedScheduling],
    expected: {
      state: "Failed",
      reason: "Unschedulable",
      message: "0/1 nodes are available: 1 Insufficient cpu.",
      since: "2026-05-04T12:25:40Z",
      sinceFrom: "condition",
    },
  },
  {
    name: "Unschedulable while the cluster autoscaler adds a node is still Pending",
    deployment: rollingOut,
    pods: [pod({ conditions: [unschedulable] })],
    events: [
      failedScheduling,
      {
        ...kubeletEvent(
          "TriggeredScaleUp",
          "pod triggered scale-up: [{gpu-pool 1->2 (max: 4)}]",
          "Normal",
          "2026-05-04T12:25:45Z",
        ),
        source: { component: "cluster-autoscaler" },
        reportingComponent: "cluster-autoscaler",
      },
    ],
    expected: { state: "Pending" },
    message: /cluster autoscaler is adding a node: pod triggered scale-up/,
  },
  {
    name: "ProgressDeadlineExceeded, with why the pod is not ready",
    deployment: deploymentObj({
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      unavailableReplicas: 1,
      conditions: [
        unavailable,
        {
          type: "Progressing",
          status: "False",
          reason: "ProgressDeadlineExceeded",
          message: 'ReplicaSet "predict-digits-6d4cf56db6" has timed out progressing.',
          lastUpdateTime: "2026-05-04T12:35:40Z",
          lastTransitionTime: "2026-05-04T12:35:40Z",
        },
      ],
    }),
    pods: [
      pod(
        {
          containerStatuses: [
            container({ running: { startedAt: "2026-05-04T12:25:45Z" } }, { started: true }),
          ],
        },
        { phase: "Running" },
      ),
    ],
    events: [
      kubeletEvent(
        "Unhealthy",
        'Readiness probe failed: Get "http://10.1.0.7:8000/": dial tcp 10.1.0.7:8000: connect: connection refused',
        "Warning",
        "2026-05-04T12:35:39Z",
        600,
      ),
    ],
    expected: {
      state: "Failed",
      reason: "ProgressDeadlineExceeded",
      message:
        'ReplicaSet "predict-digits-6d4cf56db6" has timed out progressing. (pod predict-digits-6d4cf56db6-x7k2p: container "server" running, not ready: Readiness probe failed: Get "http://10.1.0.7:8000/": dial tcp 10.1.0.7:8000: connect: connection refused)',
      since: "2026-05-04T12:35:40Z",
      sinceFrom: "condition",
    },
  },
  {
    name: "a missing Secret (CreateContainerConfigError) may yet be created: Pending with the reason",
    deployment: rollingOut,
    pods: [
      pod({
        containerStatuses: [
          container({
            waiting: {
              reason: "CreateContainerConfigError",
              message: 'secret "model-credentials" not found',
            },
          }),
        ],
      }),
    ],
    expected: { state: "Pending" },
    message:
      /container "server" waiting: CreateContainerConfigError \(secret "model-credentials" not found\)/,
  },
  {
    name: "events about another pod do not count",
    deployment: rollingOut,
    pods: [pod({ containerStatuses: [container({ waiting: { reason: "ErrImagePull" } })] })],
    events: [kubeletEvent("Failed", PULL_ERROR, "Warning", "2026-05-04T12:26:02Z", 5, "0000-other-pod")],
    expected: { state: "Pending" },
  },
  {
    name: "a pod waiting for a volume shows kubelet's warning",
    deployment: rollingOut,
    pods: [pod({ containerStatuses: [] })],
    events: [
      kubeletEvent(
        "FailedMount",
        'MountVolume.SetUp failed for volume "model" : configmap "predict-digits-model" not found',
        "Warning",
        "2026-05-04T12:25:45Z",
      ),
    ],
    expected: { state: "Pending" },
    message: /FailedMount: MountVolume\.SetUp failed for volume "model"/,
  },
];

describe("diagnose", () => {
  it.each(cases)("$name", ({ deployment, pods = [], events = [], expected, message }) => {
    const d = diagnose(deployment, pods, events);
    expect(d).toMatchObject(expected);
    if (message) expect(d.message).toMatch(message);
  });
});

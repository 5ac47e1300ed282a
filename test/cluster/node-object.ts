// The test node's Node object, as its kubelet registers it: labels, taints, capacity and allocatable,
// conditions, addresses and nodeInfo. The scheduler (scheduler.ts) reads capacity and taints from this
// object in the store, so a test that changes it (kubectl taint, kubectl cordon) changes scheduling too.
// Fields follow the Node API reference: https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/node-v1/

import { statfsSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import type { INode } from "kubernetes-models/v1/Node";
import type { ITaint } from "kubernetes-models/v1/Taint";
import { NODE_NAME } from "./node.js";
import { parseQuantity } from "./quantity.js";

export type Taint = Pick<ITaint, "key" | "value" | "effect">;

/** The taint GPU node pools commonly carry, so only pods that tolerate it land there. */
export const GPU_TAINT: Taint = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" };

export interface TestNodeResources {
  /** CPU capacity (a quantity: "2", "3500m"); the machine's core count by default. */
  readonly cpu?: string;
  /** Memory capacity ("8Gi"); the machine's memory by default. */
  readonly memory?: string;
  /** Maximum pods; 110 by default, kubelet's maxPods default. */
  readonly pods?: number;
  /** Ephemeral storage capacity; the size of the filesystem holding `/` by default. */
  readonly ephemeralStorage?: string;
  /**
   * Extended resources a device plugin would advertise, by name: `{ "nvidia.com/gpu": 2 }`. Nothing
   * is attached to containers; only the scheduler's accounting sees them.
   */
  readonly extendedResources?: Readonly<Record<string, number>>;
  /** spec.taints, e.g. `[GPU_TAINT]`. None by default. */
  readonly taints?: readonly Taint[];
  /** Extra labels besides the well-known kubernetes.io/hostname, os and arch ones. */
  readonly labels?: Readonly<Record<string, string>>;
}

const MI = 2 ** 20;

/**
 * Node Allocatable = Capacity - kube-reserved - system-reserved - hard eviction thresholds
 * (https://kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources/#node-allocatable).
 * Nothing is reserved here; kubelet's default hard eviction thresholds are memory.available<100Mi and
 * nodefs.available<10% (https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#hard-eviction-thresholds).
 */
function allocatable(capacity: Record<string, string>): Record<string, string> {
  const out = { ...capacity };
  if (capacity.memory !== undefined) {
    const bytes = Math.max(0, parseQuantity(capacity.memory) - 100 * MI);
    out.memory = `${Math.floor(bytes / 1024)}Ki`;
  }
  if (capacity["ephemeral-storage"] !== undefined) {
    out["ephemeral-storage"] = String(Math.floor(parseQuantity(capacity["ephemeral-storage"]) * 0.9));
  }
  return out;
}

function rootFilesystemBytes(): number {
  try {
    const s = statfsSync("/");
    return s.blocks * s.bsize;
  } catch {
    return 100 * 2 ** 30;
  }
}

export function nodeObject(opts: TestNodeResources = {}, now = new Date()): INode {
  const capacity: Record<string, string> = {
    cpu: opts.cpu ?? String(availableParallelism()),
    "ephemeral-storage": opts.ephemeralStorage ?? `${Math.floor(rootFilesystemBytes() / 1024)}Ki`,
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    memory: opts.memory ?? `${Math.floor(totalmem() / 1024)}Ki`,
    pods: String(opts.pods ?? 110),
  };
  for (const [name, count] of Object.entries(opts.extendedResources ?? {})) capacity[name] = String(count);
  const at = `${now.toISOString().slice(0, 19)}Z`;
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: at,
    lastTransitionTime: at,
  });
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: NODE_NAME,
      // kubelet's well-known labels (https://kubernetes.io/docs/reference/labels-annotations-taints/).
      labels: {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": NODE_NAME,
        "kubernetes.io/os": "linux",
        ...opts.labels,
      },
    },
    spec: opts.taints && opts.taints.length > 0 ? { taints: opts.taints.map((t) => ({ ...t })) } : {},
    status: {
      capacity,
      allocatable: allocatable(capacity),
      conditions: [
        condition(
          "MemoryPressure",
          "False",
          "KubeletHasSufficientMemory",
          "kubelet has sufficient memory available",
        ),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
      ],
      addresses: [
        { type: "InternalIP", address: "127.0.0.1" },
        { type: "Hostname", address: NODE_NAME },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: "",
        systemUUID: "",
        bootID: "",
        kernelVersion: "",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        containerRuntimeVersion: "docker://20.10",
        kubeletVersion: "v1.32.0",
        // Left empty since 1.31 (DisableNodeKubeProxyVersion): the kubelet cannot know kube-proxy's version.
        kubeProxyVersion: "",
        operatingSystem: "linux",
        architecture: "amd64",
      },
    },
  };
}

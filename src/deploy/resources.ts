// Valohai's endpoint resources as Kubernetes sees them: requests, limits, devices, tolerations and
// the thread count numeric libraries should use. Pure.
//
// Units (valohai-yaml's schema): cpu in vCPUs; memory and ephemeral storage in MB ("100 is 100 MB").
// MB is rendered with Kubernetes' decimal suffix `M` (10^6 bytes), exactly the unit Valohai names;
// `Mi` would hand out 4.9 % more than the file says. `min` is the request, `max` the limit. Devices
// are extended resources, which Kubernetes does not overcommit: they are set as limits only (the
// request defaults to the limit).

import type { IResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import type { IToleration } from "kubernetes-models/v1/Toleration";
import type { EndpointResources, RuntimeSettings, Toleration } from "../config/types.js";

const NVIDIA_PREFIX = "nvidia.com/";
/** The taint GPU node pools carry (GKE, the NVIDIA GPU Operator's examples): tolerated with Exists. */
export const GPU_TAINT_KEY = "nvidia.com/gpu";

/** vCPUs as a quantity: 0.25 → `250m`, 1 → `1`, 1.5 → `1500m`; never below Kubernetes' 1m resolution. */
export function cpuQuantity(vcpus: number): string {
  const millis = Math.max(1, Math.round(vcpus * 1000));
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** Valohai's MB as a quantity: 256 → `256M`; a fraction of a MB as bytes (0.5 → `500000`). */
export function megabytes(mb: number): string {
  return Number.isInteger(mb) ? `${mb}M` : String(Math.round(mb * 1_000_000));
}

export function resourceRequirements(
  resources: EndpointResources | undefined,
): IResourceRequirements | undefined {
  if (!resources) return undefined;
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  const ranges = [
    ["cpu", resources.cpu, cpuQuantity],
    ["memory", resources.memory, megabytes],
    ["ephemeral-storage", resources.ephemeralStorage, megabytes],
  ] as const;
  for (const [name, range, quantity] of ranges) {
    if (range?.min !== undefined) requests[name] = quantity(range.min);
    if (range?.max !== undefined) limits[name] = quantity(range.max);
  }
  for (const [device, count] of Object.entries(resources.devices ?? {})) limits[device] = String(count);
  const out: IResourceRequirements = {};
  if (Object.keys(requests).length > 0) out.requests = requests;
  if (Object.keys(limits).length > 0) out.limits = limits;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Whether the endpoint asks for a device (GPU, MIG slice or other extended resource). */
export function usesDevices(resources: EndpointResources | undefined): boolean {
  return Object.keys(resources?.devices ?? {}).length > 0;
}

function requestsNvidia(resources: EndpointResources | undefined): boolean {
  return Object.keys(resources?.devices ?? {}).some((d) => d.startsWith(NVIDIA_PREFIX));
}

function tolerates(t: Toleration, key: string): boolean {
  return (t.key === undefined && t.operator === "Exists") || t.key === key;
}

/** The endpoint's tolerations, plus `nvidia.com/gpu` Exists NoSchedule for NVIDIA devices unless already there. */
export function tolerationsFor(
  tolerations: readonly Toleration[],
  resources: EndpointResources | undefined,
  runtime: RuntimeSettings,
): IToleration[] {
  const out: IToleration[] = tolerations.map((t) => ({ ...t }));
  if (
    runtime.gpuToleration &&
    requestsNvidia(resources) &&
    !tolerations.some((t) => tolerates(t, GPU_TAINT_KEY))
  ) {
    out.push({ key: GPU_TAINT_KEY, operator: "Exists", effect: "NoSchedule" });
  }
  return out;
}

/** Threads for OpenMP/MKL: the cpu limit rounded up, at least 1; none without a limit. */
export function cpuThreads(resources: EndpointResources | undefined): number | undefined {
  const limit = resources?.cpu?.max;
  return limit === undefined ? undefined : Math.max(1, Math.ceil(limit));
}

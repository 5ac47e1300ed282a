// Waits, by watching, until the Gateway accepted a route: a parent in `status.parents` with the
// conditions Accepted=True and ResolvedRefs=True (Gateway API, HTTPRoute status), so its URLs answer
// before anyone is told about them. At the deadline the error quotes the conditions last seen.
import type { KubeClient, KubeObject, ObjectRef } from "../kube/index.js";
import { isRecord } from "../util/record.js";

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function conditionsOf(route: KubeObject): Condition[][] {
  const status = isRecord(route.status) ? route.status : undefined;
  const parents = Array.isArray(status?.parents) ? status.parents : [];
  return parents.filter(isRecord).map((p) =>
    (Array.isArray(p.conditions) ? p.conditions : []).filter(isRecord).map((c) => ({
      type: String(c.type),
      status: String(c.status),
      ...(typeof c.reason === "string" ? { reason: c.reason } : {}),
      ...(typeof c.message === "string" ? { message: c.message } : {}),
    })),
  );
}

/** Whether the route's observed generation is accepted with every reference resolved by some parent. */
export function routeAccepted(route: KubeObject): boolean {
  return conditionsOf(route).some((conditions) =>
    ["Accepted", "ResolvedRefs"].every((type) =>
      conditions.some((c) => c.type === type && c.status === "True"),
    ),
  );
}

function describe(route: KubeObject | undefined): string {
  const parents = route ? conditionsOf(route) : [];
  if (parents.length === 0)
    return "no Gateway has reported on it (is router.gateway a Gateway whose controller runs?)";
  return parents
    .map((conditions) =>
      conditions
        .map(
          (c) =>
            `${c.type}=${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ""})` : ""}`,
        )
        .join(", "),
    )
    .join("; ");
}

export async function awaitRouteAccepted(
  kube: Pick<KubeClient, "watch">,
  route: ObjectRef,
  deadline: number,
  signal?: AbortSignal,
): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let last: KubeObject | undefined;
  let accepted = false;
  try {
    await kube.watch(
      { apiVersion: route.apiVersion, kind: route.kind },
      route.namespace,
      { fieldSelector: `metadata.name=${route.name}` },
      (event) => {
        last = event.object;
        if (event.type !== "DELETED" && routeAccepted(event.object)) {
          accepted = true;
          stop.abort();
        }
      },
      { deadline, signal: stop.signal },
    );
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (!accepted) {
    if (signal?.aborted) throw new Error(`stopped waiting for route ${route.namespace}/${route.name}`);
    throw new Error(
      `the Gateway did not accept route ${route.namespace}/${route.name} in time: ${describe(last)}`,
    );
  }
}

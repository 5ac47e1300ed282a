// Kubernetes resource quantities ("128Mi", "500m", "1.5", "2G", "1e3") as plain numbers in base units
// (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/), for the node's
// container limits, downward API values and memory-backed volume sizes, the scheduler's accounting and
// the API server's resource validation.

/** Parses a Kubernetes resource quantity ("128Mi", "500m", "1.5", "2G", "1e3") into base units. */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/.exec(q.trim());
  if (!m?.[1]) throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  const factors: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
    n: 1e-9,
    u: 1e-6,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
  };
  return Number(m[1]) * (m[2] ? (factors[m[2]] ?? 1) : 1);
}

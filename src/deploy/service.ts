// An endpoint's ClusterIP Service for one version: its port, named `http`, to the pods' named port.
// Pure.

import type { Plan } from "../plan/plan.js";
import { selectorLabels, versionLabels } from "./labels.js";
import { scrapeAnnotations } from "./serve-path.js";
import type { EndpointParts, IService } from "./types.js";

/** The container port's name; the Service targets it by name, so the number lives in one place. */
export const PORT_NAME = "http";

export function endpointService(plan: Plan, parts: EndpointParts): IService {
  const { planned, runtime } = parts;
  const annotations = scrapeAnnotations(planned, runtime);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: planned.resourceName,
      namespace: plan.namespace,
      labels: versionLabels(plan, "endpoint", planned),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(planned),
      ports: [{ name: PORT_NAME, protocol: "TCP", port: planned.port, targetPort: PORT_NAME }],
    },
  };
}

import { describe, expect, it } from "vitest";
import { findByKind, type ResourceKind } from "../resources.js";
import { ApiError, type StatusCause } from "../store.js";
import { fieldPath, nameErrors, validateObject } from "../validate.js";

describe("object names (Object Names and IDs)", () => {
  it.each([
    ["dns1123Subdomain", "model.v1", true],
    ["dns1123Subdomain", "Model", false],
    ["dns1123Subdomain", "-model", false],
    ["dns1123Subdomain", "a".repeat(253), true],
    ["dns1123Subdomain", "a".repeat(254), false],
    ["dns1123Label", "pr-42", true],
    ["dns1123Label", "pr.42", false],
    ["dns1123Label", "a".repeat(64), false],
    ["dns1035Label", "model", true],
    ["dns1035Label", "1model", false],
    ["pathSegment", "Any_Name", true],
    ["pathSegment", "a/b", false],
  ] as const)("%s %j valid=%j", (rule, name, valid) => {
    expect(nameErrors(rule, name).length === 0).toBe(valid);
  });
});

describe("field paths in causes", () => {
  it("turns JSON pointers into the API server's dotted form", () => {
    expect(fieldPath("/spec/template/spec/containers/0/image")).toBe(
      "spec.template.spec.containers[0].image",
    );
  });
});

describe("pod volumes, volume mounts and init containers (the API server's Go-side validation)", () => {
  const podKind = findByKind("v1", "Pod") as ResourceKind;
  const causesOf = (spec: Record<string, unknown>): StatusCause[] => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default" },
      spec: { containers: [{ name: "main", image: "busybox" }], ...spec },
    };
    try {
      validateObject(podKind, pod, undefined);
      return [];
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      expect(e.status.code).toBe(422);
      return e.status.details?.causes ?? [];
    }
  };
  const mounting = (mounts: unknown[], volumes: unknown[] = [{ name: "cfg", emptyDir: {} }]) => ({
    volumes,
    containers: [{ name: "main", image: "busybox", volumeMounts: mounts }],
  });

  it.each([
    [
      "a configMap, a secret and an emptyDir, mounted",
      mounting(
        [
          { name: "cfg", mountPath: "/etc/cfg", readOnly: true },
          { name: "token", mountPath: "/var/token", subPath: "t" },
          { name: "scratch", mountPath: "/scratch" },
        ],
        [
          { name: "cfg", configMap: { name: "app", items: [{ key: "k", path: "dir/k", mode: 0o400 }] } },
          { name: "token", secret: { secretName: "tok", defaultMode: 0o440, optional: true } },
          { name: "scratch", emptyDir: {} },
        ],
      ),
      [],
    ],
    [
      "a mount naming no volume",
      mounting([{ name: "x", mountPath: "/x" }]),
      [["spec.containers[0].volumeMounts[0].name", 'Not found: "x"']],
    ],
    [
      "two mounts on one path",
      mounting([
        { name: "cfg", mountPath: "/a" },
        { name: "cfg", mountPath: "/a" },
      ]),
      [["spec.containers[0].volumeMounts[1].mountPath", 'Invalid value: "/a": must be unique']],
    ],
    [
      "an empty mountPath",
      mounting([{ name: "cfg", mountPath: "" }]),
      [["spec.containers[0].volumeMounts[0].mountPath", "Required value"]],
    ],
    [
      "an absolute subPath (named after the list, as the API server does)",
      mounting([{ name: "cfg", mountPath: "/a", subPath: "/etc" }]),
      [["spec.containers[0].volumeMounts.subPath", 'Invalid value: "/etc": must be a relative path']],
    ],
    [
      "a subPath climbing out",
      mounting([{ name: "cfg", mountPath: "/a", subPath: "x/../.." }]),
      [["spec.containers[0].volumeMounts.subPath", "Invalid value: \"x/../..\": must not contain '..'"]],
    ],
    [
      "two volumes with one name",
      {
        volumes: [
          { name: "v", emptyDir: {} },
          { name: "v", emptyDir: {} },
        ],
      },
      [["spec.volumes[1].name", 'Duplicate value: "v"']],
    ],
    [
      "a volume name that is no DNS label",
      { volumes: [{ name: "My_Vol", emptyDir: {} }] },
      [
        [
          "spec.volumes[0].name",
          "Invalid value: \"My_Vol\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ],
      ],
    ],
    [
      "a volume without a source",
      { volumes: [{ name: "v" }] },
      [["spec.volumes[0]", "Required value: must specify a volume type"]],
    ],
    [
      "a volume with two sources",
      { volumes: [{ name: "v", emptyDir: {}, configMap: { name: "c" } }] },
      [["spec.volumes[0].configMap", "Forbidden: may not specify more than 1 volume type"]],
    ],
    [
      "a mount of a volume that is itself invalid",
      mounting([{ name: "v", mountPath: "/v" }], [{ name: "v" }]),
      [
        ["spec.volumes[0]", "Required value: must specify a volume type"],
        ["spec.containers[0].volumeMounts[0].name", 'Not found: "v"'],
      ],
    ],
    [
      "a configMap without a name, an item path out of the volume, a bad mode",
      {
        volumes: [{ name: "v", configMap: { defaultMode: 0o1777, items: [{ key: "k", path: "../k" }] } }],
      },
      [
        ["spec.volumes[0].configMap.name", "Required value"],
        [
          "spec.volumes[0].configMap.defaultMode",
          "Invalid value: 1023: must be a number between 0 and 0777 (octal), both inclusive",
        ],
        ["spec.volumes[0].configMap.items[0].path", "Invalid value: \"../k\": must not contain '..'"],
      ],
    ],
    [
      "a secret without secretName",
      { volumes: [{ name: "v", secret: {} }] },
      [["spec.volumes[0].secret.secretName", "Required value"]],
    ],
    [
      "init containers mounting a volume that does not exist",
      {
        initContainers: [
          { name: "init", image: "busybox", volumeMounts: [{ name: "nope", mountPath: "/n" }] },
        ],
      },
      [["spec.initContainers[0].volumeMounts[0].name", 'Not found: "nope"']],
    ],
    [
      "an init container named like an app container",
      {
        initContainers: [{ name: "main", image: "busybox" }],
      },
      [["spec.initContainers[0].name", 'Duplicate value: "main"']],
    ],
    [
      "two init containers with one name",
      {
        initContainers: [
          { name: "init", image: "busybox" },
          { name: "init", image: "busybox" },
        ],
      },
      [["spec.initContainers[1].name", 'Duplicate value: "init"']],
    ],
    [
      "an init container without an image",
      { initContainers: [{ name: "init" }] },
      [["spec.initContainers[0].image", "Required value"]],
    ],
    [
      "a probe on a plain init container",
      {
        initContainers: [{ name: "init", image: "busybox", readinessProbe: { exec: { command: ["true"] } } }],
      },
      [
        [
          "spec.initContainers[0].readinessProbe",
          "Forbidden: may not be set for init containers without restartPolicy=Always",
        ],
      ],
    ],
    [
      "an init container restartPolicy other than Always",
      {
        initContainers: [{ name: "init", image: "busybox", restartPolicy: "OnFailure" }],
      },
      [
        [
          "spec.initContainers[0].restartPolicy",
          'Unsupported value: "OnFailure": supported values: "Always"',
        ],
      ],
    ],
    [
      "a restartPolicy on an app container",
      {
        containers: [{ name: "main", image: "busybox", restartPolicy: "Always" }],
      },
      [["spec.containers[0].restartPolicy", "Forbidden: may not be set for non-init containers"]],
    ],
  ] as const)("%s", (_what, spec, expected) => {
    const got = causesOf(spec as Record<string, unknown>).map((c) => [c.field, c.message]);
    expect(got).toEqual(expected);
  });
});

describe("container resources (ValidateResourceRequirements)", () => {
  const podKind = findByKind("v1", "Pod") as ResourceKind;
  const causesOf = (resources: Record<string, unknown>): [string | undefined, string | undefined][] => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default" },
      spec: { containers: [{ name: "main", image: "busybox", resources }] },
    };
    try {
      validateObject(podKind, pod, undefined);
      return [];
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return (e.status.details?.causes ?? []).map((c) => [c.field, c.message]);
    }
  };
  const at = "spec.containers[0].resources";

  it.each([
    ["a GPU limit alone", { limits: { "nvidia.com/gpu": "1" } }, []],
    [
      "equal GPU request and limit",
      { requests: { "nvidia.com/gpu": "2" }, limits: { "nvidia.com/gpu": "2" } },
      [],
    ],
    ["cpu requested below its limit", { requests: { cpu: "500m" }, limits: { cpu: "1" } }, []],
    [
      "a GPU request without a limit",
      { requests: { "nvidia.com/gpu": "1" } },
      [
        [
          `${at}.limits[nvidia.com/gpu]`,
          "Required value: Limit must be set for non overcommitable resources",
        ],
      ],
    ],
    [
      "a GPU request other than its limit",
      { requests: { "nvidia.com/gpu": "1" }, limits: { "nvidia.com/gpu": "2" } },
      [[`${at}.requests[nvidia.com/gpu]`, 'Invalid value: "1": must be equal to nvidia.com/gpu limit of 2']],
    ],
    [
      "half a GPU",
      { limits: { "nvidia.com/gpu": "500m" } },
      [[`${at}.limits[nvidia.com/gpu]`, 'Invalid value: "500m": must be an integer']],
    ],
    [
      "memory requested above its limit",
      { requests: { memory: "2Gi" }, limits: { memory: "1Gi" } },
      [[`${at}.requests[memory]`, 'Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi']],
    ],
  ] as const)("%s", (_what, resources, expected) => {
    expect(causesOf(resources)).toEqual(expected);
  });
});

describe("lifecycle hooks and probes (validateLifecycle, validateProbe, as a 1.32 API server)", () => {
  const podKind = findByKind("v1", "Pod") as ResourceKind;
  const causesOf = (container: Record<string, unknown>, grace: number | null): string[][] => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default" },
      spec: {
        containers: [{ name: "main", image: "busybox", ...container }],
        ...(grace !== null ? { terminationGracePeriodSeconds: grace } : {}),
      },
    };
    try {
      validateObject(podKind, pod, undefined);
      return [];
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return (e.status.details?.causes ?? []).map((c) => [c.field ?? "", c.message ?? ""]);
    }
  };
  const sleepMessage = (grace: number) =>
    `must be greater than 0 and less than terminationGracePeriodSeconds (${grace}). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.`;

  it.each([
    ["a preStop sleep shorter than the grace period", { preStop: { sleep: { seconds: 10 } } }, 30, []],
    ["a preStop sleep as long as the grace period", { preStop: { sleep: { seconds: 30 } } }, 30, []],
    [
      "a preStop sleep longer than the grace period",
      { preStop: { sleep: { seconds: 60 } } },
      30,
      [["spec.containers[0].lifecycle.preStop.sleep", `Invalid value: 60: ${sleepMessage(30)}`]],
    ],
    [
      "a zero preStop sleep (PodLifecycleSleepActionAllowZero is off in 1.32)",
      { preStop: { sleep: { seconds: 0 } } },
      5,
      [["spec.containers[0].lifecycle.preStop.sleep", `Invalid value: 0: ${sleepMessage(5)}`]],
    ],
    [
      "a sleep in a spec with no grace period (not defaulted)",
      { preStop: { sleep: { seconds: 99 } } },
      null,
      [],
    ],
    [
      "two handlers in one hook",
      { preStop: { exec: { command: ["true"] }, sleep: { seconds: 1 } } },
      30,
      [["spec.containers[0].lifecycle.preStop.sleep", "Forbidden: may not specify more than 1 handler type"]],
    ],
    [
      "a hook with no handler",
      { preStop: {} },
      30,
      [["spec.containers[0].lifecycle.preStop", "Required value: must specify a handler type"]],
    ],
    [
      "an exec hook without a command",
      { preStop: { exec: {} } },
      30,
      [["spec.containers[0].lifecycle.preStop.exec.command", "Required value"]],
    ],
  ] as const)("%s", (_what, lifecycle, grace, expected) => {
    expect(causesOf({ lifecycle }, grace)).toEqual(expected);
  });

  it.each([
    [
      "a startup probe with a large budget",
      { startupProbe: { tcpSocket: { port: 8000 }, failureThreshold: 120 } },
      [],
    ],
    [
      "a liveness probe with successThreshold 2",
      { livenessProbe: { tcpSocket: { port: 8000 }, successThreshold: 2 } },
      [["spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1"]],
    ],
    [
      "a startup probe with successThreshold 3",
      { startupProbe: { tcpSocket: { port: 8000 }, successThreshold: 3 } },
      [["spec.containers[0].startupProbe.successThreshold", "Invalid value: 3: must be 1"]],
    ],
    [
      "a readiness probe with successThreshold 3",
      { readinessProbe: { tcpSocket: { port: 8000 }, successThreshold: 3 } },
      [],
    ],
    [
      "a probe with no handler",
      { readinessProbe: { periodSeconds: 1 } },
      [["spec.containers[0].readinessProbe", "Required value: must specify a handler type"]],
    ],
    [
      "a negative initialDelaySeconds",
      { livenessProbe: { tcpSocket: { port: 8000 }, initialDelaySeconds: -1 } },
      [
        [
          "spec.containers[0].livenessProbe.initialDelaySeconds",
          "Invalid value: -1: must be greater than or equal to 0",
        ],
      ],
    ],
    [
      "a probe port out of range",
      { readinessProbe: { httpGet: { port: 70000 } } },
      [
        [
          "spec.containers[0].readinessProbe.httpGet.port",
          "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ],
      ],
    ],
  ] as const)("%s", (_what, probes, expected) => {
    expect(causesOf(probes, 30)).toEqual(expected);
  });
});

describe("registry credential Secrets (ValidateSecret)", () => {
  const secretKind = findByKind("v1", "Secret") as ResourceKind;
  const causesOf = (type: string, data: Record<string, string>): string[][] => {
    try {
      validateObject(
        secretKind,
        { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "default" }, type, data },
        undefined,
      );
      return [];
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return (e.status.details?.causes ?? []).map((c) => [c.field ?? "", c.message ?? ""]);
    }
  };
  const b64 = (s: string) => Buffer.from(s).toString("base64");

  it("accepts a dockerconfigjson Secret that holds JSON", () => {
    expect(causesOf("kubernetes.io/dockerconfigjson", { ".dockerconfigjson": b64('{"auths":{}}') })).toEqual(
      [],
    );
  });

  it("requires the .dockerconfigjson key", () => {
    expect(causesOf("kubernetes.io/dockerconfigjson", { other: b64("x") })).toEqual([
      ["data[.dockerconfigjson]", "Required value"],
    ]);
  });

  it("refuses contents that are not JSON, without echoing them", () => {
    const got = causesOf("kubernetes.io/dockerconfigjson", { ".dockerconfigjson": b64("user:password") });
    expect(got).toHaveLength(1);
    expect(got[0]?.[0]).toBe("data[.dockerconfigjson]");
    expect(got[0]?.[1]).toMatch(/^Invalid value: "<secret contents redacted>": /);
    expect(got[0]?.[1]).not.toContain("password");
  });
});

// kubectl's imperative commands send built-in kinds as Kubernetes protobuf
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding): the real kubectl
// against the API server, reading back what it created.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../api-server.js";
import { kubectl as runKubectl } from "../kubectl.js";
import { decodeProtobufObject, UndecodableProtobuf } from "../protobuf.js";
import { type KubeObject, Store } from "../store.js";

let store: Store;
let server: ApiServer;
let dir: string;
let kubeconfig: string;
const kubectl = (...args: string[]) => runKubectl(kubeconfig, args);

beforeAll(async () => {
  store = new Store();
  server = await startApiServer({ store });
  dir = mkdtempSync(join(tmpdir(), "kube-protobuf-"));
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, server.kubeconfig());
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("kubectl create with protobuf bodies", () => {
  it("kubectl create namespace", async () => {
    const r = await kubectl("create", "namespace", "proto");
    expect(r).toMatchObject({ code: 0, stdout: "namespace/proto created\n" });
    const ns = store.get("v1", "Namespace", undefined, "proto");
    expect(ns?.metadata.labels).toEqual({ "kubernetes.io/metadata.name": "proto" });
    expect(ns?.status).toEqual({ phase: "Active" });
  });

  it("kubectl create secret generic --from-literal", async () => {
    const r = await kubectl("create", "secret", "generic", "s", "--from-literal=a=b", "-n", "proto");
    expect(r).toMatchObject({ code: 0, stdout: "secret/s created\n" });
    const s = store.get("v1", "Secret", "proto", "s") as KubeObject & { data?: Record<string, string> };
    expect(s).toMatchObject({ type: "Opaque", data: { a: Buffer.from("b").toString("base64") } });
    const back = await kubectl("get", "secret", "s", "-n", "proto", "-o", "jsonpath={.data.a}");
    expect(Buffer.from(back.stdout, "base64").toString()).toBe("b");
  });

  it("kubectl create configmap --from-literal, and binary files into binaryData", async () => {
    const file = join(dir, "blob");
    writeFileSync(file, Buffer.from([0xff, 0x00, 0xfe]));
    const r = await kubectl(
      "create",
      "configmap",
      "c",
      "--from-literal=k=v",
      `--from-file=blob=${file}`,
      "-n",
      "proto",
    );
    expect(r).toMatchObject({ code: 0, stdout: "configmap/c created\n" });
    expect(store.get("v1", "ConfigMap", "proto", "c")).toMatchObject({
      data: { k: "v" },
      binaryData: { blob: Buffer.from([0xff, 0x00, 0xfe]).toString("base64") },
    });
  });

  it("labels and annotations travel in ObjectMeta (--save-config writes the last-applied annotation)", async () => {
    const r = await kubectl(
      "create",
      "configmap",
      "saved",
      "--from-literal=x=y",
      "--save-config",
      "-n",
      "proto",
    );
    expect(r.code).toBe(0);
    const cm = store.get("v1", "ConfigMap", "proto", "saved");
    expect(Object.keys(cm?.metadata.annotations ?? {})).toEqual([
      "kubectl.kubernetes.io/last-applied-configuration",
    ]);
  });

  it("kubectl create serviceaccount, role, rolebinding, clusterrole and clusterrolebinding", async () => {
    for (const args of [
      ["create", "serviceaccount", "robot", "-n", "proto"],
      ["create", "role", "reader", "--verb=get,list", "--resource=pods,deployments.apps", "-n", "proto"],
      ["create", "rolebinding", "reader", "--role=reader", "--serviceaccount=proto:robot", "-n", "proto"],
      ["create", "clusterrole", "ns-creator", "--verb=create", "--resource=namespaces"],
      [
        "create",
        "clusterrolebinding",
        "ns-creator",
        "--clusterrole=ns-creator",
        "--serviceaccount=proto:robot",
      ],
    ]) {
      const r = await kubectl(...args);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    }
    expect(store.get("rbac.authorization.k8s.io/v1", "Role", "proto", "reader")).toMatchObject({
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list"] },
      ],
    });
    expect(store.get("rbac.authorization.k8s.io/v1", "RoleBinding", "proto", "reader")).toMatchObject({
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
      subjects: [{ kind: "ServiceAccount", name: "robot", namespace: "proto" }],
    });
    expect(
      store.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", undefined, "ns-creator"),
    ).toMatchObject({
      roleRef: { kind: "ClusterRole", name: "ns-creator" },
    });
  });

  it("kubectl create token asks the TokenRequest API (protobuf) for a token that authenticates", async () => {
    const r = await kubectl("create", "token", "robot", "-n", "proto", "--duration=20m");
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    const res = await fetch(`${server.url}/api/v1/namespaces/proto/pods`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const short = await kubectl("create", "token", "robot", "-n", "proto", "--duration=1m");
    expect(short.stderr).toContain(
      "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
    );
  });

  it("a kind without a protobuf table here is the real server's 415, naming what it accepts", async () => {
    const r = await kubectl("create", "deployment", "d", "--image=busybox", "-n", "proto");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
    );
    expect(store.get("apps/v1", "Deployment", "proto", "d")).toBeUndefined();
  });
});

describe("the decoder", () => {
  const envelope = (unknown: Buffer) => Buffer.concat([Buffer.from("k8s\0", "binary"), unknown]);
  const field = (n: number, bytes: Buffer) =>
    Buffer.concat([Buffer.from([(n << 3) | 2, bytes.length]), bytes]);
  const str = (n: number, s: string) => field(n, Buffer.from(s));

  it("refuses a body without the k8s envelope, and fields its tables do not know", () => {
    expect(() => decodeProtobufObject(Buffer.from("{}"))).toThrow(UndecodableProtobuf);
    const typeMeta = field(1, Buffer.concat([str(1, "v1"), str(2, "ConfigMap")]));
    const raw = field(2, Buffer.concat([field(1, str(1, "c")), str(9, "surprise")]));
    expect(() => decodeProtobufObject(envelope(Buffer.concat([typeMeta, raw])))).toThrow(
      "field 9 of ConfigMap is not decoded by this test server",
    );
  });
});

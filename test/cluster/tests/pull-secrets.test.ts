// Image pulls from a password-protected registry, against "Pull an Image from a Private Registry"
// (https://kubernetes.io/docs/tasks/configure-pod-container/pull-image-private-registry/): the node pulls
// with the credentials of the kubernetes.io/dockerconfigjson Secrets a pod names in imagePullSecrets;
// without them, or with wrong ones, the pull fails with ErrImagePull / ImagePullBackOff and the
// registry's own message, and a Secret created later is used on the next retry. The registry is a real
// distribution registry with htpasswd auth on loopback.

import type { IPod } from "kubernetes-models/v1/Pod";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type RegistryInstance, startRegistry } from "../../support/registry-instance.js";
import { waitFor } from "../../support/wait-for.js";
import { startTestCluster, type TestCluster } from "../cluster.js";
import { NODE_NAME } from "../node.js";
import type { KubeObject } from "../store.js";

const USER = "puller";
const PASSWORD = "s3cret-pull";
const ns = "default";

let cluster: TestCluster;
let registry: RegistryInstance;
let image: string;

/** Every waiting reason and message each pod reported (sampled from the store's watch). */
const waiting = new Map<string, { reason: string; message: string }[]>();

async function follow(stream: NodeJS.ReadableStream): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    cluster.docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = err ?? out.find((o) => o.error);
      if (failed) reject(failed instanceof Error ? failed : new Error(String(failed.error)));
      else resolve();
    }),
  );
}

beforeAll(async () => {
  const stack = inject("slipwayStack");
  cluster = await startTestCluster({ stack });
  registry = await startRegistry({ auth: { kind: "htpasswd", users: { [USER]: PASSWORD } } });
  // The private image: busybox pushed to the protected registry, then dropped from the engine, so the
  // node has to pull it.
  image = `${registry.host}/private/busybox:1`;
  await cluster.docker
    .getImage(stack.busyboxImage)
    .tag({ repo: `${registry.host}/private/busybox`, tag: "1" });
  await follow(
    await cluster.docker
      .getImage(image)
      .push({ authconfig: { username: USER, password: PASSWORD, serveraddress: registry.host } }),
  );
  await cluster.docker.getImage(image).remove();
  cluster.store.watch("v1", "Pod", (ev) => {
    const w = (ev.object as IPod).status?.containerStatuses?.[0]?.state?.waiting;
    const name = ev.object.metadata.name ?? "";
    if (w?.reason)
      waiting.set(name, [...(waiting.get(name) ?? []), { reason: w.reason, message: w.message ?? "" }]);
  });
});

afterAll(async () => {
  await cluster?.stop();
  await cluster?.docker
    .getImage(image)
    .remove({ force: true })
    .catch(() => undefined);
  await registry?.stop();
});

function pullSecret(name: string, password: string): void {
  const auth = Buffer.from(`${USER}:${password}`).toString("base64");
  const config = { auths: { [registry.host]: { username: USER, password, auth } } };
  cluster.store.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") },
  } as unknown as KubeObject);
}

function createPod(name: string, secrets: string[]): void {
  cluster.store.create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: {
      nodeName: NODE_NAME,
      terminationGracePeriodSeconds: 1,
      ...(secrets.length > 0 ? { imagePullSecrets: secrets.map((s) => ({ name: s })) } : {}),
      // Always: every start asks the registry, so a credential is checked even when the engine has the image.
      containers: [{ name: "main", image, imagePullPolicy: "Always", command: ["sleep", "3600"] }],
    },
  } as unknown as KubeObject);
}

function running(name: string): boolean {
  const p = cluster.store.get("v1", "Pod", ns, name) as IPod | undefined;
  return p?.status?.containerStatuses?.[0]?.state?.running !== undefined;
}

function events(name: string, reason: string): string[] {
  return cluster.store
    .list("v1", "Event", { namespace: ns })
    .map((e) => e as { involvedObject?: { name?: string }; reason?: string; message?: string })
    .filter((e) => e.involvedObject?.name === name && e.reason === reason)
    .map((e) => e.message ?? "");
}

/** Waits for the pod to have failed a pull and backed off; returns the ErrImagePull messages. */
async function pullFailures(name: string): Promise<string[]> {
  await waitFor(`${name} in ImagePullBackOff`, () =>
    (waiting.get(name) ?? []).some((w) => w.reason === "ImagePullBackOff") ? true : undefined,
  );
  return (waiting.get(name) ?? []).filter((w) => w.reason === "ErrImagePull").map((w) => w.message);
}

describe("imagePullSecrets against a password-protected registry", () => {
  it("a kubernetes.io/dockerconfigjson Secret named in imagePullSecrets lets the node pull the image", async () => {
    pullSecret("regcred", PASSWORD);
    createPod("with-secret", ["regcred"]);
    await waitFor("with-secret running", () => (running("with-secret") ? true : undefined));
    expect(
      events("with-secret", "Pulled").some((m) => m.startsWith(`Successfully pulled image "${image}"`)),
    ).toBe(true);
  });

  it("without imagePullSecrets the pull fails with ErrImagePull and the registry's message, then ImagePullBackOff", async () => {
    createPod("no-secret", []);
    const messages = await pullFailures("no-secret");
    expect(messages.length).toBeGreaterThan(0);
    expect(messages[0]).toMatch(
      /^rpc error: code = Unknown desc = Error response from daemon: .*no basic auth credentials/,
    );
    expect(events("no-secret", "Failed").some((m) => m.startsWith(`Failed to pull image "${image}": `))).toBe(
      true,
    );
    expect(running("no-secret")).toBe(false);
  });

  it("a wrong password fails the pull with the registry's 'unauthorized' message", async () => {
    pullSecret("wrongcred", "not-the-password");
    createPod("wrong-secret", ["wrongcred"]);
    const messages = await pullFailures("wrong-secret");
    expect(messages[0]).toContain("unauthorized: authentication required");
    expect(running("wrong-secret")).toBe(false);
  });

  it("a Secret that does not exist yet: kubelet's FailedToRetrieveImagePullSecret, ErrImagePull, and the pull succeeds once it is created", async () => {
    createPod("later-secret", ["latecred"]);
    const messages = await pullFailures("later-secret");
    expect(messages[0]).toContain("no basic auth credentials");
    expect(events("later-secret", "FailedToRetrieveImagePullSecret")).toContain(
      "Unable to retrieve some image pull secrets (latecred); attempting to pull the image may not succeed.",
    );
    pullSecret("latecred", PASSWORD);
    await waitFor("later-secret running", () => (running("later-secret") ? true : undefined));
  });
});

// A version of fixtures/sample-repo as Kubernetes objects: the golden files byte for byte, every
// object valid by the Kubernetes and Gateway API schemas, ownership by the version record, and no
// secret value anywhere but the managed Secret.
//
// `UPDATE_GOLDEN=1 npx vitest run --project unit test/unit/deploy-manifests.test.ts` rewrites the
// golden files; review their diff like code.
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  aliasRoute,
  type KubeObject,
  ManifestError,
  manifestsYaml,
  targetFromRecord,
  versionManifests,
  versionRecordFor,
  versionTarget,
} from "../../src/deploy/index.js";
import {
  DEPLOYED_AT,
  digestFor,
  inputFor,
  ofKind,
  parse,
  planFor,
  RECORD_UID,
  sampleConfig,
  validate,
  withRuntime,
} from "./deploy-sample.js";

function golden(name: string, text: string): void {
  const url = new URL(`./golden/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(url, text);
  expect(text).toBe(readFileSync(url, "utf8"));
}

const SECRET_VALUE = "s3cr3t-token-value";
const sampleInput = inputFor(sampleConfig, {
  envSecret: { name: "mnist-3f2a9c1d0b7e-env", values: { HF_TOKEN: SECRET_VALUE } },
});
const objects = versionManifests(sampleInput);

describe("golden manifests of fixtures/sample-repo", () => {
  it("renders the version: record, env Secret, a Deployment and Service per endpoint, the route", () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      "ConfigMap/mnist-3f2a9c1d0b7e",
      "Secret/mnist-3f2a9c1d0b7e-env",
      "Deployment/mnist-3f2a9c1d0b7e-predict-digits",
      "Service/mnist-3f2a9c1d0b7e-predict-digits",
      "Deployment/mnist-3f2a9c1d0b7e-health-check",
      "Service/mnist-3f2a9c1d0b7e-health-check",
      "HTTPRoute/mnist-3f2a9c1d0b7e",
    ]);
    golden("sample-repo-version.yaml", manifestsYaml(objects));
  });

  it("renders the pull request's alias route onto the version", () => {
    const plan = sampleInput.plan;
    const alias = plan.aliases.find((a) => a.name === "pr-42");
    if (!alias) throw new Error("the plan has no pr-42 alias");
    const route = aliasRoute({
      plan,
      config: sampleConfig,
      alias,
      backends: [{ target: versionTarget(sampleInput), weight: 100 }],
    });
    validate(route);
    golden("sample-repo-alias-pr-42.yaml", manifestsYaml([route]));
  });

  it("is the same for the same input (nothing from the clock or the machine)", () => {
    expect(manifestsYaml(versionManifests(sampleInput))).toBe(manifestsYaml(objects));
  });
});

describe("every object is valid by its schema", () => {
  const { recordUid: _uid, envSecret: _secret, ...gitOps } = sampleInput;
  const variants: Array<[string, KubeObject[]]> = [
    ["the sample", objects],
    ["without a record uid or Secret (GitOps)", versionManifests(gitOps)],
    [
      "with every runtime setting",
      versionManifests(
        inputFor(
          withRuntime(sampleConfig, "predict-digits", {
            env: { LOG_LEVEL: "debug" },
            secrets: [
              { kind: "key", env: "DB_PASSWORD", secret: "db", key: "password" },
              { kind: "all", secret: "shared-env" },
            ],
            stripPrefix: true,
            healthPath: "/healthz",
            metricsPath: "/metrics",
            imagePullSecret: "ghcr-pull",
            replicas: 3,
          }),
          { imagePullSecret: "slipway-pull" },
        ),
      ),
    ],
  ];
  it.each(variants)("%s", (_name, rendered) => {
    for (const object of rendered)
      expect(() => validate(object), `${object.kind}/${object.metadata?.name}`).not.toThrow();
  });

  it("and a schema violation is caught (the validators do check)", () => {
    const deployment = ofKind(objects, "Deployment")[0];
    if (!deployment?.spec) throw new Error("no Deployment");
    const broken = structuredClone(deployment);
    const container = broken.spec?.template.spec?.containers[0];
    if (!container?.resources?.limits) throw new Error("no limits");
    container.resources.limits.cpu = "one core";
    expect(() => validate(broken)).toThrow(/quantity/);
  });
});

describe("the version record", () => {
  it("says what was deployed, by whom, when, from which file; images by digest", () => {
    const record = ofKind(objects, "ConfigMap")[0];
    expect(record?.data).toMatchObject({
      repository: "acme/mnist",
      deployment: "mnist",
      version: "3f2a9c1d0b7e",
      commit: "3f2a9c1d0b7e55aa12ff00112233445566778899",
      "config-file": "valohai.yaml",
      "deployed-by": "octocat",
      "deployed-at": DEPLOYED_AT.toISOString(),
      "env-secret": "mnist-3f2a9c1d0b7e-env",
    });
    expect(targetFromRecord(record ?? {}).endpoints.map((e) => e.image)).toEqual([
      `ghcr.io/acme/mnist/predict-digits@${digestFor("predict-digits@3f2a9c1d0b7e")}`,
      `ghcr.io/acme/mnist/health-check@${digestFor("health-check@3f2a9c1d0b7e")}`,
    ]);
  });

  it("owns every other object of the version, when its uid is known", () => {
    for (const object of objects.slice(1)) {
      expect(object.metadata?.ownerReferences).toEqual([
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          name: "mnist-3f2a9c1d0b7e",
          uid: RECORD_UID,
          blockOwnerDeletion: true,
        },
      ]);
    }
    expect(objects[0]?.metadata?.ownerReferences).toBeUndefined();
  });

  it("without a uid (GitOps manifests) nothing carries ownerReferences", () => {
    const { recordUid: _uid, ...input } = sampleInput;
    expect(versionManifests(input).filter((o) => o.metadata?.ownerReferences)).toEqual([]);
  });

  it("is what versionRecordFor renders on its own (applied first, for its uid)", () => {
    expect(versionRecordFor(sampleInput)).toEqual(objects[0]);
  });

  it("gives back the version's targets, as versionTarget computes them", () => {
    expect(targetFromRecord(versionRecordFor(sampleInput))).toEqual(versionTarget(sampleInput));
  });

  it.each([
    [{ metadata: { name: "x" }, data: {} }, /not a Slipway version record/],
    [{ metadata: { name: "x" }, data: { version: "v", endpoints: "{" } }, /not JSON/],
    [
      { metadata: { name: "x" }, data: { version: "v", endpoints: '[{"endpoint":"a"}]' } },
      /endpoint targets/,
    ],
  ])("refuses a record it cannot read: %j", (record, message) => {
    expect(() => targetFromRecord(record)).toThrow(message);
  });
});

describe("secret values", () => {
  const encoded = Buffer.from(SECRET_VALUE).toString("base64");

  it("live only in the managed Secret, base64-encoded, which the endpoints read through envFrom", () => {
    const [secret] = ofKind(objects, "Secret");
    expect(secret).toMatchObject({ type: "Opaque", data: { HF_TOKEN: encoded } });
    for (const deployment of ofKind(objects, "Deployment")) {
      expect(deployment.spec?.template.spec?.containers[0]?.envFrom).toEqual([
        { secretRef: { name: "mnist-3f2a9c1d0b7e-env" } },
      ]);
    }
  });

  it("appear nowhere else: not in the record, the Deployments, the Services or the route", () => {
    for (const object of objects.filter((o) => o.kind !== "Secret")) {
      const text = JSON.stringify(object);
      expect(text).not.toContain(SECRET_VALUE);
      expect(text).not.toContain(encoded);
    }
    expect(manifestsYaml(objects.filter((o) => o.kind !== "Secret"))).not.toContain(SECRET_VALUE);
  });

  it("no Secret is rendered when the workflow passes none", () => {
    const { envSecret: _secret, ...input } = sampleInput;
    const rendered = versionManifests(input);
    expect(ofKind(rendered, "Secret")).toEqual([]);
    expect(ofKind(rendered, "ConfigMap")[0]?.data).not.toHaveProperty("env-secret");
  });
});

describe("inputs that cannot become a version", () => {
  it.each<[string, Record<string, string>, RegExp]>([
    [
      "an endpoint without an image",
      { "predict-digits": `r@${digestFor("x")}` },
      /no image was built for endpoint health-check/,
    ],
    [
      "an image by tag",
      { "predict-digits": "ghcr.io/acme/x:latest", "health-check": `r@${digestFor("y")}` },
      /by digest/,
    ],
  ])("%s", (_name, images, message) => {
    expect(() => versionManifests({ ...sampleInput, images })).toThrow(ManifestError);
    expect(() => versionManifests({ ...sampleInput, images })).toThrow(message);
  });

  it("more endpoints than one HTTPRoute has rules for", () => {
    const many = Array.from(
      { length: 17 },
      (_, i) => `- endpoint: {name: e${i + 10}, image: python:3.11, wsgi: app}`,
    );
    const config = parse(many.join("\n"));
    const plan = planFor(config);
    const images = Object.fromEntries(plan.endpoints.map((e) => [e.name, `r@${digestFor(e.name)}`]));
    expect(() => versionManifests(inputFor(config, { plan, images }))).toThrow(/at most 16 rules/);
  });
});

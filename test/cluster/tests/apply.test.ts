import { describe, expect, it } from "vitest";
import {
  fieldSetOf,
  fromFieldsV1,
  jsonPatch,
  mergePatch,
  printPath,
  strategicMergePatch,
  toFieldsV1,
} from "../apply.js";
import { findByKind, type ResourceKind } from "../resources.js";
import { ApiError } from "../store.js";
import { shapeOf } from "../validate.js";

function kind(apiVersion: string, name: string): ResourceKind {
  const k = findByKind(apiVersion, name);
  if (!k) throw new Error(`${name} missing`);
  return k;
}
const deployment = kind("apps/v1", "Deployment");

describe("FieldsV1 (Server-Side Apply › Field management)", () => {
  const config = {
    metadata: { labels: { app: "m" } },
    spec: {
      replicas: 2,
      template: {
        spec: {
          containers: [
            { name: "app", image: "i:1", ports: [{ containerPort: 80 }], env: [{ name: "A", value: "1" }] },
          ],
        },
      },
    },
  };

  it("records leaves, map entries and associative-list items keyed as the API server does", () => {
    expect(toFieldsV1(fieldSetOf(shapeOf(deployment), config))).toEqual({
      "f:metadata": { "f:labels": { "f:app": {} } },
      "f:spec": {
        "f:replicas": {},
        "f:template": {
          "f:spec": {
            "f:containers": {
              'k:{"name":"app"}': {
                ".": {},
                "f:env": { 'k:{"name":"A"}': { ".": {}, "f:name": {}, "f:value": {} } },
                "f:image": {},
                "f:name": {},
                // The port's key includes the protocol the server defaults.
                "f:ports": { 'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} } },
              },
            },
          },
        },
      },
    });
  });

  it("round-trips through the wire form", () => {
    const set = fieldSetOf(shapeOf(deployment), config);
    expect([...fromFieldsV1(toFieldsV1(set)).paths].sort()).toEqual([...set.paths].sort());
  });

  it("treats lists without merge keys (command, args) as atomic", () => {
    const set = fieldSetOf(shapeOf(deployment), {
      spec: { template: { spec: { containers: [{ name: "app", command: ["a", "b"] }] } } },
    });
    expect(toFieldsV1(set)["f:spec"]).toEqual({
      "f:template": {
        "f:spec": { "f:containers": { 'k:{"name":"app"}': { ".": {}, "f:command": {}, "f:name": {} } } },
      },
    });
  });

  it("prints paths the way conflict messages do", () => {
    const set = fromFieldsV1({
      "f:spec": { "f:template": { "f:spec": { "f:containers": { 'k:{"name":"app"}': { "f:image": {} } } } } },
    });
    expect([...set.paths].map(printPath)).toEqual(['.spec.template.spec.containers[name="app"].image']);
  });
});

describe("PATCH formats", () => {
  const live = {
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [
            { name: "app", image: "i:1", env: [{ name: "A", value: "1" }] },
            { name: "sidecar", image: "s:1" },
          ],
        },
      },
    },
  };

  it("JSON merge patch (RFC 7386) replaces lists and deletes with null", () => {
    expect(
      mergePatch(live, { spec: { replicas: null, template: { spec: { containers: [{ name: "x" }] } } } }),
    ).toEqual({
      spec: { template: { spec: { containers: [{ name: "x" }] } } },
    });
  });

  it("strategic merge patch merges containers by name and env by name", () => {
    const out = strategicMergePatch(deployment, live, {
      spec: {
        template: { spec: { containers: [{ name: "app", image: "i:2", env: [{ name: "B", value: "2" }] }] } },
      },
    }) as typeof live;
    expect(out.spec.template.spec.containers).toEqual([
      {
        name: "app",
        image: "i:2",
        env: [
          { name: "A", value: "1" },
          { name: "B", value: "2" },
        ],
      },
      { name: "sidecar", image: "s:1" },
    ]);
  });

  it("strategic merge patch honours $patch: delete on a list item", () => {
    const out = strategicMergePatch(deployment, live, {
      spec: { template: { spec: { containers: [{ name: "sidecar", $patch: "delete" }] } } },
    }) as typeof live;
    expect(out.spec.template.spec.containers.map((c) => c.name)).toEqual(["app"]);
  });

  it("strategic merge patch is not available for custom resources (415)", () => {
    expect(() => strategicMergePatch(kind("gateway.networking.k8s.io/v1", "HTTPRoute"), {}, {})).toThrow(
      ApiError,
    );
  });

  it("JSON patch (RFC 6902) applies operations in order and fails a failed test", () => {
    expect(
      jsonPatch(live, [
        { op: "replace", path: "/spec/replicas", value: 3 },
        { op: "add", path: "/spec/template/spec/containers/-", value: { name: "c" } },
        { op: "remove", path: "/spec/template/spec/containers/1" },
      ]),
    ).toMatchObject({
      spec: { replicas: 3, template: { spec: { containers: [{ name: "app" }, { name: "c" }] } } },
    });
    expect(() => jsonPatch(live, [{ op: "test", path: "/spec/replicas", value: 9 }])).toThrow(ApiError);
  });
});

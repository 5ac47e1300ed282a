import { describe, expect, it } from "vitest";
import { findByKind } from "../resources.js";
import {
  matchesFieldSelector,
  matchesLabelSelector,
  parseFieldSelector,
  parseLabelSelector,
} from "../selectors.js";
import { ApiError, type KubeObject } from "../store.js";

const labels = { app: "model", track: "canary", "slipway.dev/pr": "42" };

describe("label selectors (Labels and Selectors)", () => {
  it.each([
    ["", true],
    ["app=model", true],
    ["app==model", true],
    ["app!=model", false],
    ["app!=other", true],
    ["missing!=x", true],
    ["track in (stable,canary)", true],
    ["track in (stable)", false],
    ["track notin (stable)", true],
    ["missing notin (stable)", true],
    ["slipway.dev/pr", true],
    ["!slipway.dev/pr", false],
    ["!missing", true],
    ["app=model,track=canary", true],
    ["app=model,track=stable", false],
    ["slipway.dev/pr>41", true],
    ["slipway.dev/pr<42", false],
  ])("%j matches %j", (selector, expected) => {
    expect(matchesLabelSelector(parseLabelSelector(selector), labels)).toBe(expected);
  });

  it.each(["app in (a", "=x", "app=in valid", "a b c", "app,,x", "-bad=x", "n>abc"])(
    "%j is a 400 BadRequest",
    (selector) => {
      expect(() => parseLabelSelector(selector)).toThrow(ApiError);
    },
  );

  it("an empty value is a valid equality requirement", () => {
    expect(parseLabelSelector("app=")).toEqual([{ key: "app", operator: "=", values: [""] }]);
  });
});

describe("field selectors", () => {
  const pods = findByKind("v1", "Pod");
  const configMaps = findByKind("v1", "ConfigMap");
  const pod: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "ns" },
    status: { phase: "Running" },
  };

  it.each([
    ["metadata.name=p", true],
    ["metadata.name!=p", false],
    ["metadata.namespace==ns", true],
    ["status.phase=Running", true],
    ["status.phase=Pending,metadata.name=p", false],
  ])("%j on a pod → %j", (selector, expected) => {
    if (!pods) throw new Error("Pod kind missing");
    expect(matchesFieldSelector(pods, parseFieldSelector(pods, selector), pod)).toBe(expected);
  });

  it("rejects fields the resource does not support, like the real field-label conversion", () => {
    if (!configMaps) throw new Error("ConfigMap kind missing");
    expect(() => parseFieldSelector(configMaps, "status.phase=Running")).toThrow(
      "field label not supported: status.phase",
    );
  });
});

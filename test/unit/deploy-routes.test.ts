// The version's HTTPRoute: full path and SCRIPT_NAME by default, or the prefix stripped; valid by
// the Gateway API schema.
import { describe, expect, it } from "vitest";
import type { SlipwayConfig } from "../../src/config/types.js";
import { gatewayDuration, type IHTTPRoute, versionManifests } from "../../src/deploy/index.js";
import { inputFor, ofKind, sampleConfig, validate, withRuntime } from "./deploy-sample.js";

const WSGI = "predict-digits";

function versionRouteOf(config: SlipwayConfig): IHTTPRoute {
  const [route] = ofKind(versionManifests(inputFor(config)), "HTTPRoute");
  if (!route) throw new Error("no HTTPRoute");
  validate(route);
  return route;
}

const rule = (route: IHTTPRoute, i = 0) => {
  const r = route.spec?.rules?.[i];
  if (!r) throw new Error(`no rule ${i}`);
  return r;
};

describe("the version's route", () => {
  it("matches each endpoint's version path and sends the full path (no rewrite)", () => {
    const route = versionRouteOf(sampleConfig);
    expect(rule(route)).toEqual({
      matches: [{ path: { type: "PathPrefix", value: "/acme/mnist/mnist/3f2a9c1d0b7e/predict-digits" } }],
      filters: [
        {
          type: "RequestHeaderModifier",
          requestHeaderModifier: {
            set: [{ name: "X-Forwarded-Prefix", value: "/acme/mnist/mnist/3f2a9c1d0b7e/predict-digits" }],
          },
        },
      ],
      backendRefs: [{ name: "mnist-3f2a9c1d0b7e-predict-digits", port: 8000 }],
      timeouts: { request: "60s" },
    });
  });

  it("with strip-prefix rewrites the endpoint's prefix to /, for that endpoint only", () => {
    const route = versionRouteOf(withRuntime(sampleConfig, WSGI, { stripPrefix: true }));
    expect(rule(route, 0).filters?.[1]).toEqual({
      type: "URLRewrite",
      urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
    });
    expect(rule(route, 1).filters?.map((f) => f.type)).toEqual(["RequestHeaderModifier"]);
  });

  it("sets the request timeout explicitly, from the runtime settings", () => {
    const route = versionRouteOf(withRuntime(sampleConfig, WSGI, { requestTimeoutSeconds: 300 }));
    expect(route.spec?.rules?.map((r) => r.timeouts)).toEqual([{ request: "300s" }, { request: "60s" }]);
  });

  it.each<[SlipwayConfig["deployment"]["router"], unknown]>([
    [{ kind: "gateway-api" }, { group: "gateway.networking.k8s.io", kind: "Gateway", name: "slipway" }],
    [
      { kind: "gateway-api", gateway: { name: "public", namespace: "gateway-system" } },
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "public", namespace: "gateway-system" },
    ],
    [
      { kind: "gateway-api", gateway: { name: "edge" } },
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "edge" },
    ],
  ])("attaches to the configured Gateway: %j", (router, parentRef) => {
    const config = { ...sampleConfig, deployment: { ...sampleConfig.deployment, router } };
    expect(versionRouteOf(config).spec?.parentRefs).toEqual([parentRef]);
  });
});

describe("gatewayDuration", () => {
  it.each([
    [60, "60s"],
    [0, "0s"],
    [99_999, "99999s"],
    [100_000, "27h46m40s"],
    [360_000, "100h"],
    [1.2, "2s"],
  ])("%d s → %s", (seconds, text) => {
    expect(gatewayDuration(seconds)).toBe(text);
    expect(text).toMatch(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/);
  });
});

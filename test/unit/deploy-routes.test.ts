// Routes: the version's HTTPRoute (full path and SCRIPT_NAME by default, or the prefix stripped)
// and an alias's (rewritten onto a version, X-Forwarded-Prefix, weights for a canary), each valid
// by the Gateway API schema.
import { describe, expect, it } from "vitest";
import type { SlipwayConfig } from "../../src/config/types.js";
import {
  type AliasBackend,
  aliasRoute,
  gatewayDuration,
  type IHTTPRoute,
  ManifestError,
  type VersionTarget,
  versionManifests,
  versionTarget,
} from "../../src/deploy/index.js";
import {
  imagesFor,
  inputFor,
  ofKind,
  planFor,
  sampleConfig,
  validate,
  withRuntime,
} from "./deploy-sample.js";

const WSGI = "predict-digits";
const plan = planFor(sampleConfig);
const alias = { name: "staging", path: "/acme/mnist/mnist/staging" };

function versionRouteOf(config: SlipwayConfig): IHTTPRoute {
  const [route] = ofKind(versionManifests(inputFor(config)), "HTTPRoute");
  if (!route) throw new Error("no HTTPRoute");
  validate(route);
  return route;
}

function targetOf(config: SlipwayConfig, version?: string): VersionTarget {
  const p = planFor(config, version === undefined ? {} : { version });
  return versionTarget({ plan: p, config, images: imagesFor(p) });
}

function aliasOf(
  backends: AliasBackend[],
  config = sampleConfig,
  annotations?: Record<string, string>,
): IHTTPRoute {
  const route = aliasRoute({ plan, config, alias, backends, ...(annotations ? { annotations } : {}) });
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
    expect(aliasOf([{ target: targetOf(config), weight: 100 }], config).spec?.parentRefs).toEqual([
      parentRef,
    ]);
  });
});

describe("an alias's route", () => {
  it("rewrites the alias path onto the version's, with the alias prefix in X-Forwarded-Prefix", () => {
    const route = aliasOf([{ target: targetOf(sampleConfig), weight: 100 }]);
    expect(rule(route)).toEqual({
      matches: [{ path: { type: "PathPrefix", value: "/acme/mnist/mnist/staging/predict-digits" } }],
      filters: [
        {
          type: "RequestHeaderModifier",
          requestHeaderModifier: {
            set: [{ name: "X-Forwarded-Prefix", value: "/acme/mnist/mnist/staging/predict-digits" }],
          },
        },
        {
          type: "URLRewrite",
          urlRewrite: {
            path: {
              type: "ReplacePrefixMatch",
              replacePrefixMatch: "/acme/mnist/mnist/3f2a9c1d0b7e/predict-digits",
            },
          },
        },
      ],
      backendRefs: [{ name: "mnist-3f2a9c1d0b7e-predict-digits", port: 8000, weight: 100 }],
      timeouts: { request: "60s" },
    });
  });

  it("with strip-prefix rewrites to /", () => {
    const config = withRuntime(sampleConfig, WSGI, { stripPrefix: true });
    const route = aliasOf([{ target: targetOf(config), weight: 100 }], config);
    expect(rule(route).filters?.[1]).toEqual({
      type: "URLRewrite",
      urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
    });
  });

  it("is labelled as the alias, owned by no version, and records where it points", () => {
    const route = aliasOf([{ target: targetOf(sampleConfig), weight: 100 }], sampleConfig, {
      "slipway.dev/history": "[]",
    });
    expect(route.metadata?.name).toBe("mnist-alias-staging");
    expect(route.metadata?.labels).toMatchObject({
      "slipway.dev/alias": "staging",
      "app.kubernetes.io/component": "alias",
    });
    expect(route.metadata?.labels).not.toHaveProperty("slipway.dev/version");
    expect(route.metadata?.labels).not.toHaveProperty("app.kubernetes.io/version");
    expect(route.metadata).not.toHaveProperty("ownerReferences");
    expect(route.metadata?.annotations).toEqual({
      "slipway.dev/history": "[]",
      "slipway.dev/target-version": "3f2a9c1d0b7e",
      "slipway.dev/backends": "3f2a9c1d0b7e=100",
    });
  });

  it("splits by weight between versions; different version paths are rewritten per backend", () => {
    const stable = targetOf(sampleConfig, "v1");
    const canary = targetOf(sampleConfig, "v2");
    const route = aliasOf([
      { target: stable, weight: 90 },
      { target: canary, weight: 10 },
    ]);
    const r = rule(route);
    expect(r.filters?.map((f) => f.type)).toEqual(["RequestHeaderModifier"]);
    expect(r.backendRefs).toEqual([
      {
        name: "mnist-v1-predict-digits",
        port: 8000,
        weight: 90,
        filters: [
          {
            type: "URLRewrite",
            urlRewrite: {
              path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/acme/mnist/mnist/v1/predict-digits" },
            },
          },
        ],
      },
      {
        name: "mnist-v2-predict-digits",
        port: 8000,
        weight: 10,
        filters: [
          {
            type: "URLRewrite",
            urlRewrite: {
              path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/acme/mnist/mnist/v2/predict-digits" },
            },
          },
        ],
      },
    ]);
    expect(route.metadata?.annotations).toMatchObject({
      "slipway.dev/target-version": "v1",
      "slipway.dev/backends": "v1=90,v2=10",
    });
  });

  it("versions that all strip the prefix share one rule-level rewrite", () => {
    const config = withRuntime(sampleConfig, WSGI, { stripPrefix: true });
    const r = rule(
      aliasOf(
        [
          { target: targetOf(config, "v1"), weight: 50 },
          { target: targetOf(config, "v2"), weight: 50 },
        ],
        config,
      ),
    );
    expect(r.filters?.map((f) => f.type)).toEqual(["RequestHeaderModifier", "URLRewrite"]);
    expect(r.backendRefs?.every((b) => b.filters === undefined)).toBe(true);
  });

  it("an endpoint only one version has goes to that version; the longest timeout of a rule's versions applies", () => {
    const stable = targetOf(sampleConfig, "v1");
    const canary = targetOf(withRuntime(sampleConfig, WSGI, { requestTimeoutSeconds: 120 }), "v2");
    canary.endpoints = canary.endpoints.filter((e) => e.endpoint === WSGI);
    stable.endpoints = stable.endpoints.filter((e) => e.endpoint !== WSGI);
    const route = aliasOf([
      { target: stable, weight: 90 },
      { target: canary, weight: 10 },
    ]);
    expect(
      route.spec?.rules?.map((r) => [r.matches?.[0]?.path?.value, r.backendRefs?.map((b) => b.name)]),
    ).toEqual([
      ["/acme/mnist/mnist/staging/health-check", ["mnist-v1-health-check"]],
      ["/acme/mnist/mnist/staging/predict-digits", ["mnist-v2-predict-digits"]],
    ]);
    expect(rule(route, 1).timeouts).toEqual({ request: "120s" });
  });

  it.each<[string, (t: VersionTarget) => AliasBackend[], RegExp]>([
    ["no version", () => [], /at least one version/],
    ["a negative weight", (t) => [{ target: t, weight: -1 }], /not an integer/],
    ["a fractional weight", (t) => [{ target: t, weight: 0.5 }], /not an integer/],
    ["only zero weights", (t) => [{ target: t, weight: 0 }], /every weight is 0/],
    [
      "a version twice",
      (t) => [
        { target: t, weight: 1 },
        { target: t, weight: 1 },
      ],
      /twice/,
    ],
  ])("refuses %s", (_name, backends, message) => {
    const make = () =>
      aliasRoute({ plan, config: sampleConfig, alias, backends: backends(targetOf(sampleConfig)) });
    expect(make).toThrow(ManifestError);
    expect(make).toThrow(message);
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

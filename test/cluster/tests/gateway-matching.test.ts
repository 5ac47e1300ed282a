// The test gateway's pure parts against the Gateway API spec text (apis/v1/httproute_types.go): path
// matching, rule precedence, weighted choice, ReplacePrefixMatch's table, header modifiers, durations.

import { describe, expect, it } from "vitest";
import {
  modifyHeaders,
  parseGatewayDuration,
  pathMatches,
  pickWeighted,
  type RequestFacts,
  type RouteRef,
  replacePrefix,
  selectRule,
} from "../gateway.js";

function request(path: string, extra: Partial<RequestFacts> = {}): RequestFacts {
  return { method: "GET", host: "example.com", path, headers: {}, query: new URLSearchParams(), ...extra };
}

describe("PathMatchType (HTTPPathMatch)", () => {
  it.each([
    ["PathPrefix", "/abc", "/abc", true],
    ["PathPrefix", "/abc", "/abc/", true],
    ["PathPrefix", "/abc", "/abc/def", true],
    ["PathPrefix", "/abc", "/abcd", false],
    ["PathPrefix", "/abc/", "/abc", true],
    ["PathPrefix", "/abc/", "/abcd", false],
    ["PathPrefix", "/", "/anything", true],
    ["PathPrefix", "/abc", "/ABC", false],
    ["Exact", "/abc", "/abc", true],
    ["Exact", "/abc", "/abc/", false],
    ["Exact", "/abc", "/Abc", false],
    ["Exact", "/abc", "/abcd", false],
    ["RegularExpression", "/v[0-9]+/.*", "/v2/x", true],
    ["RegularExpression", "/v[0-9]+", "/v2/x", false],
  ])("%s %s vs %s → %s", (type, value, path, expected) => {
    expect(pathMatches(type, value, path)).toBe(expected);
  });
});

function route(name: string, rules: RouteRef["rules"], extra: Partial<RouteRef> = {}): RouteRef {
  return {
    namespace: "default",
    name,
    creationTimestamp: "2025-01-01T00:00:00Z",
    hostnames: [],
    rules,
    ...extra,
  };
}

describe("HTTPRouteRule.matches precedence", () => {
  const prefix = (value: string) => ({ path: { type: "PathPrefix" as const, value } });

  it("Exact beats any PathPrefix", () => {
    const routes = [
      route("a", [{ matches: [prefix("/foo/bar")] }]),
      route("b", [{ matches: [{ path: { type: "Exact", value: "/foo/bar" } }] }]),
    ];
    expect(selectRule(routes, request("/foo/bar"))?.route.name).toBe("b");
  });

  it("the longest matching prefix wins, across routes", () => {
    const routes = [
      route("short", [{ matches: [prefix("/abc")] }]),
      route("long", [{ matches: [prefix("/abc/def")] }]),
    ];
    expect(selectRule(routes, request("/abc/def/x"))?.route.name).toBe("long");
    expect(selectRule(routes, request("/abc/x"))?.route.name).toBe("short");
    expect(selectRule(routes, request("/abcd"))).toBeUndefined();
  });

  it("then method, then more header matches, then more query matches", () => {
    const routes = [
      route("plain", [{ matches: [prefix("/p")] }]),
      route("method", [{ matches: [{ ...prefix("/p"), method: "GET" }] }]),
      route("headers", [{ matches: [{ ...prefix("/p"), headers: [{ name: "x-a", value: "1" }] }] }]),
    ];
    expect(selectRule(routes, request("/p", { headers: { "x-a": "1" } }))?.route.name).toBe("method");
    const noMethod = routes.filter((r) => r.name !== "method");
    expect(selectRule(noMethod, request("/p", { headers: { "x-a": "1" } }))?.route.name).toBe("headers");
    expect(selectRule(noMethod, request("/p"))?.route.name).toBe("plain");
  });

  it("ties go to the oldest route, then namespace/name order, then the first rule", () => {
    const same = [{ matches: [prefix("/")] }];
    const older = route("zeta", same, { creationTimestamp: "2024-01-01T00:00:00Z" });
    expect(selectRule([route("alpha", same), older], request("/x"))?.route.name).toBe("zeta");
    expect(selectRule([route("beta", same), route("alpha", same)], request("/x"))?.route.name).toBe("alpha");
    const twoRules = route("r", [
      { matches: [prefix("/")], backendRefs: [{ name: "first" }] },
      { matches: [prefix("/")] },
    ]);
    expect(selectRule([twoRules], request("/x"))?.ruleIndex).toBe(0);
  });

  it("hostnames filter routes and the more specific hostname takes precedence", () => {
    const any = route("any", [{ matches: [prefix("/api")] }]);
    const wildcard = route("wild", [{}], { hostnames: ["*.example.com"] });
    const exact = route("exact", [{}], { hostnames: ["www.example.com"] });
    const routes = [any, wildcard, exact];
    expect(selectRule(routes, request("/api", { host: "www.example.com" }))?.route.name).toBe("exact");
    expect(selectRule(routes, request("/api", { host: "a.example.com" }))?.route.name).toBe("wild");
    expect(selectRule(routes, request("/api", { host: "example.com" }))?.route.name).toBe("any");
    expect(selectRule([wildcard], request("/", { host: "example.com" }))).toBeUndefined();
  });

  it("a rule without matches matches every request (default PathPrefix /)", () => {
    expect(selectRule([route("r", [{}])], request("/whatever"))?.route.name).toBe("r");
  });
});

describe("HTTPBackendRef.weight", () => {
  function shares(weights: (number | undefined)[], n = 10_000): number[] {
    const counts = weights.map(() => 0);
    for (let i = 0; i < n; i++) {
      const picked = pickWeighted(weights, (i + 0.5) / n);
      if (picked !== undefined) counts[picked] = (counts[picked] ?? 0) + 1;
    }
    return counts.map((c) => c / n);
  }

  it("is weight/(sum of weights), weight defaulting to 1", () => {
    expect(shares([90, 10])).toEqual([0.9, 0.1]);
    expect(shares([undefined, undefined])).toEqual([0.5, 0.5]);
    expect(shares([3, 1])).toEqual([0.75, 0.25]);
  });

  it("sends nothing to weight 0, and nothing at all when every weight is 0", () => {
    expect(shares([0, 5])).toEqual([0, 1]);
    expect(pickWeighted([0, 0], 0.3)).toBeUndefined();
    expect(pickWeighted([], 0.3)).toBeUndefined();
  });
});

describe("HTTPPathModifier.ReplacePrefixMatch (the spec's table)", () => {
  it.each([
    ["/foo/bar", "/foo", "/xyz", "/xyz/bar"],
    ["/foo/bar", "/foo", "/xyz/", "/xyz/bar"],
    ["/foo/bar", "/foo/", "/xyz", "/xyz/bar"],
    ["/foo/bar", "/foo/", "/xyz/", "/xyz/bar"],
    ["/foo", "/foo", "/xyz", "/xyz"],
    ["/foo/", "/foo", "/xyz", "/xyz/"],
    ["/foo/bar", "/foo", "", "/bar"],
    ["/foo/", "/foo", "", "/"],
    ["/foo", "/foo", "", "/"],
    ["/foo/", "/foo", "/", "/"],
    ["/foo", "/foo", "/", "/"],
  ])("%s with prefix %s replaced by %j → %s", (path, prefix, replacement, expected) => {
    expect(replacePrefix(path, prefix, replacement)).toBe(expected);
  });
});

describe("HTTPHeaderFilter", () => {
  it("set overwrites, add appends, remove drops — names case-insensitive", () => {
    const out = modifyHeaders(
      { "my-header": "foo", "my-header1": "a", "my-header3": "c", keep: "k" },
      {
        set: [{ name: "My-Header", value: "bar" }],
        add: [{ name: "my-header1", value: "bar,baz" }],
        remove: ["MY-HEADER3"],
      },
    );
    expect(out).toEqual({ "my-header": "bar", "my-header1": "a,bar,baz", keep: "k" });
  });
});

describe("Gateway API Duration (GEP-2257)", () => {
  it.each([
    ["10s", 10_000],
    ["500ms", 500],
    ["1h2m3s4ms", 3_723_004],
    ["0s", Number.POSITIVE_INFINITY],
  ])("%s → %d ms", (d, ms) => {
    expect(parseGatewayDuration(d)).toBe(ms);
  });

  it.each(["1.5s", "10", "1d", ""])("rejects %j", (d) => {
    expect(() => parseGatewayDuration(d)).toThrow(/invalid duration/);
  });
});

// The pure parts of promotion and status: an alias route made from the deployment's scope is the one
// a plan makes; the backends annotation read back as weights; an alias's history read back, an
// unreadable one started again with a warning; and the status as a terminal table and as inert markdown.
import { describe, expect, it } from "vitest";
import { aliasOwner, aliasRoute, scopedAlias, versionTarget } from "../../src/deploy/index.js";
import { historyOf } from "../../src/flows/promote.js";
import { type DeploymentStatus, parseBackends } from "../../src/flows/status.js";
import { formatStatus, statusMarkdown } from "../../src/report/status-table.js";
import { encodeHistory } from "../../src/route/alias-history.js";
import { imagesFor, planFor, sampleConfig } from "./deploy-sample.js";

describe("an alias route from the deployment's scope", () => {
  it("is the route a plan that moves the same alias makes", () => {
    const plan = planFor(sampleConfig);
    const target = versionTarget({ plan, config: sampleConfig, images: imagesFor(plan) });
    const planned = { name: "staging", path: "/acme/mnist/mnist/staging", kind: "environment" as const };
    const scope = { namespace: plan.namespace, owner: "acme", project: "mnist", deployment: "mnist" };
    expect(scopedAlias(scope, "staging", "environment")).toEqual(planned);
    const backends = [{ target, weight: 100 }];
    expect(aliasRoute({ plan: aliasOwner(scope), config: sampleConfig, alias: planned, backends })).toEqual(
      aliasRoute({ plan, config: sampleConfig, alias: planned, backends }),
    );
  });
});

describe("parseBackends", () => {
  it.each([
    ["v1=100", [{ version: "v1", weight: 100 }]],
    [
      "v1=90,v2=10",
      [
        { version: "v1", weight: 90 },
        { version: "v2", weight: 10 },
      ],
    ],
    ["v1=90, v2=ten,=3,v3", [{ version: "v1", weight: 90 }]],
    ["", []],
    [undefined, []],
  ])("%s", (annotation, weights) => {
    expect(parseBackends(annotation)).toEqual(weights);
  });
});

describe("historyOf", () => {
  const route = (history?: string) => ({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: {
      name: "mnist-alias-staging",
      annotations: history === undefined ? {} : { "slipway.dev/history": history },
    },
  });
  const entry = {
    version: "abc123",
    at: new Date("2024-05-06T07:08:09Z"),
    by: "octocat",
    why: "promote" as const,
  };

  it("reads the entries back", () => {
    expect(historyOf(route(encodeHistory([entry])))).toEqual({ history: [entry] });
  });
  it("starts empty without a route or annotation", () => {
    expect(historyOf(undefined)).toEqual({ history: [] });
    expect(historyOf(route())).toEqual({ history: [] });
  });
  it.each(["not json", '{"v":2,"entries":[]}', '{"v":1,"entries":[{"version":"abc"}]}'])(
    "an unreadable one (%s) starts again, with a warning naming the annotation",
    (text) => {
      const read = historyOf(route(text));
      expect(read.history).toEqual([]);
      expect(read.warning).toMatch(/^slipway\.dev\/history: .*; its history starts again with this move$/);
    },
  );
});

const status: DeploymentStatus = {
  deployment: "mnist",
  namespace: "ml-previews",
  warnings: [],
  aliases: [
    {
      alias: "staging",
      kind: "environment",
      version: "abc123",
      weights: [{ version: "abc123", weight: 100 }],
      last: { version: "abc123", at: new Date("2024-05-06T07:08:09Z"), by: "@octocat", why: "rollback" },
    },
    {
      alias: "production",
      kind: "environment",
      version: "abc123",
      weights: [
        { version: "abc123", weight: 90 },
        { version: "def456", weight: 10 },
      ],
    },
    {
      alias: "pr-7",
      kind: "preview",
      pullRequest: 7,
      version: "def456",
      weights: [{ version: "def456", weight: 100 }],
    },
    { alias: "qa", kind: "environment", weights: [] },
  ],
};

describe("the status for people", () => {
  it("is a table in the terminal", () => {
    expect(formatStatus(status)).toBe(
      [
        "ALIAS       KIND         VERSION  SPLIT                LAST MOVE",
        "staging     environment  abc123   -                    rollback by @octocat at 2024-05-06T07:08:09.000Z",
        "production  environment  abc123   abc123=90,def456=10  -",
        "pr-7        preview      def456   -                    -",
        "qa          environment  -        -                    -",
        "",
      ].join("\n"),
    );
  });

  it("is markdown for a pull request, with no mention and no cell break", () => {
    const markdown = statusMarkdown(status);
    expect(markdown).toContain("| `staging` | `abc123` |  | rollback by @\u200bocto");
    expect(markdown).toContain("| `production` | `abc123` | `abc123=90,def456=10` |  |");
    expect(markdown).toContain("| `qa` | none |  |  |");
    expect(markdown).not.toMatch(/@octocat/);
  });
});

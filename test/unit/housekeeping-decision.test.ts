// What housekeeping removes, decided from one deployment's alias routes and version records: previews
// of closed pull requests and expired ones, versions of gone previews, versions beyond the kept
// number; never a version any remaining alias points at. And the facts read off the cluster's objects.
import { describe, expect, it } from "vitest";
import { ANNOTATION_BACKENDS, ANNOTATION_TARGET_VERSION } from "../../src/deploy/index.js";
import {
  type AliasRouteFacts,
  aliasRouteFacts,
  type VersionRecordFacts,
  versionRecordFacts,
} from "../../src/flows/deployment-state.js";
import { type HousekeepingOptions, housekeepingDecision } from "../../src/flows/housekeeping.js";
import { nextLink } from "../../src/registry/client.js";

const NOW = new Date("2025-06-10T12:00:00Z");
const HOUR = 3600 * 1000;

function route(alias: string, versions: string[], pullRequest?: number): AliasRouteFacts {
  return {
    route: `mnist-alias-${alias}`,
    alias,
    versions,
    ...(versions[0] !== undefined ? { target: versions[0] } : {}),
    ...(pullRequest !== undefined ? { pullRequest } : {}),
  };
}

function record(version: string, hoursAgo: number | undefined, pullRequest?: number): VersionRecordFacts {
  return {
    record: `mnist-${version}`,
    version,
    deployment: "mnist",
    failed: false,
    images: [],
    ...(hoursAgo !== undefined ? { deployedAt: NOW.getTime() - hoursAgo * HOUR } : {}),
    ...(pullRequest !== undefined ? { pullRequest } : {}),
  };
}

const options = (over: Partial<HousekeepingOptions> = {}): HousekeepingOptions => ({
  openPullRequests: new Set([1, 2]),
  previewTtlSeconds: 72 * 3600,
  keepVersions: 5,
  now: NOW,
  ...over,
});

describe("housekeepingDecision", () => {
  it.each<{
    name: string;
    routes: AliasRouteFacts[];
    records: VersionRecordFacts[];
    options?: Partial<HousekeepingOptions>;
    previews: [number, string, "closed" | "expired"][];
    retired: [string, "preview-gone" | "beyond-keep"][];
  }>([
    {
      name: "open, fresh previews and their versions stay",
      routes: [route("pr-1", ["a1"], 1), route("pr-2", ["b1"], 2)],
      records: [record("a1", 1, 1), record("b1", 2, 2)],
      previews: [],
      retired: [],
    },
    {
      name: "a closed pull request's preview goes, and its versions with it",
      routes: [route("pr-1", ["a2"], 1), route("pr-2", ["b1"], 2)],
      records: [record("a1", 5, 1), record("a2", 1, 1), record("b1", 2, 2)],
      options: { openPullRequests: new Set([2]) },
      previews: [[1, "pr-1", "closed"]],
      retired: [
        ["a1", "preview-gone"],
        ["a2", "preview-gone"],
      ],
    },
    {
      name: "an open preview whose version is older than the TTL expires",
      routes: [route("pr-1", ["a1"], 1), route("pr-2", ["b1"], 2)],
      records: [record("a1", 73, 1), record("b1", 71, 2)],
      previews: [[1, "pr-1", "expired"]],
      retired: [["a1", "preview-gone"]],
    },
    {
      name: "closed wins over expired as the reason",
      routes: [route("pr-1", ["a1"], 1)],
      records: [record("a1", 100, 1)],
      options: { openPullRequests: new Set() },
      previews: [[1, "pr-1", "closed"]],
      retired: [["a1", "preview-gone"]],
    },
    {
      name: "a gone preview's version that staging also points at is kept",
      routes: [route("pr-1", ["a2"], 1), route("staging", ["a1"])],
      records: [record("a1", 5, 1), record("a2", 1, 1)],
      options: { openPullRequests: new Set() },
      previews: [[1, "pr-1", "closed"]],
      retired: [["a2", "preview-gone"]],
    },
    {
      name: "any backend of a canary counts as pointed at, even at weight 0",
      routes: [route("production", ["n2", "n1"])],
      records: [record("n1", 10), record("n2", 1), record("n3", 20)],
      options: { keepVersions: 0 },
      previews: [],
      retired: [["n3", "beyond-keep"]],
    },
    {
      name: "beyond the newest K unpointed versions, the oldest are retired",
      routes: [route("staging", ["n4"])],
      records: [record("n1", 40), record("n2", 30), record("n3", 20), record("n4", 10), record("n5", 5)],
      options: { keepVersions: 2 },
      previews: [],
      retired: [
        ["n2", "beyond-keep"],
        ["n1", "beyond-keep"],
      ],
    },
    {
      name: "a version whose deploy time cannot be read is kept and not counted",
      routes: [],
      records: [record("n1", undefined), record("n2", 30), record("n3", 20)],
      options: { keepVersions: 1 },
      previews: [],
      retired: [["n2", "beyond-keep"]],
    },
    {
      name: "an open preview's superseded versions count among the kept, not as gone",
      routes: [route("pr-1", ["a3"], 1)],
      records: [record("a1", 3, 1), record("a2", 2, 1), record("a3", 1, 1)],
      options: { keepVersions: 1 },
      previews: [],
      retired: [["a1", "beyond-keep"]],
    },
    {
      name: "a preview whose target has no record is not expired (its age is unknown)",
      routes: [route("pr-2", ["gone"], 2)],
      records: [],
      previews: [],
      retired: [],
    },
  ])("$name", ({ routes, records, options: over, previews, retired }) => {
    const decision = housekeepingDecision(routes, records, options(over));
    expect(decision.previewsRemoved.map((p) => [p.pullRequest, p.alias, p.why])).toEqual(previews);
    expect(decision.versionsRetired.map((v) => [v.version, v.why])).toEqual(retired);
  });
});

describe("facts read off the cluster's objects", () => {
  it("an alias route: every backend version, the target, the pull request and the comment", () => {
    expect(
      aliasRouteFacts({
        metadata: {
          name: "mnist-alias-pr-7",
          labels: { "slipway.dev/alias": "pr-7", "slipway.dev/pull-request": "7" },
          annotations: {
            [ANNOTATION_TARGET_VERSION]: "bbb",
            [ANNOTATION_BACKENDS]: "aaa=0,bbb=100",
            "slipway.dev/comment-id": "123",
          },
        },
      }),
    ).toEqual({
      route: "mnist-alias-pr-7",
      alias: "pr-7",
      pullRequest: 7,
      target: "bbb",
      versions: ["aaa", "bbb"],
      commentId: "123",
    });
  });

  it("a malformed pull request label is no pull request", () => {
    const facts = aliasRouteFacts({
      metadata: { name: "r", labels: { "slipway.dev/alias": "x", "slipway.dev/pull-request": "07" } },
    });
    expect(facts?.pullRequest).toBeUndefined();
  });

  it("a version record: its deploy time, images and failure", () => {
    expect(
      versionRecordFacts({
        metadata: {
          name: "mnist-abc",
          labels: { "slipway.dev/deployment": "mnist", "slipway.dev/pull-request": "3" },
          annotations: { "slipway.dev/failure": "CrashLoopBackOff" },
        },
        data: {
          version: "abc",
          "deployed-at": "2025-06-10T10:00:00.000Z",
          endpoints: JSON.stringify([{ image: "r/a@sha256:1" }, { image: "r/b@sha256:2" }]),
        },
      }),
    ).toEqual({
      record: "mnist-abc",
      version: "abc",
      deployment: "mnist",
      pullRequest: 3,
      deployedAt: Date.parse("2025-06-10T10:00:00.000Z"),
      failed: true,
      images: ["r/a@sha256:1", "r/b@sha256:2"],
    });
  });
});

describe("nextLink (OCI distribution spec: tag list pagination by RFC 8288 Link)", () => {
  it.each([
    ['</v2/a/tags/list?n=2&last=b>; rel="next"', "/v2/a/tags/list?n=2&last=b"],
    ["<http://r/v2/a/tags/list?last=b&n=2>; rel=next", "http://r/v2/a/tags/list?last=b&n=2"],
    ['</x>; rel="prev", </v2/a/tags/list?last=c>; rel="next"', "/v2/a/tags/list?last=c"],
    ['</v2/a/tags/list?last=d>; title="t"; rel="start next"', "/v2/a/tags/list?last=d"],
    ['</x>; rel="prev"', undefined],
    ["", undefined],
    [null, undefined],
  ])("%s → %s", (header, next) => {
    expect(nextLink(header)).toBe(next);
  });
});

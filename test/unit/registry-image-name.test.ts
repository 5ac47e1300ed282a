// parseImageName/formatImageName follow Docker's reference rules; table-driven.

import { describe, expect, it } from "vitest";
import { formatImageName, type ImageName, parseImageName } from "../../src/registry/index.js";

const D = `sha256:${"ab".repeat(32)}`;

describe("parseImageName", () => {
  it.each<[string, ImageName]>([
    ["python", { registry: "registry-1.docker.io", repository: "library/python", tag: "latest" }],
    [
      "python:3.12-slim",
      { registry: "registry-1.docker.io", repository: "library/python", tag: "3.12-slim" },
    ],
    ["docker.io/python:3", { registry: "registry-1.docker.io", repository: "library/python", tag: "3" }],
    ["index.docker.io/org/app", { registry: "registry-1.docker.io", repository: "org/app", tag: "latest" }],
    ["org/app:v1", { registry: "registry-1.docker.io", repository: "org/app", tag: "v1" }],
    [
      "ghcr.io/acme/models/sentiment:pr-12",
      { registry: "ghcr.io", repository: "acme/models/sentiment", tag: "pr-12" },
    ],
    ["127.0.0.1:5000/app", { registry: "127.0.0.1:5000", repository: "app", tag: "latest" }],
    ["localhost/app:x", { registry: "localhost", repository: "app", tag: "x" }],
    ["localhost:5000/a/b", { registry: "localhost:5000", repository: "a/b", tag: "latest" }],
    [`busybox@${D}`, { registry: "registry-1.docker.io", repository: "library/busybox", digest: D }],
    [`ghcr.io/o/r:v2@${D}`, { registry: "ghcr.io", repository: "o/r", tag: "v2", digest: D }],
    ["[::1]:5000/app:v", { registry: "[::1]:5000", repository: "app", tag: "v" }],
    [
      "reg.example.com/a__b/c-d.e_f:T_1.2-x",
      { registry: "reg.example.com", repository: "a__b/c-d.e_f", tag: "T_1.2-x" },
    ],
  ])("%s", (ref, expected) => {
    expect(parseImageName(ref)).toEqual(expected);
  });

  it.each([
    ["", /empty/],
    ["Python", /lower case/],
    ["ghcr.io/Acme/app", /lower case/],
    ["app:", /bad tag/],
    ["app:-x", /bad tag/],
    ["app@sha256:abc", /64 hex/],
    ["app@nodigest", /bad digest/],
    ["ghcr.io/", /missing repository/],
    ["a//b", /path component/],
    ["a/b-", /path component/],
    [" app", /whitespace/],
    [`reg.io/${"a".repeat(260)}`, /longer than 255/],
  ])("rejects %j", (ref, why) => {
    expect(() => parseImageName(ref)).toThrow(why);
  });

  it("round-trips through formatImageName", () => {
    for (const ref of ["python:3.12", "ghcr.io/o/r:v1", `127.0.0.1:5000/a/b@${D}`, `x/y:t@${D}`]) {
      const n = parseImageName(ref);
      expect(parseImageName(formatImageName(n))).toEqual(n);
    }
    expect(formatImageName(parseImageName("python"))).toBe("registry-1.docker.io/library/python:latest");
  });
});

// Credentials from a docker config.json and explicit inputs; first source that knows a registry wins.

import { describe, expect, it } from "vitest";
import {
  combineCredentials,
  credentialsFromDockerConfig,
  staticCredentials,
} from "../../src/registry/index.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("credentialsFromDockerConfig", () => {
  const config = JSON.stringify({
    auths: {
      "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
      "ghcr.io": { auth: b64("octo:ghp_x") },
      "http://127.0.0.1:5000": { username: "u", password: "p" },
      "registry.example.com": { identitytoken: "refresh-me" },
      "empty.example.com": {},
    },
    credsStore: "desktop",
  });
  const src = credentialsFromDockerConfig(config);

  it.each([
    ["registry-1.docker.io", { username: "hubuser", password: "hub:pass" }],
    ["docker.io", { username: "hubuser", password: "hub:pass" }],
    ["GHCR.io", { username: "octo", password: "ghp_x" }],
    ["127.0.0.1:5000", { username: "u", password: "p" }],
    ["registry.example.com", { identityToken: "refresh-me" }],
    ["empty.example.com", undefined],
    ["quay.io", undefined],
  ])("%s", (registry, expected) => {
    expect(src.forRegistry(registry)).toEqual(expected);
  });

  it("refuses broken input without echoing it", () => {
    expect(() => credentialsFromDockerConfig("{not json secret-ish")).toThrow(
      /^docker config is not valid JSON$/,
    );
    expect(() =>
      credentialsFromDockerConfig(JSON.stringify({ auths: { "x.io": { auth: b64("nocolon") } } })),
    ).toThrow(/x\.io is not "user:password"/);
  });

  it("ignores configs without auths", () => {
    expect(credentialsFromDockerConfig("{}").forRegistry("ghcr.io")).toBeUndefined();
  });
});

describe("combineCredentials", () => {
  it("asks sources in order", () => {
    const inputs = staticCredentials("ghcr.io", { username: "input", password: "1" });
    const file = credentialsFromDockerConfig(
      JSON.stringify({ auths: { "ghcr.io": { auth: b64("file:2") }, "quay.io": { auth: b64("q:3") } } }),
    );
    const both = combineCredentials(inputs, file);
    expect(both.forRegistry("ghcr.io")).toEqual({ username: "input", password: "1" });
    expect(both.forRegistry("quay.io")).toEqual({ username: "q", password: "3" });
    expect(both.forRegistry("docker.io")).toBeUndefined();
  });
});

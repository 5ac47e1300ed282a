// Problem messages quote values from the file, and end up in logs, annotations and PR comments: a
// password written as userinfo (`https://user:password@host`, `user:password@registry`) never does.
import { describe, expect, it } from "vitest";
import { formatProblem } from "../../src/config/errors.js";
import { parseConfig } from "../../src/config/parse.js";
import { quote } from "../../src/config/quote.js";

const SECRET = "hunter2-s3cret";
const url = `https://deploy:${SECRET}@ml.example.com`;
const bare = `deploy:${SECRET}@ghcr.io/acme`;

/** Every setting that is quoted in a message, each made invalid with a secret in it. */
const config = [
  "- endpoint:",
  `    name: "${url}"`,
  "    image: x",
  `    wsgi: "${url}"`,
  `    port: "${url}"`,
  `    node-selector: "${bare}=x y"`,
  `    files: [{name: m, path: "/${url}"}, {name: m, path: "../${bare}"}]`,
  `    tolerations: [{operator: "${url}", effect: "${bare}"}]`,
  `    resources: {devices: {"${bare}": 1}}`,
  `    "${url}": 1`,
  "- deployment:",
  "    name: demo",
  `    base-url: ${url}`,
  `    registry: ${bare}`,
  `    builder: "${url}"`,
  `    namespace: "${url}"`,
  `    dockerfile: "/${url}"`,
  `    preview: {alias: "${url}", ttl: "${url}"}`,
  "    environments:",
  `      staging: {requires: ["${url}", "${bare}"]}`,
  `      "${bare}": {}`,
  `- "${url}": {}`,
].join("\n");

describe("no problem message carries a password written as userinfo", () => {
  const problems = parseConfig(`${config}\n`, "valohai.yaml").problems;

  it("across every message of a config full of them", () => {
    expect(problems.length).toBeGreaterThanOrEqual(15);
    const leaks = problems.map(formatProblem).filter((m) => m.includes(SECRET) || m.includes("hunter2"));
    expect(leaks).toEqual([]);
  });

  it("while still saying which value is meant", () => {
    const messages = problems.map((p) => p.message);
    expect(messages).toContainEqual(
      expect.stringContaining("base-url 'https://***@ml.example.com' is invalid"),
    );
    expect(messages).toContainEqual(expect.stringContaining("registry '***@ghcr.io/acme' is invalid"));
  });
});

describe("quote", () => {
  it.each([
    ["https://user:pw@host/x", "'https://***@host/x'"],
    ["http://token@host", "'http://***@host'"],
    ["user:pw@ghcr.io/acme", "'***@ghcr.io/acme'"],
    ["server@endpoint", "'server@endpoint'"],
    ["a\u001b[31mb", "'a\\u001b[31mb'"],
    ["x".repeat(100), `'${"x".repeat(80)}…'`],
  ])("%j → %s", (value, quoted) => {
    expect(quote(value)).toBe(quoted);
  });

  it("redacts before cutting, so a long password is never half shown", () => {
    const long = `https://u:${"p".repeat(500)}@host`;
    expect(quote(long)).toBe("'https://***@host'");
  });
});

// Slash commands in pull request comments: what is a command, what is refused and how, what is
// someone else's text.
import { describe, expect, it } from "vitest";
import { MAX_COMMAND_LINE, parseCommand } from "../../src/intent/parse-command.js";

const ENVIRONMENTS = ["staging", "production"];

describe("parseCommand", () => {
  it.each([
    ["/preview", { name: "preview" }],
    ["  /preview  ", { name: "preview" }],
    ["\n\n\t/preview", { name: "preview" }],
    ["/preview\nplease, and /promote production too", { name: "preview" }],
    ["/preview\r\n> quoted", { name: "preview" }],
    ["/status", { name: "status" }],
    ["/promote staging", { name: "promote", environment: "staging" }],
    ["/promote   production\t", { name: "promote", environment: "production" }],
    ["/promote staging --canary 30m", { name: "promote", environment: "staging", canarySeconds: 1800 }],
    ["/promote staging --canary=1h30m", { name: "promote", environment: "staging", canarySeconds: 5400 }],
    ["/promote --canary 90s staging", { name: "promote", environment: "staging", canarySeconds: 90 }],
    ["/promote staging --no-canary", { name: "promote", environment: "staging", noCanary: true }],
    ["/promote staging --steps 5", { name: "promote", environment: "staging", steps: 5 }],
    ["/promote staging --steps=100", { name: "promote", environment: "staging", steps: 100 }],
    [
      "/promote staging --canary 10m --steps 4",
      { name: "promote", environment: "staging", canarySeconds: 600, steps: 4 },
    ],
    ["/rollback production", { name: "rollback", environment: "production" }],
    ["/deactivate staging", { name: "deactivate", environment: "staging" }],
    ["/activate staging", { name: "activate", environment: "staging" }],
    ["/abort production", { name: "abort", environment: "production" }],
  ])("%j is %j", (body, command) => {
    expect(parseCommand(body, ENVIRONMENTS)).toEqual({ kind: "command", command });
  });

  it.each([
    ["", "an empty comment"],
    ["   \n  ", "blank lines"],
    ["LGTM, ready to /promote staging", "a command inside a sentence"],
    ["> /promote staging", "a quoted command"],
    ["`/promote staging`", "a command in code"],
    ["Looks good\n/promote staging", "a command on a later line"],
    ["/retest", "another bot's command"],
    ["/assign @octocat", "another bot's command with an argument"],
    ["/usr/bin/python crashes", "a path"],
    ["/", "a lone slash"],
    [`${" ".repeat(10_000)}hello`, "much leading whitespace, then text"],
  ])("%j is no command (%s)", (body) => {
    expect(parseCommand(body, ENVIRONMENTS)).toEqual({ kind: "none" });
  });

  it.each([
    ["/promte staging", ["unknown command '/promte'", "did you mean '/promote'?", "`/status`"]],
    ["/Promote staging", ["unknown command '/Promote'", "did you mean '/promote'?"]],
    ["/promote", ["/promote needs an environment", "'staging', 'production'"]],
    ["/promote stagin", ["unknown environment 'stagin'; did you mean 'staging'?", "'production'"]],
    ["/rollback qa", ["unknown environment 'qa'", "the environments are 'staging', 'production'"]],
    ["/promote staging production", ["takes one environment", "'production'"]],
    ["/promote staging --canary 30m --no-canary", ["--canary and --no-canary contradict each other"]],
    ["/promote staging --no-canary --steps 3", ["cannot go with --no-canary"]],
    ["/promote staging --canary soon", ["--canary 'soon' is not a duration"]],
    ["/promote staging --canary 0s", ["--canary '0s' is not a duration"]],
    ["/promote staging --canary", ["--canary needs a duration"]],
    ["/promote staging --canary --no-canary", ["--canary needs a duration"]],
    ["/promote staging --canary 30m --canary 1h", ["--canary is given twice"]],
    ["/promote staging --steps 0", ["--steps '0' is not a whole number from 1 to 100"]],
    ["/promote staging --steps 101", ["--steps '101' is not a whole number"]],
    ["/promote staging --steps 2.5", ["--steps '2.5' is not a whole number"]],
    ["/promote staging --steps -3", ["--steps needs a number from 1 to 100"]],
    ["/promote staging --canary 3s --steps 10", ["a canary of 3s is shorter than its 10 steps"]],
    ["/promote staging --force", ["unknown flag '--force'", "--no-canary"]],
    ["/promote staging --no-canary=yes", ["--no-canary takes no value"]],
    ["/rollback production --no-canary", ["/rollback takes no flags (got '--no-canary')"]],
    ["/preview now", ["/preview takes no arguments (got 'now')", "usage: `/preview`"]],
    ["/status staging", ["/status takes no arguments"]],
    [`/promote staging ${"x".repeat(MAX_COMMAND_LINE)}`, [`longer than ${MAX_COMMAND_LINE} characters`]],
  ])("%j is refused: %j", (body, parts) => {
    const parsed = parseCommand(body, ENVIRONMENTS);
    expect(parsed.kind).toBe("invalid");
    for (const part of parts) expect(parsed.kind === "invalid" && parsed.message).toContain(part);
  });

  it("says when the config has no environments to promote to", () => {
    expect(parseCommand("/promote staging", [])).toEqual({
      kind: "invalid",
      message: "unknown environment 'staging' (the config defines no environments)",
    });
  });

  it("names a long list of environments only in part", () => {
    const many = Array.from({ length: 30 }, (_, i) => `env${i}`);
    const parsed = parseCommand("/promote nowhere-at-all", many);
    expect(parsed.kind === "invalid" && parsed.message).toContain("'env19' and 10 more");
  });

  it("quotes a hostile argument printable and short", () => {
    const parsed = parseCommand(`/promote \u0007${"a".repeat(150)}`, ENVIRONMENTS);
    expect(parsed.kind === "invalid" && parsed.message).toContain("'\\u0007aaaa");
    expect(parsed.kind === "invalid" && parsed.message.length).toBeLessThan(400);
  });

  it("reads only the first line of a huge comment", () => {
    const body = `/preview\n${"/promote staging --canary ".repeat(200_000)}`;
    expect(parseCommand(body, ENVIRONMENTS)).toEqual({ kind: "command", command: { name: "preview" } });
    expect(parseCommand(`${"\t".repeat(1_000_000)}/status`, ENVIRONMENTS).kind).toBe("command");
    expect(parseCommand("/promote ".padEnd(5_000_000, " x"), ENVIRONMENTS).kind).toBe("invalid");
  });
});

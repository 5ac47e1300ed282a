// Values a pull request wrote, rendered into GitHub markdown: each must come out inert.
import { describe, expect, it } from "vitest";
import { code, codeBlock, link, text, url } from "../../src/report/markdown.js";

describe("markdown from untrusted values", () => {
  it.each([
    ["plain", "`plain`"],
    ["a`b", "``a`b``"],
    ["``x``", "``` ``x`` ```"],
    ["a|b", "`a\\|b`"],
    ["line\nbreak", "`line break`"],
  ])("code(%j) is %s", (value, expected) => {
    expect(code(value)).toBe(expected);
  });

  it.each([
    ["https://ml.example.com/a/b", "<https://ml.example.com/a/b>"],
    [
      "https://ml.example.com/<script>alert(1)</script>",
      "<https://ml.example.com/%3Cscript%3Ealert(1)%3C/script%3E>",
    ],
    ["https://x.example/a|b c", "<https://x.example/a%7Cb%20c>"],
    ["https://x.example/é", "<https://x.example/%C3%A9>"],
    ["javascript:alert(1)", "`javascript:alert(1)`"],
  ])("url(%j) is %s", (value, expected) => {
    expect(url(value)).toBe(expected);
  });

  it.each([
    ["pr-42", "pr\\-42"],
    ["<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert\\(1\\)&gt;"],
    ["[click](https://evil.example)", "\\[click\\]\\(https://evil\\.example\\)"],
    ["a|b", "a\\|b"],
  ])("text(%j) is %s", (value, expected) => {
    expect(text(value)).toBe(expected);
  });
});

describe("markdown blocks and links from untrusted values", () => {
  it("keeps mentions from pinging anyone", () => {
    expect(text("thanks @octocat and @acme/team")).toBe("thanks @\u200boctocat and @\u200bacme/team");
  });

  it.each([
    ["plain", "", "```\nplain\n```"],
    ["a\r\nb\rc\n", "text", "```text\na\nb\nc\n```"],
    ["```\n</details>", "", "````\n```\n</details>\n````"],
    ["x ````` y", "sh", "``````sh\nx ````` y\n``````"],
    ["nul\u0000bell\u0007tab\t", "", "```\nnul\ufffdbell\ufffdtab\t\n```"],
    ["", "", "```\n```"],
    ["x", "a`b", "```\nx\n```"],
  ])("codeBlock(%j, %j) is %j", (value, info, expected) => {
    expect(codeBlock(value, info)).toBe(expected);
  });

  it.each([
    ["`abc`", "https://x.example/c", "[`abc`](<https://x.example/c>)"],
    ["run", "https://x.example/a b>c", "[run](<https://x.example/a%20b%3Ec>)"],
    ["run", "javascript:alert(1)", "run"],
    ["run", undefined, "run"],
  ])("link(%j, %j) is %s", (label, href, expected) => {
    expect(link(label, href)).toBe(expected);
  });
});

// Secret values from the workflow: both forms, and refusals that never echo a value.
import { describe, expect, it } from "vitest";
import { parseSecretValues } from "../../src/intent/secret-values.js";

describe("parseSecretValues", () => {
  it.each([
    ["", {}],
    ['{"API_KEY": "s3cr=t", "TOKEN": " spaced "}', { API_KEY: "s3cr=t", TOKEN: " spaced " }],
    ["API_KEY=s3cr=t\n# a comment\n\nTOKEN= spaced \r\n", { API_KEY: "s3cr=t", TOKEN: " spaced " }],
  ])("%j", (text, expected) => {
    expect(parseSecretValues(text, "input 'secrets'")).toEqual(expected);
  });

  it.each([
    ['{"API_KEY": 42}', "input 'secrets': the value of API_KEY must be a string"],
    [
      "{not json hunter2",
      "input 'secrets' is not valid JSON (an object of NAME: value) nor NAME=value lines",
    ],
    ["API_KEY hunter2", "input 'secrets': line 1 is not NAME=value"],
    ["1KEY=hunter2", "input 'secrets': line 1: '1KEY' is not an environment variable name"],
    ["A=hunter2\nA=hunter3", "input 'secrets': line 2: A is given twice"],
  ])("%j is refused without showing the value", (text, message) => {
    expect(() => parseSecretValues(text, "input 'secrets'")).toThrow(message);
    try {
      parseSecretValues(text, "input 'secrets'");
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter");
    }
  });
});

import { describe, expect, it } from "vitest";
import { fieldPath, nameErrors } from "../support/kube/validate.js";

describe("object names (Object Names and IDs)", () => {
  it.each([
    ["dns1123Subdomain", "model.v1", true],
    ["dns1123Subdomain", "Model", false],
    ["dns1123Subdomain", "-model", false],
    ["dns1123Subdomain", "a".repeat(253), true],
    ["dns1123Subdomain", "a".repeat(254), false],
    ["dns1123Label", "pr-42", true],
    ["dns1123Label", "pr.42", false],
    ["dns1123Label", "a".repeat(64), false],
    ["dns1035Label", "model", true],
    ["dns1035Label", "1model", false],
    ["pathSegment", "Any_Name", true],
    ["pathSegment", "a/b", false],
  ] as const)("%s %j valid=%j", (rule, name, valid) => {
    expect(nameErrors(rule, name).length === 0).toBe(valid);
  });
});

describe("field paths in causes", () => {
  it("turns JSON pointers into the API server's dotted form", () => {
    expect(fieldPath("/spec/template/spec/containers/0/image")).toBe(
      "spec.template.spec.containers[0].image",
    );
  });
});

// The preview's sticky pull request comment: what each state says, and that nothing a stranger
// wrote (reasons, logs, URLs, names) can become markdown, HTML or a mention.
import { describe, expect, it } from "vitest";
import {
  MAX_COMMENT_CHARS,
  PREVIEW_MARKER,
  type PreviewCommentModel,
  previewSummary,
  renderPreviewComment,
} from "../../src/report/pr-comment.js";

const COMMIT = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

function model(extra: Partial<PreviewCommentModel> = {}): PreviewCommentModel {
  return {
    pullRequest: 42,
    deployment: "default",
    commit: COMMIT,
    commitUrl: `https://github.com/acme/models/commit/${COMMIT}`,
    state: "ready",
    version: "ec26c3e57ca3",
    alias: "pr-42",
    endpoints: [
      {
        name: "predict",
        previewUrl: "https://ml.example.com/acme/models/default/pr-42/predict",
        versionUrl: "https://ml.example.com/acme/models/default/ec26c3e57ca3/predict",
        digest: DIGEST,
        state: "ready",
      },
    ],
    runUrl: "https://github.com/acme/models/actions/runs/1",
    updatedAt: new Date("2024-05-01T12:34:56Z"),
    ...extra,
  };
}

/** Everything outside fenced code blocks: where markdown and HTML would take effect. */
function outsideFences(body: string): string {
  let out = "";
  let fence: string | undefined;
  for (const line of body.split("\n")) {
    const run = /^ {0,3}(`{3,})/.exec(line)?.[1];
    if (fence === undefined && run) fence = run;
    else if (fence !== undefined && run && run.length >= fence.length && line.trim() === run)
      fence = undefined;
    else if (fence === undefined) out += `${line}\n`;
  }
  expect(fence, "every fence is closed").toBeUndefined();
  return out;
}

describe("renderPreviewComment", () => {
  it("renders a ready preview", () => {
    expect(renderPreviewComment(model())).toBe(
      [
        PREVIEW_MARKER,
        "",
        "### ✅ Preview ready: `default`",
        "",
        "Version `ec26c3e57ca3` of `default` from commit [`ec26c3e`](<https://github.com/acme/models/commit/ec26c3e57ca3a959ca5aad62de7213c562f8c821>) is live at the preview alias `pr-42`.",
        "",
        "| Endpoint | `predict` |",
        "| --- | --- |",
        "| Preview URL (`pr-42`) | <https://ml.example.com/acme/models/default/pr-42/predict> |",
        "| Version URL | <https://ml.example.com/acme/models/default/ec26c3e57ca3/predict> |",
        "| State | ready |",
        `| Image | <code title="${DIGEST}">sha256:0123456789ab</code> |`,
        "",
        "```sh",
        "curl -sS -X POST 'https://ml.example.com/acme/models/default/pr-42/predict' -H 'Content-Type: application/json' --data '{}'",
        "```",
        "",
        "<sub>Updated 2024-05-01 12:34 UTC · [workflow run](<https://github.com/acme/models/actions/runs/1>)</sub>",
        "",
      ].join("\n"),
    );
  });

  it("is the same text for the same model", () => {
    expect(renderPreviewComment(model())).toBe(renderPreviewComment(model()));
  });

  it("renders a failure with what still serves, its logs inert in a block they cannot leave", () => {
    const logs = [
      "Step 3/7 : RUN pip install -r requirements.txt",
      "```",
      "</details>",
      "<details><summary>gotcha</summary>",
      "<img src=x onerror=alert(1)> <script>alert(1)</script>",
      "@octocat please look ````` ~~~",
      "ERROR: No matching distribution found for torch==9.9",
    ].join("\n");
    const body = renderPreviewComment(
      model({
        state: "failed",
        endpoints: [{ name: "predict", state: "failed", reason: "CrashLoopBackOff: <b>@admin</b> | `x`" }],
        serving: { version: "1111111111aa", commit: "1".repeat(40) },
        failure: { reason: "pip install failed for @octocat's [link](https://evil.example)", logs },
      }),
    );
    expect(body).toContain("### ❌ Preview failed: `default`");
    expect(body).toContain("did not become ready.");
    expect(body).toContain(
      "**Reason:** pip install failed for @\u200boctocat's \\[link\\]\\(https://evil\\.example\\)",
    );
    expect(body).toContain(
      "The preview alias `pr-42` still serves version `1111111111aa` (commit `1111111`).",
    );
    expect(body).toContain("| Reason | CrashLoopBackOff: &lt;b&gt;@\u200badmin&lt;/b&gt; \\| \\`x\\` |");
    expect(body).toContain(
      `<details><summary>Logs of the last failure</summary>\n\n\`\`\`\`\`\`text\n${logs}\n\`\`\`\`\`\`\n\n</details>`,
    );
    const live = outsideFences(body);
    for (const hostile of ["<img", "<script", "<b>", "gotcha", "@octocat", "@admin", "](https://evil"]) {
      expect(live).not.toContain(hostile);
    }
    expect(live.match(/<details>/g)).toHaveLength(1);
    expect(live.match(/<\/details>/g)).toHaveLength(1);
  });

  it("asks a maintainer to approve a fork's pull request, and says a later push needs asking again", () => {
    const body = renderPreviewComment(
      model({
        state: "needs-approval",
        endpoints: [],
        approval: { requiredPermission: "write", headSha: COMMIT },
      }),
    );
    expect(body).toContain("### ⏸️ Preview needs approval: `default`");
    expect(body).toContain(
      "Pull request #42 comes from a fork: its code is not built or deployed until a maintainer asks for it.",
    );
    expect(body).toContain(
      "A maintainer with `write` permission on the repository can comment `/preview` to deploy the head commit as it is at that moment (now `ec26c3e`). A later push is not deployed on its own: it needs a new `/preview`.",
    );
    expect(body).not.toContain("curl");
  });

  it("says a torn-down preview and its versions were removed, with no URLs left to try", () => {
    const body = renderPreviewComment(model({ state: "torn-down" }));
    expect(body).toContain("### 🧹 Preview torn down: `default`");
    expect(body).toContain(
      "The pull request was closed: the preview alias `pr-42` and its versions were removed.",
    );
    expect(body).not.toContain("https://ml.example.com");
  });

  it.each([
    ["building", "Building version `ec26c3e57ca3` of `default` from commit"],
    ["deploying", "the preview alias `pr-42` moves once every endpoint answers."],
  ] as const)("says what a %s preview is doing", (state, part) => {
    expect(renderPreviewComment(model({ state }))).toContain(part);
  });

  it("renders names, URLs and notices inert", () => {
    const body = renderPreviewComment(
      model({
        deployment: "a`b|c",
        alias: "pr-42",
        commitUrl: "javascript:alert(1)",
        runUrl: "https://x.example/run?a=<b>",
        endpoints: [
          {
            name: "<script>",
            previewUrl: "https://x.example/it's a (test)|\n<b>",
            digest: "sha256:<b>not-hex</b>",
          },
        ],
        notices: ["see #1 and @team", "**bold**"],
      }),
    );
    expect(body).toContain("### ✅ Preview ready: ``a`b\\|c``");
    expect(body).toContain("from commit `ec26c3e` is live");
    expect(body).toContain("| Endpoint | `<script>` |");
    expect(body).toContain("| Preview URL (`pr-42`) | <https://x.example/it's%20a%20(test)%7C%0A%3Cb%3E> |");
    expect(body).toContain("curl -sS -X POST 'https://x.example/it'\\''s%20a%20(test)%7C%0A%3Cb%3E'");
    expect(body).toContain("| Image | `sha256:<b>not-hex</b>` |");
    expect(body).toContain("- see \\#1 and @\u200bteam\n- \\*\\*bold\\*\\*");
    expect(body).toContain("[workflow run](<https://x.example/run?a=%3Cb%3E>)");
  });

  it("cuts huge logs first, keeping their end, and says so", () => {
    const line = `${"x".repeat(40)}\n${"`".repeat(30)}\n`;
    const logs = `${line.repeat(5_000)}the cause is last`;
    const body = renderPreviewComment(model({ state: "failed", failure: { reason: "build failed", logs } }));
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
    expect(body.length).toBeGreaterThan(MAX_COMMENT_CHARS - 2_000);
    expect(body).toContain("the cause is last");
    expect(body).toMatch(
      /_Only the last [0-9,]+ of 360,017 characters are shown: GitHub limits a comment to 65,536 characters/,
    );
    expect(body).toContain("| Endpoint | `predict` |");
    expect(body.endsWith("</sub>\n")).toBe(true);
    outsideFences(body);
  });

  it("leaves out endpoints when even without logs the comment would be too long", () => {
    const endpoints = Array.from({ length: 400 }, (_, i) => ({
      name: `endpoint-${i}`,
      previewUrl: `https://ml.example.com/acme/models/default/pr-42/endpoint-${i}`,
      versionUrl: `https://ml.example.com/acme/models/default/ec26c3e57ca3/endpoint-${i}`,
      digest: DIGEST,
    }));
    const body = renderPreviewComment(
      model({ endpoints, failure: { reason: "r", logs: "y".repeat(100_000) } }),
    );
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
    expect(body).not.toContain("Logs of the last failure");
    expect(body).toMatch(/_[0-9]+ more endpoint\(s\) not shown/);
    expect(body).toContain("endpoint-0");
  });
});

describe("previewSummary", () => {
  it("shows the comment's heading and tables, without the marker, logs or footer", () => {
    const summary = previewSummary(model({ state: "failed", failure: { reason: "r", logs: "boom" } }));
    expect(summary.startsWith("### ❌ Preview failed: `default`")).toBe(true);
    expect(summary).toContain("| Endpoint | `predict` |");
    expect(summary).not.toContain(PREVIEW_MARKER);
    expect(summary).not.toContain("boom");
    expect(summary).not.toContain("<sub>");
  });
});

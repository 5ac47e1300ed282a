// The sticky pull request comment of a preview, and the same tables for the job summary: where the
// preview answers, which version and image it runs, why it failed and what still serves, what a
// fork's pull request waits for. Every value from the model may be a stranger's (branch names,
// reasons, logs, URLs) and goes through markdown.ts. Pure and deterministic: the same model gives
// the same text, so re-posting an unchanged state changes nothing.
import { code, codeBlock, link, safeHref, text } from "./markdown.js";

/** The comment's first line: how Slipway finds its own comment on a pull request again. */
export const PREVIEW_MARKER = "<!-- slipway:preview -->";
/** The second line of a torn-down preview's comment: a repeated close sees it and leaves the comment be. */
export const TORN_DOWN_MARK = "<!-- slipway:torn-down -->";
/** GitHub refuses comment bodies longer than this many characters. */
export const MAX_COMMENT_CHARS = 65_536;

export type PreviewState = "building" | "deploying" | "ready" | "failed" | "torn-down" | "needs-approval";

export interface PreviewEndpoint {
  name: string;
  /** The preview alias's URL for this endpoint. */
  previewUrl?: string;
  /** The version's own URL, which never moves. */
  versionUrl?: string;
  /** `sha256:…` of the version image. */
  digest?: string;
  state?: string;
  reason?: string;
}

export interface PreviewCommentModel {
  pullRequest: number;
  deployment: string;
  /** Full SHA of the commit the version is built from. */
  commit: string;
  commitUrl?: string;
  state: PreviewState;
  version?: string;
  /** The preview alias, e.g. `pr-42`. */
  alias?: string;
  endpoints: PreviewEndpoint[];
  /** What the alias still serves after a failure. */
  serving?: { version: string; commit?: string };
  /** `logs` already masked. */
  failure?: { reason: string; logs?: string };
  /** A fork's pull request: who may deploy it, and the head commit as it was seen. */
  approval?: { requiredPermission: string; headSha: string };
  runUrl?: string;
  updatedAt: Date;
  notices?: string[];
}

const HEADINGS: Record<PreviewState, string> = {
  building: "🛠️ Preview building",
  deploying: "🚀 Preview deploying",
  ready: "✅ Preview ready",
  failed: "❌ Preview failed",
  "torn-down": "🧹 Preview torn down",
  "needs-approval": "⏸️ Preview needs approval",
};

/** Characters of one stranger-written value (a reason, a notice) shown at most; escaping may grow it fivefold. */
const MAX_VALUE = 2_000;
const MAX_NOTICES = 10;
const MAX_NOTICE = 500;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function cut(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = max;
  const unit = value.charCodeAt(end - 1);
  if (unit >= 0xd800 && unit <= 0xdbff) end--;
  return `${value.slice(0, end)}…`;
}

/** A value written by someone else, inert and bounded. */
function say(value: string, max = MAX_VALUE): string {
  return text(cut(value, max));
}

function short(sha: string): string {
  return sha.slice(0, 7);
}

function commitLink(model: PreviewCommentModel): string {
  return link(code(short(model.commit)), model.commitUrl);
}

/** The short digest, with the full one in its title (only a well-formed digest is put in HTML). */
function digest(value: string): string {
  if (!DIGEST.test(value)) return code(value);
  return `<code title="${value}">${value.slice(0, "sha256:".length + 12)}</code>`;
}

/** A POSIX shell word: single-quoted, with each `'` closed, escaped and reopened. */
function shellWord(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

function endpointSection(model: PreviewCommentModel, endpoint: PreviewEndpoint): string {
  const rows: [string, string][] = [];
  const alias = model.alias === undefined ? "" : ` (${code(model.alias)})`;
  if (endpoint.previewUrl !== undefined) rows.push([`Preview URL${alias}`, urlCell(endpoint.previewUrl)]);
  if (endpoint.versionUrl !== undefined) rows.push(["Version URL", urlCell(endpoint.versionUrl)]);
  if (endpoint.state !== undefined) rows.push(["State", say(endpoint.state, 100)]);
  if (endpoint.digest !== undefined) rows.push(["Image", digest(endpoint.digest)]);
  if (endpoint.reason !== undefined) rows.push(["Reason", say(endpoint.reason)]);
  const table = [
    `| Endpoint | ${code(endpoint.name)} |`,
    "| --- | --- |",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ];
  const target = safeHref(endpoint.previewUrl ?? "") ?? safeHref(endpoint.versionUrl ?? "");
  if (target === undefined) return table.join("\n");
  const curl = `curl -sS -X POST ${shellWord(target)} -H 'Content-Type: application/json' --data '{}'`;
  return `${table.join("\n")}\n\n${codeBlock(curl, "sh")}`;
}

function urlCell(value: string): string {
  const safe = safeHref(value);
  return safe === undefined ? code(value) : `<${safe}>`;
}

function versionName(model: PreviewCommentModel): string {
  return model.version === undefined ? "the version" : `version ${code(model.version)}`;
}

/** One paragraph saying where the preview stands. */
function standing(model: PreviewCommentModel): string {
  const from = `${versionName(model)} of ${code(model.deployment)} from commit ${commitLink(model)}`;
  const alias = model.alias === undefined ? "the preview alias" : `the preview alias ${code(model.alias)}`;
  switch (model.state) {
    case "building":
      return `Building ${from}.`;
    case "deploying":
      return `Deploying ${from}; ${alias} moves once every endpoint answers.`;
    case "ready":
      return `${capital(from)} is live at ${alias}.`;
    case "failed":
      return `${capital(from)} did not become ready.`;
    case "torn-down":
      return `The pull request was closed: ${alias} and its versions were removed.`;
    case "needs-approval":
      return `Pull request #${model.pullRequest} comes from a fork: its code is not built or deployed until a maintainer asks for it.`;
  }
}

function capital(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}

function approval(model: PreviewCommentModel): string | undefined {
  if (!model.approval) return undefined;
  const { requiredPermission, headSha } = model.approval;
  return [
    `A maintainer with ${code(requiredPermission)} permission on the repository can comment \`/preview\``,
    `to deploy the head commit as it is at that moment (now ${code(short(headSha))}).`,
    "A later push is not deployed on its own: it needs a new `/preview`.",
  ].join(" ");
}

function failureLines(model: PreviewCommentModel): string[] {
  const lines: string[] = [];
  if (model.failure) lines.push(`**Reason:** ${say(model.failure.reason)}`);
  if (model.serving) {
    const alias = model.alias === undefined ? "The preview alias" : `The preview alias ${code(model.alias)}`;
    lines.push(
      `${alias} still serves version ${code(model.serving.version)}${model.serving.commit ? ` (commit ${code(short(model.serving.commit))})` : ""}.`,
    );
  }
  return lines;
}

/** The last `keep` characters of the logs, from a line's start when one is near. */
function tail(logs: string, keep: number): string {
  if (keep >= logs.length) return logs;
  let start = logs.length - Math.max(0, keep);
  const unit = logs.charCodeAt(start);
  if (unit >= 0xdc00 && unit <= 0xdfff) start++;
  const newline = logs.indexOf("\n", start);
  if (newline >= 0 && newline - start < 200) start = newline + 1;
  return logs.slice(start);
}

function logsSection(logs: string, shown: string): string {
  const note =
    shown.length < logs.length
      ? `\n\n_Only the last ${shown.length.toLocaleString("en-US")} of ${logs.length.toLocaleString("en-US")} characters are shown: GitHub limits a comment to ${MAX_COMMENT_CHARS.toLocaleString("en-US")} characters. The workflow run's log has them all._`
      : "";
  return `<details><summary>Logs of the last failure</summary>${note}\n\n${codeBlock(shown, "text")}\n\n</details>`;
}

function footer(model: PreviewCommentModel): string {
  const when = `${model.updatedAt.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  const run = model.runUrl === undefined ? "" : ` · ${link("workflow run", model.runUrl)}`;
  return `<sub>Updated ${when}${run}</sub>`;
}

interface Cuts {
  /** Characters of the logs kept (from their end); undefined keeps them all. */
  logs?: number;
  /** Endpoints shown; undefined shows them all. */
  endpoints?: number;
}

function sections(model: PreviewCommentModel, cuts: Cuts, forComment: boolean): string[] {
  const parts = [`### ${HEADINGS[model.state]}: ${code(model.deployment)}`, standing(model)];
  const waiting = approval(model);
  if (waiting) parts.push(waiting);
  const failure = failureLines(model);
  if (failure.length > 0) parts.push(failure.join("\n\n"));
  // A torn-down preview's URLs answer no more: they are not shown.
  const all = model.state === "torn-down" ? [] : model.endpoints;
  const shown = all.slice(0, cuts.endpoints ?? all.length);
  for (const endpoint of shown) parts.push(endpointSection(model, endpoint));
  const hidden = all.length - shown.length;
  if (hidden > 0) {
    parts.push(
      `_${hidden} more endpoint(s) not shown: GitHub limits a comment to ${MAX_COMMENT_CHARS.toLocaleString("en-US")} characters. The job summary lists them all._`,
    );
  }
  const notices = model.notices ?? [];
  if (notices.length > 0) {
    const listed = notices.slice(0, MAX_NOTICES).map((n) => `- ${say(n, MAX_NOTICE)}`);
    if (notices.length > MAX_NOTICES) listed.push(`- …and ${notices.length - MAX_NOTICES} more`);
    parts.push(listed.join("\n"));
  }
  if (!forComment) return parts;
  const logs = model.failure?.logs;
  if (logs !== undefined && logs !== "" && cuts.logs !== 0) {
    parts.push(logsSection(logs, tail(logs, cuts.logs ?? logs.length)));
  }
  parts.push(footer(model));
  return [model.state === "torn-down" ? `${PREVIEW_MARKER}\n${TORN_DOWN_MARK}` : PREVIEW_MARKER, ...parts];
}

function render(model: PreviewCommentModel, cuts: Cuts): string {
  return `${sections(model, cuts, true).join("\n\n")}\n`;
}

/**
 * The comment's body, at most MAX_COMMENT_CHARS characters: when it would be longer, the logs are
 * cut first (their end is kept: a failure's cause is usually last), then left out, then endpoints
 * are left out from the last, each cut said in the comment.
 */
export function renderPreviewComment(model: PreviewCommentModel): string {
  let body = render(model, {});
  if (body.length <= MAX_COMMENT_CHARS) return body;
  const logs = model.failure?.logs ?? "";
  // Each try keeps fewer characters by the excess (plus room for the note and a longer fence).
  let keep = logs.length;
  for (let i = 0; i < 4 && keep > 0; i++) {
    keep -= body.length - MAX_COMMENT_CHARS + 400;
    body = render(model, { logs: Math.max(0, keep) });
    if (body.length <= MAX_COMMENT_CHARS) return body;
  }
  let endpoints = model.endpoints.length;
  while (endpoints > 0) {
    endpoints = Math.max(
      0,
      Math.min(endpoints - 1, Math.floor((endpoints * MAX_COMMENT_CHARS) / body.length)),
    );
    body = render(model, { logs: 0, endpoints });
    if (body.length <= MAX_COMMENT_CHARS) return body;
  }
  return body;
}

/** The same heading, standing and endpoint tables for the job summary (no marker, logs or footer). */
export function previewSummary(model: PreviewCommentModel): string {
  return `${sections(model, {}, false).join("\n\n")}\n`;
}

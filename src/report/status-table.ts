// A deployment's status for people: a terminal table (`slipway status`) and markdown for a pull
// request's reply, every value from the cluster made inert. Pure.
import type { AliasStatus, DeploymentStatus } from "../flows/status.js";
import { code, text } from "./markdown.js";

function weights(a: AliasStatus): string {
  return a.weights.length > 1 ? a.weights.map((w) => `${w.version}=${w.weight}`).join(",") : "";
}

function lastMove(a: AliasStatus): string {
  return a.last ? `${a.last.why} by ${a.last.by} at ${a.last.at.toISOString()}` : "";
}

export function formatStatus(status: DeploymentStatus): string {
  const rows = [["ALIAS", "KIND", "VERSION", "SPLIT", "LAST MOVE"]];
  for (const a of status.aliases)
    rows.push([a.alias, a.kind, a.version ?? "-", weights(a) || "-", lastMove(a) || "-"]);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n")}\n`;
}

export function statusMarkdown(status: DeploymentStatus): string {
  const lines = [
    `**${text(status.deployment)}** in namespace ${code(status.namespace)}`,
    "",
    "| Alias | Version | Split | Last move |",
    "| --- | --- | --- | --- |",
  ];
  for (const a of status.aliases) {
    const last = a.last ? `${text(a.last.why)} by ${text(a.last.by)}, ${text(a.last.at.toISOString())}` : "";
    lines.push(
      `| ${code(a.alias)} | ${a.version === undefined ? "none" : code(a.version)} | ${weights(a) ? code(weights(a)) : ""} | ${last} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

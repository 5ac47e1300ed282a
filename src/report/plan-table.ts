// Renders a plan for people: a terminal table and a Markdown table for the job summary, every value
// from the config made inert by markdown.ts. Pure.
import type { EndpointImage } from "../image/result.js";
import type { Plan } from "../plan/plan.js";
import { formatBytes } from "./format-bytes.js";
import { code, text, url } from "./markdown.js";

function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

export function planTable(plan: Plan): string {
  const head = [
    `Deployment  ${plan.deployment} (namespace ${plan.namespace})`,
    `Project     ${plan.owner}/${plan.project}`,
    `Version     ${plan.version} (commit ${plan.commit})`,
    `Aliases     ${plan.aliases.length > 0 ? plan.aliases.map((a) => a.name).join(", ") : "none"}`,
  ];
  if (plan.baseUrl === undefined) head.push("Base URL    not set: showing paths (set deployment.base-url)");
  const rows: string[][] = [["ENDPOINT", "PORT", "RESOURCE", "IMAGE", "URL"]];
  for (const e of plan.endpoints) {
    rows.push([e.name, String(e.port), e.resourceName, e.imageRepository, e.url ?? e.path]);
    for (const a of e.aliases) rows.push(["", "", "", "", `${a.name}: ${a.url ?? a.path}`]);
  }
  return `${head.join("\n")}\n\n${pad(rows).join("\n")}\n`;
}

export function planMarkdown(plan: Plan): string {
  const lines = [
    `### Slipway plan: ${code(plan.deployment)} version ${code(plan.version)}`,
    "",
    "| Endpoint | Port | URL | Aliases |",
    "| --- | --- | --- | --- |",
  ];
  const where = (u: string | undefined, path: string) => (u === undefined ? code(path) : url(u));
  for (const e of plan.endpoints) {
    const aliases = e.aliases.map((a) => `${text(a.name)}: ${where(a.url, a.path)}`).join("<br>");
    lines.push(`| ${code(e.name)} | ${e.port} | ${where(e.url, e.path)} | ${aliases || "—"} |`);
  }
  return `${lines.join("\n")}\n`;
}

export function buildMarkdown(images: readonly EndpointImage[], uploadedBytes: number): string {
  const lines = [
    `### Version images (${formatBytes(uploadedBytes)} uploaded)`,
    "",
    "| Endpoint | Image | Uploaded |",
    "| --- | --- | --- |",
  ];
  for (const i of images)
    lines.push(`| ${code(i.endpoint)} | ${code(i.reference)} | ${formatBytes(i.uploadedBytes)} |`);
  return `${lines.join("\n")}\n`;
}

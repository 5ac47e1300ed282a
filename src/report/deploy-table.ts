// A deployed version for people: the terminal table `slipway deploy` prints and the job summary's
// Markdown, each endpoint with its version URL, alias URLs and image. Pure.
import type { DeployResult } from "../flows/deploy.js";
import type { VersionInfo } from "../flows/versions.js";
import { code, text, url } from "./markdown.js";

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function formatDeployResult(result: DeployResult): string {
  const lines = [
    `Version ${result.version} is ready in namespace ${result.namespace} (${result.applies.changed} of ${result.applies.total} objects changed; ready ${formatSeconds(result.rollout.timing.noticedAt.getTime() - result.rollout.timing.startedAt.getTime())} after applying).`,
    "",
  ];
  const width = Math.max(...result.endpoints.map((e) => e.name.length));
  for (const e of result.endpoints) {
    lines.push(`${e.name.padEnd(width)}  ${e.url ?? e.path}`);
    for (const a of e.aliases) lines.push(`${"".padEnd(width)}  ${a.name}: ${a.url ?? a.path}`);
  }
  return `${lines.join("\n")}\n`;
}

export function deployMarkdown(result: DeployResult): string {
  const lines = [
    `### Deployed version ${code(result.version)} to ${code(result.namespace)}`,
    "",
    "| Endpoint | State | URL | Aliases | Image |",
    "| --- | --- | --- | --- | --- |",
  ];
  const at = (u: string | undefined, path: string) => (u === undefined ? code(path) : url(u));
  for (const e of result.endpoints) {
    const aliases = e.aliases.map((a) => `${text(a.name)}: ${at(a.url, a.path)}`).join("<br>") || "—";
    lines.push(`| ${code(e.name)} | ready | ${at(e.url, e.path)} | ${aliases} | ${code(e.image)} |`);
  }
  return `${lines.join("\n")}\n`;
}

export function formatVersions(versions: readonly VersionInfo[]): string {
  if (versions.length === 0) return "no versions\n";
  const rows = [["VERSION", "STATE", "ALIASES", "DEPLOYED", "BY"]];
  for (const v of versions) {
    const state =
      v.state.kind === "failed"
        ? `failed: ${v.state.reason}`
        : v.state.kind === "progressing"
          ? `progressing: ${v.state.message}`
          : v.state.kind;
    rows.push([v.version, state, v.aliases.join(",") || "-", v.deployedAt, v.deployedBy]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n")}\n`;
}

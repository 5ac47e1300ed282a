// Markdown for GitHub (job summaries, and PR comments to come) from values a pull request may have
// written: config names, URLs, image references. Each helper makes its value inert — no HTML, no
// markdown structure, no table cell breaks — whatever it holds. Pure.

/** Text that renders as itself: HTML and markdown punctuation escaped, line breaks flattened. */
export function text(value: string): string {
  return value
    .replace(/[\r\n]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_{}[\]()#+\-.!|~]/g, (c) => `\\${c}`);
}

/**
 * An inline code span. CommonMark ends a span at a backtick run as long as its opening, so the fence is
 * one longer than the longest run inside; `|` is escaped because GitHub splits table cells on it first.
 */
export function code(value: string): string {
  const flat = value.replace(/[\r\n]+/g, " ");
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  return `${fence}${pad}${flat.replace(/\|/g, "\\|")}${pad}${fence}`;
}

/**
 * A clickable URL: an autolink whose characters outside RFC 3986's set are percent-encoded, so it
 * cannot close the autolink, open HTML or split a table cell. Anything but http(s) is shown as code.
 */
export function url(value: string): string {
  if (!/^https?:\/\//i.test(value)) return code(value);
  const safe = value.replace(/[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/g, (c) =>
    [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
  return `<${safe}>`;
}

// Markdown for GitHub (job summaries and PR comments) from values a pull request may have written:
// config names, URLs, image references, branch names, failure reasons, logs. Each helper makes its
// value inert — no HTML, no markdown structure, no table cell breaks, no mentions — whatever it
// holds. Pure.

/**
 * GitHub turns `@name` in rendered text into a mention (a notification) after markdown is rendered,
 * so escaping the `@` does not stop it; a zero-width space after it does, as Dependabot writes
 * `@​dependabot`. Code spans and blocks are never scanned for mentions.
 */
const ZERO_WIDTH_SPACE = "\u200b";

/** Text that renders as itself: HTML and markdown punctuation escaped, line breaks flattened, no mentions. */
export function text(value: string): string {
  return value
    .replace(/[\r\n]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_{}[\]()#+\-.!|~]/g, (c) => `\\${c}`)
    .replace(/@/g, `@${ZERO_WIDTH_SPACE}`);
}

function longestBacktickRun(value: string): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < value.length; i++) {
    run = value.charCodeAt(i) === 0x60 ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

/**
 * An inline code span. CommonMark ends a span at a backtick run as long as its opening, so the fence is
 * one longer than the longest run inside; `|` is escaped because GitHub splits table cells on it first.
 */
export function code(value: string): string {
  const flat = value.replace(/[\r\n]+/g, " ");
  const fence = "`".repeat(longestBacktickRun(flat) + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  return `${fence}${pad}${flat.replace(/\|/g, "\\|")}${pad}${fence}`;
}

/**
 * A fenced code block. Only a backtick run at least as long as the opening fence closes it, so the
 * fence is longer than any run inside: no line of the content can end the block, and nothing in it
 * is read as markdown or HTML. Carriage returns become line breaks; other control characters, which
 * some renderers choke on, become U+FFFD. `info` is a language name (lowercase letters), or nothing.
 */
export function codeBlock(value: string, info = ""): string {
  const body = value
    .replace(/\r\n?/g, "\n")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "\ufffd");
  const fence = "`".repeat(Math.max(3, longestBacktickRun(body) + 1));
  const language = /^[a-z]{1,20}$/.test(info) ? info : "";
  const end = body === "" || body.endsWith("\n") ? "" : "\n";
  return `${fence}${language}\n${body}${end}${fence}`;
}

/**
 * An http(s) URL with the characters outside RFC 3986's set percent-encoded, so it cannot close an
 * autolink or a link destination, open HTML, break a line or split a table cell; undefined for any
 * other scheme.
 */
export function safeHref(value: string): string | undefined {
  if (!/^https?:\/\//i.test(value)) return undefined;
  return value.replace(/[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/g, (c) =>
    [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

/** A clickable URL: an autolink of the safe form of the URL. Anything but http(s) is shown as code. */
export function url(value: string): string {
  const safe = safeHref(value);
  return safe === undefined ? code(value) : `<${safe}>`;
}

/**
 * `label` (markdown already made inert, e.g. by `code` or `text`) linked to `href`; the destination
 * is written in angle brackets, which the safe form cannot close. Without an http(s) URL, the label alone.
 */
export function link(label: string, href: string | undefined): string {
  const safe = href === undefined ? undefined : safeHref(href);
  return safe === undefined ? label : `[${label}](<${safe}>)`;
}

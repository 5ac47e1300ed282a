// How a problem message shows a value from the file: quoted, short, printable, and without the
// password of any `user:password@` it carries — messages end up in logs, annotations and PR comments.

/** Longer values are cut: a message names a value, it does not reproduce it. */
export const MAX_QUOTED = 80;

/**
 * `scheme://user:pass@` and `user:pass@host` (a registry written without a scheme), wherever they
 * stand in the value, lose their userinfo. Neither pattern can scan a stretch of text twice (each
 * run stops at '/', '@', ':' or a space), so a hostile value costs linear time.
 */
export function redactUserinfo(text: string): string {
  return text
    .replace(/\/\/[^/@\s]*@/g, "//***@")
    .replace(/(^|[^A-Za-z0-9._~%+*-])[A-Za-z0-9._~%+-]*:[^/@\s:]*@/g, "$1***@");
}

function printable(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function cut(text: string): string {
  if (text.length <= MAX_QUOTED) return text;
  let end = MAX_QUOTED;
  // Never split a surrogate pair.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** `'value'`, safe to put in a message. */
export function quote(value: string): string {
  // Redacted before it is cut, so a cut can never leave part of a password standing.
  return `'${cut(printable(redactUserinfo(value)))}'`;
}

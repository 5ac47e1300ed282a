// Branch and tag patterns from `promote-on` (`main`, `release/*`, `v*`): config text, so never
// compiled into a regular expression. `*` stands for any run of characters, `/` included; every
// other character stands for itself.

/**
 * Whether `name` matches `pattern`. The pattern is split at its stars; the first piece must start
 * the name, the last must end it, and each piece between is found after the previous one. Finding
 * the leftmost place for each piece is never wrong for `*`, so the name is scanned once per piece,
 * with no backtracking.
 */
export function matchGlob(pattern: string, name: string): boolean {
  const pieces = pattern.split("*");
  if (pieces.length === 1) return pattern === name;
  const first = pieces[0] as string;
  const last = pieces[pieces.length - 1] as string;
  if (name.length < first.length + last.length) return false;
  if (!name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] as string;
    if (piece === "") continue;
    const found = name.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

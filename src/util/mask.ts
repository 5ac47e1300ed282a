// Secret values removed from text bound for somewhere the runner's log masking does not reach (a PR
// comment, a Deployment status): the app's own logs may print a secret it was given.

/** Replaces every occurrence of each secret (longest first, so one containing another goes whole) with `***`. */
export function masker(secrets: Iterable<string | undefined>): (text: string) => string {
  const values = [...new Set([...secrets].filter((s): s is string => s !== undefined && s.length >= 3))].sort(
    (a, b) => b.length - a.length,
  );
  return (text) => {
    let out = text;
    for (const value of values) out = out.split(value).join("***");
    return out;
  };
}

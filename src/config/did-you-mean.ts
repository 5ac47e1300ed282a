// Suggests the closest known word for a misspelt key or kind.
import { distance } from "fastest-levenshtein";

/**
 * Candidates compared at most: each comparison costs the product of the lengths, so a file with
 * thousands of names must not compare every misspelling with every name.
 */
export const MAX_CANDIDATES = 100;

/** The candidate within a third of the word's length in edits, if any; ties go to the first. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const limit = Math.max(1, Math.floor(word.length / 3));
  for (const candidate of candidates.slice(0, MAX_CANDIDATES)) {
    // Lengths further apart than the limit are further apart in edits too: skipping them bounds the cost.
    if (Math.abs(candidate.length - word.length) > limit) continue;
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

export function suggestion(word: string, candidates: readonly string[]): string {
  const hit = didYouMean(word, candidates);
  return hit ? `; did you mean '${hit}'?` : "";
}

// Bounded page-by-page listing: GitHub pages at most 100 items, and Slipway reads at most `maxPages` of
// them, so a PR with a flood of comments costs a known number of requests.
// https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api

export const PER_PAGE = 100;

export async function listPages<T>(
  fetchPage: (page: number) => Promise<{ data: readonly T[] }>,
  maxPages: number,
): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  for (let page = 1; page <= maxPages; page++) {
    const { data } = await fetchPage(page);
    items.push(...data);
    if (data.length < PER_PAGE) return { items, complete: true };
  }
  return { items, complete: false };
}

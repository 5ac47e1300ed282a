// Whether an endpoint answers through the router yet. A Gateway accepting a route (its status) does
// not mean its data plane sends traffic yet, and the Gateway API reports no per-route "programmed"
// state, so Slipway asks the URL itself: until the router stops answering for it — 404 (no route),
// 502/503/504 (no upstream yet) — the URL is not shown as live. Best effort: a base URL this machine
// cannot reach, or an app that itself answers those codes, ends in a warning, never a failed deploy.
export const ANSWER_WAIT_SECONDS = 60;
const ROUTER_NOT_READY = new Set([404, 502, 503, 504]);
const REQUEST_TIMEOUT_MS = 5_000;
const RETRY_DELAY_MS = 250;

export type AnswerCheck = { url: string; status: number } | { url: string; problem: string };

async function once(url: string, signal: AbortSignal): Promise<number | Error> {
  try {
    const response = await fetch(url, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      redirect: "manual",
    });
    await response.body?.cancel();
    return response.status;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Polls each URL (bounded by `deadline`, ms since the epoch) until the router answers for it. */
export async function awaitAnswers(
  urls: readonly string[],
  deadline: number,
  signal?: AbortSignal,
): Promise<AnswerCheck[]> {
  const stop = signal ?? new AbortController().signal;
  return Promise.all(
    urls.map(async (url): Promise<AnswerCheck> => {
      let last: number | Error = new Error("not tried");
      while (!stop.aborted) {
        last = await once(url, stop);
        if (typeof last === "number" && !ROUTER_NOT_READY.has(last)) return { url, status: last };
        if (Date.now() + RETRY_DELAY_MS >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
      return {
        url,
        problem:
          typeof last === "number"
            ? `still answers ${last}`
            : `cannot be reached from here (${last.message})`,
      };
    }),
  );
}

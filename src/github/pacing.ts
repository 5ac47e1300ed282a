// Spacing of content-creating requests, in the shape the throttling plugin schedules its write and
// notification limiters with (`key(id).schedule(options, fn, ...args)`). The plugin's own groups are
// process-wide Bottleneck instances created by the first client with fixed spacings; these are per client
// so each client (and each test) sets its own.
//
// GitHub's secondary rate limits: "no more than 80 content-generating requests per minute and no more
// than 500 content-generating requests per hour"
// (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits).

export interface PaceLimit {
  readonly count: number;
  readonly windowMs: number;
}

export interface PaceOptions {
  /** Least time between the starts of two requests. */
  readonly minIntervalMs: number;
  /** Rolling windows, each allowing at most `count` starts. */
  readonly limits?: readonly PaceLimit[];
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface Pacer {
  key(id?: string): { schedule(...args: unknown[]): Promise<unknown> };
  /** Starts granted so far. */
  readonly granted: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createPacer(options: PaceOptions): Pacer {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const limits = options.limits ?? [];
  // Starts older than every window and the interval no longer matter.
  const longest = Math.max(options.minIntervalMs, ...limits.map((l) => l.windowMs));
  const starts: number[] = [];
  let tail: Promise<void> = Promise.resolve();
  let granted = 0;

  const delayAt = (t: number): number => {
    let wait = 0;
    const last = starts[starts.length - 1];
    if (last !== undefined) wait = Math.max(wait, last + options.minIntervalMs - t);
    for (const limit of limits) {
      const inWindow = starts.filter((s) => s > t - limit.windowMs);
      if (inWindow.length >= limit.count) {
        const oldest = inWindow[inWindow.length - limit.count];
        if (oldest !== undefined) wait = Math.max(wait, oldest + limit.windowMs - t);
      }
    }
    return wait;
  };

  const turn = (): Promise<void> => {
    const mine = tail.then(async () => {
      for (let wait = delayAt(now()); wait > 0; wait = delayAt(now())) await sleep(wait);
      const t = now();
      starts.push(t);
      while (starts.length > 1 && (starts[0] ?? t) < t - longest) starts.shift();
      granted += 1;
    });
    tail = mine.catch(() => {});
    return mine;
  };

  const scheduler = {
    async schedule(...args: unknown[]): Promise<unknown> {
      const at = args.findIndex((a) => typeof a === "function");
      const fn = args[at];
      if (typeof fn !== "function") throw new TypeError("schedule needs a function");
      await turn();
      return fn(...args.slice(at + 1));
    },
  };
  return {
    key: () => scheduler,
    get granted() {
      return granted;
    },
  };
}

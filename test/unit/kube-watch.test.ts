// The watch loop's protocol handling, driven by scripted API server replies (the wire format of
// https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes):
// line splitting with a bound, resuming from the last resourceVersion (bookmarks included), a relist
// that reports only differences after 410 Gone (as an HTTP status or as an ERROR event), no second
// delivery of a replayed event, and a failure for an ERROR that a relist cannot fix.

import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { KubeError } from "../../src/kube/errors.js";
import type { HttpRequest } from "../../src/kube/transport.js";
import type { KubeList, KubeObject } from "../../src/kube/types.js";
import {
  LineSplitter,
  LineTooLong,
  runWatch,
  type WatchDeps,
  type WatchEvent,
} from "../../src/kube/watch.js";

describe("LineSplitter", () => {
  it("joins lines split across chunks and skips blank ones", () => {
    const s = new LineSplitter(100);
    expect(s.push(Buffer.from('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(s.push(Buffer.from(":2}\n\n"))).toEqual(['{"b":2}']);
    expect(s.push(Buffer.from('{"c":3}'))).toEqual([]);
    expect(s.push(Buffer.from("\n"))).toEqual(['{"c":3}']);
  });

  it("keeps a multi-byte character whole when a chunk ends inside it", () => {
    const bytes = Buffer.from('{"msg":"näyttö ✓"}\n');
    const s = new LineSplitter(100);
    const cut = bytes.indexOf(0xc3) + 1;
    expect([...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))]).toEqual([
      '{"msg":"näyttö ✓"}',
    ]);
  });

  it("refuses a line longer than its bound, even when it arrives in small pieces", () => {
    const s = new LineSplitter(10);
    s.push(Buffer.from("123456"));
    expect(() => s.push(Buffer.from("78901"))).toThrow(LineTooLong);
    expect(() => new LineSplitter(4).push(Buffer.from("12345\n"))).toThrow(LineTooLong);
  });
});

function cm(name: string, rv: string, data = "x"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "ns", resourceVersion: rv },
    data: { v: data },
  };
}

const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;

type Connection = { lines: string[]; end?: boolean } | { status: number; body?: string };

/** An API server that answers each watch request with the next scripted connection; then holds the last one open. */
function server(connections: Connection[], lists: KubeList<KubeObject>[]) {
  const requests: string[] = [];
  let listCalls = 0;
  const deps: WatchDeps = {
    path: "/api/v1/namespaces/ns/configmaps",
    operation: { verb: "watch", kind: "ConfigMap", namespace: "ns" },
    server: "https://k8s.example.com",
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    list: async () => {
      const list = lists[listCalls++];
      if (!list) throw new Error("no more lists scripted");
      return list;
    },
    open: async (req: HttpRequest) => {
      requests.push(req.path);
      const next = connections.shift();
      const stream = new PassThrough();
      if (next === undefined) return { status: 200, stream: stream as unknown as IncomingMessage };
      if ("status" in next) return { status: next.status, body: Buffer.from(next.body ?? "") };
      setImmediate(() => {
        for (const l of next.lines) stream.write(l);
        if (next.end !== false) stream.end();
      });
      return { status: 200, stream: stream as unknown as IncomingMessage };
    },
  };
  return { deps, requests, lists: () => listCalls };
}

/** Runs the watch until `count` events arrived, then stops it. */
async function collect(deps: WatchDeps, count: number, resourceVersion?: string) {
  const events: WatchEvent[] = [];
  const stop = new AbortController();
  const summary = await runWatch(
    deps,
    resourceVersion !== undefined ? { resourceVersion } : {},
    (e) => {
      events.push(e);
      if (events.length >= count) stop.abort();
    },
    { deadline: Date.now() + 10_000, signal: stop.signal },
  );
  return {
    events,
    summary,
    seq: events.map((e) => `${e.type} ${e.object.metadata?.name}${e.fromList ? " (list)" : ""}`),
  };
}

const rvOf = (path: string) => new URL(path, "https://x").searchParams.get("resourceVersion");

describe("runWatch", () => {
  it("lists first, then watches from the list's resourceVersion, and again from the last one seen", async () => {
    const s = server(
      [
        {
          lines: [
            line("ADDED", cm("b", "11")),
            line("BOOKMARK", { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: "15" } }),
          ],
        },
        { lines: [line("MODIFIED", cm("a", "16", "y"))] },
      ],
      [{ items: [cm("a", "9")], resourceVersion: "10" }],
    );
    const { seq, summary } = await collect(s.deps, 3);
    expect(seq).toEqual(["ADDED a (list)", "ADDED b", "MODIFIED a"]);
    expect(s.requests.map(rvOf)).toEqual(["10", "15"]);
    const first = new URL(s.requests[0] ?? "", "https://x").searchParams;
    expect(Object.fromEntries(first)).toMatchObject({ watch: "1", allowWatchBookmarks: "true" });
    expect(Number(first.get("timeoutSeconds"))).toBeLessThanOrEqual(300);
    expect(summary).toMatchObject({ reason: "aborted", resourceVersion: "16", relists: 0, events: 3 });
  });

  it("starts from a given resourceVersion without listing", async () => {
    const s = server([{ lines: [line("ADDED", cm("a", "21"))] }], []);
    const { seq } = await collect(s.deps, 1, "20");
    expect(seq).toEqual(["ADDED a"]);
    expect(s.lists()).toBe(0);
    expect(rvOf(s.requests[0] ?? "")).toBe("20");
  });

  it("after HTTP 410 Gone, lists again and reports only what changed: new, changed and vanished objects", async () => {
    const s = server(
      [
        { status: 410, body: '{"kind":"Status","code":410,"reason":"Expired"}' },
        { lines: [line("ADDED", cm("d", "41"))] },
      ],
      [
        { items: [cm("a", "5"), cm("b", "6"), cm("c", "7")], resourceVersion: "8" },
        { items: [cm("a", "5"), cm("c", "30", "changed"), cm("e", "31")], resourceVersion: "40" },
      ],
    );
    const { seq, summary } = await collect(s.deps, 7);
    expect(seq).toEqual([
      "ADDED a (list)",
      "ADDED b (list)",
      "ADDED c (list)",
      "MODIFIED c (list)",
      "ADDED e (list)",
      "DELETED b (list)",
      "ADDED d",
    ]);
    expect(s.requests.map(rvOf)).toEqual(["8", "40"]);
    expect(summary.relists).toBe(1);
  });

  it("treats an ERROR event with code 410 the same way", async () => {
    const s = server(
      [
        {
          lines: [
            line("ERROR", {
              kind: "Status",
              apiVersion: "v1",
              status: "Failure",
              message: "too old resource version: 8 (30)",
              reason: "Expired",
              code: 410,
            }),
          ],
        },
      ],
      [
        { items: [cm("a", "5")], resourceVersion: "8" },
        { items: [cm("a", "29", "new")], resourceVersion: "30" },
      ],
    );
    const { seq } = await collect(s.deps, 2);
    expect(seq).toEqual(["ADDED a (list)", "MODIFIED a (list)"]);
  });

  it("does not deliver an event again that a server replays after a reconnect", async () => {
    const s = server(
      [
        { lines: [line("ADDED", cm("a", "11"))] },
        { lines: [line("ADDED", cm("a", "11")), line("MODIFIED", cm("a", "12"))] },
      ],
      [{ items: [], resourceVersion: "10" }],
    );
    const { seq, events } = await collect(s.deps, 2);
    expect(seq).toEqual(["ADDED a", "MODIFIED a"]);
    expect(events.map((e) => e.object.metadata?.resourceVersion)).toEqual(["11", "12"]);
  });

  it("watches again after an ERROR event for the server's own trouble (5xx)", async () => {
    const s = server(
      [
        {
          lines: [
            line("ERROR", {
              kind: "Status",
              status: "Failure",
              message: "etcdserver: request timed out",
              code: 500,
            }),
          ],
        },
        { lines: [line("ADDED", cm("a", "2"))] },
      ],
      [{ items: [], resourceVersion: "1" }],
    );
    const { seq } = await collect(s.deps, 1);
    expect(seq).toEqual(["ADDED a"]);
    expect(s.requests.map(rvOf)).toEqual(["1", "1"]);
  });

  it("fails on an ERROR event that watching again cannot fix, with the server's message", async () => {
    const s = server(
      [
        {
          lines: [
            line("ERROR", {
              kind: "Status",
              status: "Failure",
              message: "the server rejected our request",
              code: 400,
            }),
          ],
        },
      ],
      [{ items: [], resourceVersion: "1" }],
    );
    const err = await collect(s.deps, 1).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).message).toContain("the server rejected our request");
  });

  it("rides out an API server that is unreachable for a while, then gives up with its error", async () => {
    const refused = new KubeError("watch ConfigMap: cannot reach the Kubernetes API server", {
      operation: { verb: "watch" },
      server: "https://k8s.example.com",
      code: "ECONNREFUSED",
    });
    const s = server([{ lines: [line("ADDED", cm("a", "2"))] }], [{ items: [], resourceVersion: "1" }]);
    const open = s.deps.open;
    let calls = 0;
    const flaky: WatchDeps = {
      ...s.deps,
      open: (req) => (++calls <= 2 ? Promise.reject(refused) : open(req)),
    };
    const { seq } = await collect(flaky, 1);
    expect(seq).toEqual(["ADDED a"]);
    expect(calls).toBe(3);

    const down: WatchDeps = { ...s.deps, open: () => Promise.reject(refused) };
    const err = await runWatch(down, { resourceVersion: "1" }, () => {}, {
      deadline: Date.now() + 10_000,
      outageToleranceMs: 30,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBe(refused);
  });

  it("ends at the deadline while the stream is quiet", async () => {
    const s = server([{ lines: [], end: false }], [{ items: [], resourceVersion: "1" }]);
    const summary = await runWatch(s.deps, {}, () => {}, { deadline: Date.now() + 50 });
    expect(summary).toMatchObject({ reason: "deadline", connections: 1, events: 0 });
  });
});

// Test support: an HTTP proxy on loopback in front of one registry that counts request-body bytes,
// can cut the connection once after N body bytes (the registry sees a client that vanished
// mid-upload, the client sees a reset), can stall a request after N body bytes (nothing more moves
// either way and nothing is closed: only the client's own timeout ends it), can answer matching
// requests itself with any status (5xx/429, 416), and can lose a reply: the request reaches the
// registry whole and the registry acts on it, then the connection drops before the client hears
// back (a non-idempotent request whose outcome the client cannot know).
// The Host header passes through unchanged, so the registry's Location URLs point back at the proxy.

import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";

export interface ProxiedRequest {
  method: string;
  url: string;
  /** Body bytes received from the client. */
  bodyBytes: number;
  status?: number;
  injected?: boolean;
  cut?: boolean;
  stalled?: boolean;
  /** The registry answered (with `status`) and the client never got the reply. */
  replyDropped?: boolean;
}

export interface InjectRule {
  match: (method: string, url: string) => boolean;
  status: number;
  headers?: Record<string, string>;
  /** Reply body; default an OCI error envelope with code UNAVAILABLE. */
  body?: string;
  /** How many matching requests get the injected answer (default 1; Infinity for always). */
  times?: number;
  /** Let this many matching requests through before injecting. */
  skip?: number;
}

export interface StallRule {
  match: (method: string, url: string) => boolean;
  /** Body bytes of the request forwarded before the stall. */
  afterBytes: number;
  /** How many matching requests stall (default 1; Infinity for always). */
  times?: number;
  /** Let this many matching requests through before stalling. */
  skip?: number;
  /**
   * How long the registry side stays open after the client gave up, as a registry's own read
   * timeout would keep it (default 0: closed at once, as a proxy that notices the client leave).
   */
  upstreamLingerMs?: number;
}

export interface DropReplyRule {
  match: (method: string, url: string) => boolean;
  /** How many matching requests lose their reply (default 1; Infinity for always). */
  times?: number;
  /** Let this many matching requests through first. */
  skip?: number;
}

export interface CuttingProxy {
  host: string;
  /** Body bytes received from clients (what a client put on the wire). */
  readonly clientBytes: number;
  /** Body bytes forwarded to the registry. */
  readonly upstreamBytes: number;
  requests: ProxiedRequest[];
  /** Cut the connection once, after `afterBytes` more body bytes of matching requests. */
  cutOnce(afterBytes: number, match?: (method: string, url: string) => boolean): void;
  inject(rule: InjectRule): void;
  stall(rule: StallRule): void;
  dropReply(rule: DropReplyRule): void;
  close(): Promise<void>;
}

export async function startCuttingProxy(upstream: string): Promise<CuttingProxy> {
  const [upHost, upPort] = upstream.split(":");
  const agent = new Agent({ keepAlive: false });
  let clientBytes = 0;
  let upstreamBytes = 0;
  const requests: ProxiedRequest[] = [];
  const rules: Array<InjectRule & { seen: number; used: number }> = [];
  const stalls: Array<StallRule & { seen: number; used: number }> = [];
  const drops: Array<DropReplyRule & { seen: number; used: number }> = [];
  const lingering = new Set<NodeJS.Timeout>();
  let cut: { remaining: number; match: (m: string, u: string) => boolean } | undefined;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const record: ProxiedRequest = { method, url, bodyBytes: 0 };
    requests.push(record);

    const rule = rules.find(
      (r) => r.match(method, url) && r.seen++ >= (r.skip ?? 0) && r.used < (r.times ?? 1),
    );
    if (rule) {
      rule.used++;
      record.injected = true;
      record.status = rule.status;
      req.on("data", (c: Buffer) => {
        record.bodyBytes += c.length;
        clientBytes += c.length;
      });
      req.on("end", () => {
        res.writeHead(rule.status, { "content-type": "application/json", ...rule.headers });
        res.end(
          rule.body ??
            JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "injected by test proxy" }] }),
        );
      });
      return;
    }

    const stall = stalls.find(
      (r) => r.match(method, url) && r.seen++ >= (r.skip ?? 0) && r.used < (r.times ?? 1),
    );
    if (stall) stall.used++;
    const drop = drops.find(
      (r) => r.match(method, url) && r.seen++ >= (r.skip ?? 0) && r.used < (r.times ?? 1),
    );
    if (drop) drop.used++;
    let stallIn = stall?.afterBytes;
    const armed = cut?.match(method, url) ? cut : undefined;
    const up = request(
      { host: upHost, port: Number(upPort), method, path: url, headers: req.headers, agent },
      (upRes) => {
        if (record.stalled) {
          upRes.resume(); // a stalled exchange delivers nothing, not even an early reply
          return;
        }
        record.status = upRes.statusCode ?? 0;
        if (drop) {
          // The registry has answered, so it has acted; the client hears nothing but a closed socket.
          record.replyDropped = true;
          upRes.resume();
          upRes.on("end", () => req.socket.destroy());
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.on("data", (c: Buffer) => {
      if (record.cut || record.stalled) return;
      record.bodyBytes += c.length;
      clientBytes += c.length;
      if (stall && stallIn !== undefined && c.length >= stallIn) {
        const part = c.subarray(0, stallIn);
        record.stalled = true;
        upstreamBytes += part.length;
        up.write(part);
        // Read no more: the client's writes back up in the socket buffers and no reply ever comes.
        req.pause();
        req.socket.once("close", () => {
          const t = setTimeout(() => {
            lingering.delete(t);
            up.destroy();
          }, stall.upstreamLingerMs ?? 0);
          lingering.add(t);
        });
        return;
      }
      if (stallIn !== undefined) stallIn -= c.length;
      if (armed && cut === armed && c.length >= armed.remaining) {
        const part = c.subarray(0, armed.remaining);
        cut = undefined;
        record.cut = true;
        upstreamBytes += part.length;
        up.write(part);
        // Give the registry time to store what it got, then drop both sides like a broken network.
        setTimeout(() => {
          up.destroy();
          req.socket.destroy();
        }, 50);
        return;
      }
      if (armed && cut === armed) armed.remaining -= c.length;
      upstreamBytes += c.length;
      up.write(c);
    });
    req.on("end", () => {
      if (!record.cut && !record.stalled) up.end();
    });
  };

  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    get clientBytes() {
      return clientBytes;
    },
    get upstreamBytes() {
      return upstreamBytes;
    },
    requests,
    cutOnce(afterBytes, match = () => true) {
      cut = { remaining: afterBytes, match };
    },
    inject(rule) {
      rules.push({ ...rule, seen: 0, used: 0 });
    },
    stall(rule) {
      stalls.push({ ...rule, seen: 0, used: 0 });
    },
    dropReply(rule) {
      drops.push({ ...rule, seen: 0, used: 0 });
    },
    close: () =>
      new Promise<void>((r) => {
        for (const t of lingering) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => r());
        agent.destroy();
      }),
  };
}

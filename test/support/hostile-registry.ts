// Test support: a registry that may answer anything, on loopback. A test gives it a handler per
// request; it records every request it receives (method, URL, headers, body) so a test can check
// what reached it — no credentials, say — and scan all of it for secrets. With a certificate it
// speaks https, and optionally plain http on the same port as well (the first byte of a connection
// says which: 0x16 opens a TLS handshake, RFC 8446 §5.1), so a redirect or Location can point to
// the very same host and port over http, as a downgrade would. Replies that never end or trickle
// are helpers here; each stops by itself at a byte cap, and all stop when the client goes away.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { makeTestCert, type TestCert } from "./test-cert.js";

export interface ReceivedRequest {
  scheme: "http" | "https";
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export type HostileHandler = (req: ReceivedRequest, res: ServerResponse) => void | Promise<void>;

export interface HostileServer {
  /** "127.0.0.x:port", the form ImageName.registry takes. */
  host: string;
  port: number;
  requests: ReceivedRequest[];
  /** The requests received (those `which` picks), head and body, as text: for the secret scan. */
  received(which?: (r: ReceivedRequest) => boolean): string;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, for an https stand-in. */
export function makeLoopbackCert(dir: string): TestCert {
  return makeTestCert(dir, "tls", "127.0.0.1", "127.0.0.1");
}

/** Request bodies are read whole; a test server has no business with large ones. */
const MAX_REQUEST_BODY = 64 * 1024 * 1024;

export async function startHostileServer(opts: {
  handle: HostileHandler;
  /** Loopback address to listen on (another one stands for another host). Default 127.0.0.1. */
  address?: string;
  /** Serve https with this certificate. */
  tls?: TestCert;
  /** With `tls`: answer plain http on the same port too. */
  plainToo?: boolean;
}): Promise<HostileServer> {
  const requests: ReceivedRequest[] = [];
  const app = (req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST_BODY) req.destroy();
      else parts.push(c);
    });
    req.on("end", () => {
      const r: ReceivedRequest = {
        scheme: req.socket instanceof TLSSocket ? "https" : "http",
        method: req.method ?? "GET",
        url: req.url ?? "/",
        headers: req.headers,
        body: Buffer.concat(parts),
      };
      requests.push(r);
      Promise.resolve(opts.handle(r, res)).catch(() => res.destroy());
    });
  };

  const http = createHttpServer(app);
  const https = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, app) : undefined;
  const sockets = new Set<Socket>();
  let listener: Server;
  if (https && opts.plainToo) {
    listener = createNetServer((socket) => {
      socket.once("readable", () => {
        const first: Buffer | null = socket.read(1);
        if (first === null) {
          socket.destroy();
          return;
        }
        socket.unshift(first);
        (first[0] === 0x16 ? https : http).emit("connection", socket);
      });
    });
  } else {
    listener = https ?? http;
  }
  listener.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => listener.listen(0, opts.address ?? "127.0.0.1", () => r()));
  const addr = listener.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    host: `${opts.address ?? "127.0.0.1"}:${port}`,
    port,
    requests,
    received: (which = () => true) =>
      requests
        .filter(which)
        .map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body.toString("latin1")}`)
        .join("\n"),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        listener.close(() => r());
      }),
  };
}

/**
 * A registry's own Basic challenge, as distribution's htpasswd mode sends it: true when the request
 * carries exactly these credentials; otherwise answers 401 and returns false.
 */
export function basicGate(
  req: ReceivedRequest,
  res: ServerResponse,
  user: string,
  password: string,
): boolean {
  if (req.headers.authorization === `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`)
    return true;
  res.writeHead(401, { "www-authenticate": 'Basic realm="hostile"' }).end();
  return false;
}

/** What a streamed reply got to send before it ended. */
export interface ReplyReport {
  bytesWritten: number;
  /** The client closed the connection before the reply was complete. */
  abandoned: boolean;
  /** Resolves when the reply has ended one way or the other. */
  ended: Promise<void>;
}

function streamReply(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  capBytes: number,
  next: (write: (b: Buffer) => boolean, report: ReplyReport) => void,
): ReplyReport {
  let settle = () => {};
  const report: ReplyReport = {
    bytesWritten: 0,
    abandoned: false,
    ended: new Promise<void>((r) => {
      settle = r;
    }),
  };
  res.writeHead(status, headers);
  res.on("close", () => {
    report.abandoned = !res.writableFinished;
    settle();
  });
  const write = (b: Buffer): boolean => {
    const room = capBytes - report.bytesWritten;
    const piece = b.length > room ? b.subarray(0, room) : b;
    report.bytesWritten += piece.length;
    return res.write(piece);
  };
  next(write, report);
  return report;
}

/**
 * A body that goes on and on: `chunkBytes` at a time as fast as the client reads (backpressure is
 * honoured, so bytesWritten is what the client's socket accepted plus kernel buffers), up to capBytes.
 */
export function sendEndless(
  res: ServerResponse,
  opts: { chunkBytes: number; capBytes: number; status?: number; headers?: Record<string, string> },
): ReplyReport {
  const chunk = Buffer.alloc(opts.chunkBytes, 0x7b); // "{{{{…": starts like JSON, never ends like it
  const headers = { "content-type": "application/json", ...opts.headers };
  return streamReply(res, opts.status ?? 200, headers, opts.capBytes, (write, report) => {
    const pump = () => {
      while (!res.destroyed && report.bytesWritten < opts.capBytes) {
        if (!write(chunk)) return void res.once("drain", pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  });
}

/** One byte every intervalMs, up to capBytes: a body that is never idle and never done. */
export function sendTrickle(
  res: ServerResponse,
  opts: { intervalMs: number; capBytes: number; status?: number; headers?: Record<string, string> },
): ReplyReport {
  const headers = { "content-type": "application/json", ...opts.headers };
  return streamReply(res, opts.status ?? 200, headers, opts.capBytes, (write, report) => {
    const timer = setInterval(() => {
      if (res.destroyed || report.bytesWritten >= opts.capBytes) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      write(Buffer.from("{"));
    }, opts.intervalMs);
    res.on("close", () => clearInterval(timer));
  });
}

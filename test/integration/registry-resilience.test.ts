// The registry client when things go wrong slowly or subtly, against real distribution registries on
// loopback: tokens that expire (or that the registry refuses before they should) are fetched again
// exactly once; a registry that stalls mid-chunk is cut off by the per-chunk timeout and the blob
// still lands, in bounded time; a 416 on a chunk makes the client ask for the upload's offset and
// continue from there, or start over when the session is gone.

import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Endpoint } from "../../src/config/types.js";
import { silentLog } from "../../src/image/log.js";
import { RegistryBuilder } from "../../src/image/registry-builder.js";
import {
  OCI_CONFIG,
  OCI_MANIFEST,
  type RegistryClient,
  type RegistryClientOptions,
  staticCredentials,
} from "../../src/registry/index.js";
import { blob, oneLayerManifest, readAll } from "../support/blobs.js";
import { type CuttingProxy, startCuttingProxy } from "../support/cutting-proxy.js";
import {
  basicGate,
  type HostileServer,
  type ReceivedRequest,
  type ReplyReport,
  sendEndless,
  sendTrickle,
  startHostileServer,
} from "../support/hostile-registry.js";
import { type RegistryInstance, startRegistry, tokenAuth } from "../support/registry-instance.js";
import { SecretScan, scannedClient, secretForms } from "../support/secret-scan.js";
import { startTokenIssuer, type TokenIssuer } from "../support/token-issuer.js";

const USER = "ci-bot";
const PASS = `token-${randomBytes(12).toString("hex")}`;

let dir: string;
const scan = new SecretScan();
/** Every token issuer started, so the final scan knows every token handed out. */
const issuers: TokenIssuer[] = [];

function client(extra: RegistryClientOptions = {}): RegistryClient {
  return scannedClient(scan, { timeoutMs: 5_000, ...extra });
}

const captureError = (p: Promise<unknown>) => scan.capture(p);

/** A one-layer image: layer, config, manifest — every request needs push on the repository. */
async function pushImage(c: RegistryClient, registry: string, repository: string, tag: string) {
  const layer = blob(randomBytes(3000));
  const config = blob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", tag })));
  await c.ensureBlob({ registry, repository }, layer);
  await c.ensureBlob({ registry, repository }, config);
  const manifest = oneLayerManifest(config, layer);
  return c.putManifest({ registry, repository, tag }, OCI_MANIFEST, manifest);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slipway-registry-resilience-"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A token registry behind a proxy that records every status the client saw. */
interface TokenSetup {
  issuer: TokenIssuer;
  registry: RegistryInstance;
  proxy: CuttingProxy;
}

async function tokenSetup(name: string, lifetime: { expiresInS: number; acceptedForS: number }) {
  const own = join(dir, name);
  await mkdir(own);
  const issuer = await startTokenIssuer({ dir: own, users: { [USER]: PASS }, ...lifetime });
  issuers.push(issuer);
  const registry = await startRegistry({ auth: tokenAuth(issuer) });
  const proxy = await startCuttingProxy(registry.host);
  return { issuer, registry, proxy };
}

async function stopSetup(s: TokenSetup | undefined): Promise<void> {
  await s?.proxy.close();
  await Promise.all([s?.registry.stop(), s?.issuer.close()]);
}

/** Polls the registry directly until it refuses `token` (bounded): proof the expiry is real. */
async function untilRefused(s: TokenSetup, repository: string, token: string): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const r = await fetch(`http://${s.registry.host}/v2/${repository}/blobs/sha256:${"0".repeat(64)}`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${token}` },
    });
    if (r.status === 401) return r.headers.get("www-authenticate") ?? "";
    expect(r.status).toBe(404);
    if (Date.now() > deadline) throw new Error("the registry still accepts the token after 5 s");
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe("token expiry", () => {
  let short: TokenSetup | undefined;
  let early: TokenSetup | undefined;
  beforeAll(async () => {
    [short, early] = await Promise.all([
      // Honest short-lived tokens: expires_in 2 s and the registry refuses them after 2 s.
      tokenSetup("short", { expiresInS: 2, acceptedForS: 2 }),
      // Tokens the registry refuses long before the 300 s that expires_in promised.
      tokenSetup("early", { expiresInS: 300, acceptedForS: 2 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([stopSetup(short), stopSetup(early)]);
  });

  it("fetches a fresh token once the old one expired, before the registry has to refuse it", async () => {
    const s = short as TokenSetup;
    const c = client({ credentials: staticCredentials(s.proxy.host, { username: USER, password: PASS }) });
    await pushImage(c, s.proxy.host, "ml/short", "v1");
    expect(s.issuer.requests).toHaveLength(1);
    const first = s.issuer.issued[0] as string;

    expect(await untilRefused(s, "ml/short", first)).toContain('error="invalid_token"');
    // The client renews a 2 s token 10% early, counting from before it asked for it (at the latest
    // when it was issued); be past that as well as past the registry's refusal.
    const wait = (s.issuer.requests[0]?.at ?? 0) + 2_000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));

    const before = s.proxy.requests.length;
    await pushImage(c, s.proxy.host, "ml/short", "v2");
    expect(s.issuer.requests).toHaveLength(2);
    expect(s.issuer.issued[1]).not.toBe(first);
    // Renewed ahead of time: the expired token never reached the registry.
    expect(s.proxy.requests.slice(before).filter((r) => r.status === 401)).toEqual([]);
    expect(
      (await c.getManifest({ registry: s.proxy.host, repository: "ml/short", tag: "v2" })).digest,
    ).toMatch(/^sha256:/);
  });

  it("fetches again exactly once when the registry refuses a token it was told is valid, then stops", async () => {
    const s = early as TokenSetup;
    const c = client({ credentials: staticCredentials(s.proxy.host, { username: USER, password: PASS }) });
    await pushImage(c, s.proxy.host, "ml/early", "v1");
    expect(s.issuer.requests).toHaveLength(1);
    await untilRefused(s, "ml/early", s.issuer.issued[0] as string);

    // The cached token is refused (invalid_token) → dropped → one new token → the push goes on.
    let before = s.proxy.requests.length;
    await pushImage(c, s.proxy.host, "ml/early", "v2");
    expect(s.issuer.requests).toHaveLength(2);
    expect(s.proxy.requests.slice(before).filter((r) => r.status === 401)).toHaveLength(1);

    // From now on every token is refused on arrival. Once the current one dies, the client must
    // fetch one replacement, see it refused too, and stop with an error rather than loop.
    s.issuer.acceptedForS = -5;
    await untilRefused(s, "ml/early", s.issuer.issued[1] as string);
    before = s.proxy.requests.length;
    const err = await captureError(pushImage(c, s.proxy.host, "ml/early", "v3"));
    expect(s.issuer.requests).toHaveLength(3);
    expect(s.proxy.requests.slice(before)).toHaveLength(2);
    expect(err.status).toBe(401);
    expect(err.code).toBe("UNAUTHORIZED");
    expect(err.registry).toBe(s.proxy.host);
    expect(err.message).toContain(`${s.proxy.host}/ml/early`);
    expect(err.message).toContain(USER);
    expect(err.message).toMatch(/refused a freshly issued token as invalid/);
  });
});

/** A plain registry behind a cutting proxy, started for the enclosing describe block. */
function proxiedRegistry(): { readonly plain: RegistryInstance; readonly proxy: CuttingProxy } {
  let plain: RegistryInstance | undefined;
  let proxy: CuttingProxy | undefined;
  beforeAll(async () => {
    plain = await startRegistry();
    proxy = await startCuttingProxy(plain.host);
  });
  afterAll(async () => {
    await proxy?.close();
    await plain?.stop();
  });
  return {
    get plain() {
      if (!plain) throw new Error("registry not started");
      return plain;
    },
    get proxy() {
      if (!proxy) throw new Error("proxy not started");
      return proxy;
    },
  };
}

describe("a registry that stalls mid-chunk", () => {
  const stand = proxiedRegistry();

  const chunkSize = 64 * 1024;

  it("times the chunk out, recovers and lands the blob with the right digest", async () => {
    const timeoutMs = 400;
    const c = client({ chunkSize, timeoutMs });
    const opens: number[] = [];
    const b = blob(randomBytes(5 * chunkSize + 1234), opens);
    // The third chunk stops after 20 000 bytes; the connection stays open and silent.
    stand.proxy.stall({
      match: (m, u) => m === "PATCH" && u.includes("/app/stall/"),
      afterBytes: 20_000,
      skip: 2,
    });
    const res = await c.ensureBlob({ registry: stand.proxy.host, repository: "app/stall" }, b);
    expect(res.how).toBe("uploaded");
    expect(stand.proxy.requests.filter((r) => r.stalled)).toHaveLength(1);
    // distribution 2.8 drops a session that received part of a chunk (GET status → 404), so the
    // client starts over rather than resuming; a registry that kept it would be resumed instead.
    expect(opens).toEqual([0, 0]);
    const mine = scan.logs.filter((l) => l.includes("/app/stall:"));
    expect(
      mine.some((l) =>
        l.includes(
          `PATCH blob chunk ${stand.proxy.host}/app/stall failed after 1 attempt(s): timed out after ${timeoutMs} ms`,
        ),
      ),
    ).toBe(true);
    expect(mine.some((l) => l.includes("restarting from byte 0"))).toBe(true);
    expect((await readAll(await c.getBlob(stand.plain.host, "app/stall", b.digest))).equals(b.bytes)).toBe(
      true,
    );
  });

  it("is not disturbed by the stalled request ending late on the registry side", async () => {
    const c = client({ chunkSize, timeoutMs: 400 });
    const b = blob(randomBytes(5 * chunkSize + 1234));
    // The registry keeps reading the abandoned request for another second (its own read timeout).
    stand.proxy.stall({
      match: (m, u) => m === "PATCH" && u.includes("/app/linger/"),
      afterBytes: 20_000,
      skip: 2,
      upstreamLingerMs: 1_000,
    });
    const res = await c.ensureBlob({ registry: stand.proxy.host, repository: "app/linger" }, b);
    expect(res.how).toBe("uploaded");
    expect(stand.proxy.requests.filter((r) => r.stalled && r.url.includes("/app/linger/"))).toHaveLength(1);
    // Once the old request has been closed on the registry, the stored blob is still intact.
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await readAll(await c.getBlob(stand.plain.host, "app/linger", b.digest))).equals(b.bytes)).toBe(
      true,
    );
  });

  it("gives up after the attempt budget with an error naming the registry and the operation", async () => {
    const timeoutMs = 300;
    const c = client({ chunkSize, timeoutMs, retries: 3 });
    const b = blob(randomBytes(3 * chunkSize));
    stand.proxy.stall({
      match: (m, u) => m === "PATCH" && u.includes("/app/stuck/"),
      afterBytes: 1000,
      times: Number.POSITIVE_INFINITY,
    });
    const before = stand.proxy.requests.length;
    const err = await captureError(c.ensureBlob({ registry: stand.proxy.host, repository: "app/stuck" }, b));
    const seen = stand.proxy.requests.slice(before);
    expect(seen.filter((r) => r.stalled)).toHaveLength(3);
    expect(err.registry).toBe(stand.proxy.host);
    expect(err.operation).toBe("upload blob");
    expect(err.code).toBe("ETIMEDOUT");
    expect(err.message).toContain(`to ${stand.proxy.host}/app/stuck failed after 3 attempts`);
    expect(err.message).toContain(`PATCH blob chunk ${stand.proxy.host}/app/stuck`);
    expect(err.message).toContain(`timed out after ${timeoutMs} ms`);
    // The abandoned session is cancelled.
    expect(seen.at(-1)?.method).toBe("DELETE");
  });
});

describe("416 Range Not Satisfiable on a chunk", () => {
  const stand = proxiedRegistry();

  const chunkSize = 32 * 1024;
  const isUploadStatus = (m: string, u: string) => m === "GET" && u.includes("/blobs/uploads/");

  it("asks the registry for the upload's offset and continues from there", async () => {
    const c = client({ chunkSize });
    const target = { registry: stand.proxy.host, repository: "app/range" };
    const done = blob(randomBytes(2 * chunkSize));
    expect((await c.ensureBlob(target, done)).how).toBe("uploaded");

    const opens: number[] = [];
    const b = blob(randomBytes(6 * chunkSize), opens);
    // Refuse the third chunk, as a registry that disagrees about the offset must (OCI: 416).
    stand.proxy.inject({
      match: (m, u) => m === "PATCH" && u.includes("/app/range/"),
      status: 416,
      body: "",
      skip: 2,
    });
    const before = stand.proxy.requests.length;
    const upstreamStart = stand.proxy.upstreamBytes;
    const res = await c.ensureBlob(target, b);
    const seen = stand.proxy.requests.slice(before);
    expect(res.how).toBe("uploaded");
    const refused = seen.findIndex((r) => r.status === 416);
    expect(refused).toBeGreaterThan(0);
    expect(seen.slice(refused).some((r) => isUploadStatus(r.method, r.url) && r.status === 204)).toBe(true);
    expect(opens).toEqual([0, 2 * chunkSize]);
    // The registry got every byte exactly once; the refused chunk never reached it.
    expect(stand.proxy.upstreamBytes - upstreamStart).toBe(b.size);
    expect((await readAll(await c.getBlob(stand.plain.host, "app/range", b.digest))).equals(b.bytes)).toBe(
      true,
    );

    // The blob finished earlier is never sent again.
    const rerun = stand.proxy.upstreamBytes;
    expect(await c.ensureBlob(target, done)).toEqual({ uploadedBytes: 0, how: "present" });
    expect(stand.proxy.upstreamBytes).toBe(rerun);
  });

  it("starts a new session from byte 0 when the registry no longer knows the one it refused", async () => {
    const c = client({ chunkSize });
    const target = { registry: stand.proxy.host, repository: "app/range-gone" };
    const opens: number[] = [];
    const b = blob(randomBytes(4 * chunkSize + 100), opens);
    stand.proxy.inject({
      match: (m, u) => m === "PATCH" && u.includes("/app/range-gone/"),
      status: 416,
      body: "",
      skip: 1,
    });
    stand.proxy.inject({
      match: (m, u) => isUploadStatus(m, u) && u.includes("/app/range-gone/"),
      status: 404,
      body: JSON.stringify({ errors: [{ code: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown" }] }),
    });
    const before = stand.proxy.requests.length;
    const res = await c.ensureBlob(target, b);
    expect(res.how).toBe("uploaded");
    expect(opens).toEqual([0, 0]);
    expect(stand.proxy.requests.slice(before).filter((r) => r.method === "POST")).toHaveLength(2);
    expect(scan.logs.some((l) => l.includes("upload session gone; restarting from byte 0"))).toBe(true);
    expect(
      (await readAll(await c.getBlob(stand.plain.host, "app/range-gone", b.digest))).equals(b.bytes),
    ).toBe(true);
  });
});

describe("repeating only what is safe to repeat (a proxy that loses replies the registry acted on)", () => {
  const stand = proxiedRegistry();
  const chunkSize = 32 * 1024;
  /** POSTs that reached the registry for `repository`, as [status, reply lost]. */
  const posts = (since: number, repository: string) =>
    stand.proxy.requests
      .slice(since)
      .filter((r) => r.method === "POST" && r.url.includes(`/${repository}/blobs/uploads/`))
      .map((r) => [r.status, r.replyDropped === true]);

  it("asks with HEAD whether a mount whose reply was lost went through, rather than mounting again", async () => {
    const c = client({ chunkSize });
    const b = blob(randomBytes(5000));
    await c.ensureBlob({ registry: stand.proxy.host, repository: "app/mount-src" }, b);
    stand.proxy.dropReply({ match: (m, u) => m === "POST" && u.includes("/app/mount-dst/") });
    const before = stand.proxy.requests.length;
    const res = await c.ensureBlob(
      { registry: stand.proxy.host, repository: "app/mount-dst" },
      {
        digest: b.digest,
        size: b.size,
        sources: [{ registry: stand.proxy.host, repository: "app/mount-src" }],
      },
    );
    expect(res).toEqual({ uploadedBytes: 0, how: "mounted" });
    // One mount, which the registry carried out; then a HEAD found the blob there.
    expect(posts(before, "app/mount-dst")).toEqual([[201, true]]);
    expect(stand.proxy.requests.at(-1)).toMatchObject({ method: "HEAD", status: 200 });
  });

  it("starts another session when the reply to the session POST was lost, and the blob lands", async () => {
    const c = client({ chunkSize });
    const b = blob(randomBytes(3 * chunkSize));
    stand.proxy.dropReply({ match: (m, u) => m === "POST" && u.includes("/app/session-lost/") });
    const before = stand.proxy.requests.length;
    expect((await c.ensureBlob({ registry: stand.proxy.host, repository: "app/session-lost" }, b)).how).toBe(
      "uploaded",
    );
    // The first session is left behind empty (the registry expires it); the second carries the blob.
    expect(posts(before, "app/session-lost")).toEqual([
      [202, true],
      [202, false],
    ]);
    expect(scan.logs.some((l) => l.includes("/app/session-lost: no upload session; starting another"))).toBe(
      true,
    );
    expect(
      (await readAll(await c.getBlob(stand.plain.host, "app/session-lost", b.digest))).equals(b.bytes),
    ).toBe(true);
  });

  it("opens at most `retries` sessions for one blob, however many replies are lost", async () => {
    const retries = 3;
    const c = client({ chunkSize, retries });
    const b = blob(randomBytes(4 * chunkSize));
    const mine = (u: string) => u.includes("/app/orphans/");
    // The first chunk fails, the registry no longer knows the session, and every later session
    // POST is carried out by the registry with its reply lost.
    stand.proxy.inject({ match: (m, u) => m === "PATCH" && mine(u), status: 503 });
    stand.proxy.inject({
      match: (m, u) => m === "GET" && u.includes("/blobs/uploads/") && mine(u),
      status: 404,
      body: JSON.stringify({ errors: [{ code: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown" }] }),
    });
    stand.proxy.dropReply({
      match: (m, u) => m === "POST" && mine(u),
      skip: 1,
      times: Number.POSITIVE_INFINITY,
    });
    const before = stand.proxy.requests.length;
    const err = await captureError(
      c.ensureBlob({ registry: stand.proxy.host, repository: "app/orphans" }, b),
    );
    // The first session (its chunk failed, then forgotten) and two whose replies were lost: `retries` failures.
    expect(posts(before, "app/orphans")).toEqual([
      [202, false],
      [202, true],
      [202, true],
    ]);
    expect(err.operation).toBe("upload blob");
    expect(err.message).toContain(`to ${stand.proxy.host}/app/orphans failed after ${retries} attempts`);
    expect(err.message).toContain("start blob upload");
  });
});

describe("a hostile registry's replies are bounded by the client's limits, not by its goodwill", () => {
  // Stand-ins that answer with bodies that never end, lie about their length, or trickle a byte a
  // second. Each stops by itself at CAP bytes (or after CAP_TRICKLE bytes); the client must let go
  // long before, at the limit it was given, and say which limit ended it. Every request first
  // passes a Basic challenge, so the password is in play for the secret scan below.
  const LIMIT = 64 * 1024;
  const CAP = 256 * 1024 * 1024;
  const CAP_TRICKLE = 20;
  const servers: HostileServer[] = [];
  const sha = `sha256:${"c".repeat(64)}`;
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  /** A hostile registry whose every reply (after the Basic challenge) is `reply`. */
  async function hostile(reply: (req: ReceivedRequest, res: ServerResponse) => ReplyReport | undefined) {
    const replies: ReplyReport[] = [];
    const server = await startHostileServer({
      handle: (req, res) => {
        if (!basicGate(req, res, USER, PASS)) return;
        const r = reply(req, res);
        if (r) replies.push(r);
      },
    });
    servers.push(server);
    const credentials = staticCredentials(server.host, { username: USER, password: PASS });
    /** The requests that got past the challenge. */
    const answered = () => server.requests.filter((r) => r.headers.authorization !== undefined);
    return { server, replies, credentials, answered };
  }
  const endless = (res: ServerResponse, headers: Record<string, string> = {}) =>
    sendEndless(res, { chunkBytes: 16 * 1024, capBytes: CAP, headers });
  /** Let go of early: the stand-in saw the client leave, and never got near its own cap. */
  async function expectAbandoned(replies: ReplyReport[]) {
    expect(replies.length).toBeGreaterThan(0);
    for (const r of replies) {
      await r.ended;
      expect(r.abandoned).toBe(true);
      // What it wrote past the client's limit sat in socket buffers (Linux autotunes them to tens of MiB at most).
      expect(r.bytesWritten).toBeLessThan(CAP / 4);
    }
  }

  it("stops reading an endless manifest at maxManifestBytes", async () => {
    const h = await hostile((_req, res) => endless(res));
    const c = client({ credentials: h.credentials, maxManifestBytes: LIMIT });
    const err = await captureError(
      c.getManifest({ registry: h.server.host, repository: "app/endless", tag: "v1" }),
    );
    expect(err.code).toBe("MANIFEST_INVALID");
    expect(err.registry).toBe(h.server.host);
    expect(err.message).toContain(`GET manifest v1 ${h.server.host}/app/endless`);
    expect(err.message).toContain(`exceeds the ${LIMIT} bytes allowed (maxManifestBytes)`);
    expect(h.answered()).toHaveLength(1);
    await expectAbandoned(h.replies);
  });

  it("does not start reading a manifest whose Content-Length is past the limit", async () => {
    const h = await hostile((_req, res) => endless(res, { "content-length": String(10 * 1024 ** 3) }));
    const c = client({ credentials: h.credentials, maxManifestBytes: LIMIT });
    const err = await captureError(
      c.getManifest({ registry: h.server.host, repository: "app/big", tag: "v1" }),
    );
    expect(err.code).toBe("MANIFEST_INVALID");
    expect(err.message).toContain(`${h.server.host}/app/big`);
    expect(err.message).toContain(
      `announces ${10 * 1024 ** 3} bytes, more than the ${LIMIT} allowed (maxManifestBytes)`,
    );
    await expectAbandoned(h.replies);
  });

  it("reads a base image's config no further than its descriptor's size, and never past maxBlobReadBytes", async () => {
    // A base image whose manifest is fine and whose config blob never ends.
    const config = { mediaType: OCI_CONFIG, digest: sha, size: 1000 };
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] });
    const h = await hostile((req, res) => {
      if (req.url.includes("/manifests/latest")) {
        res.writeHead(200, { "content-type": OCI_MANIFEST }).end(manifest);
        return undefined;
      }
      if (req.url.includes("/manifests/")) {
        res.writeHead(404).end();
        return undefined;
      }
      return endless(res);
    });
    const c = client({ credentials: h.credentials, maxBlobReadBytes: LIMIT });
    const builder = new RegistryBuilder(c, silentLog);
    const endpoint: Endpoint = {
      name: "predict",
      image: `${h.server.host}/base/python:latest`,
      port: 8000,
      server: { kind: "wsgi", module: "app", callable: "app" },
      files: [],
      tolerations: [],
      location: { file: "valohai.yaml", line: 1, column: 1 },
    };
    const source = { time: new Date(0) };
    const build = (image: string) =>
      builder.build({
        endpoint: { ...endpoint, image },
        imageRepository: `${h.server.host}/app/v`,
        tag: "v1",
        layers: [],
        source,
      });
    const err = await captureError(build(endpoint.image));
    expect(err.code).toBe("SIZE_INVALID");
    expect(err.message).toContain(`GET blob ${h.server.host}/base/python`);
    expect(err.message).toContain("exceeds the 1000 bytes allowed (the size its descriptor gives)");
    await expectAbandoned(h.replies);

    // A descriptor claiming more than maxBlobReadBytes is refused before anything is read.
    const before = h.answered().length;
    const huge = await captureError(c.getBlobBytes(h.server.host, "base/python", sha, 10 * 1024 ** 3));
    expect(huge.code).toBe("SIZE_INVALID");
    expect(huge.message).toContain(`more than the ${LIMIT} read into memory (maxBlobReadBytes)`);
    expect(h.answered()).toHaveLength(before);
  });

  it("ends a streamed blob that goes past its size", async () => {
    const h = await hostile((_req, res) => endless(res));
    const c = client({ credentials: h.credentials });
    const err = await captureError(c.getBlob(h.server.host, "app/blob", sha, 1000).then(readAll));
    expect(err.code).toBe("SIZE_INVALID");
    expect(err.message).toContain(`GET blob ${h.server.host}/app/blob`);
    expect(err.message).toContain("exceeds the 1000 bytes allowed");
    await expectAbandoned(h.replies);
  });

  it("reads an error reply only as far as it needs", async () => {
    const h = await hostile((_req, res) =>
      sendEndless(res, { chunkBytes: 16 * 1024, capBytes: CAP, status: 404 }),
    );
    const c = client({ credentials: h.credentials });
    const err = await captureError(
      c.getManifest({ registry: h.server.host, repository: "app/none", tag: "v1" }),
    );
    expect(err.status).toBe(404);
    expect(err.message).toContain(`${h.server.host}/app/none`);
    await expectAbandoned(h.replies);
  });

  it("stops reading an endless token reply", async () => {
    const realm = await startHostileServer({ handle: (_req, res) => void endless(res) });
    servers.push(realm);
    // The registry's challenge names the endless realm (both plain http on loopback).
    const registry = await startHostileServer({
      handle: (_req, res) =>
        void res
          .writeHead(401, { "www-authenticate": `Bearer realm="http://${realm.host}/token",service="s"` })
          .end(),
    });
    servers.push(registry);
    const c = client({ credentials: staticCredentials(registry.host, { username: USER, password: PASS }) });
    const err = await captureError(c.hasBlob(registry.host, "app/x", sha));
    expect(err.message).toContain(`token service ${realm.host}`);
    expect(err.message).toContain(`exceeds the ${1024 * 1024} bytes allowed (token reply limit)`);
    expect(realm.requests).toHaveLength(1);
  });

  it("ends a manifest that trickles a byte a second at deadlineMs, and does not ask again", async () => {
    const deadlineMs = 2_500;
    // The idle timer never fires (a byte comes every second); only the deadline can end this.
    const h = await hostile((_req, res) => sendTrickle(res, { intervalMs: 1_000, capBytes: CAP_TRICKLE }));
    const c = client({ credentials: h.credentials, timeoutMs: 10_000, deadlineMs, retries: 3 });
    const err = await captureError(
      c.getManifest({ registry: h.server.host, repository: "app/slow", tag: "v1" }),
    );
    expect(err.code).toBe("DEADLINE_EXCEEDED");
    expect(err.message).toContain(`GET manifest v1 ${h.server.host}/app/slow`);
    expect(err.message).toContain(`not complete within the ${deadlineMs} ms deadline (deadlineMs)`);
    expect(h.answered()).toHaveLength(1);
    await expectAbandoned(h.replies);
    expect(h.replies[0]?.bytesWritten).toBeLessThan(CAP_TRICKLE);
  });

  it("ends a blob stream that trickles, at deadlineMs for each chunkSize bytes", async () => {
    const deadlineMs = 2_500;
    const chunkSize = 64 * 1024;
    const h = await hostile((_req, res) => sendTrickle(res, { intervalMs: 1_000, capBytes: CAP_TRICKLE }));
    const c = client({ credentials: h.credentials, timeoutMs: 10_000, deadlineMs, chunkSize });
    const err = await captureError(c.getBlob(h.server.host, "app/slow-blob", sha).then(readAll));
    expect(err.code).toBe("DEADLINE_EXCEEDED");
    expect(err.message).toContain(`GET blob ${h.server.host}/app/slow-blob`);
    expect(err.message).toContain(`fewer than ${chunkSize} bytes in ${deadlineMs} ms (deadlineMs`);
    await expectAbandoned(h.replies);
    expect(h.replies[0]?.bytesWritten).toBeLessThan(CAP_TRICKLE);
  });
});

describe("secrets", () => {
  it("never appear in a log line or an error, hostile registries included", () => {
    expect(scan.logs.length).toBeGreaterThan(10);
    expect(scan.errors.length).toBeGreaterThan(10);
    const tokens = issuers.flatMap((i) => i.issued);
    expect(tokens.length).toBeGreaterThan(3);
    scan.expectClean([...secretForms(PASS, USER), ...tokens]);
  });
});

// The registry client against real distribution registries on loopback: anonymous, htpasswd (Basic)
// and token auth (our issuer), mounts and registry-to-registry copies, interrupted uploads through a
// cutting proxy, retries of 5xx/429, and a scan proving no secret reaches a log line or an error.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  credentialsFromDockerConfig,
  DOCKER_MANIFEST,
  OCI_MANIFEST,
  parseImageName,
  type RegistryClient,
  type RegistryClientOptions,
  sha256Digest,
  staticCredentials,
} from "../../src/registry/index.js";
import { blob, oneLayerManifest, readAll } from "../support/blobs.js";
import { runClientProcess } from "../support/client-process.js";
import { type CuttingProxy, startCuttingProxy } from "../support/cutting-proxy.js";
import {
  basicGate,
  type HostileServer,
  makeLoopbackCert,
  type ReceivedRequest,
  startHostileServer,
} from "../support/hostile-registry.js";
import { type RegistryInstance, startRegistry, tokenAuth } from "../support/registry-instance.js";
import { SecretScan, scannedClient } from "../support/secret-scan.js";
import type { TestCert } from "../support/test-cert.js";
import { startTokenIssuer, type TokenIssuer } from "../support/token-issuer.js";

const BASIC_USER = "builder";
const BASIC_PASS = `basic-${randomBytes(12).toString("hex")}`;
const TOKEN_USER = "ci-bot";
const TOKEN_PASS = `token-${randomBytes(12).toString("hex")}`;
const WRONG_PASS = `wrong-${randomBytes(12).toString("hex")}`;
const REFRESH = `refresh-${randomBytes(12).toString("hex")}`;

let dir: string;
let issuer: TokenIssuer;
let plain: RegistryInstance;
let basic: RegistryInstance;
let token: RegistryInstance;

/** Everything any client logged or threw, and every secret it reported, for the leak scan. */
const scan = new SecretScan();

function client(extra: RegistryClientOptions = {}): RegistryClient {
  return scannedClient(scan, { timeoutMs: 10_000, ...extra });
}

const captureError = (p: Promise<unknown>) => scan.capture(p);

/** Pushes a one-layer image and reads it back: the builder's round trip. */
async function pushAndPull(c: RegistryClient, registry: string, repository: string) {
  const layer = blob(randomBytes(20_000));
  const config = blob(
    Buffer.from(
      JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }),
    ),
  );
  expect((await c.ensureBlob({ registry, repository }, layer)).how).toBe("uploaded");
  expect((await c.ensureBlob({ registry, repository }, config)).how).toBe("uploaded");
  const manifest = oneLayerManifest(config, layer);
  const digest = await c.putManifest({ registry, repository, tag: "v1" }, OCI_MANIFEST, manifest);
  const got = await c.getManifest({ registry, repository, tag: "v1" });
  expect(got.digest).toBe(digest);
  expect(got.mediaType).toBe(OCI_MANIFEST);
  expect(got.bytes.equals(manifest)).toBe(true);
  expect((await c.getManifest({ registry, repository, digest })).bytes.equals(manifest)).toBe(true);
  expect((await readAll(await c.getBlob(registry, repository, layer.digest))).equals(layer.bytes)).toBe(true);
  return { layer, config };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slipway-registry-client-"));
  issuer = await startTokenIssuer({
    dir,
    users: { [TOKEN_USER]: TOKEN_PASS },
    refreshTokens: { [REFRESH]: TOKEN_USER },
  });
  [plain, basic, token] = await Promise.all([
    startRegistry({ auth: { kind: "none" } }),
    startRegistry({ auth: { kind: "htpasswd", users: { [BASIC_USER]: BASIC_PASS } } }),
    startRegistry({ auth: tokenAuth(issuer) }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), basic?.stop(), token?.stop(), issuer?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("htpasswd (Basic) registry", () => {
  it("pushes, pulls and mounts with the right credentials", async () => {
    const c = client({
      credentials: staticCredentials(basic.host, { username: BASIC_USER, password: BASIC_PASS }),
    });
    const { layer } = await pushAndPull(c, basic.host, "team/app");
    const mounted = await c.ensureBlob(
      { registry: basic.host, repository: "team/app-pr-7" },
      { digest: layer.digest, size: layer.size, sources: [{ registry: basic.host, repository: "team/app" }] },
    );
    expect(mounted).toEqual({ uploadedBytes: 0, how: "mounted" });
    expect(await c.hasBlob(basic.host, "team/app-pr-7", layer.digest)).toBe(true);
    expect(scan.reported.has(BASIC_PASS)).toBe(true);
  });

  it("names registry and repository, never the password, when the password is wrong", async () => {
    const c = client({
      credentials: staticCredentials(basic.host, { username: BASIC_USER, password: WRONG_PASS }),
    });
    const err = await captureError(
      c.getManifest({ registry: basic.host, repository: "team/app", tag: "v1" }),
    );
    expect(err.status).toBe(401);
    expect(err.code).toBe("UNAUTHORIZED");
    expect(err.registry).toBe(basic.host);
    expect(err.message).toContain(`${basic.host}/team/app`);
    expect(err.message).toContain(BASIC_USER);
    expect(err.message).not.toContain(WRONG_PASS);
  });

  it("says credentials are missing when there are none", async () => {
    const err = await captureError(client().hasBlob(basic.host, "team/app", `sha256:${"a".repeat(64)}`));
    expect(err.code).toBe("UNAUTHORIZED");
    expect(err.message).toMatch(/no credentials configured/);
  });
});

describe("token-auth registry", () => {
  it("pushes, pulls and mounts; a mount asks for pull on the source and push on the target", async () => {
    const c = client({
      credentials: staticCredentials(token.host, { username: TOKEN_USER, password: TOKEN_PASS }),
    });
    const { layer } = await pushAndPull(c, token.host, "ml/sentiment");
    const before = issuer.requests.length;
    const mounted = await c.ensureBlob(
      { registry: token.host, repository: "ml/sentiment-canary" },
      {
        digest: layer.digest,
        size: layer.size,
        sources: [{ registry: token.host, repository: "ml/sentiment" }],
      },
    );
    expect(mounted.how).toBe("mounted");
    const mountToken = issuer.requests.slice(before).find((r) => r.scopes.length === 2);
    expect(mountToken?.subject).toBe(TOKEN_USER);
    expect(mountToken?.scopes.sort()).toEqual([
      "repository:ml/sentiment-canary:pull,push",
      "repository:ml/sentiment:pull",
    ]);
    // Tokens are cached per scope: one push round trip needs one token, not one per request.
    expect(
      issuer.requests.filter((r) => r.scopes.join() === "repository:ml/sentiment:pull,push"),
    ).toHaveLength(1);
    for (const t of issuer.issued) expect(scan.reported.has(t)).toBe(true);
  });

  it("rejects a wrong password with a clear error that carries no secret", async () => {
    const c = client({
      credentials: staticCredentials(token.host, { username: TOKEN_USER, password: WRONG_PASS }),
    });
    const err = await captureError(c.hasBlob(token.host, "ml/sentiment", `sha256:${"b".repeat(64)}`));
    expect(err.code).toBe("UNAUTHORIZED");
    expect(err.message).toContain(`${token.host}/ml/sentiment`);
    expect(err.message).toMatch(/token service .* rejected the credentials/);
    expect(issuer.requests.at(-1)?.subject).toBe("rejected");
  });

  it("fails anonymous pushes with a message saying no credentials were configured", async () => {
    const err = await captureError(
      client().ensureBlob(
        { registry: token.host, repository: "ml/anon" },
        blob(Buffer.from("x".repeat(100))),
      ),
    );
    expect(err.code).toBe("UNAUTHORIZED");
    expect(err.message).toContain(`${token.host}/ml/anon`);
    expect(err.message).toMatch(/anonymously/);
  });
});

describe("docker config.json credentials", () => {
  it("uses an identity token through the OAuth2 refresh-token grant", async () => {
    const config = JSON.stringify({ auths: { [`http://${token.host}`]: { identitytoken: REFRESH } } });
    const c = client({ credentials: credentialsFromDockerConfig(config) });
    const before = issuer.requests.length;
    await pushAndPull(c, token.host, "ml/oauth");
    const used = issuer.requests.slice(before);
    expect(used.length).toBeGreaterThan(0);
    expect(used.every((r) => r.method === "POST" && r.subject === TOKEN_USER)).toBe(true);
    expect(scan.reported.has(REFRESH)).toBe(true);
  });
});

describe("blob redirects", () => {
  // distribution's filesystem driver never redirects, so a small stand-in plays a registry whose blob
  // GETs go to a storage host, the way S3/GCS-backed registries behave.
  let storage: Server;
  let front: Server;
  const seenByStorage: Array<string | undefined> = [];
  const payload = randomBytes(5000);
  const digest = sha256Digest(payload);
  const listen = (srv: Server, host = "127.0.0.1") =>
    new Promise<number>((r) =>
      srv.listen(0, host, () => {
        const a = srv.address();
        r(typeof a === "object" && a ? a.port : 0);
      }),
    );
  let frontHost = "";
  beforeAll(async () => {
    storage = createServer((req, res) => {
      seenByStorage.push(req.headers.authorization);
      res.end(payload);
    });
    // Another loopback address: a different host, as a storage backend would be.
    const storagePort = await listen(storage, "127.0.0.2");
    front = createServer((req, res) => {
      if (
        req.headers.authorization !== `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASS}`).toString("base64")}`
      ) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="stand-in"' });
      } else {
        res.writeHead(307, { location: `http://127.0.0.2:${storagePort}/blob?sig=presigned` });
      }
      res.end();
    });
    frontHost = `127.0.0.1:${await listen(front)}`;
  });
  afterAll(async () => {
    for (const srv of [storage, front]) {
      srv?.closeAllConnections();
      await new Promise((r) => srv?.close(r));
    }
  });

  it("follows the redirect without sending registry credentials to the storage host", async () => {
    const c = client({
      credentials: staticCredentials(frontHost, { username: BASIC_USER, password: BASIC_PASS }),
    });
    const got = await readAll(await c.getBlob(frontHost, "any/repo", digest));
    expect(got.equals(payload)).toBe(true);
    expect(seenByStorage).toEqual([undefined]);
  });
});

describe("credentials go only to the registry's own origin (a hostile registry redirecting them)", () => {
  // Stand-ins for a registry that redirects, names upload URLs and relays challenges from elsewhere:
  // every request they receive is recorded, so the tests can show what reached a host that must get
  // no credentials. 127.0.0.2 plays another host.
  const payload = randomBytes(3000);
  const digest = sha256Digest(payload);
  const servers: HostileServer[] = [];
  /** What reached a place that must never see a secret, for the final scan. */
  const forbidden: Array<() => string> = [];
  const start = async (o: Parameters<typeof startHostileServer>[0]) => {
    const s = await startHostileServer(o);
    servers.push(s);
    return s;
  };
  const gate = (req: ReceivedRequest, res: ServerResponse) => basicGate(req, res, BASIC_USER, BASIC_PASS);
  /** The requests that carried an Authorization header, as "METHOD url". */
  const credentialed = (rs: ReceivedRequest[]) =>
    rs.filter((r) => r.headers.authorization !== undefined).map((r) => `${r.method} ${r.url}`);
  let tlsCert: TestCert;
  beforeAll(() => {
    tlsCert = makeLoopbackCert(dir);
  });
  afterAll(async () => {
    for (const text of forbidden) scan.extra.push(text());
    await Promise.all(servers.map((s) => s.close()));
  });

  it("does not take a 401 from a redirect target for the registry's challenge", async () => {
    // Pulls are public, so the blob GET goes out without credentials and is redirected to another
    // host, which answers with a Bearer challenge naming its own realm. Were that taken as the
    // registry's challenge, the registry's password would go to that realm.
    const elsewhere = await start({
      address: "127.0.0.2",
      handle: (_req, res) => {
        res
          .writeHead(401, {
            "www-authenticate": `Bearer realm="http://${elsewhere.host}/token",service="elsewhere"`,
          })
          .end();
      },
    });
    forbidden.push(() => elsewhere.received());
    const registry = await start({
      handle: (req, res) => {
        if (req.method === "GET") {
          return void res.writeHead(307, { location: `http://${elsewhere.host}/storage/blob?sig=1` }).end();
        }
        if (!gate(req, res)) return;
        res.writeHead(200).end(); // HEAD: the blob is there
      },
    });
    const c = client({
      credentials: staticCredentials(registry.host, { username: BASIC_USER, password: BASIC_PASS }),
    });
    const err = await captureError(c.getBlob(registry.host, "any/repo", digest).then(readAll));
    expect(credentialed(elsewhere.requests)).toEqual([]);
    expect(elsewhere.requests.map((r) => r.url.split("?")[0])).toEqual(["/storage/blob"]);
    expect(err.status).toBe(401);
    expect(err.registry).toBe(registry.host);
    expect(err.message).toContain(elsewhere.host);
    expect(err.message).toContain("credentials are sent only to");
    // The registry's own challenge still decides how the client authenticates to it.
    expect(await c.hasBlob(registry.host, "any/repo", digest)).toBe(true);
    expect(credentialed(elsewhere.requests)).toEqual([]);
    expect(credentialed(registry.requests)).toEqual([`HEAD /v2/any/repo/blobs/${digest}`]);
  });

  it("sends no credentials to an upload Location on another host", async () => {
    const elsewhere = await start({
      address: "127.0.0.2",
      handle: (req, res) => {
        res.writeHead(req.method === "PUT" ? 201 : 404).end();
      },
    });
    forbidden.push(() => elsewhere.received());
    const registry = await start({
      handle: (req, res) => {
        if (!gate(req, res)) return;
        if (req.method === "HEAD") return void res.writeHead(404).end();
        if (req.method === "POST") {
          return void res.writeHead(202, { location: `http://${elsewhere.host}/uploads/1?state=x` }).end();
        }
        res.writeHead(405).end();
      },
    });
    const c = client({
      credentials: staticCredentials(registry.host, { username: BASIC_USER, password: BASIC_PASS }),
    });
    const res = await c.ensureBlob({ registry: registry.host, repository: "team/app" }, blob(payload));
    expect(res.how).toBe("uploaded");
    const puts = elsewhere.requests.filter((r) => r.method === "PUT");
    expect(puts).toHaveLength(1);
    expect(puts[0]?.body.equals(payload)).toBe(true);
    expect(credentialed(elsewhere.requests)).toEqual([]);
  });

  it("follows a token realm's redirect to another host only without credentials", async () => {
    const elsewhere = await start({ address: "127.0.0.2", handle: (_req, res) => void res.end("{}") });
    forbidden.push(() => elsewhere.received());
    const realm = await start({
      handle: (req, res) => {
        res
          .writeHead(307, { location: `http://${elsewhere.host}/token${req.url.slice("/token".length)}` })
          .end();
      },
    });
    const registry = await start({
      handle: (_req, res) => {
        res
          .writeHead(401, { "www-authenticate": `Bearer realm="http://${realm.host}/token",service="s"` })
          .end();
      },
    });
    const basicClient = client({
      credentials: staticCredentials(registry.host, { username: BASIC_USER, password: BASIC_PASS }),
    });
    const refreshClient = client({
      credentials: staticCredentials(registry.host, { identityToken: REFRESH }),
    });
    for (const c of [basicClient, refreshClient]) {
      const err = await captureError(c.hasBlob(registry.host, "team/app", digest));
      expect(err.code).toBe("REALM_REDIRECT");
      expect(err.message).toContain(elsewhere.host);
    }
    expect(realm.requests.map((r) => r.method)).toEqual(["GET", "POST"]);
    expect(elsewhere.requests).toEqual([]);
    // Anonymous, the redirect is simply followed.
    await client()
      .hasBlob(registry.host, "team/app", digest)
      .catch(() => undefined);
    expect(elsewhere.requests.map((r) => r.method)).toEqual(["GET"]);
  });

  it("never downgrades credentials to http: not on a redirect, an upload Location or a token realm", async () => {
    // An https registry whose port also answers plain http, so redirects and Locations can point to
    // the very same host and port over http. The client runs in a process that trusts its certificate.
    const realmHost = await start({ address: "127.0.0.2", handle: (_req, res) => void res.end("{}") });
    const registry = await start({
      tls: tlsCert,
      plainToo: true,
      handle: (req, res) => {
        if (req.scheme === "http") {
          // The downgraded side: hands out the blob and takes uploads, as storage would.
          if (req.method === "GET") return void res.end(payload);
          return void res.writeHead(req.method === "PUT" ? 201 : 404).end();
        }
        if (req.url.startsWith("/v2/token-realm/")) {
          return void res
            .writeHead(401, {
              "www-authenticate": `Bearer realm="http://${realmHost.host}/token",service="s"`,
            })
            .end();
        }
        if (!gate(req, res)) return;
        const plain = `http://${registry.host}`;
        if (req.method === "GET") return void res.writeHead(307, { location: `${plain}/storage/blob` }).end();
        if (req.method === "HEAD") return void res.writeHead(404).end();
        if (req.method === "POST") return void res.writeHead(202, { location: `${plain}/uploads/2` }).end();
        res.writeHead(405).end();
      },
    });
    forbidden.push(
      () => realmHost.received(),
      () => registry.received((r) => r.scheme === "http"),
    );
    const run = await runClientProcess(
      {
        // The realm's host is plain http by configuration (as loopback is by default); the registry is not.
        plainHttp: [realmHost.host],
        credentials: [{ registry: registry.host, username: BASIC_USER, password: BASIC_PASS }],
        calls: [
          { op: "getBlob", registry: registry.host, repository: "team/app", digest },
          {
            op: "ensureBlob",
            registry: registry.host,
            repository: "team/app",
            contentBase64: payload.toString("base64"),
          },
          { op: "getBlob", registry: registry.host, repository: "token-realm/app", digest },
        ],
      },
      tlsCert.certPath,
    );
    scan.logs.push(...run.logs);
    for (const r of run.results) scan.errors.push(...(r.error?.texts ?? []));
    const [redirected, uploaded, realm] = run.results;
    // Redirected to http on the same host and port: followed, without the credentials.
    expect(redirected).toEqual({ ok: true, value: digest });
    expect(uploaded).toEqual({ ok: true, value: "uploaded" });
    const plainSide = registry.requests.filter((r) => r.scheme === "http");
    expect(plainSide.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /storage/blob",
      `PUT /uploads/2?digest=${encodeURIComponent(digest)}`,
    ]);
    expect(credentialed(plainSide)).toEqual([]);
    // An http realm for an https registry gets nothing at all.
    expect(realm?.ok).toBe(false);
    expect(realm?.error?.code).toBe("INSECURE_REALM");
    expect(realmHost.requests).toEqual([]);
    // The registry itself did get them, over https.
    expect(credentialed(registry.requests.filter((r) => r.scheme === "https")).length).toBeGreaterThan(0);
  });
});

describe("registry to registry", () => {
  it("streams a blob from another registry into the target without touching disk", async () => {
    const src = blob(randomBytes(300_000));
    const anon = client();
    await anon.ensureBlob({ registry: plain.host, repository: "base/python" }, src);
    const c = client({
      chunkSize: 64 * 1024,
      credentials: staticCredentials(token.host, { username: TOKEN_USER, password: TOKEN_PASS }),
    });
    const res = await c.ensureBlob(
      { registry: token.host, repository: "ml/copied" },
      { digest: src.digest, size: src.size, sources: [{ registry: plain.host, repository: "base/python" }] },
    );
    expect(res).toEqual({ uploadedBytes: src.size, how: "copied" });
    expect((await readAll(await c.getBlob(token.host, "ml/copied", src.digest))).equals(src.bytes)).toBe(
      true,
    );
    // Second time round the blob is simply there.
    expect(
      await c.ensureBlob(
        { registry: token.host, repository: "ml/copied" },
        { digest: src.digest, size: src.size },
      ),
    ).toEqual({ uploadedBytes: 0, how: "present" });
  });
});

describe("a base image pushed by dockerd (the stack's busybox)", () => {
  it("reads its Docker schema2 manifest and copies the image into a token-auth registry byte for byte", async () => {
    const ref = process.env.SLIPWAY_TEST_BUSYBOX_IMAGE;
    if (!ref)
      throw new Error(
        "SLIPWAY_TEST_BUSYBOX_IMAGE unset: run with --project integration (its globalSetup starts the stack)",
      );
    const base = parseImageName(ref);
    const c = client({
      credentials: staticCredentials(token.host, { username: TOKEN_USER, password: TOKEN_PASS }),
    });
    const m = await c.getManifest(base);
    expect(m.mediaType).toBe(DOCKER_MANIFEST);
    const json = m.json as {
      config: { digest: string; size: number };
      layers: Array<{ digest: string; size: number }>;
    };
    const target = { registry: token.host, repository: "ml/busybox-copy" };
    const source = { registry: base.registry, repository: base.repository };
    for (const d of [json.config, ...json.layers]) {
      const res = await c.ensureBlob(target, { digest: d.digest, size: d.size, sources: [source] });
      expect(res).toEqual({ uploadedBytes: d.size, how: "copied" });
    }
    const digest = await c.putManifest({ ...target, tag: "base" }, m.mediaType, m.bytes);
    expect(digest).toBe(m.digest);
    expect((await c.getManifest({ ...target, digest })).bytes.equals(m.bytes)).toBe(true);
  });
});

describe("mount fallback", () => {
  it("returns false and cancels the session when the source lacks the blob, then ensureBlob uploads", async () => {
    const c = client();
    const b = blob(randomBytes(3000));
    expect(await c.mountBlob(plain.host, "app/mnt", b.digest, "app/empty-source")).toBe(false);
    const res = await c.ensureBlob(
      { registry: plain.host, repository: "app/mnt" },
      { ...b, sources: [{ registry: plain.host, repository: "app/empty-source" }] },
    );
    expect(res).toEqual({ uploadedBytes: b.size, how: "uploaded" });
  });
});

describe("interrupted uploads (cutting proxy in front of a plain registry)", () => {
  let proxy: CuttingProxy;
  beforeAll(async () => {
    proxy = await startCuttingProxy(plain.host);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("recovers from a connection dropped mid-chunk without re-sending completed blobs", async () => {
    const chunkSize = 64 * 1024;
    const c = client({ chunkSize });
    const target = { registry: proxy.host, repository: "app/cut" };
    const small = blob(randomBytes(10_000));
    const opens: number[] = [];
    const big = blob(randomBytes(5 * chunkSize + 1234), opens);
    const after = blob(randomBytes(20_000));

    expect(await c.ensureBlob(target, small)).toEqual({ uploadedBytes: small.size, how: "uploaded" });
    const upstreamStart = proxy.upstreamBytes;
    // Cut inside the third chunk of the big blob.
    const cutAt = 2 * chunkSize + 20_000;
    proxy.cutOnce(cutAt, (m) => m === "PATCH");
    const res = await c.ensureBlob(target, big);
    expect(res.how).toBe("uploaded");
    expect(proxy.requests.some((r) => r.cut)).toBe(true);
    // distribution 2.8 invalidates a session that received a partial request, so the blob restarts at 0.
    expect(opens).toEqual([0, 0]);
    // uploadedBytes counts the interrupted chunk whole (it was handed to the request); the registry
    // got the part before the cut plus one complete upload.
    expect(res.uploadedBytes).toBe(3 * chunkSize + big.size);
    expect(proxy.upstreamBytes - upstreamStart).toBe(cutAt + big.size);
    expect(scan.logs.some((l) => l.includes("restarting from byte 0"))).toBe(true);
    expect((await readAll(await c.getBlob(plain.host, "app/cut", big.digest))).equals(big.bytes)).toBe(true);

    // The rerun of the whole push sends only what is missing: nothing for the completed blobs.
    const rerunStart = proxy.upstreamBytes;
    expect((await c.ensureBlob(target, small)).how).toBe("present");
    expect((await c.ensureBlob(target, big)).how).toBe("present");
    expect((await c.ensureBlob(target, after)).uploadedBytes).toBe(after.size);
    expect(proxy.upstreamBytes - rerunStart).toBe(after.size);
  });

  it("resumes from the registry's offset after a 5xx on a chunk (nothing re-sent to the registry)", async () => {
    const chunkSize = 32 * 1024;
    const c = client({ chunkSize });
    const opens: number[] = [];
    const b = blob(randomBytes(6 * chunkSize), opens);
    proxy.inject({ match: (m) => m === "PATCH", status: 503, skip: 2 });
    const upstreamStart = proxy.upstreamBytes;
    const res = await c.ensureBlob({ registry: proxy.host, repository: "app/resume" }, b);
    expect(res).toEqual({ uploadedBytes: b.size + chunkSize, how: "uploaded" });
    expect(opens).toEqual([0, 2 * chunkSize]);
    expect(proxy.upstreamBytes - upstreamStart).toBe(b.size);
    expect(scan.logs.some((l) => l.includes(`registry has ${2 * chunkSize} bytes; resuming there`))).toBe(
      true,
    );
  });

  it("honours Retry-After on 429 and then succeeds", async () => {
    const c = client();
    const b = blob(randomBytes(1000));
    await c.ensureBlob({ registry: proxy.host, repository: "app/limited" }, b);
    proxy.inject({
      match: (m, u) => m === "HEAD" && u.includes(b.digest),
      status: 429,
      headers: { "retry-after": "1" },
    });
    const t0 = Date.now();
    expect(await c.hasBlob(proxy.host, "app/limited", b.digest)).toBe(true);
    // "Retry-After: 1" is capped by retryMaxDelayMs (50 ms here); without the header the first
    // backoff would be at most retryBaseDelayMs (5 ms).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(40);
    expect(scan.logs.some((l) => l.includes("HTTP 429, retry 1/"))).toBe(true);
  });

  it("gives up after the attempt budget with status, registry, repository and operation", async () => {
    const c = client({ retries: 3 });
    proxy.inject({
      match: (m, u) => m === "GET" && u.includes("/app/down/manifests/"),
      status: 503,
      times: Number.POSITIVE_INFINITY,
    });
    const before = proxy.requests.length;
    const err = await captureError(
      c.getManifest({ registry: proxy.host, repository: "app/down", tag: "latest" }),
    );
    expect(err.status).toBe(503);
    expect(err.message).toContain(
      `GET manifest latest ${proxy.host}/app/down failed after 3 attempts: HTTP 503`,
    );
    expect(proxy.requests.slice(before).filter((r) => r.url.includes("/manifests/"))).toHaveLength(3);
  });

  it("does not retry a 404", async () => {
    const c = client();
    const before = proxy.requests.length;
    const err = await captureError(
      c.getManifest({ registry: proxy.host, repository: "app/none", tag: "nope" }),
    );
    expect(err.status).toBe(404);
    expect(err.code).toBe("MANIFEST_UNKNOWN");
    expect(proxy.requests.length - before).toBe(1);
  });
});

describe("secrets", () => {
  it("never appear in a log line or an error", () => {
    const secrets = [BASIC_PASS, TOKEN_PASS, WRONG_PASS, ...issuer.issued];
    for (const user of [BASIC_USER, TOKEN_USER]) {
      for (const pass of [BASIC_PASS, TOKEN_PASS, WRONG_PASS])
        secrets.push(Buffer.from(`${user}:${pass}`).toString("base64"));
    }
    expect(scan.logs.length).toBeGreaterThan(10);
    expect(scan.errors.length).toBeGreaterThan(10);
    expect(issuer.issued.length).toBeGreaterThan(3);
    scan.expectClean(secrets);
  });
});

// The registry client against real distribution registries on loopback: anonymous, htpasswd (Basic)
// and token auth (our issuer), mounts and registry-to-registry copies, interrupted uploads through a
// cutting proxy, retries of 5xx/429, and a scan proving no secret reaches a log line or an error.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createRegistryClient,
  credentialsFromDockerConfig,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  parseImageName,
  type RegistryClient,
  type RegistryClientOptions,
  RegistryError,
  sha256Digest,
  staticCredentials,
} from "../../src/registry/index.js";
import { blob, readAll } from "../support/blobs.js";
import { type CuttingProxy, startCuttingProxy } from "../support/cutting-proxy.js";
import { type RegistryInstance, startRegistry } from "../support/registry-instance.js";
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
const logLines: string[] = [];
const errorTexts: string[] = [];
const reportedSecrets = new Set<string>();

function client(extra: Partial<RegistryClientOptions> = {}): RegistryClient {
  return createRegistryClient({
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 50,
    timeoutMs: 10_000,
    log: (l) => logLines.push(l),
    onSecret: (s) => reportedSecrets.add(s),
    ...extra,
  });
}

async function captureError(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    const e = err as RegistryError;
    errorTexts.push(e.message, String(e), JSON.stringify(e), e.stack ?? "", String(e.cause ?? ""));
    return e;
  }
  throw new Error("expected the call to fail");
}

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
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: OCI_LAYER_GZIP, digest: layer.digest, size: layer.size }],
    }),
  );
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
    startRegistry({
      auth: {
        kind: "token",
        realm: issuer.realm,
        service: issuer.service,
        issuer: issuer.issuer,
        rootCertBundle: issuer.rootCertBundle,
      },
    }),
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
    expect(reportedSecrets.has(BASIC_PASS)).toBe(true);
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
    for (const t of issuer.issued) expect(reportedSecrets.has(t)).toBe(true);
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
    expect(reportedSecrets.has(REFRESH)).toBe(true);
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
    expect(logLines.some((l) => l.includes("restarting from byte 0"))).toBe(true);
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
    expect(logLines.some((l) => l.includes(`registry has ${2 * chunkSize} bytes; resuming there`))).toBe(
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
    expect(logLines.some((l) => l.includes("HTTP 429, retry 1/"))).toBe(true);
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
    expect(logLines.length).toBeGreaterThan(10);
    expect(errorTexts.length).toBeGreaterThan(10);
    expect(issuer.issued.length).toBeGreaterThan(3);
    const haystack = [...logLines, ...errorTexts].join("\n");
    for (const s of secrets) expect(haystack.includes(s), `secret of length ${s.length} leaked`).toBe(false);
  });
});

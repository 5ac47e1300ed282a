// Pure pieces of the registry protocol: auth challenges, token replies, retry timing and
// classification, upload Range headers, OCI error bodies, and secret redaction.

import { describe, expect, it } from "vitest";
import {
  Authenticator,
  parseChallenges,
  parseTokenResponse,
  repositoryScope,
} from "../../src/registry/auth.js";
import { SecretRedactor } from "../../src/registry/errors.js";
import {
  backoffDelay,
  isRetryableStatus,
  isTransientError,
  mayRetryError,
  mayRetryStatus,
  parseRetryAfter,
} from "../../src/registry/retry.js";
import { defaultInsecure, describeNetworkError, parseOciError } from "../../src/registry/transport.js";
import { parseUploadRange } from "../../src/registry/upload.js";

describe("parseChallenges", () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull"',
      [
        {
          scheme: "bearer",
          params: {
            realm: "https://auth.docker.io/token",
            service: "registry.docker.io",
            scope: "repository:library/python:pull",
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: "basic", params: { realm: "Registry Realm" } }]],
    [
      'Basic realm="a, b", Bearer realm="https://x/t",service=x,error="insufficient_scope"',
      [
        { scheme: "basic", params: { realm: "a, b" } },
        { scheme: "bearer", params: { realm: "https://x/t", service: "x", error: "insufficient_scope" } },
      ],
    ],
    ['Bearer realm="q\\"uote"', [{ scheme: "bearer", params: { realm: 'q"uote' } }]],
    [
      'Bearer realm="r",scope="repository:a:pull,push repository:b:pull"',
      [{ scheme: "bearer", params: { realm: "r", scope: "repository:a:pull,push repository:b:pull" } }],
    ],
    ["", []],
  ])("%s", (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });

  it("builds scopes", () => {
    expect(repositoryScope("a/b", "pull,push")).toBe("repository:a/b:pull,push");
  });
});

describe("a 401 after a Bearer token was sent", () => {
  const scope = "repository:a/b:pull,push";
  const header = (extra: string) => `Bearer realm="https://auth.example/token",service="reg",${extra}`;
  const auth = () =>
    new Authenticator({
      credentials: { forRegistry: () => ({ username: "u", password: "secret-pass" }) },
      redactor: new SecretRedactor(),
      insecure: () => false,
      fetchToken: () => Promise.reject(new Error("not called")),
      log: () => {},
    });
  it.each([
    // [what the registry said, renewed (this request already got a new token), outcome]
    [header('error="invalid_token"'), false, [scope]],
    [header('error="invalid_token"'), true, /refused a freshly issued token as invalid/],
    [header('scope="repository:a/b:pull,push",error="insufficient_scope"'), false, /did not grant/],
    [header('scope="repository:a/b:pull,push",error="insufficient_scope"'), true, /did not grant/],
    [header('scope="repository:c/d:pull"'), true, [scope, "repository:c/d:pull"]],
  ])("%s (renewed: %s)", async (challenge, renewed, outcome) => {
    const p = auth().challenge("reg.example", "a/b", challenge, [scope], "Bearer old-token", renewed);
    if (outcome instanceof RegExp) await expect(p).rejects.toThrow(outcome);
    else await expect(p).resolves.toEqual(outcome);
  });
});

describe("where a token realm may be called with credentials", () => {
  const plain = new Set(["127.0.0.1:5000", "127.0.0.1:5001", "10.0.0.5:5000"]);
  const token = JSON.stringify({ token: "tok-from-realm", expires_in: 300 });
  it.each([
    // [registry, realm, credentials?, outcome]
    ["ghcr.io", "https://ghcr.io/token", true, "called"],
    ["registry-1.docker.io", "https://auth.docker.io/token", true, "called"],
    ["127.0.0.1:5000", "http://127.0.0.1:5001/token", true, "called"],
    // An https registry naming an http realm, even on a host that is plain http by configuration.
    ["ghcr.io", "http://127.0.0.1:5001/token", true, "INSECURE_REALM"],
    ["ghcr.io", "http://ghcr.io/token", true, "INSECURE_REALM"],
    // A plain-http registry naming an http realm on a host not configured as plain http.
    ["10.0.0.5:5000", "http://auth.example.com/token", true, "INSECURE_REALM"],
    // Without credentials there is nothing to protect.
    ["ghcr.io", "http://127.0.0.1:5001/token", false, "called"],
  ])("%s → %s (credentials: %s): %s", async (registry, realm, withCreds, outcome) => {
    const calls: string[] = [];
    const auth = new Authenticator({
      credentials: {
        forRegistry: () => (withCreds ? { username: "u", password: "secret-pass" } : undefined),
      },
      redactor: new SecretRedactor(),
      insecure: (h) => plain.has(h),
      fetchToken: async (url) => {
        calls.push(url.origin);
        return { status: 200, body: Buffer.from(token) };
      },
      log: () => {},
    });
    const scope = repositoryScope("a/b", "pull");
    await auth.challenge(registry, "a/b", `Bearer realm="${realm}",service="s"`, [scope], undefined);
    const got = auth.authorization(registry, "a/b", [scope]);
    if (outcome === "called") {
      await expect(got).resolves.toBe("Bearer tok-from-realm");
      expect(calls).toEqual([new URL(realm).origin]);
    } else {
      await expect(got).rejects.toMatchObject({ code: outcome });
      expect(calls).toEqual([]);
    }
  });
});

describe("parseTokenResponse", () => {
  const j = (o: unknown) => Buffer.from(JSON.stringify(o));
  it.each([
    [j({ token: "t", expires_in: 300 }), { token: "t", expiresIn: 300 }],
    [j({ access_token: "a" }), { token: "a", expiresIn: 60 }],
    [j({ token: "", access_token: "a", expires_in: 0 }), { token: "a", expiresIn: 60 }],
    [j({ nothing: true }), undefined],
    [Buffer.from("<html>"), undefined],
  ])("%#", (body, expected) => {
    expect(parseTokenResponse(body)).toEqual(expected);
  });
});

describe("retry policy", () => {
  it.each([
    [429, true],
    [500, true],
    [503, true],
    [400, false],
    [401, false],
    [404, false],
    [416, false],
  ])("status %i retryable: %s", (status, expected) => {
    expect(isRetryableStatus(status)).toBe(expected);
  });

  it("reads Retry-After as seconds or a date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("backs off exponentially with jitter, bounded, and lets Retry-After decide", () => {
    const p = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(p, 1, undefined, () => 0)).toBe(50);
    expect(backoffDelay(p, 1, undefined, () => 1)).toBe(100);
    expect(backoffDelay(p, 3, undefined, () => 1)).toBe(400);
    expect(backoffDelay(p, 10, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(p, 1, 700)).toBe(700);
    expect(backoffDelay(p, 1, 60_000)).toBe(1000);
  });

  const withCode = (msg: string, code: string) => Object.assign(new Error(msg), { code });
  it.each([
    [new TypeError("fetch failed", { cause: withCode("read ECONNRESET", "ECONNRESET") }), true],
    [new TypeError("fetch failed", { cause: withCode("other side closed", "UND_ERR_SOCKET") }), true],
    [new TypeError("fetch failed", { cause: new Error("socket hang up") }), true],
    [new DOMException("timed out", "TimeoutError"), true],
    [new TypeError("fetch failed", { cause: withCode("getaddrinfo ENOTFOUND x", "ENOTFOUND") }), false],
    [new Error("boom"), false],
  ])("transient: %s", (err, expected) => {
    expect(isTransientError(err)).toBe(expected);
  });

  const lost = new TypeError("fetch failed", { cause: withCode("other side closed", "UND_ERR_SOCKET") });
  const refused = new TypeError("fetch failed", { cause: withCode("connect ECONNREFUSED", "ECONNREFUSED") });
  const timedOut = new DOMException("timed out", "TimeoutError");
  it.each([
    // [rule, what happened, sent again?]
    ["idempotent", 500, true],
    ["idempotent", 429, true],
    ["idempotent", lost, true],
    ["idempotent", timedOut, true],
    ["idempotent", 404, false],
    // The registry may have acted: repeated only when it provably did not.
    ["unprocessed", refused, true],
    ["unprocessed", 429, true],
    ["unprocessed", 503, true],
    ["unprocessed", lost, false],
    ["unprocessed", timedOut, false],
    ["unprocessed", 500, false],
    ["unprocessed", 502, false],
    ["never", refused, false],
    ["never", 503, false],
  ] as const)("%s after %s: %s", (rule, outcome, expected) => {
    const again = typeof outcome === "number" ? mayRetryStatus(rule, outcome) : mayRetryError(rule, outcome);
    expect(again).toBe(expected);
  });

  it("describes the socket-level cause", () => {
    const err = new TypeError("fetch failed", { cause: withCode("read ECONNRESET", "ECONNRESET") });
    expect(describeNetworkError(err)).toBe("fetch failed: read ECONNRESET");
  });
});

describe("registry replies", () => {
  it.each([
    ["0-0", 0],
    ["0-99", 100],
    ["bytes=0-4095", 4096],
    [null, undefined],
    ["5-9", undefined],
  ])("upload Range %j → offset %j", (header, offset) => {
    expect(parseUploadRange(header)).toBe(offset);
  });

  it("reads the OCI error envelope", () => {
    const body = Buffer.from(
      JSON.stringify({ errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown", detail: {} }] }),
    );
    expect(parseOciError(body)).toEqual({ code: "BLOB_UNKNOWN", message: "blob unknown" });
    expect(parseOciError(Buffer.from("not json"))).toEqual({});
  });

  it("keeps a hostile registry's error text to one short line", () => {
    const body = (message: string) => Buffer.from(JSON.stringify({ errors: [{ code: "DENIED", message }] }));
    // A line break followed by "::" would be a workflow command in the Action's log.
    expect(parseOciError(body("denied\n::error::forged annotation\r\n"))).toEqual({
      code: "DENIED",
      message: "denied ::error::forged annotation",
    });
    const long = parseOciError(body("x".repeat(10_000))).message ?? "";
    expect(long).toBe(`${"x".repeat(200)}…`);
  });

  it.each([
    ["127.0.0.1:5000", true],
    ["127.1.2.3", true],
    ["localhost:5000", true],
    ["[::1]:5000", true],
    ["ghcr.io", false],
    ["10.0.0.1:5000", false],
    ["127.0.0.1.evil.example", false],
  ])("plain http for %s: %s", (host, expected) => {
    expect(defaultInsecure(host)).toBe(expected);
  });
});

describe("SecretRedactor", () => {
  it("reports each secret once and removes it from text and causes", () => {
    const seen: string[] = [];
    const r = new SecretRedactor((s) => seen.push(s));
    r.add("hunter22");
    r.add("hunter22");
    r.add(undefined);
    r.add("ab"); // too short to be a secret, and would mangle ordinary words
    expect(seen).toEqual(["hunter22"]);
    expect(r.redact("pass hunter22 again hunter22 ab")).toBe("pass *** again *** ab");
    const original = Object.assign(new Error("bad hunter22"), {
      code: "E1",
      request: { headers: { authorization: "x" } },
    });
    const safe = r.sanitize(original);
    expect(safe.message).toBe("bad ***");
    expect(JSON.stringify(safe)).toBe('{"name":"Error","code":"E1"}');
  });
});

// Which failed Kubernetes requests are sent again and after how long, and the words of the errors
// that end the others: a create is repeated only when the server certainly did not act on it, a 4xx
// never; Retry-After wins over backoff; messages carry the server's Status text, the operation, and
// for a 403 the RBAC verb, resource and namespace to grant.

import { describe, expect, it } from "vitest";
import { describeOperation, networkError, statusError } from "../../src/kube/errors.js";
import { mayRetry, parseRetryAfter, retryDelay } from "../../src/kube/retry.js";
import { parseStatus } from "../../src/kube/transport.js";

describe("mayRetry", () => {
  it.each<[string, boolean, { status: number } | { code: string }, boolean]>([
    ["GET after 429", true, { status: 429 }, true],
    ["GET after 503", true, { status: 503 }, true],
    ["apply after 500", true, { status: 500 }, true],
    ["apply after 422 Invalid", true, { status: 422 }, false],
    ["apply after 409 Conflict", true, { status: 409 }, false],
    ["GET after 404", true, { status: 404 }, false],
    ["GET after 403", true, { status: 403 }, false],
    ["GET after a reset connection", true, { code: "ECONNRESET" }, true],
    ["GET after a refused connection", true, { code: "ECONNREFUSED" }, true],
    ["GET after its own timeout", true, { code: "ETIMEDOUT" }, true],
    ["GET to a host that does not resolve", true, { code: "ENOTFOUND" }, false],
    ["GET with a certificate the client rejects", true, { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }, false],
    ["create after 429 (rejected before handling)", false, { status: 429 }, true],
    ["create after 503 (may have been stored)", false, { status: 503 }, false],
    ["create after a refused connection (never sent)", false, { code: "ECONNREFUSED" }, true],
    ["create after a reset connection (may have been stored)", false, { code: "ECONNRESET" }, false],
  ])("%s", (_name, idempotent, failure, expected) => {
    expect(mayRetry(idempotent, failure)).toBe(expected);
  });
});

describe("waiting before the next attempt", () => {
  const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 2000 };

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-05-04T12:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("Mon, 04 May 2026 12:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Mon, 04 May 2026 11:59:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it("honours Retry-After up to the policy's ceiling", () => {
    expect(retryDelay(policy, 1, 1000)).toBe(1000);
    expect(retryDelay(policy, 1, 60_000)).toBe(2000);
  });

  it("backs off exponentially, between half and all of the ceiling, capped", () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelay(policy, a, undefined, () => 0))).toEqual([
      50, 100, 200, 400, 800, 1000,
    ]);
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelay(policy, a, undefined, () => 1))).toEqual([
      100, 200, 400, 800, 1600, 2000,
    ]);
  });
});

describe("error messages", () => {
  const apply = {
    verb: "apply",
    kind: "Deployment",
    name: "web",
    namespace: "slipway",
    resource: "deployments.apps",
    rbacVerb: "patch",
    createsIfMissing: true,
  };

  it("names the operation", () => {
    expect(describeOperation(apply)).toBe('apply Deployment "slipway/web"');
    expect(describeOperation({ verb: "list", kind: "Pod", namespace: "slipway" })).toBe(
      'list Pod in namespace "slipway"',
    );
    expect(describeOperation({ verb: "get", kind: "Namespace", name: "slipway" })).toBe(
      'get Namespace "slipway"',
    );
  });

  it("a 422 is the server's Status message, with its causes", () => {
    const status = parseStatus(
      Buffer.from(
        JSON.stringify({
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          message:
            'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`',
          reason: "Invalid",
          details: {
            name: "web",
            group: "apps",
            kind: "Deployment",
            causes: [
              {
                reason: "FieldValueInvalid",
                message:
                  'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`',
                field: "spec.template.metadata.labels",
              },
            ],
          },
          code: 422,
        }),
      ),
    );
    const err = statusError(apply, "https://k8s.example.com", 422, status, 1);
    expect(err.message).toBe(
      'apply Deployment "slipway/web": Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`',
    );
    expect(err).toMatchObject({ status: 422, reason: "Invalid", attempts: 1 });
    expect(err.causes).toEqual([
      {
        field: "spec.template.metadata.labels",
        message:
          'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`',
      },
    ]);
  });

  it("a 403 says what to grant, even when a proxy answered without a Status", () => {
    const err = statusError(
      apply,
      "https://k8s.example.com",
      403,
      parseStatus(Buffer.from("<html><h1>Forbidden</h1></html>")),
      1,
    );
    expect(err.message).toBe(
      'apply Deployment "slipway/web": Forbidden (the credentials need RBAC verbs "patch" and, for an object that does not exist yet, "create" on "deployments.apps" in namespace "slipway")',
    );
  });

  it("a 403 of a read names the one verb it needs", () => {
    const get = { ...apply, verb: "get", rbacVerb: "get", createsIfMissing: false };
    expect(statusError(get, "https://k8s.example.com", 403, undefined, 1).message).toBe(
      'get Deployment "slipway/web": HTTP 403 from the API server (the credentials need RBAC verb "get" on "deployments.apps" in namespace "slipway")',
    );
  });

  it("a 5xx after retries says how many attempts were made", () => {
    const err = statusError(apply, "https://k8s.example.com", 503, undefined, 5);
    expect(err.message).toBe(
      'apply Deployment "slipway/web": HTTP 503 from the API server (after 5 attempts)',
    );
  });

  it("a network failure names the server and the cause", () => {
    expect(
      networkError(apply, "https://10.0.0.1:6443", "ETIMEDOUT", "no answer within 30000 ms", 5).message,
    ).toBe(
      'apply Deployment "slipway/web": cannot reach the Kubernetes API server at https://10.0.0.1:6443: timed out (ETIMEDOUT): no answer within 30000 ms after 5 attempts',
    );
    expect(
      networkError(apply, "https://k8s.internal", "ENOTFOUND", "getaddrinfo ENOTFOUND k8s.internal", 1)
        .message,
    ).toBe(
      'apply Deployment "slipway/web": cannot reach the Kubernetes API server at https://k8s.internal: host not found (ENOTFOUND) after 1 attempt',
    );
  });
});

// Test support: a small Docker token-auth server (the registry's `auth.token` realm). It checks Basic
// credentials (or an OAuth2 refresh token), grants the requested repository actions, and answers
// with an ES256 JWT whose x5c header carries a self-signed certificate — the same certificate the
// registry trusts through `rootcertbundle`. Every request is recorded for assertions.

import { createPrivateKey, randomUUID, sign, X509Certificate } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { makeTestCert } from "./test-cert.js";

export interface TokenRequestRecord {
  method: string;
  /** Authenticated user, "anonymous", or "rejected". */
  subject: string;
  scopes: string[];
  granted: Array<{ type: string; name: string; actions: string[] }>;
  /** When the reply was sent (Date.now()); a client asked no later than this. */
  at: number;
}

export interface TokenIssuerOptions {
  /** Directory for the key and certificate (a test's temp dir). */
  dir: string;
  users: Record<string, string>;
  /** OAuth2 refresh tokens (docker config "identitytoken") → user. */
  refreshTokens?: Record<string, string>;
  service?: string;
  issuer?: string;
  /** `expires_in` in the token response (default 300). */
  expiresInS?: number;
  /**
   * How long the registry accepts a token after issue, when a test needs it exact (see
   * TokenIssuer.acceptedForS). Unset: the JWT's exp is simply issue time + expiresInS.
   */
  acceptedForS?: number;
  anonymousPull?: boolean;
}

/**
 * distribution 2.8.2 accepts a token until 60 s past its `exp` (clock-skew leeway; measured against
 * the real registry: exp 59 s ago is accepted, 61 s ago refused).
 */
export const REGISTRY_EXP_LEEWAY_S = 60;

export interface TokenIssuer {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  requests: TokenRequestRecord[];
  /** Every token handed out, so tests can check none of them leaked. */
  issued: string[];
  /**
   * When set, the JWT's exp is written so that the registry refuses each token this many seconds
   * after issue, whatever `expires_in` told the client: equal to expiresInS for honest short-lived
   * tokens, shorter to play a token the registry rejects early (revoked, clock skew), zero or
   * negative for tokens dead on arrival. Tests may change it between pushes.
   */
  acceptedForS: number | undefined;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export async function startTokenIssuer(opts: TokenIssuerOptions): Promise<TokenIssuer> {
  const tls = makeTestCert(opts.dir, "token", "slipway test token issuer");
  const key = createPrivateKey(tls.key);
  const certDer = new X509Certificate(tls.cert).raw.toString("base64");
  const certPath = tls.certPath;
  const service = opts.service ?? "slipway-test-registry";
  const issuer = opts.issuer ?? "slipway-test-issuer";
  const expiresIn = opts.expiresInS ?? 300;
  const requests: TokenRequestRecord[] = [];
  const issued: string[] = [];
  // The handle tests hold; the JWT signer reads acceptedForS from it so a test can change it.
  const self: TokenIssuer = {
    realm: "",
    service,
    issuer,
    rootCertBundle: certPath,
    requests,
    issued,
    acceptedForS: opts.acceptedForS,
    close: async () => {},
  };

  const jwt = (subject: string, access: TokenRequestRecord["granted"]): string => {
    const now = Math.floor(Date.now() / 1000);
    const accepted = self.acceptedForS;
    const exp = accepted === undefined ? now + expiresIn : now + accepted - REGISTRY_EXP_LEEWAY_S;
    // distribution verifies x5c against rootcertbundle, then iss, aud, nbf/exp and the access list.
    const header = { typ: "JWT", alg: "ES256", x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      exp,
      nbf: Math.min(now - 10, exp),
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    // JWS ES256 wants the raw r||s signature, not DER.
    const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
    return `${input}.${b64url(sig)}`;
  };

  const grant = (subject: string, scopes: string[]): TokenRequestRecord["granted"] => {
    const out: TokenRequestRecord["granted"] = [];
    for (const scope of scopes) {
      const first = scope.indexOf(":");
      const last = scope.lastIndexOf(":");
      if (first < 0 || last === first) continue;
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const wanted = scope.slice(last + 1).split(",");
      const allowed = subject === "anonymous" ? (opts.anonymousPull ? ["pull"] : []) : ["pull", "push"];
      const actions = wanted.filter((a) => allowed.includes(a));
      if (type === "repository" && actions.length > 0) out.push({ type, name, actions });
    }
    return out;
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = "";
      req.on("data", (c: Buffer) => {
        s += c.toString("utf8");
      });
      req.on("end", () => resolve(s));
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://issuer");
    let scopes = url.searchParams
      .getAll("scope")
      .flatMap((s) => s.split(" "))
      .filter(Boolean);
    let subject = "anonymous";
    if (req.method === "POST") {
      const form = new URLSearchParams(await readBody(req));
      scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      const user =
        form.get("grant_type") === "refresh_token"
          ? opts.refreshTokens?.[form.get("refresh_token") ?? ""]
          : undefined;
      if (!user) return reject(req, res, scopes);
      subject = user;
    } else {
      const auth = req.headers.authorization;
      if (auth) {
        const m = /^Basic (.+)$/i.exec(auth);
        const decoded = m?.[1] ? Buffer.from(m[1], "base64").toString("utf8") : "";
        const colon = decoded.indexOf(":");
        const user = decoded.slice(0, colon);
        if (colon < 0 || opts.users[user] === undefined || opts.users[user] !== decoded.slice(colon + 1)) {
          return reject(req, res, scopes);
        }
        subject = user;
      }
    }
    const granted = grant(subject, scopes);
    requests.push({ method: req.method ?? "GET", subject, scopes, granted, at: Date.now() });
    const token = jwt(subject, granted);
    issued.push(token);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: expiresIn,
        issued_at: new Date().toISOString(),
      }),
    );
  };
  const reject = (req: IncomingMessage, res: ServerResponse, scopes: string[]) => {
    requests.push({ method: req.method ?? "GET", subject: "rejected", scopes, granted: [], at: Date.now() });
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ details: "incorrect username or password" }));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  self.realm = `http://127.0.0.1:${port}/token`;
  self.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return self;
}

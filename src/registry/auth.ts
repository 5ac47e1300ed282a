// Registry authentication: parsing WWW-Authenticate challenges, Basic credentials, and the Docker
// token flow (Bearer realm/service/scope → GET or OAuth2 POST to the realm → token cached per
// registry and scope until it expires). Every credential and token is handed to the redactor first.

import { isRecord } from "../util/record.js";
import { RegistryError, type SecretRedactor } from "./errors.js";
import type { CredentialSource, Credentials } from "./types.js";

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate value (RFC 9110 §11.6.1). Several challenges may share one header (fetch
 * joins repeated headers with ", "), so a bare token not followed by "=" starts the next challenge.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = (re: RegExp) => {
    while (i < n && re.test(header.charAt(i))) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(header.charAt(i))) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skip(/[\s,]/);
    if (i >= n) break;
    const start = i;
    const name = token();
    if (name === "") {
      i++; // junk character: skip it rather than loop forever
      continue;
    }
    skip(/\s/);
    if (header.charAt(i) === "=" && current) {
      i++;
      skip(/\s/);
      let value = "";
      if (header.charAt(i) === '"') {
        i++;
        while (i < n && header.charAt(i) !== '"') {
          if (header.charAt(i) === "\\" && i + 1 < n) i++;
          value += header.charAt(i);
          i++;
        }
        i++;
      } else {
        value = token();
      }
      current.params[name.toLowerCase()] = value;
    } else {
      i = start + name.length;
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

/** "repository:<name>:<actions>" — the access a request needs, in the token spec's scope syntax. */
export function repositoryScope(repository: string, actions: "pull" | "pull,push" | "delete"): string {
  return `repository:${repository}:${actions}`;
}

function scopeCovers(have: string[], want: string): boolean {
  const [type, name, actions] = splitScope(want);
  return have.some((h) => {
    const [t, nm, a] = splitScope(h);
    if (t !== type || nm !== name) return false;
    const granted = new Set(a.split(","));
    return actions.split(",").every((x) => granted.has(x));
  });
}

function splitScope(scope: string): [string, string, string] {
  // type:name:actions — take type and actions from the ends so the name is everything in between.
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last === first) return [scope, "", ""];
  return [scope.slice(0, first), scope.slice(first + 1, last), scope.slice(last + 1)];
}

type RegistryAuthState =
  | { kind: "anonymous" }
  | { kind: "basic" }
  | { kind: "bearer"; realm: string; service?: string };

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** What the authenticator needs from the transport to call a token realm (timeouts and retries). */
export type TokenFetch = (
  url: URL,
  init: { method: "GET" | "POST"; headers: Record<string, string>; body?: string },
  context: { registry: string; repository: string },
) => Promise<{ status: number; body: Buffer }>;

export interface AuthenticatorOptions {
  credentials: CredentialSource | undefined;
  redactor: SecretRedactor;
  insecure: (hostPort: string) => boolean;
  fetchToken: TokenFetch;
  log: (line: string) => void;
  now?: () => number;
}

/** Default token lifetime when the realm does not say (token spec: "defaults to 60 seconds"). */
const DEFAULT_TOKEN_TTL_S = 60;
const OAUTH_CLIENT_ID = "slipway";

export class Authenticator {
  readonly #opts: AuthenticatorOptions;
  readonly #state = new Map<string, RegistryAuthState>();
  readonly #tokens = new Map<string, CachedToken>();
  readonly #now: () => number;

  constructor(opts: AuthenticatorOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  #credentials(registry: string): Credentials | undefined {
    const creds = this.#opts.credentials?.forRegistry(registry);
    if (creds) {
      this.#opts.redactor.add(creds.password);
      this.#opts.redactor.add(creds.identityToken);
    }
    return creds;
  }

  #basicHeader(creds: Credentials): string | undefined {
    if (creds.username === undefined || creds.password === undefined) return undefined;
    const encoded = Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
    this.#opts.redactor.add(encoded);
    return `Basic ${encoded}`;
  }

  /** The Authorization header for a request needing `scopes`, or undefined to go anonymous first. */
  async authorization(registry: string, repository: string, scopes: string[]): Promise<string | undefined> {
    const state = this.#state.get(registry);
    if (!state || state.kind === "anonymous") return undefined;
    if (state.kind === "basic") {
      const creds = this.#credentials(registry);
      return creds ? this.#basicHeader(creds) : undefined;
    }
    const token = await this.#token(registry, repository, state, scopes);
    return token ? `Bearer ${token}` : undefined;
  }

  /**
   * Learns from a 401. Throws when retrying cannot help: credentials already sent and rejected, the
   * registry wants credentials and none are configured, or (`renewed`: the request already went
   * through one challenge) a token fetched for this very request was refused as well.
   */
  async challenge(
    registry: string,
    repository: string,
    header: string | null,
    scopes: string[],
    sentAuthorization: string | undefined,
    renewed = false,
  ): Promise<string[]> {
    const challenges = parseChallenges(header ?? "");
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    const creds = this.#credentials(registry);
    if (bearer?.params.realm) {
      const state: RegistryAuthState = { kind: "bearer", realm: bearer.params.realm };
      if (bearer.params.service !== undefined) state.service = bearer.params.service;
      this.#state.set(registry, state);
      // A token we sent was refused (expired, revoked, or too narrow): never reuse it.
      this.#tokens.delete(this.#tokenKey(registry, scopes));
      const wanted = bearer.params.scope?.split(" ").filter((s) => s.length > 0) ?? [];
      const extra = wanted.filter((w) => !scopeCovers(scopes, w));
      const refused = sentAuthorization?.startsWith("Bearer ") === true && extra.length === 0;
      if (refused && bearer.params.error === "invalid_token" && renewed) {
        // A token fetched for this very request is already invalid: expired on arrival or signed by
        // an issuer the registry does not trust. Fetching yet another one would only loop.
        throw this.#denied(
          registry,
          repository,
          creds,
          "the registry refused a freshly issued token as invalid (expired or untrusted: compare the clocks and the registry's token settings)",
        );
      }
      if (refused && bearer.params.error !== "invalid_token") {
        // The realm issued the token for exactly these scopes and the registry still refuses it.
        throw this.#denied(
          registry,
          repository,
          creds,
          "the token service did not grant the required access",
        );
      }
      return [...scopes, ...extra];
    }
    if (basic) {
      this.#state.set(registry, { kind: "basic" });
      if (sentAuthorization?.startsWith("Basic "))
        throw this.#denied(registry, repository, creds, "credentials rejected");
      if (!creds || this.#basicHeader(creds) === undefined) {
        throw this.#denied(registry, repository, undefined, "the registry requires a username and password");
      }
      return scopes;
    }
    throw this.#denied(registry, repository, creds, "unsupported authentication challenge");
  }

  #denied(registry: string, repository: string, creds: Credentials | undefined, why: string): RegistryError {
    const who = creds?.username
      ? `as user ${JSON.stringify(creds.username)}`
      : creds?.identityToken
        ? "with an identity token"
        : "anonymously (no credentials configured for this registry)";
    return new RegistryError(
      this.#opts.redactor.redact(`not authorized to access ${registry}/${repository} ${who}: ${why}`),
      { registry, repository, status: 401, code: "UNAUTHORIZED", operation: "authenticate" },
    );
  }

  #tokenKey(registry: string, scopes: string[]): string {
    return `${registry} ${[...scopes].sort().join(" ")}`;
  }

  async #token(
    registry: string,
    repository: string,
    state: Extract<RegistryAuthState, { kind: "bearer" }>,
    scopes: string[],
  ): Promise<string | undefined> {
    const key = this.#tokenKey(registry, scopes);
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > this.#now()) return cached.value;

    const realm = new URL(state.realm);
    const creds = this.#credentials(registry);
    const realmHost = realm.host;
    // Credentials never travel in clear where the registry itself is reached over TLS: an http realm
    // is used only by a registry configured as plain http, and only on a host configured so as well.
    const plainHttp = realm.protocol === "http:";
    if (plainHttp && creds && !(this.#opts.insecure(registry) && this.#opts.insecure(realmHost))) {
      throw new RegistryError(
        `refusing to send credentials for ${registry} to a plain-http token realm on ${realmHost}: only a registry configured as plain http may name one, on a host configured so as well`,
        { registry, repository, code: "INSECURE_REALM", operation: "authenticate" },
      );
    }
    const started = this.#now();
    let reply: { status: number; body: Buffer } | undefined;
    if (creds?.identityToken) {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: creds.identityToken,
        client_id: OAUTH_CLIENT_ID,
        scope: scopes.join(" "),
      });
      if (state.service !== undefined) form.set("service", state.service);
      reply = await this.#opts.fetchToken(
        realm,
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
        },
        { registry, repository },
      );
      // OAuth spec: token servers without OAuth2 answer 404 to POST; then use the GET flow.
      if (reply.status === 404 || reply.status === 405) reply = undefined;
    }
    if (!reply) {
      const url = new URL(realm);
      if (state.service !== undefined) url.searchParams.set("service", state.service);
      for (const s of scopes) url.searchParams.append("scope", s);
      const headers: Record<string, string> = {};
      const basic = creds ? this.#basicHeader(creds) : undefined;
      if (basic) headers.authorization = basic;
      reply = await this.#opts.fetchToken(url, { method: "GET", headers }, { registry, repository });
    }
    if (reply.status === 401 || reply.status === 403) {
      throw this.#denied(
        registry,
        repository,
        creds,
        `the token service at ${realmHost} rejected the credentials`,
      );
    }
    if (reply.status !== 200) {
      throw new RegistryError(
        `token service at ${realmHost} for ${registry}/${repository} answered HTTP ${reply.status}`,
        { registry, repository, status: reply.status, operation: "authenticate" },
      );
    }
    const parsed = parseTokenResponse(reply.body);
    if (!parsed) {
      throw new RegistryError(`token service at ${realmHost} for ${registry}/${repository} sent no token`, {
        registry,
        repository,
        operation: "authenticate",
      });
    }
    this.#opts.redactor.add(parsed.token);
    // Renew a little early so a token does not expire between our check and the registry's.
    const ttlMs = parsed.expiresIn * 1000;
    this.#tokens.set(key, { value: parsed.token, expiresAt: started + ttlMs - Math.min(10_000, ttlMs / 10) });
    this.#opts.log(`auth: token for ${registry} (${scopes.join(" ")}) valid ${parsed.expiresIn}s`);
    return parsed.token;
  }
}

export function parseTokenResponse(body: Buffer): { token: string; expiresIn: number } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isRecord(json)) return undefined;
  const r = json;
  const token = typeof r.token === "string" && r.token ? r.token : r.access_token;
  if (typeof token !== "string" || token.length === 0) return undefined;
  const expiresIn = typeof r.expires_in === "number" && r.expires_in > 0 ? r.expires_in : DEFAULT_TOKEN_TTL_S;
  return { token, expiresIn };
}

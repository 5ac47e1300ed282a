// Where registry credentials come from: a docker config.json ("auths" entries) and explicit values
// (action inputs), combined in priority order. credsStore/credHelpers (external helper binaries) are
// deliberately not supported: CI runners hand credentials over as inputs or as a plain config.json.

import { isRecord } from "../util/record.js";
import { DOCKER_HUB } from "./image-name.js";
import type { CredentialSource, Credentials } from "./types.js";

/** Key used to match registries: host[:port], lower case, Docker Hub aliases folded together. */
export function registryKey(hostOrUrl: string): string {
  let host = hostOrUrl.trim().toLowerCase();
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//, "");
  const slash = host.indexOf("/");
  if (slash >= 0) host = host.slice(0, slash);
  if (host === "docker.io" || host === "index.docker.io" || host === "registry-1.docker.io")
    return DOCKER_HUB;
  return host;
}

/** Reads `auths.<host>.auth` (base64 "user:pass"), `username`/`password` and `identitytoken`. */
export function credentialsFromDockerConfig(jsonText: string): CredentialSource {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonText);
  } catch {
    // The text may hold secrets: never echo it.
    throw new Error("docker config is not valid JSON");
  }
  const byRegistry = new Map<string, Credentials>();
  const auths = isRecord(parsed) ? parsed.auths : undefined;
  if (isRecord(auths)) {
    for (const [host, entry] of Object.entries(auths)) {
      if (!isRecord(entry)) continue;
      const creds: Credentials = {};
      if (typeof entry.auth === "string" && entry.auth.length > 0) {
        const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon < 0)
          throw new Error(`docker config: auths entry for ${registryKey(host)} is not "user:password"`);
        creds.username = decoded.slice(0, colon);
        creds.password = decoded.slice(colon + 1);
      }
      if (typeof entry.username === "string" && creds.username === undefined) creds.username = entry.username;
      if (typeof entry.password === "string" && creds.password === undefined) creds.password = entry.password;
      if (typeof entry.identitytoken === "string" && entry.identitytoken.length > 0) {
        creds.identityToken = entry.identitytoken;
      }
      if (Object.keys(creds).length > 0) byRegistry.set(registryKey(host), creds);
    }
  }
  return { forRegistry: (registry) => byRegistry.get(registryKey(registry)) };
}

/** Explicit credentials for one registry (e.g. the action's registry-username/password inputs). */
export function staticCredentials(registry: string, creds: Credentials): CredentialSource {
  const key = registryKey(registry);
  return { forRegistry: (r) => (registryKey(r) === key ? creds : undefined) };
}

/** The first source that knows the registry wins. */
export function combineCredentials(...sources: CredentialSource[]): CredentialSource {
  return {
    forRegistry(registry) {
      for (const s of sources) {
        const c = s.forRegistry(registry);
        if (c) return c;
      }
      return undefined;
    },
  };
}

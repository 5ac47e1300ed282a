// Public surface of the OCI distribution client used by the daemonless image builder: image
// references, credentials, the RegistryClient factory and its error class. Import from here only.

export { createRegistryClient, DEFAULT_CHUNK_SIZE, REGISTRY_CLIENT_DEFAULTS } from "./client.js";
export { combineCredentials, credentialsFromDockerConfig, staticCredentials } from "./credentials.js";
export { DigestHasher, SHA256_DIGEST, sha256Digest } from "./digest.js";
export { RegistryError } from "./errors.js";
export { formatImageName, parseImageName } from "./image-name.js";
export * from "./media-types.js";
export type {
  BlobLocation,
  BlobSpec,
  CredentialSource,
  Credentials,
  EnsureBlobResult,
  ImageName,
  Manifest,
  RegistryClient,
  RegistryClientOptions,
} from "./types.js";

// Types shared by the registry client modules and its callers (the image builder). Pure declarations.

export interface ImageName {
  /** Host[:port]; Docker Hub is normalised to "registry-1.docker.io". */
  registry: string;
  /** Path inside the registry; single-name Docker Hub repositories get "library/". */
  repository: string;
  tag?: string;
  digest?: string;
}

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token as `docker login` stores it ("identitytoken" in config.json). */
  identityToken?: string;
}

export interface CredentialSource {
  forRegistry(registry: string): Credentials | undefined;
}

export interface RegistryClientOptions {
  credentials?: CredentialSource;
  /**
   * Is this registry (host[:port]) reached over plain http? The workflow says so for a registry it
   * marks plain-http; by default true for 127.0.0.0/8, ::1 and localhost only. Credentials travel
   * over http only to a registry this says is plain http (and to an http token realm only when it
   * says so of the realm's host as well): an https registry's credentials are never downgraded.
   */
  insecure?: (registry: string) => boolean;
  /** Per request; a chunk of a streamed upload is one request, so this is also the per-chunk timeout. */
  timeoutMs?: number;
  /** Attempts per request (and per blob upload) before giving up. Default 5. */
  retries?: number;
  /** Blobs smaller than this go up in one PUT; larger ones in PATCH chunks of this size. Default 8 MiB. */
  chunkSize?: number;
  /** First backoff delay; doubles per attempt with full jitter. Default 500 ms. Tests set a few ms. */
  retryBaseDelayMs?: number;
  /** Upper bound for one backoff or Retry-After wait. Default 30 s. */
  retryMaxDelayMs?: number;
  /** Called with every secret seen (passwords, tokens) so the Action can mask them. */
  onSecret?: (s: string) => void;
  log?: (line: string) => void;
}

export interface Manifest {
  mediaType: string;
  /** sha256 of `bytes`. */
  digest: string;
  /** Exact bytes as served; the digest is over these, so never re-serialise `json`. */
  bytes: Buffer;
  json: unknown;
}

export interface BlobLocation {
  registry: string;
  repository: string;
}

export interface BlobSpec {
  digest: string;
  size: number;
  /** Opens the content from `offset`; called again after an interrupted upload to resume. */
  open?: (offset: number) => NodeJS.ReadableStream | Promise<NodeJS.ReadableStream>;
  /** Repositories already holding the blob (e.g. the base image's). */
  sources?: BlobLocation[];
}

export interface EnsureBlobResult {
  /** Bytes sent in request bodies, re-sent bytes included. */
  uploadedBytes: number;
  how: "present" | "mounted" | "copied" | "uploaded";
}

export interface RegistryClient {
  getManifest(image: ImageName, accept?: string[]): Promise<Manifest>;
  putManifest(image: ImageName, mediaType: string, bytes: Buffer): Promise<string>;
  hasBlob(registry: string, repository: string, digest: string): Promise<boolean>;
  mountBlob(registry: string, repository: string, digest: string, fromRepository: string): Promise<boolean>;
  ensureBlob(target: BlobLocation, blob: BlobSpec): Promise<EnsureBlobResult>;
  getBlob(registry: string, repository: string, digest: string): Promise<NodeJS.ReadableStream>;
}

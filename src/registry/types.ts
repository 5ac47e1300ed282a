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
  /**
   * Longest wait for a reply's headers (a chunk of a streamed upload is sent within it too, so this is
   * also the per-chunk upload timeout) and longest silence inside a reply's body. Default 60 s.
   */
  timeoutMs?: number;
  /**
   * Longest a reply may take, headers and body: a manifest, config, token or error reply within it
   * whole, a streamed blob within it for every chunkSize bytes (so a large blob at honest speed is
   * never cut, and a registry trickling bytes is). Not retried when passed. Default: the larger of
   * 60 s and timeoutMs.
   */
  deadlineMs?: number;
  /** Largest manifest read; reading stops the moment a reply passes it. Default 4 MiB (OCI: SHOULD accept 4 MiB). */
  maxManifestBytes?: number;
  /** Largest blob getBlobBytes reads into memory (image configs). Default 8 MiB. */
  maxBlobReadBytes?: number;
  /**
   * Attempts per request (and consecutive failed attempts per blob upload) before giving up; so also
   * the most upload sessions one blob opens without hearing back (see upload.ts). Default 5.
   */
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

/** What a manifest delete came to; only a registry's refusal for other reasons is an error. */
export type DeleteManifestResult =
  | { deleted: true }
  /** absent: the registry has no such manifest (404); not-allowed: it does not delete (405, or 400 UNSUPPORTED). */
  | { deleted: false; reason: "absent" | "not-allowed"; message: string };

export interface RegistryClient {
  getManifest(image: ImageName, accept?: string[]): Promise<Manifest>;
  putManifest(image: ImageName, mediaType: string, bytes: Buffer): Promise<string>;
  hasBlob(registry: string, repository: string, digest: string): Promise<boolean>;
  mountBlob(registry: string, repository: string, digest: string, fromRepository: string): Promise<boolean>;
  ensureBlob(target: BlobLocation, blob: BlobSpec): Promise<EnsureBlobResult>;
  /**
   * The blob as a stream, its digest verified at the end. With `size` (the descriptor's), the
   * stream fails as soon as more bytes than that arrive.
   */
  getBlob(
    registry: string,
    repository: string,
    digest: string,
    size?: number,
  ): Promise<NodeJS.ReadableStream>;
  /**
   * A small blob (an image config) read whole into memory and verified: at most `size` bytes (the
   * descriptor's) and at most maxBlobReadBytes; a larger descriptor is refused before any request.
   */
  getBlobBytes(registry: string, repository: string, digest: string, size: number): Promise<Buffer>;
  /** Every tag of the repository, page by page as the registry links them (GET /v2/<name>/tags/list). */
  listTags(image: BlobLocation, options?: { pageSize?: number }): Promise<string[]>;
  /** Deletes a manifest by digest (and so every tag naming it): DELETE /v2/<name>/manifests/<digest>. */
  deleteManifest(image: BlobLocation, digest: string): Promise<DeleteManifestResult>;
}

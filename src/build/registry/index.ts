// Public surface of the OCI distribution client used by the daemonless image builder:
// image references, credentials, and the RegistryClient factory. Bodies land in sibling modules.

export interface ImageName {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageName(_ref: string): ImageName {
  throw new Error("not implemented");
}

export function formatImageName(_n: ImageName): string {
  throw new Error("not implemented");
}

export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
}

export interface CredentialSource {
  forRegistry(registry: string): Credentials | undefined;
}

export function credentialsFromDockerConfig(_jsonText: string): CredentialSource {
  throw new Error("not implemented");
}

export function combineCredentials(..._sources: CredentialSource[]): CredentialSource {
  throw new Error("not implemented");
}

export interface RegistryClientOptions {
  credentials?: CredentialSource;
  /** Plain HTTP for this registry? Default: true for 127.0.0.0/8 and localhost. */
  insecure?: (registry: string) => boolean;
  timeoutMs?: number;
  retries?: number;
  chunkSize?: number;
  /** Called with every secret seen (passwords, tokens) so the Action can mask them. */
  onSecret?: (s: string) => void;
  log?: (line: string) => void;
}

export interface Manifest {
  mediaType: string;
  digest: string;
  /** Exact bytes as served; the digest is over these. */
  bytes: Buffer;
  json: unknown;
}

export interface BlobSpec {
  digest: string;
  size: number;
  open?: (offset: number) => NodeJS.ReadableStream | Promise<NodeJS.ReadableStream>;
  sources?: Array<{ registry: string; repository: string }>;
}

export interface EnsureBlobResult {
  uploadedBytes: number;
  how: "present" | "mounted" | "copied" | "uploaded";
}

export interface RegistryClient {
  getManifest(image: ImageName, accept?: string[]): Promise<Manifest>;
  putManifest(image: ImageName, mediaType: string, bytes: Buffer): Promise<string>;
  hasBlob(registry: string, repository: string, digest: string): Promise<boolean>;
  mountBlob(registry: string, repository: string, digest: string, fromRepository: string): Promise<boolean>;
  ensureBlob(target: { registry: string; repository: string }, blob: BlobSpec): Promise<EnsureBlobResult>;
  getBlob(registry: string, repository: string, digest: string): Promise<NodeJS.ReadableStream>;
}

export function createRegistryClient(_opts: RegistryClientOptions = {}): RegistryClient {
  throw new Error("not implemented");
}

export class RegistryError extends Error {
  readonly registry: string;
  readonly status?: number;
  readonly code?: string;
  constructor(message: string, registry: string, status?: number, code?: string) {
    super(message);
    this.name = "RegistryError";
    this.registry = registry;
    if (status !== undefined) this.status = status;
    if (code !== undefined) this.code = code;
  }
}

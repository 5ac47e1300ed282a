// What building one endpoint's version image produced; the same shape from both builders, so the
// CLI, the Action's outputs and the deployer do not care which builder ran.

export type LayerRole = "base" | "code" | "files" | "config" | "image";

export interface LayerPush {
  role: LayerRole;
  digest: string;
  size: number;
  /** How the registry came to hold it: already there, mounted, copied from another registry, uploaded. */
  how: "present" | "mounted" | "copied" | "uploaded";
  uploadedBytes: number;
}

export interface EndpointImage {
  endpoint: string;
  /** `<registry>/<repository>` without tag or digest. */
  repository: string;
  tag: string;
  /** Digest of what the tag points at: an image manifest, or an index for multi-platform bases. */
  digest: string;
  /** What gets deployed: `<repository>@<digest>`. */
  reference: string;
  mediaType: string;
  platforms: string[];
  /** Every byte sent to the registry for this endpoint: layers, configs, manifests. */
  uploadedBytes: number;
  /** The part of `uploadedBytes` that was image layers. */
  layerBytesUploaded: number;
  blobs: LayerPush[];
  builder: "registry" | "docker";
}

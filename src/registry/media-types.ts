// Every media type the client and the image builder name (OCI image-spec media-types.md and the
// Docker schema2 types it maps), and the default Accept list for manifest GETs. The one copy.

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_NONDISTRIBUTABLE_LAYER_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
export const DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
export const DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/** The same values keyed by name, as the image builder reads them. */
export const MediaType = {
  ociManifest: OCI_MANIFEST,
  ociIndex: OCI_INDEX,
  ociConfig: OCI_CONFIG,
  ociLayerGzip: OCI_LAYER_GZIP,
  ociNondistributableLayerGzip: OCI_NONDISTRIBUTABLE_LAYER_GZIP,
  dockerManifest: DOCKER_MANIFEST,
  dockerList: DOCKER_MANIFEST_LIST,
  dockerConfig: DOCKER_CONFIG,
  dockerLayerGzip: DOCKER_LAYER_GZIP,
  dockerForeignLayerGzip: DOCKER_FOREIGN_LAYER_GZIP,
} as const;

/**
 * All four manifest kinds: a registry only serves a manifest whose type is in Accept (a registry
 * holding an OCI manifest answers 404 to a Docker-only Accept), and the builder handles both families.
 */
export const DEFAULT_MANIFEST_ACCEPT: readonly string[] = [
  OCI_MANIFEST,
  OCI_INDEX,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
];

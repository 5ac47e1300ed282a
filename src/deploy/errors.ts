// The one error manifest rendering raises: inputs that cannot become valid Kubernetes objects.

/** Inputs the manifests cannot be rendered from (a missing or tag-only image, too many endpoints for one route). */
export class ManifestError extends Error {
  override readonly name = "ManifestError";
}

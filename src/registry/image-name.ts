// Image references: parsing "python:3.12", "ghcr.io/o/r@sha256:…", "127.0.0.1:5000/x:y" into
// ImageName (Docker's normalisation rules) and formatting them back. Pure.

import { SHA256_DIGEST } from "./digest.js";
import type { ImageName } from "./types.js";

export const DOCKER_HUB = "registry-1.docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

// Grammar of github.com/distribution/reference: lower-case path components separated by ".", "_",
// "__" or runs of "-"; tags of word characters, dots and dashes, at most 128.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;
const MAX_NAME = 255;

export function parseImageName(ref: string): ImageName {
  const fail = (why: string): never => {
    throw new Error(`invalid image reference ${JSON.stringify(ref)}: ${why}`);
  };
  if (ref.length === 0) fail("empty");
  if (ref !== ref.trim()) fail("leading or trailing whitespace");

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(`bad digest ${JSON.stringify(digest)}`);
    if (digest.startsWith("sha256:") && !SHA256_DIGEST.test(digest))
      fail("sha256 digest must be 64 hex characters");
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.indexOf(":", lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`bad tag ${JSON.stringify(tag)}`);
  }

  // Docker's rule: the first component is a registry host only if it looks like one.
  const firstSlash = rest.indexOf("/");
  let registry = DOCKER_HUB;
  let path = rest;
  if (firstSlash >= 0) {
    const first = rest.slice(0, firstSlash);
    if (
      first.includes(".") ||
      first.includes(":") ||
      first === "localhost" ||
      first !== first.toLowerCase()
    ) {
      if (!HOST.test(first)) fail(`bad registry host ${JSON.stringify(first)}`);
      registry = DOCKER_HUB_ALIASES.has(first) ? DOCKER_HUB : first;
      path = rest.slice(firstSlash + 1);
    }
  }

  if (path.length === 0) fail("missing repository");
  for (const component of path.split("/")) {
    if (!PATH_COMPONENT.test(component)) {
      fail(
        component !== component.toLowerCase()
          ? "repository names must be lower case"
          : `bad repository path component ${JSON.stringify(component)}`,
      );
    }
  }
  if (registry === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  if (registry.length + 1 + path.length > MAX_NAME) fail(`name longer than ${MAX_NAME} characters`);

  const name: ImageName = { registry, repository: path };
  // As docker does: no tag and no digest means "latest".
  if (tag !== undefined) name.tag = tag;
  else if (digest === undefined) name.tag = "latest";
  if (digest !== undefined) name.digest = digest;
  return name;
}

export function formatImageName(n: ImageName): string {
  let out = `${n.registry}/${n.repository}`;
  if (n.tag !== undefined) out += `:${n.tag}`;
  if (n.digest !== undefined) out += `@${n.digest}`;
  return out;
}

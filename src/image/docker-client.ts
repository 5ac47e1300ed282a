// The one factory for Docker engine clients. The engine's address comes from DOCKER_HOST as the
// docker CLI reads it; the API version is pinned because dockerd 20.10 speaks 1.41 and dockerode
// does not negotiate down by itself.

import Docker from "dockerode";

export const DOCKER_API_VERSION = "v1.41";

export function createDockerClient(env: Record<string, string | undefined>): Docker {
  const host = env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  if (host.startsWith("unix://")) {
    return new Docker({ socketPath: host.slice("unix://".length), version: DOCKER_API_VERSION });
  }
  const url = new URL(host.replace(/^tcp:/, "http:"));
  return new Docker({
    host: url.hostname,
    port: Number(url.port || 2375),
    protocol: "http",
    version: DOCKER_API_VERSION,
  });
}

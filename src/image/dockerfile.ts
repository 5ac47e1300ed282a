// The Dockerfile the docker builder generates: the same image the registry builder assembles (same
// app directory, command, port and labels, from image-config.ts), expressed as Docker instructions
// over a build context laid out as `code/` (repository files) and `files/` (declared files).

import type { Endpoint } from "../config/types.js";
import { APP_DIR, type SourceInfo, serverCommand, versionLabels } from "./image-config.js";

export const CONTEXT_CODE_DIR = "code";
export const CONTEXT_FILES_DIR = "files";

export function generateDockerfile(endpoint: Endpoint, source: SourceInfo, hasFiles: boolean): string {
  const labels = Object.entries(versionLabels(source))
    .map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`)
    .join(" ");
  const lines = [
    `FROM ${endpoint.image}`,
    `COPY ${CONTEXT_CODE_DIR}/ ${APP_DIR}/`,
    ...(hasFiles ? [`COPY ${CONTEXT_FILES_DIR}/ ${APP_DIR}/`] : []),
    `WORKDIR ${APP_DIR}`,
    `EXPOSE ${endpoint.port}/tcp`,
    `LABEL ${labels}`,
    // Exec (JSON) form throughout, so Docker adds no shell of its own around ours.
    "ENTRYPOINT []",
    `CMD ${JSON.stringify(serverCommand(endpoint.server, endpoint.port))}`,
  ];
  return `${lines.join("\n")}\n`;
}

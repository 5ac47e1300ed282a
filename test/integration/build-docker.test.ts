// The `builder: docker` path on the real local engine: the generated Dockerfile gives images that
// run like the registry builder's, the engine's output lands in a log group, and the push reports a
// digest the registry serves.

import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerClient } from "../../src/clients.js";
import { loadConfigOrThrow } from "../../src/config/load.js";
import type { Endpoint } from "../../src/config/types.js";
import { buildVersion } from "../../src/image/build-version.js";
import type { BuildLog } from "../../src/image/log.js";
import { docker, env, probe } from "./build-helpers.js";

const FIXTURE = path.resolve("fixtures/build-sample");
let repo: string;
let endpoints: Endpoint[];
let prefix: string;

beforeAll(async () => {
  repo = await mkdtemp(path.join(tmpdir(), "slipway-build-docker-"));
  await cp(FIXTURE, repo, { recursive: true });
  const { config } = await loadConfigOrThrow(path.join(repo, "valohai.yaml"));
  endpoints = config.endpoints.map((e) => ({ ...e, image: env("SLIPWAY_TEST_PYTHON_IMAGE") }));
  prefix = `${env("SLIPWAY_TEST_REGISTRY")}/build-docker-${Date.now().toString(36)}`;
});

afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
});

function recordingLog(): BuildLog & { lines: string[]; groups: string[] } {
  const lines: string[] = [];
  const groups: string[] = [];
  return {
    lines,
    groups,
    info: (l) => lines.push(l),
    group: async (title, fn) => {
      groups.push(title);
      lines.push(`::group::${title}`);
      try {
        return await fn();
      } finally {
        lines.push("::endgroup::");
      }
    },
  };
}

describe("docker builder", () => {
  it("builds, pushes and runs both server variants with the model at its path", async () => {
    const log = recordingLog();
    const build = await buildVersion({
      repoRoot: repo,
      endpoints: endpoints.map((endpoint) => ({ endpoint, imageRepository: `${prefix}/${endpoint.name}` })),
      tag: "v1",
      source: { revision: "2".repeat(40), time: new Date("2024-01-02T03:04:05Z") },
      builder: "docker",
      docker: await dockerClient(process.env),
      log,
    });
    expect(build.images.map((i) => i.builder)).toEqual(["docker", "docker"]);
    const [wsgi, command] = build.images;
    if (wsgi === undefined || command === undefined) throw new Error("two images expected");
    expect(wsgi.reference).toMatch(/@sha256:[0-9a-f]{64}$/);
    // Build output is folded per image: the engine's steps appear inside their group.
    expect(log.groups).toEqual([
      `docker build ${prefix}/predict-wsgi:v1`,
      `docker push ${prefix}/predict-wsgi:v1`,
      `docker build ${prefix}/predict-command:v1`,
      `docker push ${prefix}/predict-command:v1`,
    ]);
    const inFirstGroup = log.lines.slice(1, log.lines.indexOf("::endgroup::"));
    expect(inFirstGroup.some((l) => /^Step \d+\/\d+ : FROM /.test(l))).toBe(true);
    expect(wsgi.uploadedBytes).toBeGreaterThan(0);

    expect(await probe(wsgi.reference, 8000)).toMatchObject({ model: "digits-model v1", server: "wsgi" });
    expect(await probe(command.reference, 8080)).toMatchObject({
      model: "digits-model v1",
      server: "command",
    });
    const labels = JSON.parse(
      await docker("inspect", "--format", "{{json .Config.Labels}}", command.reference),
    );
    expect(labels).toMatchObject({ "org.opencontainers.image.revision": "2".repeat(40) });
  });

  it("builds from the user's own Dockerfile when one is configured", async () => {
    await writeFile(
      path.join(repo, "Dockerfile.custom"),
      `FROM ${env("SLIPWAY_TEST_PYTHON_IMAGE")}\nWORKDIR /srv\nCOPY predict predict\nCOPY models models\nCMD ["python3", "-m", "predict.server", "8080"]\n`,
    );
    const endpoint = endpoints[1];
    if (endpoint === undefined) throw new Error("fixture changed");
    const build = await buildVersion({
      repoRoot: repo,
      endpoints: [{ endpoint, imageRepository: `${prefix}/custom` }],
      tag: "v1",
      source: { time: new Date(0) },
      builder: "docker",
      docker: await dockerClient(process.env),
      dockerfile: "Dockerfile.custom",
    });
    expect(await probe(build.images[0]?.reference ?? "", 8080)).toMatchObject({ model: "digits-model v1" });
  });

  it("fails naming the endpoint when the build fails", async () => {
    const endpoint = endpoints[0];
    if (endpoint === undefined) throw new Error("fixture changed");
    await expect(
      buildVersion({
        repoRoot: repo,
        endpoints: [
          {
            endpoint: { ...endpoint, image: `${env("SLIPWAY_TEST_REGISTRY")}/no/such:image` },
            imageRepository: `${prefix}/broken`,
          },
        ],
        tag: "v1",
        source: { time: new Date(0) },
        builder: "docker",
        docker: await dockerClient(process.env),
      }),
    ).rejects.toThrow(/endpoint "predict-wsgi": docker build failed/);
  });
});

// The daemonless registry builder against the real local registry and Docker engine: the version
// images it pushes run (wsgi via gunicorn, and a server-command), read their declared model file,
// rebuild to the same digest with zero bytes sent, and a one-file change sends only the code layer.

import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigOrThrow } from "../../src/config/load.js";
import { type BuildVersionInput, buildVersion } from "../../src/image/build-version.js";
import type { EndpointImage } from "../../src/image/result.js";
import { createRegistryClient, parseImageName } from "../../src/registry/index.js";
import { docker, env, probe } from "./build-helpers.js";

const FIXTURE = path.resolve("fixtures/build-sample");

let repo: string;
let cacheDir: string;
let input: BuildVersionInput;

beforeAll(async () => {
  repo = await mkdtemp(path.join(tmpdir(), "slipway-build-repo-"));
  cacheDir = await mkdtemp(path.join(tmpdir(), "slipway-build-cache-"));
  await cp(FIXTURE, repo, { recursive: true });
  const { config } = await loadConfigOrThrow(path.join(repo, "valohai.yaml"));
  const prefix = `${env("SLIPWAY_TEST_REGISTRY")}/build-it-${Date.now().toString(36)}`;
  input = {
    repoRoot: repo,
    endpoints: config.endpoints.map((endpoint) => ({
      endpoint: { ...endpoint, image: env("SLIPWAY_TEST_PYTHON_IMAGE") },
      imageRepository: `${prefix}/${endpoint.name}`,
    })),
    tag: "v1",
    source: {
      url: "https://github.com/acme/sample",
      revision: "1".repeat(40),
      time: new Date("2024-01-02T03:04:05Z"),
    },
    builder: "registry",
    registry: createRegistryClient(),
    cacheDir,
  };
});

afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
  await rm(cacheDir, { recursive: true, force: true });
});

function byEndpoint(images: EndpointImage[], name: string): EndpointImage {
  const image = images.find((i) => i.endpoint === name);
  if (image === undefined) throw new Error(`no image for ${name}`);
  return image;
}

describe("registry builder", () => {
  let first: EndpointImage[];

  it("builds images that run: gunicorn for wsgi, the server-command otherwise, each reading its model", async () => {
    first = (await buildVersion(input)).images;
    expect(first.map((i) => i.endpoint)).toEqual(["predict-wsgi", "predict-command"]);
    const wsgi = byEndpoint(first, "predict-wsgi");
    const command = byEndpoint(first, "predict-command");
    expect(wsgi.reference).toMatch(/@sha256:[0-9a-f]{64}$/);

    // Endpoints with the same code and model share those layers: pushed once, mounted for the second.
    const own = (i: EndpointImage) => i.blobs.filter((b) => b.role === "code" || b.role === "files");
    expect(
      own(command)
        .map((b) => b.digest)
        .sort(),
    ).toEqual(
      own(wsgi)
        .map((b) => b.digest)
        .sort(),
    );
    expect(own(command).every((b) => b.how === "mounted")).toBe(true);
    expect(wsgi.blobs.filter((b) => b.role === "base").every((b) => b.how === "mounted")).toBe(true);

    expect(await probe(wsgi.reference, 8000)).toEqual({
      model: "digits-model v1",
      bytes: 16,
      server: "wsgi",
      script_name: "",
      path: "/probe",
    });
    expect(await probe(command.reference, 8080)).toEqual({
      model: "digits-model v1",
      bytes: 16,
      server: "command",
      path: "/probe",
    });
  });

  it("leaves .dockerignored files out and keeps executables executable", async () => {
    const ref = byEndpoint(first, "predict-command").reference;
    const listing = await docker(
      "run",
      "--rm",
      ref,
      "sh",
      "-c",
      "cd /slipway/app && find . | sort && stat -c '%a %n' scripts/helper.sh",
    );
    const lines = listing.split("\n");
    expect(lines).toContain("./models/model.txt");
    expect(lines).toContain("./predict/server.py");
    expect(lines).toContain("755 scripts/helper.sh");
    expect(lines).not.toContain("./notebooks");
    expect(lines).not.toContain("./scratch.tmp");
    expect(lines).not.toContain("./.git");
  });

  it("rebuilds unchanged inputs to the same digests without sending a byte", async () => {
    const again = await buildVersion(input);
    expect(again.uploadedBytes).toBe(0);
    expect(again.layerCacheHits).toBeGreaterThan(0);
    expect(again.images.map((i) => i.digest)).toEqual(first.map((i) => i.digest));
  });

  it("after a one-file code change, uploads only the new code layer (plus config and manifest)", async () => {
    const file = path.join(repo, "predict/model.py");
    await writeFile(file, `${await readFile(file, "utf8")}# a one-line change\n`);
    const changed = await buildVersion(input);
    const layerBytes = changed.images.reduce((n, i) => n + i.layerBytesUploaded, 0);
    const codeLayers = changed.images.flatMap((i) => i.blobs.filter((b) => b.role === "code"));
    const newCode = codeLayers.find((b) => b.how === "uploaded");
    expect(newCode).toBeDefined();
    expect(layerBytes).toBe(newCode?.size);
    for (const image of changed.images) {
      expect(
        image.blobs
          .filter((b) => b.role === "files" || b.role === "base")
          .every((b) => b.uploadedBytes === 0),
      ).toBe(true);
      expect(image.digest).not.toBe(byEndpoint(first, image.endpoint).digest);
    }
    // The model layer is the same blob as before.
    const model = (i: EndpointImage) => i.blobs.find((b) => b.role === "files")?.digest;
    expect(model(byEndpoint(changed.images, "predict-wsgi"))).toBe(model(byEndpoint(first, "predict-wsgi")));
    // The version tag points at the new image.
    const wsgi = byEndpoint(changed.images, "predict-wsgi");
    const tagged = await createRegistryClient().getManifest({
      ...parseImageName(wsgi.repository),
      tag: "v1",
    });
    expect(tagged.digest).toBe(wsgi.digest);
  });
});

describe("registry builder on a multi-platform base", () => {
  it("builds per platform, pushes an index, and the engine runs it", async () => {
    // An index over the test base (its one real platform) plus an attestation-style entry, as
    // BuildKit writes them; the attestation must be skipped, not built on.
    const client = createRegistryClient();
    const base = parseImageName(env("SLIPWAY_TEST_PYTHON_IMAGE"));
    const manifest = await client.getManifest(base);
    const indexRepo = {
      registry: base.registry,
      repository: `build-index-${Date.now().toString(36)}/python`,
    };
    const json = manifest.json as {
      config: { digest: string; size: number };
      layers: Array<{ digest: string; size: number }>;
    };
    for (const blob of [json.config, ...json.layers]) {
      await client.ensureBlob(indexRepo, { digest: blob.digest, size: blob.size, sources: [base] });
    }
    await client.putManifest({ ...indexRepo, digest: manifest.digest }, manifest.mediaType, manifest.bytes);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: manifest.mediaType,
            digest: manifest.digest,
            size: manifest.bytes.length,
            platform: { os: "linux", architecture: "amd64" },
          },
          {
            mediaType: manifest.mediaType,
            digest: manifest.digest,
            size: manifest.bytes.length,
            platform: { os: "unknown", architecture: "unknown" },
          },
        ],
      }),
    );
    await client.putManifest(
      { ...indexRepo, tag: "multi" },
      "application/vnd.oci.image.index.v1+json",
      index,
    );

    const [first] = input.endpoints;
    if (first === undefined) throw new Error("fixture changed");
    const built = await buildVersion({
      ...input,
      endpoints: [
        {
          endpoint: { ...first.endpoint, image: `${indexRepo.registry}/${indexRepo.repository}:multi` },
          imageRepository: `${env("SLIPWAY_TEST_REGISTRY")}/${indexRepo.repository}-version`,
        },
      ],
    });
    const image = built.images[0];
    expect(image?.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(image?.platforms).toEqual(["linux/amd64"]);
    expect(await probe(image?.reference ?? "", 8000)).toMatchObject({
      server: "wsgi",
      model: "digits-model v1",
    });
  });
});

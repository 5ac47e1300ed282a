// How a version image starts and what its config and manifest say, from the base's and ours.

import { describe, expect, it } from "vitest";
import type { Endpoint, EndpointServer } from "../../src/config/types.js";
import { generateDockerfile } from "../../src/image/dockerfile.js";
import {
  encodeJson,
  execLast,
  isSimpleCommand,
  serverCommand,
  versionConfig,
  versionManifest,
} from "../../src/image/image-config.js";
import { type ImageConfig, MediaType, parseManifest } from "../../src/image/oci.js";

const source = {
  url: "https://github.com/acme/digits",
  revision: "0123456789abcdef0123456789abcdef01234567",
  time: new Date("2024-05-06T07:08:09Z"),
};

function endpoint(server: EndpointServer, port = 8000): Endpoint {
  return {
    name: "predict",
    image: "python:3.12",
    port,
    server,
    files: [],
    tolerations: [],
    location: { file: "v", line: 1, column: 1 },
  };
}

const base: ImageConfig = {
  architecture: "amd64",
  os: "linux",
  created: "2020-01-01T00:00:00Z",
  container_config: { Cmd: ["/bin/sh", "-c", "#(nop) CMD python3"] },
  config: {
    Env: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
    Entrypoint: ["python3"],
    Cmd: ["-i"],
    ExposedPorts: { "22/tcp": {} },
    Labels: { maintainer: "base" },
  },
  rootfs: { type: "layers", diff_ids: ["sha256:base"] },
  history: [{ created: "2020-01-01T00:00:00Z", created_by: "ADD rootfs" }],
};

describe("serverCommand", () => {
  it.each<[EndpointServer, number, string[]]>([
    [{ kind: "command", command: "python server.py" }, 8000, ["/bin/sh", "-c", "exec python server.py"]],
    [
      { kind: "command", command: ["pip install -e .", "python server.py --port 9000"] },
      9000,
      ["/bin/sh", "-c", "pip install -e . && exec python server.py --port 9000"],
    ],
    [
      { kind: "command", command: ["pip install 'torch>=2'", "cd api && uvicorn app:app"] },
      9000,
      ["/bin/sh", "-c", "pip install 'torch>=2' && cd api && exec uvicorn app:app"],
    ],
    [
      { kind: "command", command: ["serve() { python s.py; }", "serve"] },
      9000,
      ["/bin/sh", "-c", "serve() { python s.py; } && serve"],
    ],
    [
      { kind: "command", command: ["migrate", "python a.py | tee log"] },
      9000,
      ["/bin/sh", "-c", "migrate && python a.py | tee log"],
    ],
    [
      { kind: "wsgi", module: "predict.app", callable: "application" },
      8000,
      ["python3", "-m", "gunicorn", "--bind", "0.0.0.0:8000", "predict.app:application"],
    ],
    [
      { kind: "wsgi", module: "app", callable: "make_app()" },
      1234,
      ["python3", "-m", "gunicorn", "--bind", "0.0.0.0:1234", "app:make_app()"],
    ],
  ])("%j on port %i → %j", (server, port, cmd) => {
    expect(serverCommand(server, port)).toEqual(cmd);
  });
});

describe("the server is PID 1, so SIGTERM reaches it", () => {
  it.each<[string, boolean]>([
    ["python3 -m predict.server", true],
    ["gunicorn -b 0.0.0.0:8000 'app:create()' --timeout 60", false], // parentheses, even quoted
    ['python server.py --name "my model" > /tmp/log', true],
    ["  uvicorn app:app --port $PORT  ", true],
    ["python a.py; python b.py", false],
    ["python a.py && python b.py", false],
    ["python a.py || true", false],
    ["python a.py | tee log", false],
    ["python a.py &", false],
    ["python a.py 2>&1", false],
    ["(python a.py)", false],
    ["python $(which app)", false],
    ["python `which app`", false],
    ["python a.py\npython b.py", false],
    ["[[ -f x ]]", false],
    ["PORT=9000 python a.py", false],
    ["exec python a.py", false],
    ["cd app", false],
    [". ./env.sh", false],
    ["if true", false],
    ["! python a.py", false],
    ["", false],
  ])("%j is a simple command: %s", (command, simple) => {
    expect(isSimpleCommand(command)).toBe(simple);
  });

  it.each<[string, string]>([
    ["python3 -m predict.server", "exec python3 -m predict.server"],
    ["exec python3 -m predict.server", "exec python3 -m predict.server"],
    [
      "pip install -r requirements.txt && python serve.py",
      "pip install -r requirements.txt && exec python serve.py",
    ],
    ["a || b && serve --port 1", "a || b && exec serve --port 1"],
    ["a; b && serve", "a; b && exec serve"],
    // an && that quoting, escapes or substitution could hide: left as written
    ['python -c "x && y" && serve', 'python -c "x && y" && serve'],
    ["echo a\\&& b && serve", "echo a\\&& b && serve"],
    ["f() { python s.py; } && f", "f() { python s.py; } && f"],
    ["alias s=python && s x.py", "alias s=python && s x.py"],
    // the last step is not simple: left as written
    ["a && b || c", "a && b || c"],
    ["a && b | c", "a && b | c"],
    ["a && PORT=1 serve", "a && PORT=1 serve"],
    ["python a.py; python b.py", "python a.py; python b.py"],
  ])("%j runs as %j", (command, script) => {
    expect(execLast(command)).toBe(script);
  });
});

describe("versionConfig", () => {
  const config = versionConfig(base, {
    endpoint: endpoint({ kind: "wsgi", module: "app", callable: "application" }),
    layers: [
      { diffId: "sha256:code", createdBy: "code" },
      { diffId: "sha256:model", createdBy: "model" },
    ],
    source,
  });

  it("appends our layers to the base's and keeps history in step with them", () => {
    expect(config.rootfs.diff_ids).toEqual(["sha256:base", "sha256:code", "sha256:model"]);
    const nonEmpty = (config.history ?? []).filter((h) => h.empty_layer !== true);
    expect(nonEmpty).toHaveLength(config.rootfs.diff_ids.length);
    expect(config.history?.at(-1)).toMatchObject({ empty_layer: true, created: "2024-05-06T07:08:09.000Z" });
  });

  it("starts the server itself: base entrypoint cleared, workdir at the app, port exposed, env kept", () => {
    expect(config.config?.Entrypoint).toBeUndefined();
    expect(config.config?.Cmd).toEqual([
      "python3",
      "-m",
      "gunicorn",
      "--bind",
      "0.0.0.0:8000",
      "app:application",
    ]);
    expect(config.config?.WorkingDir).toBe("/slipway/app");
    expect(config.config?.ExposedPorts).toEqual({ "22/tcp": {}, "8000/tcp": {} });
    expect(config.config?.Env).toEqual(["PATH=/usr/bin:/bin", "LANG=C.UTF-8"]);
    expect(JSON.stringify(config)).not.toContain("SCRIPT_NAME");
  });

  it("is dated and labelled by the commit, not by the clock, and drops the base's build metadata", () => {
    expect(config.created).toBe("2024-05-06T07:08:09.000Z");
    expect(config.config?.Labels).toEqual({
      maintainer: "base",
      "org.opencontainers.image.created": "2024-05-06T07:08:09.000Z",
      "org.opencontainers.image.source": "https://github.com/acme/digits",
      "org.opencontainers.image.revision": source.revision,
    });
    expect(config).not.toHaveProperty("container_config");
    expect(encodeJson(config).digest).toBe(
      encodeJson(
        versionConfig(base, {
          endpoint: endpoint({ kind: "wsgi", module: "app", callable: "application" }),
          layers: [
            { diffId: "sha256:code", createdBy: "code" },
            { diffId: "sha256:model", createdBy: "model" },
          ],
          source,
        }),
      ).digest,
    );
  });
});

describe("manifests", () => {
  it("reads Docker schema2 bases as OCI and writes an OCI manifest naming the base", () => {
    const parsed = parseManifest(
      {
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { mediaType: MediaType.dockerConfig, digest: "sha256:cfg", size: 10 },
        layers: [{ mediaType: MediaType.dockerLayerGzip, digest: "sha256:l1", size: 100 }],
      },
      MediaType.dockerManifest,
      "base",
    );
    if (parsed.kind !== "image") throw new Error("expected an image manifest");
    const m = versionManifest({
      base: parsed.manifest,
      baseName: "registry.local/python:3",
      baseDigest: "sha256:basemanifest",
      config: { digest: "sha256:newcfg", size: 20 },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: "sha256:code", size: 5 }],
      source,
    });
    expect(m.mediaType).toBe(MediaType.ociManifest);
    expect(m.config).toEqual({ mediaType: MediaType.ociConfig, digest: "sha256:newcfg", size: 20 });
    expect(m.layers.map((l) => [l.mediaType, l.digest])).toEqual([
      [MediaType.ociLayerGzip, "sha256:l1"],
      [MediaType.ociLayerGzip, "sha256:code"],
    ]);
    expect(m.annotations).toMatchObject({
      "org.opencontainers.image.base.name": "registry.local/python:3",
      "org.opencontainers.image.base.digest": "sha256:basemanifest",
    });
  });

  it("recognises an index and keeps platforms", () => {
    const parsed = parseManifest(
      {
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MediaType.ociManifest,
            digest: "sha256:a",
            size: 1,
            platform: { os: "linux", architecture: "arm64", variant: "v8" },
          },
          {
            mediaType: MediaType.ociManifest,
            digest: "sha256:att",
            size: 1,
            platform: { os: "unknown", architecture: "unknown" },
          },
        ],
      },
      MediaType.ociIndex,
      "base",
    );
    expect(parsed.kind).toBe("index");
    if (parsed.kind === "index") {
      expect(parsed.index.manifests[0]?.platform).toEqual({
        os: "linux",
        architecture: "arm64",
        variant: "v8",
      });
    }
  });
});

describe("generateDockerfile", () => {
  it("expresses the same image as Docker instructions", () => {
    const text = generateDockerfile(endpoint({ kind: "command", command: ["a", "b"] }, 9000), source, true);
    expect(text.split("\n")).toEqual([
      "FROM python:3.12",
      "COPY code/ /slipway/app/",
      "COPY files/ /slipway/app/",
      "WORKDIR /slipway/app",
      "EXPOSE 9000/tcp",
      'LABEL "org.opencontainers.image.created"="2024-05-06T07:08:09.000Z" "org.opencontainers.image.source"="https://github.com/acme/digits" "org.opencontainers.image.revision"="0123456789abcdef0123456789abcdef01234567"',
      "ENTRYPOINT []",
      'CMD ["/bin/sh","-c","a && exec b"]',
      "",
    ]);
  });
});

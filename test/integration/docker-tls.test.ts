// The Docker engine over tcp:// as the docker CLI reaches it: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
// decide TLS and the client certificate. The engine here is a loopback HTTPS server that, like dockerd
// with --tlsverify, demands a client certificate signed by its CA and answers the ping.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerClient } from "../../src/clients.js";

let certs: string;
let server: Server;
let host: string;
const seen: { path: string; authorized: boolean }[] = [];

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: certs, stdio: "ignore", timeout: 30_000 });
}

beforeAll(async () => {
  certs = mkdtempSync(join(tmpdir(), "slipway-docker-tls-"));
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
  );
  for (const [name, ext] of [
    ["server", "subjectAltName=IP:127.0.0.1"],
    ["client", "extendedKeyUsage=clientAuth"],
  ] as const) {
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    );
    writeFileSync(join(certs, `${name}.ext`), `${ext}\n`);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    );
  }
  // DOCKER_CERT_PATH holds ca.pem, cert.pem and key.pem, as the docker CLI expects.
  writeFileSync(join(certs, "cert.pem"), readFileSync(join(certs, "client.pem")));
  writeFileSync(join(certs, "key.pem"), readFileSync(join(certs, "client-key.pem")));
  server = createServer(
    {
      key: readFileSync(join(certs, "server-key.pem")),
      cert: readFileSync(join(certs, "server.pem")),
      ca: readFileSync(join(certs, "ca.pem")),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      seen.push({
        path: req.url ?? "",
        authorized: (req.socket as { authorized?: boolean }).authorized === true,
      });
      res.writeHead(200, { "Content-Type": "text/plain", "Api-Version": "1.41" });
      res.end("OK");
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server?.closeAllConnections();
  server?.close();
});

describe("dockerClient over tcp://", () => {
  it("speaks TLS with the client certificate and verifies the engine when DOCKER_TLS_VERIFY is set", async () => {
    const docker = await dockerClient({ DOCKER_HOST: host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certs });
    expect(String(await docker.ping())).toBe("OK");
    expect(seen.at(-1)).toEqual({ path: "/v1.41/_ping", authorized: true });
  });

  it("refuses an engine whose certificate its CA did not sign", async () => {
    const other = mkdtempSync(join(tmpdir(), "slipway-docker-tls-other-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "k.pem",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=other",
      ],
      { cwd: other, stdio: "ignore", timeout: 30_000 },
    );
    writeFileSync(join(other, "cert.pem"), readFileSync(join(certs, "cert.pem")));
    writeFileSync(join(other, "key.pem"), readFileSync(join(certs, "key.pem")));
    const docker = await dockerClient({ DOCKER_HOST: host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: other });
    await expect(docker.ping()).rejects.toThrow(/certificate/i);
  });

  it("names the missing file when DOCKER_CERT_PATH lacks ca.pem", async () => {
    const empty = mkdtempSync(join(tmpdir(), "slipway-docker-tls-empty-"));
    await expect(
      dockerClient({ DOCKER_HOST: host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: empty }),
    ).rejects.toThrow(`cannot read ca.pem from DOCKER_CERT_PATH ${empty}`);
  });
});

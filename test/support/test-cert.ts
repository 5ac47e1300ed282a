// Test support: self-signed EC P-256 certificates, made with openssl (node:crypto makes keys but not
// certificates): the token issuer signs its JWTs with one, a hostile https registry serves one.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCert {
  key: Buffer;
  cert: Buffer;
  keyPath: string;
  /** PEM file of the certificate: a registry's rootcertbundle, or NODE_EXTRA_CA_CERTS. */
  certPath: string;
}

/** Writes `<name>-key.pem` and `<name>-cert.pem` into `dir`, valid two days; `ip` adds an IP SAN. */
export function makeTestCert(dir: string, name: string, subject: string, ip?: string): TestCert {
  const keyPath = join(dir, `${name}-key.pem`);
  const certPath = join(dir, `${name}-cert.pem`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
      "-subj",
      `/CN=${subject}`,
      ...(ip === undefined ? [] : ["-addext", `subjectAltName=IP:${ip}`]),
    ],
    { stdio: "ignore" },
  );
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), keyPath, certPath };
}

// Declared files (`files[].path`) are checked on disk by one set of rules: `slipway plan` reports
// each refusal at the file's entry in the config, and the build refuses exactly the same files.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDeclaredFiles } from "../../src/config/index.js";
import { parseConfig } from "../../src/config/parse.js";
import type { SlipwayConfig } from "../../src/config/types.js";
import { resolveDeclaredFiles } from "../../src/image/select-files.js";

let root: string;
let outside: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "slipway-declared-"));
  outside = await mkdtemp(path.join(tmpdir(), "slipway-outside-"));
  await writeFile(path.join(outside, "credentials.json"), "secret");
  await mkdir(path.join(root, ".git"));
  await writeFile(path.join(root, ".git", "config"), "[http] extraheader = AUTHORIZATION: basic …");
  await mkdir(path.join(root, "models"));
  await writeFile(path.join(root, "models", "real.bin"), "weights");
  await symlink("real.bin", path.join(root, "models", "link.bin"));
  await symlink(path.join(outside, "credentials.json"), path.join(root, "models", "out.bin"));
  await symlink(".git/config", path.join(root, "model"));
  await symlink(".git", path.join(root, "weights"));
  await symlink("loop.bin", path.join(root, "loop.bin"));
  execFileSync("mkfifo", [path.join(root, "models", "pipe")]);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** One endpoint per declared path, so each refusal is its own problem at its own line. */
function configDeclaring(paths: readonly string[]): SlipwayConfig {
  const text = paths
    .map((p, i) =>
      [
        `- endpoint:`,
        `    name: e${i}x`,
        "    image: x",
        "    wsgi: app",
        "    files:",
        "      - name: f",
        `        path: ${p}`,
      ].join("\n"),
    )
    .join("\n");
  const result = parseConfig(`${text}\n`, "valohai.yaml");
  if (!result.config) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

const cases: { path: string; problem?: string }[] = [
  { path: "models/real.bin" },
  { path: "./models/link.bin" },
  {
    path: "models/missing.bin",
    problem: "declares file 'models/missing.bin', but it is not in the checkout",
  },
  {
    path: "models",
    problem: "declares file 'models', but it is not a regular file in the checkout (a directory)",
  },
  {
    path: "models/pipe",
    problem: "declares file 'models/pipe', but it is not a regular file in the checkout (a FIFO)",
  },
  {
    path: "models/out.bin",
    problem: "declares file 'models/out.bin', but it is a symbolic link to a file outside the repository",
  },
  {
    path: "model",
    problem:
      "declares file 'model', but it leads into .git (to '.git/config'), where git keeps the checkout's credentials",
  },
  {
    path: "weights/config",
    problem:
      "declares file 'weights/config', but it leads into .git (to '.git/config'), where git keeps the checkout's credentials",
  },
  {
    path: "loop.bin",
    problem:
      "declares file 'loop.bin', but it is not a regular file in the checkout (a loop of symbolic links)",
  },
];

describe("checkDeclaredFiles", () => {
  it("reports each refused file at its path in the config, and nothing for the others", async () => {
    const config = configDeclaring(cases.map((c) => c.path));
    const problems = await checkDeclaredFiles(root, config);
    const expected = cases.flatMap((c, i) =>
      c.problem
        ? [
            {
              file: "valohai.yaml",
              line: 7 * i + 7,
              column: 15,
              severity: "error",
              message: `endpoint 'e${i}x' ${c.problem}`,
            },
          ]
        : [],
    );
    expect(problems).toEqual(expected);
  });

  it("agrees with the build on every file: the build refuses exactly what plan reports", async () => {
    const config = configDeclaring(cases.map((c) => c.path));
    for (const [i, endpoint] of config.endpoints.entries()) {
      const built = await resolveDeclaredFiles(root, endpoint).then(
        () => "accepted",
        (e: unknown) => String(e),
      );
      const planned = (await checkDeclaredFiles(root, { ...config, endpoints: [endpoint] })).length === 0;
      expect({ path: cases[i]?.path, accepted: built === "accepted" }).toEqual({
        path: cases[i]?.path,
        accepted: planned,
      });
    }
  });

  it("gives the build the reason too", async () => {
    const [intoGit] = configDeclaring(["model"]).endpoints;
    if (!intoGit) throw new Error("no endpoint parsed");
    await expect(resolveDeclaredFiles(root, intoGit)).rejects.toThrow(
      `endpoint "e0x" declares file "model", but it leads into .git (to '.git/config')`,
    );
  });
});

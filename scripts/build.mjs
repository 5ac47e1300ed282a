// Bundles the Action (dist/index.js) and the CLI (dist/cli.js) with esbuild.
// The banner gives ESM bundles the CommonJS globals some dependencies still expect.
import { build } from "esbuild";

const banner = [
  "import { createRequire as __slipwayCreateRequire } from 'node:module';",
  "import { fileURLToPath as __slipwayFileURLToPath } from 'node:url';",
  "import { dirname as __slipwayDirname } from 'node:path';",
  "const require = __slipwayCreateRequire(import.meta.url);",
  "const __filename = __slipwayFileURLToPath(import.meta.url);",
  "const __dirname = __slipwayDirname(__filename);",
].join("\n");

await build({
  entryPoints: { index: "src/index.ts", cli: "src/cli.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  loader: { ".node": "empty" },
  banner: { js: banner },
  logLevel: "warning",
});

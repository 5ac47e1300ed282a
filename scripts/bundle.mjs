// `npm run bundle`: bundles the Action (dist/index.js) and the CLI (dist/cli.js) with esbuild.
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

const common = {
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  loader: { ".node": "empty" },
  banner: { js: banner },
  logLevel: "warning",
};

// The Action runs on the runner's Node 24 (action.yml `using: node24`); the CLI on the user's Node (>= 20.19).
await Promise.all([
  build({ ...common, entryPoints: { index: "src/index.ts" }, target: "node24" }),
  build({ ...common, entryPoints: { cli: "src/cli.ts" }, target: "node20" }),
]);

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          // Drives the bundled Action (dist/) as the runner does; `npm test` rebuilds dist/ first.
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // Starts the Docker engine, registry and base images once for all integration files.
          globalSetup: ["test/support/global-setup.ts"],
          // Containers on the vfs storage driver are slow to create, and the files share one engine.
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

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
          // Drives the bundled Action (dist/) under Node 24 as the runner does; `npm test` rebundles dist/ first.
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/support/e2e-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 600_000,
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
      {
        test: {
          // The Kubernetes test cluster is a tool of its own (test/cluster/README.md): its tests live with it.
          name: "cluster",
          include: ["test/cluster/tests/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

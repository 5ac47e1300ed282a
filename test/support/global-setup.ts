// vitest globalSetup for the integration project: brings the test stack up (or finds it up) before any
// integration test runs, and hands its coordinates to the tests both as environment variables (see
// stackEnv) and as inject("slipwayStack"). A stack that cannot come up fails the run; it is never a skip.

import type { TestProject } from "vitest/node";
import { ensureNode24 } from "./node24.js";
import { ensureStack, type Stack, stackEnv } from "./stack.js";

declare module "vitest" {
  export interface ProvidedContext {
    slipwayStack: Stack;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  // The Action tests run the bundle under Node 24; fetching it here keeps the download out of test time.
  const [stack] = await Promise.all([ensureStack(), ensureNode24()]);
  // Test workers start after this and inherit the environment, so tools that read DOCKER_HOST find the stack.
  Object.assign(process.env, stackEnv(stack));
  project.provide("slipwayStack", stack);
}

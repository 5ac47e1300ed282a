// vitest globalSetup for the e2e project: fetches the Node 24 the bundled Action runs under (see node24.ts)
// before any test, so the one-time download is not counted against a test's timeout.
import { ensureNode24 } from "./node24.js";

export default async function setup(): Promise<void> {
  await ensureNode24();
}

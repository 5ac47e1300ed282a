// The Action's entry point: runs the main job and nothing else.
import { run } from "./main.js";

await run();

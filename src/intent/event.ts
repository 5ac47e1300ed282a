// The event payload the runner wrote to GITHUB_EVENT_PATH. The file is the runner's, but its content
// (titles, branch names, bodies) is written by whoever triggered the event, so it is read bounded and
// parsed as untrusted JSON; an event Slipway acts on without its payload is an error, never a guess.
import { open } from "node:fs/promises";
import { InputError } from "../errors.js";

/** GitHub caps webhook payloads at 25 MB; anything larger is not an event file. */
export const MAX_EVENT_BYTES = 25 * 1024 * 1024;

/** Events whose payload decides what a run does (the pull request, the comment, the release). */
const NEEDS_PAYLOAD = new Set(["pull_request", "pull_request_target", "issue_comment", "release"]);

async function readBounded(path: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error("it is not a regular file");
    if (info.size > MAX_EVENT_BYTES) throw new Error(`it is larger than ${MAX_EVENT_BYTES} bytes`);
    const buffer = Buffer.alloc(info.size);
    const { bytesRead } = await handle.read(buffer, 0, info.size, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

/** The parsed payload; undefined for events that need none and have none. */
export async function readEvent(eventName: string | undefined, path: string | undefined): Promise<unknown> {
  const needed = eventName !== undefined && NEEDS_PAYLOAD.has(eventName);
  if (!path) {
    if (needed) throw new InputError(`the ${eventName} event has no payload: GITHUB_EVENT_PATH is not set`);
    return undefined;
  }
  try {
    return JSON.parse(await readBounded(path)) as unknown;
  } catch (error) {
    if (!needed) return undefined;
    const reason = error instanceof SyntaxError ? "it is not valid JSON" : (error as Error).message;
    throw new InputError(`cannot read the ${eventName} event's payload at ${path}: ${reason}`);
  }
}

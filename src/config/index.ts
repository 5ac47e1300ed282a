// The config stage's public face.
export { ConfigError, formatProblem } from "./errors.js";
export { loadConfig, loadConfigOrThrow } from "./load.js";
export { parseConfig } from "./parse.js";
export type * from "./types.js";

// The config stage's public face.
export {
  checkDeclaredFiles,
  type DeclaredFile,
  type DeclaredFileRefusal,
  inspectDeclaredFile,
} from "./declared-files.js";
export { ConfigError, formatProblem } from "./errors.js";
export { loadConfig, loadConfigOrThrow } from "./load.js";
export { type ParseResult, parseConfig } from "./parse.js";
export { MAX_CONFIG_BYTES, MAX_DEPTH } from "./source.js";
export type * from "./types.js";

// Named errors of the build stage. Each carries what a user needs to fix the problem; only
// cli.ts / main.ts turn them into exit codes or a failed Action.

/** Something about the inputs of a build that the user has to fix (config, checkout, Dockerfile). */
export class BuildError extends Error {
  readonly endpoint: string | undefined;
  constructor(message: string, endpoint?: string) {
    super(message);
    this.name = "BuildError";
    this.endpoint = endpoint;
  }
}

/** A file an endpoint declares under `files` is not in the checkout. */
export class MissingDeclaredFileError extends BuildError {
  readonly file: string;
  constructor(endpoint: string, file: string, reason: string) {
    super(`endpoint "${endpoint}" declares file "${file}", but ${reason}`, endpoint);
    this.name = "MissingDeclaredFileError";
    this.file = file;
  }
}

// What a CLI command may touch of the outside world, handed in so tests can capture it.
export interface Writer {
  write(text: string): unknown;
}

export interface CommandIo {
  stdout: Writer;
  stderr: Writer;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

// Where build output goes. The Action folds long output (docker build steps) into collapsible
// groups via @actions/core; the CLI prints plain lines. Builders only see this interface.

export interface BuildLog {
  info(line: string): void;
  /** Runs `fn` with its output folded under `title` where the sink supports folding. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

/** Plain lines, e.g. to stderr in the CLI; groups become a header line. */
export function lineLog(write: (line: string) => void): BuildLog {
  return {
    info: write,
    group: async (title, fn) => {
      write(`── ${title}`);
      return fn();
    },
  };
}

/** The shape of @actions/core's logging functions; passed in so this module does not import it. */
export interface GroupingSink {
  info(line: string): void;
  startGroup(title: string): void;
  endGroup(): void;
}

export function groupedLog(sink: GroupingSink): BuildLog {
  return {
    info: (line) => sink.info(line),
    group: async (title, fn) => {
      sink.startGroup(title);
      try {
        return await fn();
      } finally {
        sink.endGroup();
      }
    },
  };
}

export const silentLog: BuildLog = { info: () => {}, group: (_title, fn) => fn() };

// Collects a config's problems, each with its place in the file: the file-wide collector, and
// an entry's scope of it, which prefixes messages with the entry and places them by JSON path.
import type { Node } from "yaml";
import { type JsonPath, nodeAt } from "./node-at.js";
import type { SchemaIssue } from "./schema.js";
import { positionOf, type SourceDocument } from "./source.js";
import type { ConfigProblem, Severity, SourceLocation } from "./types.js";

export class Collector {
  readonly problems: ConfigProblem[] = [];
  #errors = 0;
  constructor(readonly source: SourceDocument) {}

  at(node: Node | null | undefined, message: string, severity: Severity = "error"): void {
    const pos = positionOf(this.source, node);
    this.add({ file: this.source.file, line: pos.line, column: pos.column, severity, message });
  }

  add(problem: ConfigProblem): void {
    this.problems.push(problem);
    if (problem.severity === "error") this.#errors++;
  }

  location(node: Node | null | undefined): SourceLocation {
    return { file: this.source.file, ...positionOf(this.source, node) };
  }

  /** Kept as problems are added: rules compare it before and after, once per entry. */
  get errorCount(): number {
    return this.#errors;
  }
}

/** One entry (`endpoint:` or `deployment:`) as its rules see it. */
export class EntryScope {
  constructor(
    readonly collector: Collector,
    /** The entry's kind key, e.g. `endpoint`: where problems of the entry as a whole point. */
    readonly entryKey: Node,
    /** The entry's value, the root of its JSON paths. */
    readonly node: Node,
    /** How messages name the entry, e.g. `endpoint 'predict'`. */
    readonly subject: string,
  ) {}

  /** A problem at the value (or, with `atKey`, the key) a JSON path below the entry names. */
  at(path: JsonPath, message: string, atKey = false): void {
    this.atNode(nodeAt(this.node, path, atKey), message);
  }

  atNode(node: Node, message: string): void {
    this.collector.at(node, `${this.subject}: ${message}`);
  }

  schema(issues: readonly SchemaIssue[]): void {
    for (const issue of issues) this.at(issue.path, issue.message, issue.atKey);
  }

  location(path: JsonPath = [], atKey = false): SourceLocation {
    return this.collector.location(path.length === 0 ? this.entryKey : nodeAt(this.node, path, atKey));
  }

  get errorCount(): number {
    return this.collector.errorCount;
  }
}

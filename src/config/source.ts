// Turns config bytes into a YAML document with source positions, reporting what keeps it from being
// read at all: size, encoding, control characters, nesting depth, YAML syntax, more than one
// document, unknown tags, alias bombs. Every step before composing the document is iterative and
// linear in the input, so no file can exhaust the stack or the CPU before it is refused.
import { Composer, type CST, type Document, LineCounter, type Node, Parser, type YAMLError } from "yaml";
import { AliasBudgetExceeded, type AliasIndex, plainValue, walkDocument } from "./plain.js";
import { firstTextProblem, textProblemMessage } from "./text.js";
import type { ConfigProblem } from "./types.js";

/** Larger than any real valohai.yaml by far; keeps a hostile file from costing memory. */
export const MAX_CONFIG_BYTES = 2 * 1024 * 1024;
/** Nodes the aliases of one entry may bring in, counted expanded; stops "billion laughs" documents. */
export const MAX_ALIAS_COUNT = 100;
/**
 * Collections nested in collections, the top-level list counting as one. A real valohai.yaml nests
 * fewer than ten; the limit keeps the recursive steps after it (composing, toJS, schema) far from
 * the stack's end.
 */
export const MAX_DEPTH = 64;

export interface SourceDocument {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  aliases: AliasIndex;
}

export type SourceResult = { ok: true; source: SourceDocument } | { ok: false; problems: ConfigProblem[] };

function problemAt(file: string, line: number, column: number, message: string): ConfigProblem {
  return { file, line, column, severity: "error", message };
}

function firstLine(message: string): string {
  const line = message.split("\n")[0] ?? message;
  // The yaml library may append " at line L, column C:" — the location is reported separately.
  return line.replace(/ at line \d+, column \d+:?$/, "");
}

function isCollectionToken(token: CST.Token): token is CST.BlockMap | CST.BlockSequence | CST.FlowCollection {
  return token.type === "block-map" || token.type === "block-seq" || token.type === "flow-collection";
}

/** Offset of the first collection nested deeper than MAX_DEPTH, walking the syntax tree without recursion. */
function firstTooDeep(tokens: readonly CST.Token[]): number | undefined {
  let first: number | undefined;
  const stack: [CST.Token, number][] = [];
  for (const token of tokens) if (token.type === "document" && token.value) stack.push([token.value, 0]);
  while (stack.length > 0) {
    const [token, outer] = stack.pop() as [CST.Token, number];
    if (!isCollectionToken(token)) continue;
    const depth = outer + 1;
    if (depth > MAX_DEPTH) {
      if (first === undefined || token.offset < first) first = token.offset;
      continue;
    }
    for (const item of token.items) {
      if (item.key) stack.push([item.key, depth]);
      if (item.value) stack.push([item.value, depth]);
    }
  }
  return first;
}

/**
 * CR alone ends a line in YAML 1.2 (§5.4) and in PyYAML, which Valohai reads the file with; the
 * yaml library splits lines at LF only, so a lone CR becomes LF. One character for one: every
 * offset stays where it was.
 */
function lineFeeds(text: string): string {
  return text.includes("\r") ? text.replace(/\r(?!\n)/g, "\n") : text;
}

export function readSource(input: Uint8Array | string, file: string): SourceResult {
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const refuse = (line: number, column: number, message: string): SourceResult => ({
    ok: false,
    problems: [problemAt(file, line, column, message)],
  });
  if (bytes.byteLength > MAX_CONFIG_BYTES) {
    const mib = (bytes.byteLength / (1024 * 1024)).toFixed(1);
    return refuse(1, 1, `config file is ${mib} MiB; Slipway reads config files of at most 2 MiB`);
  }
  const unreadable = firstTextProblem(bytes);
  if (unreadable) return refuse(unreadable.line, unreadable.column, textProblemMessage(unreadable));

  let text =
    typeof input === "string"
      ? input
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  if (text.trim() === "") {
    return refuse(1, 1, "config file is empty: expected a list of entries such as `- endpoint: …`");
  }
  text = lineFeeds(text);

  const lines = new LineCounter();
  const at = (offset: number) => lines.linePos(offset);
  const tokens = Array.from(new Parser(lines.addNewLine).parse(text));
  const deep = firstTooDeep(tokens);
  if (deep !== undefined) {
    const pos = at(deep);
    return refuse(
      pos.line,
      pos.col,
      `YAML nesting here goes deeper than ${MAX_DEPTH} levels; Slipway reads configs nested at most ${MAX_DEPTH} deep`,
    );
  }

  // Merge keys (`<<: *defaults`) are YAML 1.1, which PyYAML and so Valohai read; they are accepted here too.
  // Unique keys are checked in walkDocument: the library's check compares each key with every other.
  const composer = new Composer({ merge: true, uniqueKeys: false, strict: true, logLevel: "silent" });
  const docs = Array.from(composer.compose(tokens, true, text.length));
  const doc = docs[0] as Document.Parsed;
  const problems: ConfigProblem[] = [];
  const report = (error: YAMLError, message: string) => {
    const pos = at(error.pos[0]);
    problems.push(problemAt(file, pos.line, pos.col, message));
  };
  for (const error of doc.errors) report(error, `YAML syntax: ${firstLine(error.message)}`);
  for (const warning of doc.warnings) {
    // PyYAML's safe loader refuses a tag it has no constructor for, and so does Valohai.
    if (warning.code === "TAG_RESOLVE_FAILED") {
      report(
        warning,
        `YAML tag: ${firstLine(warning.message)}; a valohai.yaml uses no custom tags (Valohai refuses them too): remove it`,
      );
    }
  }
  const second = docs[1];
  if (second) {
    const pos = at(second.range[0]);
    problems.push(
      problemAt(
        file,
        pos.line,
        pos.col,
        "a second YAML document starts here; a valohai.yaml is one document (one list of entries): remove the '---' line and join the lists",
      ),
    );
  }
  if (problems.length > 0) return { ok: false, problems };

  const walked = walkDocument(doc, MAX_DEPTH);
  for (const { node, message } of walked.problems) {
    const pos = at(node.range?.[0] ?? 0);
    problems.push(problemAt(file, pos.line, pos.col, message));
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, source: { file, doc, lines, aliases: walked.index } };
}

/** 1-based line and column of a node, or of the document start. */
export function positionOf(
  source: SourceDocument,
  node: Node | null | undefined,
): { line: number; column: number } {
  const offset = node?.range?.[0] ?? 0;
  const pos = source.lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/**
 * The plain value of a node. What aliases bring in is bounded (MAX_ALIAS_COUNT nodes, counted
 * expanded, per entry), so a "billion laughs" document is refused here at the alias that crosses it.
 */
export function toPlain(
  source: SourceDocument,
  node: Node,
): { ok: true; value: unknown } | { ok: false; problem: ConfigProblem } {
  try {
    return { ok: true, value: plainValue(node, source.aliases, MAX_ALIAS_COUNT) };
  } catch (error) {
    if (!(error instanceof AliasBudgetExceeded)) throw error;
    const pos = positionOf(source, error.alias);
    return {
      ok: false,
      problem: problemAt(
        source.file,
        pos.line,
        pos.column,
        `YAML aliases here expand to more than ${MAX_ALIAS_COUNT} nodes: the document would grow out of proportion`,
      ),
    };
  }
}

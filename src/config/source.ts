// Turns config bytes into a YAML document with source positions, reporting what keeps it
// from being read at all: size, encoding, YAML syntax, alias bombs.
import { type Document, LineCounter, type Node, parseDocument, visit } from "yaml";
import type { ConfigProblem } from "./types.js";

/** Larger than any real valohai.yaml by far; keeps a hostile file from costing memory. */
export const MAX_CONFIG_BYTES = 2 * 1024 * 1024;
/** Weighted alias expansions one entry may make; stops "billion laughs" documents. */
export const MAX_ALIAS_COUNT = 100;

export interface SourceDocument {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

export type SourceResult = { ok: true; source: SourceDocument } | { ok: false; problems: ConfigProblem[] };

function problemAt(file: string, line: number, column: number, message: string): ConfigProblem {
  return { file, line, column, severity: "error", message };
}

/** Where the first byte that is not valid UTF-8 sits, or undefined when all of it is. */
function firstInvalidUtf8(bytes: Uint8Array, text: string): { line: number; column: number } | undefined {
  let from = 0;
  for (;;) {
    const at = text.indexOf("\uFFFD", from);
    if (at < 0) return undefined;
    const byteOffset = Buffer.byteLength(text.slice(0, at));
    // A replacement character that was really written in the file is fine.
    const written =
      bytes[byteOffset] === 0xef && bytes[byteOffset + 1] === 0xbf && bytes[byteOffset + 2] === 0xbd;
    if (!written) {
      const before = text.slice(0, at);
      const line = before.split("\n").length;
      const column = at - (before.lastIndexOf("\n") + 1) + 1;
      return { line, column };
    }
    from = at + 1;
  }
}

function firstLine(message: string): string {
  const line = message.split("\n")[0] ?? message;
  // The yaml library appends " at line L, column C:" — the location is reported separately.
  return line.replace(/ at line \d+, column \d+:?$/, "");
}

export function readSource(input: Uint8Array | string, file: string): SourceResult {
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  if (bytes.byteLength > MAX_CONFIG_BYTES) {
    const mib = (bytes.byteLength / (1024 * 1024)).toFixed(1);
    return {
      ok: false,
      problems: [
        problemAt(file, 1, 1, `config file is ${mib} MiB; Slipway reads config files of at most 2 MiB`),
      ],
    };
  }
  let text = typeof input === "string" ? input : Buffer.from(bytes).toString("utf8");
  if (typeof input !== "string") {
    const bad = firstInvalidUtf8(bytes, text);
    if (bad) {
      return {
        ok: false,
        problems: [problemAt(file, bad.line, bad.column, "config file is not valid UTF-8: save it as UTF-8")],
      };
    }
  }
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  if (text.trim() === "") {
    return {
      ok: false,
      problems: [
        problemAt(file, 1, 1, "config file is empty: expected a list of entries such as `- endpoint: …`"),
      ],
    };
  }

  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true, strict: true });
  const problems: ConfigProblem[] = [];
  for (const error of doc.errors) {
    const pos = error.linePos?.[0];
    problems.push(problemAt(file, pos?.line ?? 1, pos?.col ?? 1, `YAML syntax: ${firstLine(error.message)}`));
  }
  if (problems.length > 0) return { ok: false, problems };

  return { ok: true, source: { file, doc, lines } };
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
 * The plain value of a node. Alias expansion is bounded (yaml's maxAliasCount weighs each alias by
 * what it expands to), so a "billion laughs" document is refused here with the first alias's place.
 */
export function toPlain(
  source: SourceDocument,
  node: Node,
): { ok: true; value: unknown } | { ok: false; problem: ConfigProblem } {
  try {
    return { ok: true, value: node.toJS(source.doc, { maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    let first: Node | undefined;
    visit(node, {
      Alias(_key, alias) {
        first = alias;
        return visit.BREAK;
      },
    });
    const pos = positionOf(source, first ?? node);
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

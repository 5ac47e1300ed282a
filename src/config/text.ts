// The config's bytes as text: UTF-8, and only characters YAML allows in a stream. One forward pass
// reads every byte once (it is handed the bytes as an ArrayLike so tests can count the reads), so
// the check costs the same per byte whatever the file holds.

export interface TextProblem {
  kind: "invalid-utf8" | "control";
  /** 1-based, lines broken at LF, CRLF or a lone CR; columns count UTF-16 code units, as the YAML positions do. */
  line: number;
  column: number;
  /** The control character, for `control`. */
  codePoint?: number;
}

/** YAML's c-printable (YAML 1.2 §5.1; PyYAML's reader refuses the same): tab, line breaks, and no other controls. */
function isPrintable(cp: number): boolean {
  if (cp < 0x20) return cp === 0x09 || cp === 0x0a || cp === 0x0d;
  if (cp >= 0x7f && cp <= 0x9f) return cp === 0x85;
  return cp !== 0xfffe && cp !== 0xffff;
}

/** The first byte that is not well-formed UTF-8 (Unicode Table 3-7), or the first control character. */
export function firstTextProblem(bytes: ArrayLike<number>): TextProblem | undefined {
  const n = bytes.length;
  let line = 1;
  let column = 1;
  let afterCr = false;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i] as number;
    if (b0 < 0x80) {
      i++;
      if (b0 === 0x0a) {
        if (!afterCr) line++;
        column = 1;
        afterCr = false;
        continue;
      }
      afterCr = b0 === 0x0d;
      if (afterCr) {
        line++;
        column = 1;
        continue;
      }
      if (!isPrintable(b0)) return { kind: "control", line, column, codePoint: b0 };
      column++;
      continue;
    }
    afterCr = false;
    // Lead byte: how many continuation bytes follow, and the range the first of them must be in.
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    let cp: number;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      cp = b0 & 0x0f;
      if (b0 === 0xe0) lo = 0xa0;
      else if (b0 === 0xed) hi = 0x9f; // no UTF-16 surrogates
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      cp = b0 & 0x07;
      if (b0 === 0xf0) lo = 0x90;
      else if (b0 === 0xf4) hi = 0x8f; // nothing past U+10FFFF
    } else {
      return { kind: "invalid-utf8", line, column };
    }
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return { kind: "invalid-utf8", line, column };
      const b = bytes[i + k] as number;
      if (b < (k === 1 ? lo : 0x80) || b > (k === 1 ? hi : 0xbf)) {
        return { kind: "invalid-utf8", line, column };
      }
      cp = (cp << 6) | (b & 0x3f);
    }
    if (!isPrintable(cp)) return { kind: "control", line, column, codePoint: cp };
    i += need + 1;
    column += cp >= 0x10000 ? 2 : 1;
  }
  return undefined;
}

const CONTROL_NAMES: Record<number, string> = { 0: "NUL", 27: "ESC", 127: "DEL" };

export function textProblemMessage(problem: TextProblem): string {
  if (problem.kind === "invalid-utf8") return "config file is not valid UTF-8: save it as UTF-8";
  const cp = problem.codePoint ?? 0;
  const hex = cp.toString(16).toUpperCase().padStart(4, "0");
  const name = CONTROL_NAMES[cp];
  return `config file contains the control character U+${hex}${name ? ` (${name})` : ""}, which YAML does not allow in a file: remove it`;
}

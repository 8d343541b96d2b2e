// JSON syntax checking for the definition editor: where the first syntax error is (offset, line,
// column) with a plain message, independent of the browser's JSON.parse wording; and, for
// completion, where in the JSON structure a cursor is (tolerant of unfinished text).

export interface JsonSyntaxError {
  /** Offset of the error (0-based, UTF-16 code units). */
  from: number;
  /** End of the offending token (from when the text simply ends). */
  to: number;
  /** 1-based line and column of `from`. */
  line: number;
  col: number;
  message: string;
}

const WS = new Set([' ', '\t', '\n', '\r']);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX = /^[0-9a-fA-F]{4}$/;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
/** A run of characters that is not JSON punctuation, whitespace or a quote: a word, for messages. */
const WORD = /[^\s{}[\],:"']+/y;

class Fail {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly message: string,
  ) {}
}

function position(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

/** Quoted for a message, shortened. */
function shown(s: string): string {
  return `'${s.length > 24 ? `${s.slice(0, 24)}…` : s}'`;
}

/** The first syntax error of `text` as JSON, or null when it is valid JSON. */
export function findJsonError(text: string): JsonSyntaxError | null {
  const n = text.length;
  let i = 0;

  const ws = () => {
    while (i < n && WS.has(text[i] as string)) i++;
  };
  const wordEnd = (at: number): number => {
    WORD.lastIndex = at;
    return WORD.test(text) ? WORD.lastIndex : Math.min(n, at + 1);
  };
  /** Why the token at i cannot start a value. */
  const comment = (): Fail | null =>
    text[i] === '/' && (text[i + 1] === '/' || text[i + 1] === '*') ? new Fail(i, i + 2, 'Comments are not allowed in JSON') : null;
  const notAValue = (what: string): Fail => {
    if (i >= n) return new Fail(n, n, `Unexpected end of the text: expected ${what}`);
    const c = text[i] as string;
    const cm = comment();
    if (cm) return cm;
    if (c === "'") return new Fail(i, i + 1, 'Strings must be in double quotes (")');
    const end = wordEnd(i);
    const word = text.slice(i, end);
    if (/^(true|false|null)$/i.test(word)) return new Fail(i, end, `${shown(word)} is not a value: true, false and null are written in lower case`);
    if (/^[A-Za-z_$]/.test(word)) return new Fail(i, end, `Unknown literal ${shown(word)}: expected ${what}`);
    return new Fail(i, end, `Unexpected ${shown(word)}: expected ${what}`);
  };

  const string = (): void => {
    const start = i;
    i++;  // the opening quote
    for (;;) {
      if (i >= n || text[i] === '\n' || text[i] === '\r') throw new Fail(start, i, 'Unterminated string');
      const c = text[i] as string;
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!HEX.test(text.slice(i + 2, i + 6))) throw new Fail(i, Math.min(n, i + 6), 'Invalid \\u escape: \\u needs four hex digits');
          i += 6;
        } else if (e !== undefined && ESCAPES.has(e)) {
          i += 2;
        } else {
          throw new Fail(i, Math.min(n, i + 2), `Invalid escape ${shown(`\\${e ?? ''}`)} in a string`);
        }
        continue;
      }
      if (c < ' ') throw new Fail(i, i + 1, c === '\t' ? 'Tab character in a string (write \\t)' : 'Control character in a string');
      i++;
    }
  };

  const number = (): void => {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    const end = wordEnd(i);
    if (!m || m[0].length === 0 || i + m[0].length < end) {
      const word = text.slice(i, end);
      throw new Fail(i, end, /^-?0\d/.test(word) ? `Invalid number ${shown(word)}: no leading zeros` : `Invalid number ${shown(word)}`);
    }
    i += m[0].length;
  };

  const value = (what: string): void => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i) && wordEnd(i) === i + lit.length) {
        i += lit.length;
        return;
      }
    }
    throw notAValue(what);
  };

  /** After a member or element: `,` (returns true), the closing bracket (false), or an error. */
  const next = (close: '}' | ']'): boolean => {
    ws();
    if (text[i] === ',') {
      const comma = i;
      i++;
      ws();
      if (text[i] === close) throw new Fail(comma, comma + 1, 'Trailing comma');
      return true;
    }
    if (text[i] === close) {
      i++;
      return false;
    }
    const cm = comment();
    if (cm) throw cm;
    const expected = `Expected ',' or '${close}'`;
    if (i >= n) throw new Fail(n, n, `${expected}: the text ends before the ${close === '}' ? 'object' : 'array'} is closed`);
    const end = text[i] === '"' ? Math.min(n, i + 1) : wordEnd(i);
    throw new Fail(i, end, text[i] === '"' || text[i] === '{' || text[i] === '[' ? `${expected} (a comma is missing before this)` : expected);
  };

  function object(): void {
    i++;  // {
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    do {
      ws();
      if (text[i] !== '"') {
        if (i < n && text[i] === "'") throw new Fail(i, i + 1, 'Property names must be in double quotes (")');
        if (i < n && /[A-Za-z_$]/.test(text[i] as string)) throw new Fail(i, wordEnd(i), 'Property names must be in double quotes (")');
        throw notAValue('a property name in double quotes');
      }
      string();
      ws();
      if (text[i] !== ':') {
        if (i >= n) throw new Fail(n, n, "Expected ':' after the property name: the text ends");
        throw new Fail(i, wordEnd(i), "Expected ':' after the property name");
      }
      i++;
      value('a value');
    } while (next('}'));
  }

  function array(): void {
    i++;  // [
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    do value('a value');
    while (next(']'));
  }

  try {
    ws();
    if (i >= n) throw new Fail(0, 0, 'The text is empty: expected a JSON value');
    value('a value');
    ws();
    if (i < n) throw comment() ?? new Fail(i, Math.max(i + 1, wordEnd(i)), 'Unexpected text after the end of the JSON value');
    return null;
  } catch (e) {
    if (e instanceof Fail) return { from: e.from, to: e.to, ...position(text, e.from), message: e.message };
    if (e instanceof RangeError) return { from: 0, to: 0, line: 1, col: 1, message: 'The JSON is nested too deeply' };
    throw e;
  }
}

// ---- where a cursor is ---------------------------------------------------------------------

/** An object or array around the cursor, outermost first. */
export interface JsonFrame {
  kind: 'object' | 'array';
  /** Its member name or element index in its parent (null for the top level). */
  at: string | number | null;
  /** Member names of an object seen so far (the whole object once the scan passed its end). */
  keys: Set<string>;
  /** Members with a string value (e.g. a task's "type"), as far as the text goes. */
  strings: Map<string, string>;
}

export interface JsonCursor {
  frames: JsonFrame[];
  /** A member name is expected or being typed here (in an object), or a value. */
  role: 'key' | 'value';
  /** For a value in an object: its member name; in an array: its index. */
  at: string | number | null;
  /** The string the cursor is in: [from, to) including the quotes; `closed` when it has its closing quote. */
  string: { from: number; to: number; closed: boolean } | null;
}

interface Scan extends JsonFrame {
  expectKey: boolean;
  key: string | null;
  index: number;
}

function unquote(raw: string): string {
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw.slice(1, raw.endsWith('"') && raw.length > 1 ? -1 : undefined);
  }
}

/**
 * Where `pos` is in the JSON structure of `text`. Unfinished or broken text is read as far as
 * it makes sense (a string ends at its line's end), so this works while a definition is typed.
 */
export function jsonCursor(text: string, pos: number): JsonCursor {
  const n = text.length;
  const stack: Scan[] = [];
  let result: JsonCursor | null = null;
  const here = (str: JsonCursor['string']): JsonCursor => {
    const top = stack[stack.length - 1];
    const role = top && top.kind === 'object' && top.expectKey ? 'key' : 'value';
    const at = !top ? null : top.kind === 'array' ? top.index : role === 'value' ? top.key : null;
    return { frames: [...stack], role, at, string: str };
  };
  let i = 0;
  while (i < n) {
    const c = text[i] as string;
    if (WS.has(c)) {
      i++;
      continue;
    }
    if (!result && i >= pos) result = here(null);
    const top = stack[stack.length - 1];
    if (c === '{' || c === '[') {
      const at = !top ? null : top.kind === 'array' ? top.index : top.key;
      stack.push({ kind: c === '{' ? 'object' : 'array', at, keys: new Set(), strings: new Map(), expectKey: c === '{', key: null, index: 0 });
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === ',') {
      if (top?.kind === 'object') {
        top.expectKey = true;
        top.key = null;
      } else if (top) top.index++;
      i++;
    } else if (c === ':') {
      if (top?.kind === 'object') top.expectKey = false;
      i++;
    } else if (c === '"') {
      const start = i;
      i++;
      while (i < n && text[i] !== '"' && text[i] !== '\n' && text[i] !== '\r') i += text[i] === '\\' ? 2 : 1;
      const closed = i < n && text[i] === '"';
      if (closed) i++;
      const end = Math.min(i, n);
      if (!result && pos > start && (pos < end || (!closed && pos <= end))) result = here({ from: start, to: end, closed });
      const s = unquote(text.slice(start, end));
      if (top?.kind === 'object' && top.expectKey) {
        top.key = s;
        top.keys.add(s);
      } else if (top?.kind === 'object' && top.key !== null) {
        top.strings.set(top.key, s);
      }
    } else {
      WORD.lastIndex = i;
      i = WORD.test(text) ? WORD.lastIndex : i + 1;
    }
  }
  return result ?? here(null);
}

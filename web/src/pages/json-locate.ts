// Where a JSON pointer's value sits in a JSON text, so an editor can select
// the part of the definition a validation error names.

export interface Span {
  start: number;
  end: number;
}

function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The character range of every value in `text`, by JSON pointer (an object
 * member's range starts at its key). Null when `text` is not valid JSON.
 */
export function jsonSpans(text: string): Map<string, Span> | null {
  const spans = new Map<string, Span>();
  const n = text.length;
  let i = 0;
  const fail = (): never => {
    throw new SyntaxError(`unexpected input at ${i}`);
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const expect = (c: string) => {
    if (text[i] !== c) fail();
    i++;
  };
  const str = (): string => {
    const s = i;
    expect('"');
    while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    expect('"');
    return JSON.parse(text.slice(s, i)) as string;
  };
  const value = (ptr: string, from?: number): void => {
    ws();
    const start = i;
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') i++;
      else {
        for (;;) {
          ws();
          const keyStart = i;
          const key = str();
          ws();
          expect(':');
          value(`${ptr}/${escapeToken(key)}`, keyStart);
          ws();
          if (text[i] === ',') {
            i++;
            continue;
          }
          expect('}');
          break;
        }
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') i++;
      else {
        for (let k = 0; ; k++) {
          value(`${ptr}/${k}`);
          ws();
          if (text[i] === ',') {
            i++;
            continue;
          }
          expect(']');
          break;
        }
      }
    } else if (c === '"') {
      str();
    } else {
      while (i < n && !',]}: \t\n\r'.includes(text[i] ?? '')) i++;
      if (i === start) fail();
    }
    spans.set(ptr, { start: from ?? start, end: i });
  };
  try {
    value('');
    ws();
    if (i !== n) fail();
  } catch {
    return null;
  }
  return spans;
}

/** The range of `pointer` in `text`, or of its nearest existing parent (a missing member is reported on its object). */
export function locatePointer(text: string, pointer: string): Span | null {
  const spans = jsonSpans(text);
  if (!spans) return null;
  let p = pointer === '/' ? '' : pointer;
  for (;;) {
    const s = spans.get(p);
    if (s) return s;
    if (p === '') return null;
    p = p.slice(0, Math.max(0, p.lastIndexOf('/')));
  }
}

// JSON for seccomp profiles, with two things JSON.parse does not give: exact u64 argument values
// (masks beyond 2^53 lose bits as doubles) and the line and column of a syntax error (Node 20's
// messages often omit the position). Pure.

import { CorralError, type SourceLocation } from '../../errors.js';

/** The manifest field every profile diagnostic belongs to. */
export const PROFILE_FIELD = 'spec.security.seccomp.file';
const MAX_DEPTH = 256;

/** Parses profile text; integers beyond 2^53 come back as bigint. Throws SECCOMP_PROFILE_INVALID. */
export function parseProfileJson(text: string, file: string): unknown {
  try {
    JSON.parse(text);
  } catch (e) {
    const found = syntaxError(text);
    const source = found ? location(text, found.offset, file) : undefined;
    throw new CorralError('SECCOMP_PROFILE_INVALID', `seccomp profile \`${file}\` is not valid JSON${source ? ` (line ${source.line}, column ${source.column})` : ''}`, {
      field: PROFILE_FIELD, detail: found ? found.message : String(e), ...(source ? { source } : {}), cause: e,
    });
  }
  return JSON.parse(tagBigIntegers(text), (_k, v: unknown) => (typeof v === 'string' && v.startsWith(BIG_TAG) ? BigInt(v.slice(BIG_TAG.length)) : v));
}

function location(text: string, offset: number, file: string): SourceLocation {
  const before = text.slice(0, offset).split('\n');
  return { file, line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

// Integers JSON.parse would round are swapped for a tagged string, which the reviver turns into a
// bigint. The tag starts with NUL, which a profile's own strings have no reason to hold.
const BIG_TAG = '\u0000corral-u64:';

/** Only called on text JSON.parse accepted, so strings and numbers are well-formed here. */
function tagBigIntegers(text: string): string {
  const number = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      number.lastIndex = i;
      const m = number.exec(text);
      if (!m) continue;
      if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(Number(m[0]))) {
        out += text.slice(copied, i) + JSON.stringify(BIG_TAG + m[0]);
        copied = i + m[0].length;
      }
      i += m[0].length - 1;
    }
  }
  return out + text.slice(copied);
}

class SyntaxAt {
  constructor(readonly offset: number, readonly message: string) {}
}

/** Where and why the text is not JSON (RFC 8259), or null if this scanner finds no fault. */
function syntaxError(t: string): SyntaxAt | null {
  let i = 0;
  // A declaration, not an arrow: only then does TypeScript narrow after a call returning never.
  function fail(expected: string): never {
    throw new SyntaxAt(i, `expected ${expected}, found ${i >= t.length ? 'the end of the file' : `\`${t[i]}\``}`);
  }
  const ws = (): void => {
    while (i < t.length && ' \t\n\r'.includes(t[i]!)) i++;
  };
  const string = (): void => {
    for (i++; ; i++) {
      const c = t[i];
      if (c === undefined) fail('a closing `"`');
      if (c === '"') return void i++;
      if (c === '\\') {
        if (t[i + 1] !== undefined && '"\\/bfnrt'.includes(t[i + 1]!)) i++;
        else if (t[i + 1] === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) i += 5;
        else fail('a valid escape after `\\`');
      } else if (c < ' ') {
        fail('no raw control character inside a string');
      }
    }
  };
  const list = (close: string, item: () => void): void => {
    i++;
    ws();
    if (t[i] === close) return void i++;
    for (;;) {
      item();
      ws();
      if (t[i] === ',') i++;
      else if (t[i] === close) return void i++;
      else fail(`\`,\` or \`${close}\``);
    }
  };
  const value = (depth: number): void => {
    ws();
    if (depth > MAX_DEPTH) fail(`at most ${MAX_DEPTH} levels of nesting`);
    const c = t[i];
    if (c === '{') {
      return list('}', () => {
        ws();
        if (t[i] !== '"') fail('a property name in double quotes');
        string();
        ws();
        if (t[i] !== ':') fail('`:`');
        i++;
        value(depth + 1);
      });
    }
    if (c === '[') return list(']', () => value(depth + 1));
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) if (t.startsWith(word, i)) return void (i += word.length);
    const number = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    number.lastIndex = i;
    const m = number.exec(t);
    if (!m) fail('a value');
    i += m[0].length;
  };
  try {
    value(0);
    ws();
    if (i < t.length) fail('the end of the document');
    return null;
  } catch (e) {
    if (e instanceof SyntaxAt) return e;
    throw e;
  }
}

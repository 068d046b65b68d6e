/**
 * A small Snowflake SQL lexer for the test double: enough to split statements, read the leading
 * keywords of Snowflake-only commands, and rewrite the rest into SQL DuckDB accepts with
 * Snowflake's identifier semantics (unquoted names resolve upper-cased).
 */

export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'param' | 'comment' | 'space' | 'punct';

export interface Token {
  kind: TokenKind;
  /** Source text of the token. */
  text: string;
  /** Decoded value: identifier name for `quoted`, string contents for `string`. */
  value: string;
}

const WORD_START = /[A-Za-z_]/;
const WORD_CHAR = /[A-Za-z0-9_$]/;

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < n && /\s/.test(sql[j]!)) j++;
      tokens.push({ kind: 'space', text: sql.slice(i, j), value: ' ' });
      i = j;
    } else if ((c === '-' && next === '-') || (c === '/' && next === '/')) {
      let j = sql.indexOf('\n', i);
      if (j < 0) j = n;
      tokens.push({ kind: 'comment', text: sql.slice(i, j), value: '' });
      i = j;
    } else if (c === '/' && next === '*') {
      let j = sql.indexOf('*/', i + 2);
      j = j < 0 ? n : j + 2;
      tokens.push({ kind: 'comment', text: sql.slice(i, j), value: '' });
      i = j;
    } else if (c === "'") {
      let j = i + 1;
      let value = '';
      while (j < n) {
        const d = sql[j]!;
        if (d === '\\' && j + 1 < n) {
          const escape = snowflakeEscape(sql, j + 1);
          value += escape.value;
          j = escape.end;
        } else if (d === "'" && sql[j + 1] === "'") {
          value += "'";
          j += 2;
        } else if (d === "'") {
          j++;
          break;
        } else {
          value += d;
          j++;
        }
      }
      tokens.push({ kind: 'string', text: sql.slice(i, j), value });
      i = j;
    } else if (c === '$' && next === '$') {
      let j = sql.indexOf('$$', i + 2);
      const value = sql.slice(i + 2, j < 0 ? n : j);
      j = j < 0 ? n : j + 2;
      tokens.push({ kind: 'string', text: sql.slice(i, j), value });
      i = j;
    } else if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < n) {
        if (sql[j] === '"' && sql[j + 1] === '"') {
          value += '"';
          j += 2;
        } else if (sql[j] === '"') {
          j++;
          break;
        } else {
          value += sql[j];
          j++;
        }
      }
      tokens.push({ kind: 'quoted', text: sql.slice(i, j), value });
      i = j;
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < n && WORD_CHAR.test(sql[j]!)) j++;
      const text = sql.slice(i, j);
      tokens.push({ kind: 'word', text, value: text.toUpperCase() });
      i = j;
    } else if (/[0-9]/.test(c) || (c === '.' && next !== undefined && /[0-9]/.test(next))) {
      let j = i + 1;
      while (j < n && /[0-9.eE]/.test(sql[j]!)) j++;
      tokens.push({ kind: 'number', text: sql.slice(i, j), value: sql.slice(i, j) });
      i = j;
    } else if (c === '?') {
      tokens.push({ kind: 'param', text: '?', value: '?' });
      i++;
    } else if (c === ':' && next !== undefined && /[0-9]/.test(next)) {
      let j = i + 1;
      while (j < n && /[0-9]/.test(sql[j]!)) j++;
      tokens.push({ kind: 'param', text: sql.slice(i, j), value: sql.slice(i + 1, j) });
      i = j;
    } else if (c === ':' && next === ':') {
      tokens.push({ kind: 'punct', text: '::', value: '::' });
      i += 2;
    } else {
      tokens.push({ kind: 'punct', text: c, value: c });
      i++;
    }
  }
  return tokens;
}

/** Splits on `;` outside strings and comments; drops statements that hold only space/comments. */
export function splitStatements(sql: string): Token[][] {
  const statements: Token[][] = [];
  let current: Token[] = [];
  for (const token of tokenize(sql)) {
    if (token.kind === 'punct' && token.text === ';') {
      statements.push(current);
      current = [];
    } else {
      current.push(token);
    }
  }
  statements.push(current);
  return statements.filter((s) => s.some((t) => t.kind !== 'space' && t.kind !== 'comment'));
}

/**
 * Snowflake's flow operator: `a ->> b` runs a, then b, as statements of their own (the double does not
 * give b the `$1` of a's result). Split at `->>` outside parentheses.
 */
export function splitFlow(statement: Token[]): Token[][] {
  const parts: Token[][] = [];
  let current: Token[] = [];
  let depth = 0;
  for (let i = 0; i < statement.length; i++) {
    const t = statement[i]!;
    if (t.kind === 'punct' && t.text === '(') depth++;
    if (t.kind === 'punct' && t.text === ')') depth--;
    const arrow = depth === 0 && t.text === '-' && statement[i + 1]?.text === '>' && statement[i + 2]?.text === '>';
    if (arrow) {
      parts.push(current);
      current = [];
      i += 2;
    } else {
      current.push(t);
    }
  }
  parts.push(current);
  return parts;
}

/** Tokens without space and comments. */
export function significant(tokens: Token[]): Token[] {
  return tokens.filter((t) => t.kind !== 'space' && t.kind !== 'comment');
}

export function tokensToText(tokens: Token[]): string {
  return tokens.map((t) => t.text).join('').trim();
}

/** Snowflake identifier value of a word or quoted token (unquoted → upper-case). */
export function identifierValue(token: Token | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (token.kind === 'word') return token.value;
  if (token.kind === 'quoted') return token.value;
  if (token.kind === 'string') return token.value;
  return undefined;
}

/**
 * Reads a dotted name (`a`, `"a"."B"`, `db.schema.obj`) starting at `start` among significant tokens.
 * Returns the parts and the index after the name.
 */
export function readQualifiedName(tokens: Token[], start: number): { parts: string[]; next: number } {
  const parts: string[] = [];
  let i = start;
  for (;;) {
    const value = identifierValue(tokens[i]);
    if (value === undefined || tokens[i]?.kind === 'string') break;
    parts.push(value);
    i++;
    if (tokens[i]?.kind === 'punct' && tokens[i]?.text === '.') i++;
    else break;
  }
  return { parts, next: i };
}

export function quoteDuck(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function stringLiteralDuck(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * The character a Snowflake string escape after a backslash stands for (ooo octal, xhh hex, uhhhh, 0 for
 * NUL, the letters above; any other character is itself, as in \' or \\), and where the escape ends.
 */
function snowflakeEscape(sql: string, at: number): { value: string; end: number } {
  const e = sql[at]!;
  const octal = /^[0-7]{3}/.exec(sql.slice(at, at + 3));
  if (octal) return { value: String.fromCharCode(parseInt(octal[0], 8)), end: at + 3 };
  if (e === '0') return { value: '\0', end: at + 1 };
  const hex = e === 'x' ? /^[0-9a-fA-F]{2}/.exec(sql.slice(at + 1, at + 3)) : e === 'u' ? /^[0-9a-fA-F]{4}/.exec(sql.slice(at + 1, at + 5)) : null;
  if (hex) return { value: String.fromCharCode(parseInt(hex[0], 16)), end: at + 1 + hex[0].length };
  return { value: SIMPLE_ESCAPES[e] ?? e, end: at + 1 };
}

/**
 * Tokenizer for the SQL the hub sends to Snowflake or to the embedded DuckDB.
 *
 * The two engines disagree on a few lexical rules, and every disagreement is a way to make a checker
 * see one statement where the engine runs two. So the lexer takes a dialect and follows that engine:
 *
 * | rule                         | snowflake                         | duckdb                                  |
 * |------------------------------|-----------------------------------|-----------------------------------------|
 * | `//`                         | line comment                      | integer-division operator               |
 * | `\` in `'…'`                 | escapes the next character        | literal (only `E'…'` has escapes)       |
 * | `$tag$…$tag$`                | not supported (`$name` variable)  | dollar-quoted string                    |
 * | block comment inside another | not nested (refused: ambiguous)   | nested                                  |
 * | `--` comment ends at         | `\n` (other breaks: ambiguous)    | `\n` or `\r`                            |
 * | `@name`                      | stage reference                   | operator                                |
 *
 * Where an engine's rule is not documented well enough to be sure (Snowflake's nested comments and
 * unusual line breaks inside `--` comments), the lexer refuses the input instead of guessing.
 *
 * Non-ASCII characters are the other trap: DuckDB rewrites some Unicode spaces to ASCII spaces before
 * parsing, with a pre-scanner that does not understand block comments, so the same NBSP can end up
 * as whitespace or as an identifier character. Identifier characters include `$`, so `x\u00a0$$` is
 * either an identifier or the start of a dollar-quoted string. We treat Unicode spaces as whitespace
 * (seeing more token boundaries than the engine is the safe direction), and refuse the only places
 * where a boundary changes the lexing mode: a `$` right after such a character, and DuckDB's `E'`
 * escape-string prefix right after one.
 */

export type SqlDialect = 'snowflake' | 'duckdb';

export type TokenKind =
  | 'word'
  | 'quoted_ident'
  | 'string'
  | 'dollar_string'
  | 'number'
  | 'punct'
  | 'semicolon'
  | 'variable'
  | 'stage'
  | 'comment';

export interface Token {
  kind: TokenKind;
  /** Exact source text of the token. */
  text: string;
  /** UTF-16 offsets into the input, end exclusive. */
  start: number;
  end: number;
  /**
   * For words: the text upper-cased (ASCII letters only, so `ſelect` never becomes `SELECT`).
   * For quoted identifiers: the unescaped name, upper-cased the same way.
   */
  upper?: string;
}

export interface LexError {
  code: string;
  message: string;
  offset: number;
}

export interface TokenizeOptions {
  /** Which engine's lexical rules to follow. Default: snowflake. */
  dialect?: SqlDialect;
}

export function tokenize(sql: string, options: TokenizeOptions = {}): { tokens: Token[]; error?: LexError } {
  return new Lexer(sql, options.dialect ?? 'snowflake').run();
}

/** ASCII-only upper-casing: keywords are ASCII, and Unicode case mapping would invent keywords. */
export function asciiUpper(text: string): string {
  return NON_ASCII.test(text) ? text.replace(/[a-z]+/g, (s) => s.toUpperCase()) : text.toUpperCase();
}

const NON_ASCII = /[^\x00-\x7f]/;

const CH_TAB = 9;
const CH_LF = 10;
const CH_VT = 11;
const CH_FF = 12;
const CH_CR = 13;
const CH_SPACE = 32;

function isAsciiSpace(c: number): boolean {
  return c === CH_SPACE || c === CH_TAB || c === CH_LF || c === CH_CR || c === CH_FF || c === CH_VT;
}

/** Non-ASCII characters some engine treats as whitespace (JS \s plus the zero-width ones DuckDB strips). */
function isUnicodeSpace(c: number): boolean {
  if (c < 0x80) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    c === 0x180e ||
    (c >= 0x2000 && c <= 0x200b) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x2060 ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Whether the character before `at` is one an engine may take for whitespace or for an identifier
 * character: Unicode spaces, controls, format characters (zero-width joiners…), surrogates, private
 * use and unassigned code points. Letters such as "é" are identifier characters everywhere.
 */
function followsUncertainCharacter(src: string, at: number): boolean {
  if (at <= 0) return false;
  let cp = src.charCodeAt(at - 1);
  if (cp < 0x80) return false;
  if (cp >= 0xdc00 && cp <= 0xdfff && at >= 2) {
    const high = src.charCodeAt(at - 2);
    if (high >= 0xd800 && high <= 0xdbff) cp = ((high - 0xd800) << 10) + (cp - 0xdc00) + 0x10000;
  }
  return isUnicodeSpace(cp) || UNCERTAIN_CATEGORY.test(String.fromCodePoint(cp));
}

const UNCERTAIN_CATEGORY = /^[\p{Z}\p{C}]$/u;

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentStart(c: number): boolean {
  return isAsciiLetter(c) || c === 95 /* _ */ || (c >= 0x80 && !isUnicodeSpace(c));
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === 36 /* $ */;
}

/** Characters an unquoted Snowflake stage path may contain (`@db.sch.stage/2024-01-01/file.csv.gz`). */
function isStagePathChar(c: number): boolean {
  return isIdentPart(c) || c === 46 /* . */ || c === 47 /* / */ || c === 126 /* ~ */ || c === 37 /* % */ || c === 45 /* - */ || c === 43 /* + */;
}

/** Line breaks other than \n that some engine might end a `--` comment at. */
function isOddLineBreak(c: number): boolean {
  return c === CH_CR || c === CH_VT || c === CH_FF || c === 0x85 || c === 0x2028 || c === 0x2029;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const MULTI_CHAR_PUNCT = ['->>', '->', '=>', '::', '<=', '>=', '<>', '!=', '||', '**'];
const MULTI_CHAR_STARTS = new Set([...MULTI_CHAR_PUNCT.map((p) => p.charCodeAt(0)), 47 /* / */]);

class Lexer {
  private readonly tokens: Token[] = [];
  private pos = 0;

  constructor(
    private readonly src: string,
    private readonly dialect: SqlDialect,
  ) {}

  run(): { tokens: Token[]; error?: LexError } {
    const nul = this.src.indexOf('\u0000');
    if (nul >= 0) {
      return this.fail('NUL_CHARACTER', 'the text contains a NUL character, which engines handle inconsistently', nul);
    }
    // Half of a UTF-16 surrogate pair alone (JSON's "\ud800") has no UTF-8 form: the engine is sent U+FFFD in
    // its place (DuckDB answered SELECT '\ud800' with '\ufffd'), so the statement that ran was not the one
    // judged here and recorded in the audit log, and a literal or name holding one silently matched another.
    const lone = LONE_SURROGATE.exec(this.src);
    if (lone !== null) {
      const unit = this.src.charCodeAt(lone.index).toString(16);
      return this.fail('LONE_SURROGATE', `the text contains a lone UTF-16 surrogate (\\u${unit}), which has no UTF-8 form: the engine would get U+FFFD in its place`, lone.index);
    }
    const src = this.src;
    const n = src.length;
    while (this.pos < n) {
      const c = src.charCodeAt(this.pos);
      const next = this.pos + 1 < n ? src.charCodeAt(this.pos + 1) : -1;
      if (isAsciiSpace(c) || isUnicodeSpace(c)) {
        this.pos++;
        continue;
      }
      let error: LexError | undefined;
      if (c === 45 /* - */ && next === 45) error = this.lineComment();
      else if (c === 47 /* / */ && next === 47 && this.dialect === 'snowflake') error = this.lineComment();
      else if (c === 47 /* / */ && next === 42 /* * */) error = this.blockComment();
      else if (c === 39 /* ' */) error = this.singleQuoted();
      else if (c === 34 /* " */) error = this.quotedIdentifier();
      else if (c === 36 /* $ */) error = this.dollar();
      else if (isDigit(c) || (c === 46 /* . */ && isDigit(next))) this.number();
      else if (isIdentStart(c)) error = this.word();
      else if (c === 64 /* @ */ && this.dialect === 'snowflake') error = this.stage();
      else if (c === 59 /* ; */) this.push('semicolon', this.pos, this.pos + 1);
      else if (c === 63 /* ? */) this.push('variable', this.pos, this.pos + 1);
      else if (c === 58 /* : */ && next !== 58 && isIdentStart(next) && this.startsBindVariable()) this.bindVariable();
      else if (c === 35 /* # */ && this.dialect === 'snowflake') {
        return this.fail('AMBIGUOUS_HASH', 'a "#" outside a literal starts a comment in some SQL engines; remove it or quote it', this.pos);
      } else if (c < 0x20 || c === 0x7f) {
        return this.fail('CONTROL_CHARACTER', `the text contains the control character U+${hex4(c)} outside a literal`, this.pos);
      } else this.punct();
      if (error) return { tokens: this.tokens, error };
    }
    return { tokens: this.tokens };
  }

  private fail(code: string, message: string, offset: number): { tokens: Token[]; error: LexError } {
    return { tokens: this.tokens, error: { code, message, offset } };
  }

  private err(code: string, message: string, offset: number): LexError {
    return { code, message, offset };
  }

  private push(kind: TokenKind, start: number, end: number, upper?: string): void {
    const token: Token = { kind, text: this.src.slice(start, end), start, end };
    if (upper !== undefined) token.upper = upper;
    this.tokens.push(token);
    this.pos = end;
  }

  private lineComment(): LexError | undefined {
    const src = this.src;
    const start = this.pos;
    let i = start + 2;
    for (; i < src.length; i++) {
      const c = src.charCodeAt(i);
      if (c === CH_LF) break;
      if (this.dialect === 'duckdb') {
        if (c === CH_CR) break;
        continue;
      }
      if (isOddLineBreak(c) && !(c === CH_CR && src.charCodeAt(i + 1) === CH_LF)) {
        return this.err(
          'AMBIGUOUS_LINE_BREAK',
          `a line comment contains the line break U+${hex4(c)}; engines disagree on whether it ends the comment. Use \\n line endings`,
          i,
        );
      }
      if (c === CH_CR) break; // \r\n: the comment ends here either way
    }
    this.push('comment', start, i);
    return undefined;
  }

  private blockComment(): LexError | undefined {
    const src = this.src;
    const start = this.pos;
    let depth = 1;
    let i = start + 2;
    while (i < src.length) {
      const c = src.charCodeAt(i);
      const next = src.charCodeAt(i + 1);
      if (c === 42 /* * */ && next === 47 /* / */) {
        depth--;
        i += 2;
        if (depth === 0) {
          this.push('comment', start, i);
          return undefined;
        }
        continue;
      }
      if (c === 47 /* / */ && next === 42 /* * */) {
        if (this.dialect === 'snowflake') {
          return this.err(
            'AMBIGUOUS_NESTED_COMMENT',
            'a block comment contains "/*"; engines disagree on whether comments nest. Remove the inner "/*"',
            i,
          );
        }
        depth++;
        i += 2;
        continue;
      }
      i++;
    }
    return this.err('UNTERMINATED_COMMENT', 'a block comment is not closed with "*/"', start);
  }

  /**
   * A '…' literal in the dialect's rules. In Snowflake, a prefixed literal such as X'…' containing a
   * backslash is refused: whether the prefix turns backslash escapes off is not documented.
   */
  private singleQuoted(): LexError | undefined {
    const start = this.pos;
    if (this.dialect === 'duckdb') return this.quoted('string', false, start);
    const error = this.quoted('string', true, start);
    if (!error && start > 0 && isIdentPart(this.src.charCodeAt(start - 1)) && this.src.slice(start, this.pos).includes('\\')) {
      return this.err('AMBIGUOUS_STRING_PREFIX', 'a string literal with a prefix (such as X\'…\') contains a backslash, which engines escape differently', start);
    }
    return error;
  }

  /** A '…' literal; `''` is an escaped quote, and with backslashEscapes `\x` escapes any character. */
  private quoted(kind: 'string', backslashEscapes: boolean, start: number): LexError | undefined {
    const src = this.src;
    let i = this.pos + 1;
    while (i < src.length) {
      const c = src.charCodeAt(i);
      if (c === 92 /* \ */ && backslashEscapes) {
        i += 2;
        continue;
      }
      if (c === 39) {
        if (src.charCodeAt(i + 1) === 39) {
          i += 2;
          continue;
        }
        this.push(kind, start, i + 1);
        return undefined;
      }
      i++;
    }
    return this.err('UNTERMINATED_STRING', 'a string literal is not closed', start);
  }

  private quotedIdentifier(): LexError | undefined {
    const src = this.src;
    const start = this.pos;
    let i = start + 1;
    while (i < src.length) {
      if (src.charCodeAt(i) === 34) {
        if (src.charCodeAt(i + 1) === 34) {
          i += 2;
          continue;
        }
        const name = src.slice(start + 1, i).replace(/""/g, '"');
        this.push('quoted_ident', start, i + 1, asciiUpper(name));
        return undefined;
      }
      i++;
    }
    return this.err('UNTERMINATED_QUOTED_IDENTIFIER', 'a double-quoted identifier is not closed', start);
  }

  private checkDollarBoundary(at: number): LexError | undefined {
    if (followsUncertainCharacter(this.src, at)) {
      return this.err(
        'AMBIGUOUS_DOLLAR',
        'a "$" directly follows a Unicode space or invisible character; engines disagree on whether it starts a dollar-quoted string. Put an ASCII space before it',
        at,
      );
    }
    return undefined;
  }

  private dollar(): LexError | undefined {
    const src = this.src;
    const start = this.pos;
    const boundary = this.checkDollarBoundary(start);
    if (boundary) return boundary;
    const next = src.charCodeAt(start + 1);
    if (next === 36) return this.dollarString(start, '$$');
    if (this.dialect === 'duckdb' && isIdentStart(next)) {
      // $tag$…$tag$, or a $name parameter when no closing $ follows the tag.
      let i = start + 1;
      while (i < src.length) {
        const c = src.charCodeAt(i);
        if (isUnicodeSpace(c)) {
          return this.err('AMBIGUOUS_DOLLAR', 'a dollar-quote tag contains a Unicode space, which engines read differently', i);
        }
        if (!(isIdentStart(c) || isDigit(c))) break;
        i++;
      }
      if (src.charCodeAt(i) === 36) return this.dollarString(start, src.slice(start, i + 1));
      this.push('variable', start, i);
      return undefined;
    }
    if (isDigit(next)) {
      let i = start + 1;
      while (isDigit(src.charCodeAt(i))) i++;
      this.push('variable', start, i);
      return undefined;
    }
    if (this.dialect === 'snowflake' && isIdentStart(next)) {
      // $session_variable; greedy over $ as well, so `$a$$` never opens a string here.
      let i = start + 1;
      while (i < src.length && isIdentPart(src.charCodeAt(i))) i++;
      this.push('variable', start, i);
      return undefined;
    }
    this.push('punct', start, start + 1);
    return undefined;
  }

  private dollarString(start: number, delimiter: string): LexError | undefined {
    const close = this.src.indexOf(delimiter, start + delimiter.length);
    if (close < 0) {
      return this.err('UNTERMINATED_DOLLAR_STRING', `a dollar-quoted string opened with ${delimiter} is not closed`, start);
    }
    this.push('dollar_string', start, close + delimiter.length);
    return undefined;
  }

  private number(): void {
    const src = this.src;
    const start = this.pos;
    let i = start;
    while (isDigit(src.charCodeAt(i))) i++;
    if (src.charCodeAt(i) === 46 /* . */ && src.charCodeAt(i + 1) !== 46) {
      i++;
      while (isDigit(src.charCodeAt(i))) i++;
    }
    const e = src.charCodeAt(i);
    if (e === 69 || e === 101) {
      let j = i + 1;
      const sign = src.charCodeAt(j);
      if (sign === 43 || sign === 45) j++;
      if (isDigit(src.charCodeAt(j))) {
        while (isDigit(src.charCodeAt(j))) j++;
        i = j;
      }
    }
    this.push('number', start, i);
  }

  private word(): LexError | undefined {
    const src = this.src;
    const start = this.pos;
    let i = start;
    while (i < src.length) {
      const c = src.charCodeAt(i);
      if (!isIdentPart(c)) break;
      if (c === 36) {
        const boundary = this.checkDollarBoundary(i);
        if (boundary) return boundary;
      }
      i++;
    }
    if (this.dialect === 'duckdb' && i === start + 1 && src.charCodeAt(i) === 39) {
      const c = src.charCodeAt(start);
      if (c === 69 || c === 101) {
        // DuckDB's E'…' escape string: backslashes escape. Preceded by a character some pre-pass may
        // or may not turn into a space, the E would be part of an identifier instead: refuse.
        if (followsUncertainCharacter(src, start)) {
          return this.err('AMBIGUOUS_ESCAPE_STRING', "an E'…' string directly follows a Unicode space or invisible character; put an ASCII space before it", start);
        }
        this.pos = i;
        return this.quoted('string', true, start);
      }
    }
    this.push('word', start, i, asciiUpper(src.slice(start, i)));
    return undefined;
  }

  private stage(): LexError | undefined {
    const src = this.src;
    const start = this.pos;
    let i = start + 1;
    while (i < src.length) {
      const c = src.charCodeAt(i);
      const next = src.charCodeAt(i + 1);
      if (c === 34 /* " */) {
        let j = i + 1;
        for (;;) {
          if (j >= src.length) return this.err('UNTERMINATED_QUOTED_IDENTIFIER', 'a quoted name in a stage reference is not closed', i);
          if (src.charCodeAt(j) === 34) {
            if (src.charCodeAt(j + 1) === 34) {
              j += 2;
              continue;
            }
            break;
          }
          j++;
        }
        i = j + 1;
        continue;
      }
      if (!isStagePathChar(c)) break;
      if (c === 45 && next === 45) break; // "--" starts a comment
      if (c === 47 && (next === 47 || next === 42)) break; // "//" or "/*" starts a comment
      if (c === 36) {
        const boundary = this.checkDollarBoundary(i);
        if (boundary) return boundary;
      }
      i++;
    }
    const after = src.charCodeAt(i);
    if (after === 39 /* ' */ || after === 92 /* \ */) {
      return this.err('AMBIGUOUS_STAGE_PATH', 'a stage path runs straight into a quote or backslash; quote the whole path instead', i);
    }
    this.push('stage', start, i);
    return undefined;
  }

  /** `:name` is a bind variable unless the colon follows an expression (`col:path`, `a[1:b]`). */
  private startsBindVariable(): boolean {
    if (this.pos === 0) return true;
    const prev = this.src.charCodeAt(this.pos - 1);
    return !(isIdentPart(prev) || prev === 41 /* ) */ || prev === 93 /* ] */ || prev === 34 /* " */ || prev === 39 /* ' */);
  }

  private bindVariable(): void {
    const src = this.src;
    let i = this.pos + 1;
    while (i < src.length && isIdentPart(src.charCodeAt(i)) && src.charCodeAt(i) !== 36) i++;
    this.push('variable', this.pos, i);
  }

  private punct(): void {
    const src = this.src;
    if (!MULTI_CHAR_STARTS.has(src.charCodeAt(this.pos))) {
      this.push('punct', this.pos, this.pos + 1);
      return;
    }
    for (const p of MULTI_CHAR_PUNCT) {
      if (src.startsWith(p, this.pos)) {
        this.push('punct', this.pos, this.pos + p.length);
        return;
      }
    }
    if (this.dialect === 'duckdb' && src.startsWith('//', this.pos)) {
      this.push('punct', this.pos, this.pos + 2);
      return;
    }
    // One UTF-16 unit; a surrogate pair's halves become two punct tokens, which is harmless here.
    this.push('punct', this.pos, this.pos + 1);
  }
}

function hex4(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, '0');
}


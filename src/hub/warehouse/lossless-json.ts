/**
 * JSON text → JS values without rounding numbers: JSON.parse reads every number as a double, so a 64-bit
 * id inside a JSON or VARIANT document (1234567890123456789) came out as 1234567890123456800, an amount
 * 98765432109876.54321 as 98765432109876.55 and 1e400 as Infinity. Here an integer beyond ±(2^53-1), and
 * any other number a double does not hold exactly as written (more significant digits than a double keeps,
 * beyond its range, or below it), becomes its exact decimal text, as NUMBER columns give it (json-values.ts);
 * everything else is what JSON.parse gives: numbers a double holds as doubles, the last of duplicate keys,
 * a "__proto__" key as an own member.
 *
 * Ordinary documents take JSON.parse itself: only a number with 16 or more digits (2^53 has 16; a double
 * holds every decimal of up to 15 significant digits) or a three-digit exponent can be rounded, and a
 * document without a run of 16 digits (a decimal point among them) or such an exponent goes the fast way.
 * The scanner below reads the others.
 */

export interface LosslessJsonOptions {
  /**
   * Also read the tokens Snowflake writes into VARIANT text when STRICT_JSON_OUTPUT is off: NaN, Infinity,
   * -Infinity (as those numbers) and undefined (as null).
   */
  snowflakeTokens?: boolean | undefined;
}

/** 16 digits in a row, or 16 digits and a decimal point, or an exponent of three digits. */
const LONG_NUMBER = /\d{16}|[\d.]{17}|[eE][+-]?\d{3}/;
/** Deeper documents are left to JSON.parse (rounding their big integers) rather than risk the stack. */
const MAX_NESTING = 1000;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*"/y;

class TooDeep extends Error {}

/** Parses JSON text as described above; throws a SyntaxError for text that is not JSON. */
export function parseJsonLossless(text: string, options: LosslessJsonOptions = {}): unknown {
  const snowflakeTokens = options.snowflakeTokens === true;
  if (!LONG_NUMBER.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      if (!snowflakeTokens) throw err;
    }
  }
  try {
    return new Scanner(text, snowflakeTokens).document();
  } catch (err) {
    if (err instanceof TooDeep) return JSON.parse(text) as unknown;
    throw err;
  }
}

class Scanner {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly snowflakeTokens: boolean,
  ) {}

  document(): unknown {
    const value = this.value(0);
    this.skipSpace();
    if (this.pos < this.text.length) this.fail();
    return value;
  }

  private value(depth: number): unknown {
    this.skipSpace();
    const text = this.text;
    const c = text.charCodeAt(this.pos);
    if (c === 0x22 /* " */) return this.string();
    if (c === 0x7b /* { */) return this.object(depth + 1);
    if (c === 0x5b /* [ */) return this.array(depth + 1);
    if (this.literal('true')) return true;
    if (this.literal('false')) return false;
    if (this.literal('null')) return null;
    if (this.snowflakeTokens) {
      if (this.literal('NaN')) return NaN;
      if (this.literal('Infinity')) return Infinity;
      if (this.literal('-Infinity')) return -Infinity;
      if (this.literal('undefined')) return null;
    }
    return this.number();
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > MAX_NESTING) throw new TooDeep();
    this.pos++;
    const out: Record<string, unknown> = {};
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x7d /* } */) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== 0x22) this.fail();
      const key = this.string();
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== 0x3a /* : */) this.fail();
      this.pos++;
      const value = this.value(depth);
      // A plain assignment of "__proto__" would set the prototype; JSON.parse makes it a member.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      if (this.separator(0x7d /* } */)) return out;
    }
  }

  private array(depth: number): unknown[] {
    if (depth > MAX_NESTING) throw new TooDeep();
    this.pos++;
    const out: unknown[] = [];
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x5d /* ] */) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      if (this.separator(0x5d /* ] */)) return out;
    }
  }

  /** After a member: true at the closing bracket, false at a comma. */
  private separator(close: number): boolean {
    this.skipSpace();
    const c = this.text.charCodeAt(this.pos++);
    if (c === close) return true;
    if (c !== 0x2c /* , */) this.fail(this.pos - 1);
    return false;
  }

  private string(): string {
    STRING.lastIndex = this.pos;
    const match = STRING.exec(this.text);
    if (match === null) this.fail();
    const token = match[0];
    this.pos += token.length;
    return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
  }

  private number(): number | string {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail();
    const token = match[0];
    this.pos += token.length;
    const value = Number(token);
    if (!/[.eE]/.test(token)) {
      if (Number.isSafeInteger(value)) return value;
      // The grammar allows no leading zeros or "+", so the token is the integer's canonical decimal text.
      return token;
    }
    // A fraction or exponent: the double when it is the number written (0.1, 1.50, 2.5e-3), else the text.
    return Number.isFinite(value) && decimalKey(String(value)) === decimalKey(token) ? value : token;
  }

  private literal(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  private skipSpace(): void {
    const text = this.text;
    let c = text.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++this.pos);
  }

  private fail(at = this.pos): never {
    throw new SyntaxError(`Unexpected ${at < this.text.length ? `character at position ${at}` : 'end'} of JSON text`);
  }
}

/**
 * A JSON number's value as `[-]<significant digits>e<exponent>` (0.d… × 10^exponent), whatever way it is
 * written: "1.50", "15e-1" and "0.15E1" give the same key, and so does a double's own text (String(1.5)).
 */
function decimalKey(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null) return text;
  const [, sign, whole = '', fraction = '', exponent = '0'] = m;
  const digits = whole + fraction;
  const lead = digits.search(/[1-9]/);
  if (lead < 0) return '0'; // zero, of either sign (a document's -0 is JSON's, serialized as 0)
  return `${sign}${digits.slice(lead).replace(/0+$/, '')}e${Number(exponent) + whole.length - lead}`;
}

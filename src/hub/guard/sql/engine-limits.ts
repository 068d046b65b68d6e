/**
 * SQL the embedded engine would run at a cost no setting bounds. DuckDB runs inside the hub process, and
 * its `memory_limit` covers its buffer pool, not every allocation: a statement that joins tens of thousands
 * of queries with UNION needs planner memory growing with the square of their number (10,000: 2.6 GB;
 * 50,000, in 950 KB of SQL: the kernel killed the hub at 23 GB), and a list or string built in one value
 * (`range(0, 400000000)`, `repeat('x', 1500000000)`) is one allocation the engine cannot interrupt. Either
 * ends every session of the hub. What a statement says outright is refused here; a size computed from the
 * data cannot be seen in the text (docs/security-model.md says what is left).
 */
import { shownText } from '../../../shown-text.js';
import type { Token } from './lexer.js';

/** Set operations (UNION, INTERSECT, EXCEPT) in one statement: 1,000 plan in ~120 MB. */
export const MAX_SET_OPERATIONS = 1_000;
/**
 * Tokens (words, literals, symbols) in one statement. The engine's parser and planner hold all of them at
 * once, outside its memory limit: `SELECT 'a', 'a', …` with 950,000 literals (3.8 MB of SQL) kept 1.3 GB per
 * call and three calls ended the hub; 20,000 literals cost ~150 MB.
 */
export const MAX_TOKENS = 100_000;
/** The largest count a value-building function may be given as a literal: 100 million elements or characters. */
export const MAX_BUILT_SIZE = 100_000_000;

/** Value-building functions, by which argument sizes what they build (RANGE's are all its bounds). */
const BUILDERS: ReadonlyMap<string, 'bounds' | number> = new Map<string, 'bounds' | number>([
  ['RANGE', 'bounds'],
  ['GENERATE_SERIES', 'bounds'],
  ['REPEAT', 1],
  ['LPAD', 1],
  ['RPAD', 1],
  ['LIST_RESIZE', 1],
  ['ARRAY_RESIZE', 1],
  ['BITSTRING', 1],
]);
/** Words after which `range(…)` is a table function, which streams its rows instead of building one list. */
const TABLE_POSITION: ReadonlySet<string> = new Set(['FROM', 'JOIN', 'LATERAL']);
/** Functions whose parentheses hold a FROM of their own (`substring(x FROM 2)`): not a table's. */
const FROM_IN_CALL: ReadonlySet<string> = new Set(['SUBSTRING', 'EXTRACT', 'TRIM', 'OVERLAY', 'POSITION']);
/** Words that end a FROM list at their depth. */
const CLAUSES_AFTER_FROM: ReadonlySet<string> = new Set(['SELECT', 'WHERE', 'GROUP', 'HAVING', 'QUALIFY', 'WINDOW', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'INTERSECT', 'EXCEPT']);
/** Formatting functions whose format string can ask for a field this wide or wider. */
const WIDE_FIELD = /\d{7,}/;

/** A function name as the engine resolves it: a word, or a quoted identifier (`"range"` is range), as the lexer upper-cased it. */
function functionName(t: Token): string | undefined {
  return t.kind === 'word' || t.kind === 'quoted_ident' ? t.upper : undefined;
}

/** Why the embedded engine must not run this statement, or undefined. */
export function engineHazard(tokens: readonly Token[]): string | undefined {
  if (tokens.length > MAX_TOKENS) {
    return `holds ${tokens.length.toLocaleString('en-US')} words, literals and symbols, more than the ${MAX_TOKENS.toLocaleString('en-US')} the embedded engine parses at a bounded cost (its parser holds them all in memory, outside its memory limit). Split it into several queries, or load long lists of values into a table first`;
  }
  let setOperations = 0;
  /** What the statement's literal sizes build together: several allowed values add up. */
  let built = 0;
  /** For each open parenthesis, the function it belongs to (or undefined). */
  const openers: (string | undefined)[] = [];
  /** For each parenthesis depth, whether its current clause is a FROM list (`FROM a, range(…)`). */
  const inFrom: boolean[] = [false];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text === '(') {
      openers.push(tokens[i - 1] === undefined ? undefined : functionName(tokens[i - 1]!));
      inFrom.push(false);
      continue;
    }
    if (t.kind === 'punct' && t.text === ')') {
      openers.pop();
      if (inFrom.length > 1) inFrom.pop();
      continue;
    }
    const word = functionName(t);
    if (word === undefined) continue;
    if (t.kind === 'word') {
      if (word === 'FROM' && !FROM_IN_CALL.has(openers[openers.length - 1] ?? '')) inFrom[inFrom.length - 1] = true;
      else if (CLAUSES_AFTER_FROM.has(word)) inFrom[inFrom.length - 1] = false;
    }
    if (t.kind === 'word' && (word === 'UNION' || word === 'INTERSECT' || word === 'EXCEPT')) {
      if (++setOperations > MAX_SET_OPERATIONS) {
        return `joins more than ${MAX_SET_OPERATIONS.toLocaleString('en-US')} queries with UNION, INTERSECT or EXCEPT, which the embedded engine plans in memory growing with the square of their number (enough of them ends the hub). Split it into several queries, or put the values in one VALUES list`;
      }
      continue;
    }
    if (tokens[i + 1]?.kind !== 'punct' || tokens[i + 1]!.text !== '(') continue;
    if ((word === 'FORMAT' || word === 'PRINTF') && tokens[i + 2]?.kind === 'string' && WIDE_FIELD.test(tokens[i + 2]!.text)) {
      return `calls ${shownText(t.text)} with a field a million characters wide or wider, building one string that size in the hub's memory, outside the engine's memory limit. Use a narrower width`;
    }
    const sizing = BUILDERS.get(word);
    if (sizing === undefined) continue;
    const before = tokens[i - 1];
    const tablePosition =
      (before?.kind === 'word' && TABLE_POSITION.has(before.upper ?? '') && !FROM_IN_CALL.has(openers[openers.length - 1] ?? '')) ||
      (before?.kind === 'punct' && before.text === ',' && inFrom[inFrom.length - 1] === true);
    if (sizing === 'bounds' && tablePosition) continue;
    const argTokens = callArguments(tokens, i + 1);
    const args = argTokens.map(literalNumber);
    // As a value (a list built whole), a range whose bounds are constants the hub cannot evaluate (arithmetic,
    // casts) or dates and times can ask for any size, and the engine cannot be stopped while it builds (a
    // microsecond timestamp range outlived its call's cancel and held a statement slot for good). Bounds read
    // from the data (a column, len(x)) are the engine's own macros' way, and pass.
    if (sizing === 'bounds' && argTokens.some((a) => argumentKind(a) === 'unsized')) {
      return `calls ${shownText(t.text)} as a value with a bound the hub cannot size (a constant expression, a cast, a date or a time), so the list it builds in the hub's memory could be any size, and the engine cannot stop while building it. Write its bounds as numbers, or select FROM ${shownText(t.text)}(…), which streams its rows`;
    }
    const size = sizing === 'bounds' ? boundsSize(args) : args[sizing];
    if (size === undefined) continue;
    built += size;
    if (size > MAX_BUILT_SIZE || built > MAX_BUILT_SIZE) {
      const what = size > MAX_BUILT_SIZE ? `with a size of ${size.toLocaleString('en-US')}` : `bringing the values the statement builds to ${built.toLocaleString('en-US')} elements or characters`;
      return `calls ${shownText(t.text)} ${what}, building that much in one go in the hub's memory, outside the engine's memory limit and beyond its reach to cancel (at most ${MAX_BUILT_SIZE.toLocaleString('en-US')} per statement). Build less, or aggregate over FROM range(…), which streams its rows`;
    }
  }
  return undefined;
}

/** Type names and cast words: a bound made only of these and literals is a constant. */
const CONSTANT_WORDS: ReadonlySet<string> = new Set([
  'CAST', 'TRY_CAST', 'AS', 'BIGINT', 'INT', 'INTEGER', 'HUGEINT', 'SMALLINT', 'TINYINT', 'UBIGINT', 'UINTEGER', 'USMALLINT', 'UTINYINT',
  'UHUGEINT', 'INT8', 'INT4', 'INT2', 'INT1', 'LONG', 'DOUBLE', 'FLOAT', 'REAL', 'DECIMAL', 'NUMERIC', 'VARCHAR', 'TEXT', 'STRING',
]);
/** Words that make a bound a date, a time or an interval. */
const TEMPORAL_WORDS: ReadonlySet<string> = new Set(['DATE', 'TIME', 'TIMESTAMP', 'TIMESTAMPTZ', 'INTERVAL', 'TO_TIMESTAMP', 'MAKE_DATE', 'MAKE_TIMESTAMP', 'NOW', 'CURRENT_DATE', 'CURRENT_TIMESTAMP', 'TODAY']);

/**
 * What kind of bound an argument is: a number written out; one whose size the hub cannot tell (a constant
 * expression, a cast, a date or time); or one read from the data.
 */
function argumentKind(arg: readonly Token[]): 'literal' | 'unsized' | 'data' {
  if (literalNumber(arg) !== undefined) return 'literal';
  const words = arg.filter((t) => t.kind === 'word' || t.kind === 'quoted_ident').map((t) => functionName(t) ?? '');
  if (words.some((w) => TEMPORAL_WORDS.has(w))) return 'unsized';
  if (arg.some((t) => t.kind === 'string')) return 'unsized';
  return words.every((w) => CONSTANT_WORDS.has(w)) ? 'unsized' : 'data';
}

/**
 * How many elements range/generate_series builds from its literal bounds ((stop − start) / step); with a
 * bound computed from the data, the largest literal one (a guess on the safe side, or nothing to go by).
 */
function boundsSize(args: readonly (number | undefined)[]): number | undefined {
  if (args.length > 0 && args.every((a) => a !== undefined)) {
    const [a, b, step] = args as number[];
    const span = args.length === 1 ? Math.abs(a!) : Math.abs(b! - a!);
    return args.length >= 3 && step !== 0 ? span / Math.abs(step!) : span;
  }
  const known = args.filter((a): a is number => a !== undefined).map(Math.abs);
  return known.length > 0 ? Math.max(...known) : undefined;
}

/** The tokens of each top-level argument of the call whose `(` is at `open`. */
function callArguments(tokens: readonly Token[], open: number): Token[][] {
  const args: Token[][] = [[]];
  let depth = 0;
  for (let j = open; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.kind === 'punct' && (t.text === '(' || t.text === '[')) {
      if (depth++ === 0) continue;
    } else if (t.kind === 'punct' && (t.text === ')' || t.text === ']')) {
      if (--depth === 0) break;
    } else if (depth === 1 && t.kind === 'punct' && t.text === ',') {
      args.push([]);
      continue;
    }
    args[args.length - 1]!.push(t);
  }
  return args;
}

/**
 * The value of an argument that is one number written out: `400000000`, `4e8`, `1_000_000`, `-5`,
 * `'400000000'` (the engine casts a string literal to the number the function wants), any of them with a
 * `::TYPE` cast after it. Undefined for anything computed.
 */
function literalNumber(arg: readonly Token[]): number | undefined {
  let k = 0;
  let sign = 1;
  if (arg[k]?.kind === 'punct' && (arg[k]!.text === '-' || arg[k]!.text === '+')) sign = arg[k++]!.text === '-' ? -1 : 1;
  const first = arg[k];
  if (first === undefined) return undefined;
  let text: string;
  if (first.kind === 'number') {
    text = first.text;
    // DuckDB reads `1_000_000` as one number; the lexer gives `1` and the word `_000_000` after it.
    while (arg[k + 1] !== undefined && arg[k + 1]!.start === arg[k]!.end && /^[_0-9]+$/.test(arg[k + 1]!.text)) text += arg[++k]!.text;
  } else if (first.kind === 'string') {
    const inner = /^'\s*([-+]?[\d_.eE+-]+)\s*'$/.exec(first.text)?.[1];
    if (inner === undefined) return undefined;
    text = inner;
  } else return undefined;
  k++;
  // A cast after it (`::BIGINT`) leaves the value as it is.
  if (arg[k]?.kind === 'punct' && arg[k]!.text === ':' && arg[k + 1]?.text === ':' && arg[k + 2]?.kind === 'word') k += 3;
  else if (arg[k]?.kind === 'punct' && arg[k]!.text === '::' && arg[k + 1]?.kind === 'word') k += 2;
  if (k !== arg.length) return undefined;
  const value = sign * Number(text.replace(/_/g, ''));
  return Number.isNaN(value) ? undefined : value;
}

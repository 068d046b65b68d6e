/**
 * SQL the embedded engine would run at a cost no setting bounds. DuckDB runs inside the hub process, and
 * its `memory_limit` covers its buffer pool, not every allocation: a statement that joins tens of thousands
 * of queries with UNION needs planner memory growing with the square of their number (10,000: 2.6 GB;
 * 50,000, in 950 KB of SQL: the kernel killed the hub at 23 GB), and a list or string built in one value
 * (`range(0, 400000000)`, `repeat('x', 1500000000)`) is one allocation the engine cannot interrupt, made
 * for 2,048 rows at once; CTEs it inlines are planned once per use. Each ends every session of the hub. What a statement says outright is refused here; a size computed from the
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
/**
 * Value-building functions and lists nested in one another. Sizing a value looks into the values nested in
 * it, so its cost grows with the depth; no query needs more than a few levels.
 */
export const MAX_NESTING = 64;
/** The largest count a value-building function may be given as a literal: 100 million elements or characters. */
export const MAX_BUILT_SIZE = 100_000_000;

/**
 * Rows whose values the engine builds at once: it computes a vector of 2,048 rows at a time, each value
 * whole, outside its memory limit (`repeat('x', 1000000) || range::varchar` over `FROM range(2048)` held
 * 2.1 GB with a 1 GB limit). In a statement that reads rows, each value it builds counts this many times.
 */
export const ROWS_AT_ONCE = 2_048;
/** The widest field a format string may ask for; a million characters or more is refused. */
const MAX_FIELD_WIDTH = 999_999;

/**
 * Value-building functions and what sizes what they build. `bounds`: range's (stop − start) / step.
 * `count`: the argument at `at` is the number of characters or elements, each as large as the argument at
 * `each` (repeat('ab', 3) builds 6). `replace`: the input may grow by the replacement for every character.
 * `lambda`: a list function applies its lambda to every element of its first argument. `format`: a format
 * string's fields are as wide as it (or, for `{:>{}}` and `%*d`, a later argument) says.
 */
type Builder =
  | { kind: 'bounds' }
  | { kind: 'count'; at: number; each?: number }
  | { kind: 'replace'; by: number }
  | { kind: 'lambda' }
  | { kind: 'format' };
const BUILDERS: ReadonlyMap<string, Builder> = new Map<string, Builder>([
  ['RANGE', { kind: 'bounds' }],
  ['GENERATE_SERIES', { kind: 'bounds' }],
  ['REPEAT', { kind: 'count', at: 1, each: 0 }],
  ['LPAD', { kind: 'count', at: 1 }],
  ['RPAD', { kind: 'count', at: 1 }],
  ['LIST_RESIZE', { kind: 'count', at: 1, each: 2 }],
  ['ARRAY_RESIZE', { kind: 'count', at: 1, each: 2 }],
  ['BITSTRING', { kind: 'count', at: 1 }],
  ['REPLACE', { kind: 'replace', by: 2 }],
  ['REGEXP_REPLACE', { kind: 'replace', by: 2 }],
  ['LIST_TRANSFORM', { kind: 'lambda' }],
  ['LIST_APPLY', { kind: 'lambda' }],
  ['ARRAY_TRANSFORM', { kind: 'lambda' }],
  ['ARRAY_APPLY', { kind: 'lambda' }],
  ['APPLY', { kind: 'lambda' }],
  ['FORMAT', { kind: 'format' }],
  ['PRINTF', { kind: 'format' }],
]);
/** List folds: a lambda that combines the accumulator with itself doubles it on every element. */
const FOLDS: ReadonlySet<string> = new Set(['LIST_REDUCE', 'ARRAY_REDUCE', 'REDUCE']);
/** Functions that return rows from a value, so a statement without FROM still has many. */
const ROW_FUNCTIONS: ReadonlySet<string> = new Set(['UNNEST', 'GENERATE_SUBSCRIPTS']);
/** Words after which `range(…)` is a table function, which streams its rows instead of building one list. */
const TABLE_POSITION: ReadonlySet<string> = new Set(['FROM', 'JOIN', 'LATERAL']);
/** Functions whose parentheses hold a FROM of their own (`substring(x FROM 2)`): not a table's. */
const FROM_IN_CALL: ReadonlySet<string> = new Set(['SUBSTRING', 'EXTRACT', 'TRIM', 'OVERLAY', 'POSITION']);
/** Words that end a FROM list at their depth. */
const CLAUSES_AFTER_FROM: ReadonlySet<string> = new Set(['SELECT', 'WHERE', 'GROUP', 'HAVING', 'QUALIFY', 'WINDOW', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'INTERSECT', 'EXCEPT']);
/** A format field of a million characters or wider, written out. */
const WIDE_FIELD = /\d{7,}/;
/** A field whose width or precision comes from a later argument: `{:>{}}` (format), `%*d` / `%.*f` (printf). */
const DYNAMIC_FIELD = /\{[^{}]*\{|%[^a-zA-Z%]*\*/;

/**
 * Functions the engine runs by recursing once per nesting level of a document, with no depth limit: a document
 * nested 30,000 deep or more, built in the query itself (`repeat('[', 300000) || repeat(']', 300000)`, a few
 * hundred KB), overflows the native stack and the hub dies of SIGSEGV with every session. Refused for every
 * role: a writer's statement runs in the same process.
 */
const UNBOUNDED_RECURSION: ReadonlyMap<string, string> = new Map([
  ['JSON_STRUCTURE', 'walks a JSON document'],
  ['JSON_GROUP_STRUCTURE', 'walks a JSON document'],
  ['JSON_CONTAINS', 'walks a JSON document'],
  ['JSON_MERGE_PATCH', 'walks a JSON document'],
  ['JSON_PRETTY', 'walks a JSON document'],
  ['JSON_DESERIALIZE_SQL', 'rebuilds a statement from a JSON document'],
  // Makes a VARIANT of any nesting from raw bytes, past the cast to VARIANT refused below.
  ['VARIANT_BYTES_TO_VARIANT', 'builds a VARIANT of any nesting from raw bytes, which the engine then reads'],
]);
const RECURSION_EFFECT =
  "level by level with no depth limit: a deeply nested one (which a query can build, e.g. with repeat('[', 300000)) overflows the engine's native stack and ends the hub process with every session";
/** The type the engine converts a JSON document to recursively, one level at a time (see variantCast). */
const VARIANT = 'VARIANT';
/** Functions whose `AS` introduces a type: CAST(x AS t). */
const CASTS: ReadonlySet<string> = new Set(['CAST', 'TRY_CAST']);

/**
 * Wildcards a pattern may have where the engine matches it by backtracking. DuckDB's general matcher (ILIKE,
 * GLOB, LIKE … ESCAPE, a LIKE pattern with `_`, under a COLLATE) retries every way of splitting the text at
 * each wildcard: time grows with the text's length to the power of the wildcards, all inside one call that the
 * engine's interrupt cannot stop. Over 2,048 rows of 199 characters, 4 wildcards (`'%e%e%e%z'`) took ~1 s; 5
 * (`'%e%e%e%e%z'`) ran for minutes past the call's timeout, holding a statement slot and a CPU until the hub stopped.
 */
export const MAX_PATTERN_WILDCARDS = 4;
/** Pattern operators and what they match with (`~~` is LIKE, `~~*` ILIKE, `~~~` GLOB, `!` negates). */
const MATCH_OPERATORS: ReadonlyMap<string, 'like' | 'ilike' | 'glob'> = new Map([
  ['LIKE', 'like'],
  ['ILIKE', 'ilike'],
  ['GLOB', 'glob'],
  ['~~', 'like'],
  ['!~~', 'like'],
  ['~~*', 'ilike'],
  ['!~~*', 'ilike'],
  ['~~~', 'glob'],
]);
/** Pattern functions (pattern second, escape character third): always the general matcher. */
const MATCH_FUNCTIONS: ReadonlySet<string> = new Set(['LIKE_ESCAPE', 'ILIKE_ESCAPE', 'NOT_LIKE_ESCAPE', 'NOT_ILIKE_ESCAPE']);
/** Words that end an operand at its own depth. */
const OPERAND_END: ReadonlySet<string> = new Set([
  'AND', 'OR', 'THEN', 'WHEN', 'ELSE', 'END', 'ESCAPE', 'AS', 'IS', 'IN', 'BETWEEN', 'LIKE', 'ILIKE', 'GLOB', 'SIMILAR', 'COLLATE',
  'FROM', 'WHERE', 'GROUP', 'HAVING', 'QUALIFY', 'WINDOW', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'INTERSECT', 'EXCEPT',
]);
const COMPARISONS: ReadonlySet<string> = new Set(['=', '==', '<', '>', '<=', '>=', '<>', '!=', ',', ';']);

/**
 * Edit distances compare every character of one text with every character of the other, inside one step the
 * engine's interrupt cannot stop (`levenshtein` of two 200,000-character texts ran for minutes after its call
 * was cancelled). Their work, texts' lengths multiplied (and by the rows computed at once), is bounded by
 * MAX_COMPARISONS, about 3 s (levenshtein of two 20,000-character texts); a column counts as COLUMN_CHARACTERS (the sample's longest text column: 199).
 */
const EDIT_DISTANCES: ReadonlyMap<string, number> = new Map([
  ['LEVENSHTEIN', 1],
  ['EDITDIST3', 1],
  // Measured 16 times slower a comparison: 5,000 × 5,000 characters took 2.3 s.
  ['DAMERAU_LEVENSHTEIN', 16],
]);
export const MAX_COMPARISONS = 400_000_000;
const COLUMN_CHARACTERS = 200;

/** A function name as the engine resolves it: a word, or a quoted identifier (`"range"` is range), as the lexer upper-cased it. */
function functionName(t: Token): string | undefined {
  return t.kind === 'word' || t.kind === 'quoted_ident' ? t.upper : undefined;
}

function isPunct(t: Token | undefined, text: string): boolean {
  return t?.kind === 'punct' && t.text === text;
}

/** Why the embedded engine must not run this statement, or undefined. */
export function engineHazard(tokens: readonly Token[]): string | undefined {
  if (tokens.length > MAX_TOKENS) {
    return `holds ${tokens.length.toLocaleString('en-US')} words, literals and symbols, more than the ${MAX_TOKENS.toLocaleString('en-US')} the embedded engine parses at a bounded cost (its parser holds them all in memory, outside its memory limit). Split it into several queries, or load long lists of values into a table first`;
  }
  const inlined = cteExpansion(tokens);
  if (inlined > MAX_TOKENS) {
    return `names its CTEs so often that, with each CTE written out where it is used, it would hold ${inlined.toLocaleString('en-US')} words, literals and symbols, more than the ${MAX_TOKENS.toLocaleString('en-US')} the embedded engine plans at a bounded cost (a CTE it inlines, as NOT MATERIALIZED asks, is planned once per use, in memory outside its memory limit; a chain of 20 such CTEs each naming the one before twice took the hub past 4 GB). Remove NOT MATERIALIZED, or name each CTE fewer times`;
  }
  const rows = readsRows(tokens);
  /** How many rows' values the engine builds at once: a vector's, or all the rows of the one range(n) it reads. */
  const rowsAtOnce = rows ? Math.min(ROWS_AT_ONCE, onlyRangeRows(tokens) ?? ROWS_AT_ONCE) : 1;
  let setOperations = 0;
  /** What the statement's sizes build together: several allowed values add up. */
  let built = 0;
  /** For each open parenthesis, the function it belongs to (or undefined). */
  const openers: (string | undefined)[] = [];
  /** For each parenthesis depth, whether its current clause is a FROM list (`FROM a, range(…)`). */
  const inFrom: boolean[] = [false];
  /** For each open bracket, whether it holds a value being sized (a builder's arguments, a list). */
  const sizing: boolean[] = [];
  let sizingDepth = 0;
  /** A COLLATE turns LIKE into the general matcher (`x COLLATE nocase LIKE p` is ILIKE). */
  const collates = tokens.some((t) => t.kind === 'word' && t.upper === 'COLLATE');
  /** DDL declares column and type definitions: a VARIANT anywhere there may receive a JSON document. */
  const ddl = tokens[0]?.kind === 'word' && (tokens[0].upper === 'CREATE' || tokens[0].upper === 'ALTER');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const castsTo = isPunct(t, '::') || (t.kind === 'word' && t.upper === 'AS' && CASTS.has(openers[openers.length - 1] ?? ''));
    const variant = ddl ? (isVariant(t) ? t : undefined) : castsTo ? variantInType(tokens, i + 1) : undefined;
    if (variant !== undefined) {
      return `uses the type ${shownText(variant.text)}: the embedded engine converts a JSON document to VARIANT ${RECURSION_EFFECT}. Keep the value as JSON (json_extract, ->, ->>, json_transform to a STRUCT or LIST type)`;
    }
    const operator = matchOperator(tokens, i);
    if (operator !== undefined) {
      const end = operandEnd(tokens, operator.next);
      const refusal = patternHazard(operator.shown, operator.kind, tokens.slice(operator.next, end), isWord(tokens[end], 'ESCAPE') || collates);
      if (refusal !== undefined) return refusal;
    }
    const opens = isPunct(t, '[') || (isPunct(t, '(') && BUILDERS.has(functionName(tokens[i - 1] ?? t) ?? ''));
    if (opens && sizingDepth >= MAX_NESTING) {
      return `nests value-building functions or lists more than ${MAX_NESTING} deep, which the hub cannot size at a bounded cost. Write it with fewer levels of nesting`;
    }
    if (isPunct(t, '(') || isPunct(t, '[')) {
      sizing.push(opens);
      if (opens) sizingDepth++;
    } else if ((isPunct(t, ')') || isPunct(t, ']')) && sizing.pop() === true) sizingDepth--;
    if (isPunct(t, '(')) {
      openers.push(tokens[i - 1] === undefined ? undefined : functionName(tokens[i - 1]!));
      inFrom.push(false);
      continue;
    }
    if (isPunct(t, ')')) {
      openers.pop();
      if (inFrom.length > 1) inFrom.pop();
      continue;
    }
    const comprehension = isPunct(t, '[') ? comprehensionSize(tokens, i) : undefined;
    if (comprehension !== undefined) {
      const refusal = addBuilt('a list comprehension', comprehension);
      if (refusal !== undefined) return refusal;
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
    if (!isPunct(tokens[i + 1], '(')) continue;
    if (MATCH_FUNCTIONS.has(word) || (t.kind === 'quoted_ident' && MATCH_OPERATORS.has(word))) {
      const pattern = callArguments(tokens, i + 1)[1] ?? [];
      const refusal = patternHazard(shownText(t.text), MATCH_OPERATORS.get(word) ?? (word.includes('ILIKE') ? 'ilike' : 'like'), pattern, MATCH_FUNCTIONS.has(word));
      if (refusal !== undefined) return refusal;
    }
    const weight = EDIT_DISTANCES.get(word);
    if (weight !== undefined) {
      const [a = [], b = []] = callArguments(tokens, i + 1);
      const comparisons = weight * comparedSize(a) * comparedSize(b) * rowsAtOnce;
      if (comparisons > MAX_COMPARISONS) {
        const perRow = rows ? `over the ${rowsAtOnce.toLocaleString('en-US')} rows the engine computes at once, ` : '';
        return `calls ${shownText(t.text)} on texts that make ${comparisons.toLocaleString('en-US')} character comparisons (${perRow}a column counting as ${COLUMN_CHARACTERS} characters): the engine compares every character of one text with every character of the other inside one step its interrupt cannot stop, so a call's timeout or cancel answers the caller while the statement keeps a CPU and a statement slot (at most ${MAX_COMPARISONS.toLocaleString('en-US')}). Compare shorter texts (left(x, n)), or use jaccard or mismatches, which are linear`;
      }
    }
    const recursion = UNBOUNDED_RECURSION.get(word);
    if (recursion !== undefined) {
      return `calls ${shownText(t.text)}, which ${recursion} ${RECURSION_EFFECT}. Use json_extract, ->, ->> or json_transform on a known path instead`;
    }
    if (FOLDS.has(word) && foldDoubles(callArguments(tokens, i + 1))) {
      return `calls ${shownText(t.text)} with a lambda that uses its accumulator more than once or makes it larger with a value-building function, so the value can double with every element (32 elements: 4 GB) in the hub's memory, outside the engine's memory limit. Use the accumulator once, as in (acc, x) -> acc || x`;
    }
    const builder = BUILDERS.get(word);
    if (builder === undefined) continue;
    const before = tokens[i - 1];
    const tablePosition =
      (before?.kind === 'word' && TABLE_POSITION.has(before.upper ?? '') && !FROM_IN_CALL.has(openers[openers.length - 1] ?? '')) ||
      (isPunct(before, ',') && inFrom[inFrom.length - 1] === true);
    if (builder.kind === 'bounds' && tablePosition) continue;
    const size = builtSize(tokens, i);
    if (typeof size === 'string') return size;
    const refusal = addBuilt(`${shownText(t.text)}`, size);
    if (refusal !== undefined) return refusal;
  }
  return undefined;

  function addBuilt(what: string, size: number): string | undefined {
    const before = built;
    if (size > MAX_BUILT_SIZE) {
      return `calls ${what} with a size of ${size.toLocaleString('en-US')}, building that much in one go in the hub's memory, outside the engine's memory limit and beyond its reach to cancel (at most ${MAX_BUILT_SIZE.toLocaleString('en-US')} per statement). ${advice(before)}`;
    }
    built += size * rowsAtOnce;
    if (built <= MAX_BUILT_SIZE) return undefined;
    const perRow = rows ? `, counting each value ${rowsAtOnce.toLocaleString('en-US')} times because the engine builds the values of that many rows at once` : '';
    return `calls ${what} bringing the values the statement builds to ${built.toLocaleString('en-US')} elements or characters${perRow}, building that much in one go in the hub's memory, outside the engine's memory limit and beyond its reach to cancel (at most ${MAX_BUILT_SIZE.toLocaleString('en-US')} per statement). ${advice(before)}`;
  }

  /**
   * What to do instead. A statement without rows can move the building into FROM range(…); one that already
   * reads rows (a table, range(…)) builds each value for all of them at once, so the fix is a smaller value.
   */
  function advice(builtBefore: number): string {
    if (!rows) return 'Build less, or aggregate over FROM range(…), which streams its rows';
    const room = Math.floor((MAX_BUILT_SIZE - builtBefore) / rowsAtOnce);
    if (room < 1) return 'The other values it builds already take all it may build for those rows: build less';
    const fewer = rowsAtOnce === ROWS_AT_ONCE ? `, or read fewer rows (over FROM range(n) alone, with n a number below ${ROWS_AT_ONCE.toLocaleString('en-US')}, each value counts n times)` : '';
    return `A value this large cannot be built for every row safely on the embedded engine: build at most ${room.toLocaleString('en-US')} elements or characters per value here${fewer}`;
  }
}

/**
 * Words that make more rows than a statement's FROM reads (grouping sets repeat rows, UNPIVOT makes one per
 * column, a recursive CTE one per step), or read rows without FROM (PIVOT's own source).
 */
const MORE_ROWS: ReadonlySet<string> = new Set(['ROLLUP', 'CUBE', 'GROUPING', 'UNPIVOT', 'PIVOT', 'RECURSIVE']);

/**
 * How many rows the statement reads, when all it reads is one `range(…)` or `generate_series(…)` with
 * numbers for bounds (`SELECT repeat('x', 100000) FROM range(1)`): every row there is in one vector, so each
 * value is built that many times, not a whole vector's. Undefined whenever anything else could bring rows
 * (another FROM or a JOIN, a comma after it, unnest, grouping sets…): the statement then counts a vector's.
 */
function onlyRangeRows(tokens: readonly Token[]): number | undefined {
  const openers: (string | undefined)[] = [];
  let from: number | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isPunct(t, '(')) openers.push(tokens[i - 1] === undefined ? undefined : functionName(tokens[i - 1]!));
    else if (isPunct(t, ')')) openers.pop();
    const word = t.kind === 'word' ? t.upper : undefined;
    if (word === 'JOIN' || MORE_ROWS.has(word ?? '') || (ROW_FUNCTIONS.has(functionName(t) ?? '') && isPunct(tokens[i + 1], '('))) return undefined;
    if (word === 'FROM' && !FROM_IN_CALL.has(openers[openers.length - 1] ?? '')) {
      if (from !== undefined) return undefined;
      from = i;
    }
  }
  if (from === undefined) return undefined;
  const name = tokens[from + 1] === undefined ? undefined : functionName(tokens[from + 1]!);
  if ((name !== 'RANGE' && name !== 'GENERATE_SERIES') || !isPunct(tokens[from + 2], '(')) return undefined;
  const bounds = callArguments(tokens, from + 2).map(literalNumber);
  if (bounds.length === 0 || bounds.some((b) => b === undefined)) return undefined;
  const span = boundsSize(bounds);
  // After it: an alias (with column names), then the statement's end or its next clause — nothing that reads more.
  let j = afterCall(tokens, from + 2);
  if (tokens[j]?.kind === 'word' && tokens[j]!.upper === 'AS') j++;
  if (tokens[j]?.kind === 'word' && !ALIAS_STOP.has(tokens[j]!.upper ?? '') && !CLAUSES_AFTER_FROM.has(tokens[j]!.upper ?? '')) j++;
  if (isPunct(tokens[j], '(')) j = afterCall(tokens, j);
  const next = tokens[j];
  const ends = next === undefined || isPunct(next, ';') || isPunct(next, ')') || (next.kind === 'word' && CLAUSES_AFTER_FROM.has(next.upper ?? ''));
  if (!ends || span === undefined) return undefined;
  // range stops before its end, generate_series includes it.
  return Math.max(1, name === 'RANGE' ? Math.ceil(span) : Math.floor(span) + 1);
}

/** The index after the parenthesis that closes the one opening at `open`. */
function afterCall(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let j = open; j < tokens.length; j++) {
    if (isPunct(tokens[j], '(')) depth++;
    else if (isPunct(tokens[j], ')') && --depth === 0) return j + 1;
  }
  return tokens.length;
}

/** Whether the statement reads rows (a FROM outside substring(x FROM …), or unnest), so each value it builds is built for a vector of rows. */
function readsRows(tokens: readonly Token[]): boolean {
  const openers: (string | undefined)[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isPunct(t, '(')) openers.push(tokens[i - 1] === undefined ? undefined : functionName(tokens[i - 1]!));
    else if (isPunct(t, ')')) openers.pop();
    else if (t.kind === 'word' && (t.upper === 'FROM' || t.upper === 'JOIN') && !FROM_IN_CALL.has(openers[openers.length - 1] ?? '')) {
      // A derived table reads what its own FROM reads, looked at in turn: `FROM (SELECT 1 … UNION ALL SELECT 2 …)`
      // builds its values once per written row. A table listed after it does read rows.
      if (!isPunct(tokens[i + 1], '(')) return true;
      if (isPunct(tokens[afterDerivedTable(tokens, i + 1)], ',')) return true;
    } else if (ROW_FUNCTIONS.has(functionName(t) ?? '') && isPunct(tokens[i + 1], '(')) return true;
  }
  return false;
}

/** The index after a parenthesised derived table opening at `open` and its alias (`(…) AS x`, `(…) x`). */
function afterDerivedTable(tokens: readonly Token[], open: number): number {
  let depth = 0;
  let j = open;
  for (; j < tokens.length; j++) {
    if (isPunct(tokens[j], '(')) depth++;
    else if (isPunct(tokens[j], ')') && --depth === 0) break;
  }
  j++;
  if (tokens[j]?.kind === 'word' && tokens[j]!.upper === 'AS') j++;
  if (tokens[j]?.kind === 'word' && !ALIAS_STOP.has(tokens[j]!.upper ?? '')) j++;
  return j;
}

/** Words that end a FROM item rather than name its alias. */
const ALIAS_STOP: ReadonlySet<string> = new Set(['WHERE', 'GROUP', 'ORDER', 'LIMIT', 'JOIN', 'LEFT', 'RIGHT', 'INNER', 'FULL', 'CROSS', 'NATURAL', 'UNION', 'EXCEPT', 'INTERSECT', 'HAVING', 'QUALIFY', 'WINDOW', 'OFFSET', 'ON', 'USING', 'POSITIONAL', 'ASOF', 'ANTI', 'SEMI', 'LATERAL']);

/**
 * What the builder called at `at` builds, in elements or characters, or why it cannot be told. Sizes that
 * are constants the hub cannot evaluate are refused like sizes too large: `repeat('x', 1500*1000000)` and
 * `repeat('x', (SELECT 1500000000))` ask for anything. A size read from the data (a column) is not in the
 * text and counts as nothing (docs/security-model.md §9).
 */
function builtSize(tokens: readonly Token[], at: number): number | string {
  const name = tokens[at]!;
  const builder = BUILDERS.get(functionName(name) ?? '');
  const args = callArguments(tokens, at + 1);
  const shown = shownText(name.text);
  switch (builder?.kind) {
    case 'bounds': {
      const bounds = args.map(constantValue);
      // As a value (a list built whole), a range whose bounds are dates or times, or constants the hub cannot
      // evaluate, can ask for any size, and the engine cannot be stopped while it builds (a microsecond
      // timestamp range outlived its call's cancel and held a statement slot for good). Bounds read from the
      // data (a column, len(x)) are the engine's own macros' way, and pass.
      if (bounds.includes('unsized')) {
        return `calls ${shown} as a value with a bound the hub cannot size (a constant expression it cannot evaluate, a date or a time), so the list it builds in the hub's memory could be any size, and the engine cannot stop while building it. Write its bounds as numbers, or select FROM ${shown}(…), which streams its rows`;
      }
      return boundsSize(bounds.map((b) => (typeof b === 'number' ? b : undefined))) ?? 0;
    }
    case 'count': {
      const count = constantValue(args[builder.at] ?? []);
      if (count === 'unsized') return unsized(shown);
      if (count === 'data') return 0;
      return Math.max(0, count) * (builder.each === undefined ? 1 : producedSize(args[builder.each] ?? []));
    }
    case 'replace':
      return producedSize(args[0] ?? []) * (producedSize(args[builder.by] ?? []) + 1);
    case 'lambda':
      return producedSize(args[0] ?? []) * producedSize(args.slice(1).flat());
    case 'format': {
      const format = args[0] ?? [];
      const text = format.length === 1 && (format[0]!.kind === 'string' || format[0]!.kind === 'dollar_string') ? format[0]!.text : undefined;
      if (text === undefined) {
        return constantValue(format) === 'data'
          ? 0
          : `calls ${shown} with a format string the hub cannot read (a constant expression), which could ask for a field of any width. Write the format string as one string literal`;
      }
      if (WIDE_FIELD.test(text)) {
        return `calls ${shown} with a field a million characters wide or wider, building one string that size in the hub's memory, outside the engine's memory limit. Use a narrower width`;
      }
      let widths = [...text.matchAll(/\d+/g)].reduce((sum, m) => sum + Number(m[0]), 0);
      if (DYNAMIC_FIELD.test(text)) {
        // The width is one of the later arguments; which one depends on the fields before it, so each counts.
        for (const arg of args.slice(1)) {
          // A string that is not a number is a value to format, never a width.
          if (arg.length === 1 && arg[0]!.kind === 'string' && literalNumber(arg) === undefined) continue;
          const width = constantValue(arg);
          if (width === 'unsized') return unsized(shown);
          if (typeof width !== 'number') continue;
          if (width > MAX_FIELD_WIDTH) {
            return `calls ${shown} with a field width of ${width.toLocaleString('en-US')} taken from an argument, building one string that size in the hub's memory, outside the engine's memory limit. Use a width below a million`;
          }
          widths += Math.max(0, width);
        }
      }
      return widths + args.slice(1).reduce((sum, arg) => sum + producedSize(arg), 0);
    }
    default:
      return 0;
  }
}

function unsized(shown: string): string {
  return `calls ${shown} with a size the hub cannot work out from the text (a constant expression it cannot evaluate, a scalar subquery or a function of constants), so what it builds in the hub's memory could be any size, outside the engine's memory limit. Write the size as a number`;
}

/**
 * The least an expression builds, in characters or elements: its string literals' lengths, one for each
 * other literal, and what the value-building functions and list comprehensions in it build. A column
 * counts as one, as nothing can be told about it from the text.
 */
function producedSize(arg: readonly Token[]): number {
  let size = 0;
  for (let k = 0; k < arg.length; k++) {
    const t = arg[k]!;
    if (t.kind === 'string' || t.kind === 'dollar_string') size += Math.max(1, t.text.length - 2);
    else if (t.kind === 'number') size += 1;
    else if (isPunct(t, '[')) {
      const comprehension = comprehensionSize(arg, k);
      if (comprehension === undefined) continue;
      size += comprehension;
      k = closingIndex(arg, k);
    } else if (BUILDERS.has(functionName(t) ?? '') && isPunct(arg[k + 1], '(')) {
      const built = builtSize(arg, k);
      // An unsized builder inside is refused on its own when the statement's scan reaches it.
      size += typeof built === 'number' ? built : 0;
      k = closingIndex(arg, k + 1);
    }
  }
  return Math.max(1, size);
}

/** What `[body FOR x IN list]` builds (the body for every element), or undefined when `[` opens a plain list. */
function comprehensionSize(tokens: readonly Token[], open: number): number | undefined {
  const close = closingIndex(tokens, open);
  let depth = 0;
  let forAt: number | undefined;
  let inAt: number | undefined;
  let ifAt = close;
  for (let k = open + 1; k < close; k++) {
    const t = tokens[k]!;
    if (isPunct(t, '(') || isPunct(t, '[')) depth++;
    else if (isPunct(t, ')') || isPunct(t, ']')) depth--;
    else if (depth === 0 && t.kind === 'word') {
      if (t.upper === 'FOR' && forAt === undefined) forAt = k;
      else if (t.upper === 'IN' && forAt !== undefined && inAt === undefined) inAt = k;
      else if (t.upper === 'IF' && inAt !== undefined) ifAt = k;
    }
  }
  if (forAt === undefined || inAt === undefined) return undefined;
  return producedSize(tokens.slice(open + 1, forAt)) * producedSize(tokens.slice(inAt + 1, ifAt));
}

/** Whether a fold's lambda (`(acc, x) -> …` or `lambda acc, x: …`) uses its accumulator twice or inside a builder. */
function foldDoubles(args: readonly Token[][]): boolean {
  const lambda = args[1] ?? [];
  const arrow = lambda.findIndex((t) => isPunct(t, '->') || isPunct(t, ':'));
  if (arrow < 0) return false;
  const accumulator = lambda.slice(0, arrow).find((t) => t.kind === 'word' && t.upper !== 'LAMBDA')?.upper;
  if (accumulator === undefined) return false;
  const openers: (string | undefined)[] = [];
  let uses = 0;
  for (let k = arrow + 1; k < lambda.length; k++) {
    const t = lambda[k]!;
    if (isPunct(t, '(')) openers.push(functionName(lambda[k - 1] ?? t));
    else if (isPunct(t, ')')) openers.pop();
    else if ((t.kind === 'word' || t.kind === 'quoted_ident') && t.upper === accumulator && !isPunct(lambda[k + 1], '(')) {
      if (++uses > 1 || openers.some((o) => BUILDERS.has(o ?? ''))) return true;
    }
  }
  return false;
}

/** The characters of a text an edit distance compares: what it builds, and at least COLUMN_CHARACTERS when a column (any name) is in it. */
function comparedSize(arg: readonly Token[]): number {
  const column = arg.some((t, k) => (t.kind === 'word' || t.kind === 'quoted_ident') && !isPunct(arg[k + 1], '('));
  return column ? Math.max(producedSize(arg), COLUMN_CHARACTERS) : producedSize(arg);
}

function isWord(t: Token | undefined, upper: string): boolean {
  return t?.kind === 'word' && t.upper === upper;
}

/**
 * The pattern operator at `i` (LIKE, ILIKE, GLOB, or `~~`, `~~*`, `!~~`, `!~~*`, `~~~` written as adjacent
 * symbols), with where its pattern starts; undefined for anything else.
 */
function matchOperator(tokens: readonly Token[], i: number): { kind: 'like' | 'ilike' | 'glob'; shown: string; next: number } | undefined {
  const t = tokens[i]!;
  if (t.kind === 'word') {
    const kind = MATCH_OPERATORS.get(t.upper ?? '');
    return kind === undefined ? undefined : { kind, shown: t.upper!, next: i + 1 };
  }
  // Symbols glued together: `~~*` lexes as `~`, `~`, `*`. Starts only at the first of them.
  if (t.kind !== 'punct' || (t.text !== '~' && t.text !== '!')) return undefined;
  const before = tokens[i - 1];
  if (before?.kind === 'punct' && before.end === t.start && (before.text === '~' || before.text === '!')) return undefined;
  let text = '';
  let j = i;
  while (tokens[j]?.kind === 'punct' && /^[~!*]$/.test(tokens[j]!.text) && (j === i || tokens[j - 1]!.end === tokens[j]!.start)) text += tokens[j++]!.text;
  // The longest operator the symbols start with (`~~*` before `~~`).
  for (let n = text.length; n >= 2; n--) {
    const kind = MATCH_OPERATORS.get(text.slice(0, n));
    if (kind !== undefined) return { kind, shown: text.slice(0, n), next: i + n };
  }
  return undefined;
}

/** Where the operand starting at `start` ends: at its depth, a comma, a comparison, a closing bracket or a word that ends it. */
function operandEnd(tokens: readonly Token[], start: number): number {
  let depth = 0;
  for (let j = start; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (isPunct(t, '(') || isPunct(t, '[')) depth++;
    else if (isPunct(t, ')') || isPunct(t, ']')) {
      if (depth === 0) return j;
      depth--;
    } else if (depth === 0 && j > start && ((t.kind === 'punct' && COMPARISONS.has(t.text)) || (t.kind === 'word' && OPERAND_END.has(t.upper ?? '')))) return j;
  }
  return tokens.length;
}

/**
 * Why the engine must not match this pattern, or undefined: more wildcards than MAX_PATTERN_WILDCARDS where it
 * backtracks, or a pattern built by a value-building function (its wildcards cannot be counted). A plain LIKE
 * whose pattern has no `_` is matched piece by piece, without backtracking, whatever its `%`s.
 */
function patternHazard(shown: string, kind: 'like' | 'ilike' | 'glob', pattern: readonly Token[], general: boolean): string | undefined {
  const wildcard = kind === 'glob' ? '*' : '%';
  let wildcards = 0;
  let underscore = false;
  for (let k = 0; k < pattern.length; k++) {
    const t = pattern[k]!;
    if (t.kind === 'string') {
      wildcards += t.text.split(wildcard).length - 1;
      underscore ||= t.text.includes('_');
    }
    const name = functionName(t);
    if (name !== undefined && BUILDERS.has(name) && isPunct(pattern[k + 1], '(')) {
      return `matches text with ${shown} against a pattern built by ${shownText(t.text)}, whose wildcards the hub cannot count; ${backtracking(kind)} Write the pattern out as a literal with at most ${MAX_PATTERN_WILDCARDS} wildcards`;
    }
  }
  if (wildcards <= MAX_PATTERN_WILDCARDS) return undefined;
  if (kind === 'like' && !general && !underscore) return undefined;
  return `matches text with ${shown} against a pattern with ${wildcards} ${wildcard} wildcards; ${backtracking(kind)} Use at most ${MAX_PATTERN_WILDCARDS} wildcards, or ${kind === 'glob' ? "LIKE with % in place of * (a plain LIKE whose pattern has no _ is matched without backtracking)" : kind === 'ilike' ? 'lower(x) LIKE with a lower-case pattern (a plain LIKE whose pattern has no _ or ESCAPE is matched without backtracking)' : 'a plain LIKE without _ or ESCAPE (matched without backtracking)'}, or regexp_matches (linear time)`;
}

function backtracking(kind: 'like' | 'ilike' | 'glob'): string {
  const how = kind === 'glob' ? 'GLOB' : kind === 'ilike' ? 'ILIKE' : 'this LIKE (with _, ESCAPE or COLLATE)';
  return `the embedded engine matches ${how} by backtracking, in time growing with the text's length to the power of the wildcards, inside one step its interrupt cannot stop: a call's timeout or cancel answers the caller, but the statement keeps a CPU and one of the engine's statement slots until it ends (five wildcards over 2,048 rows of 199 characters: many minutes).`;
}

function isVariant(t: Token | undefined): boolean {
  return (t?.kind === 'word' || t?.kind === 'quoted_ident') && t.upper === VARIANT;
}

/**
 * The VARIANT named in the type that starts at `start` (after `::` or CAST(… AS), or undefined: the type's
 * name (qualified or not: `main.VARIANT`, `"variant"`), its parameters (`STRUCT(a VARIANT)`,
 * `MAP(VARCHAR, VARIANT)`) and array brackets (`VARIANT[]`).
 */
function variantInType(tokens: readonly Token[], start: number): Token | undefined {
  let j = start;
  while (tokens[j]?.kind === 'word' || tokens[j]?.kind === 'quoted_ident') {
    if (isVariant(tokens[j])) return tokens[j];
    if (!isPunct(tokens[j + 1], '.')) {
      j++;
      break;
    }
    j += 2;
  }
  for (;;) {
    if (!isPunct(tokens[j], '(') && !isPunct(tokens[j], '[')) return undefined;
    const end = closingIndex(tokens, j);
    for (let k = j + 1; k < end; k++) if (isVariant(tokens[k])) return tokens[k];
    j = end + 1;
  }
}

/** The index of the bracket closing the one at `open` (or the last token). */
function closingIndex(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (isPunct(t, '(') || isPunct(t, '[')) depth++;
    else if ((isPunct(t, ')') || isPunct(t, ']')) && --depth === 0) return k;
  }
  return tokens.length - 1;
}

/** Type names and cast words: a size made only of these and literals is a constant. */
const CONSTANT_WORDS: ReadonlySet<string> = new Set([
  'CAST', 'TRY_CAST', 'AS', 'BIGINT', 'INT', 'INTEGER', 'HUGEINT', 'SMALLINT', 'TINYINT', 'UBIGINT', 'UINTEGER', 'USMALLINT', 'UTINYINT',
  'UHUGEINT', 'INT8', 'INT4', 'INT2', 'INT1', 'LONG', 'DOUBLE', 'FLOAT', 'REAL', 'DECIMAL', 'NUMERIC', 'VARCHAR', 'TEXT', 'STRING',
]);
/** SQL keywords of expressions and queries: never a column. */
const KEYWORDS: ReadonlySet<string> = new Set([
  'SELECT', 'DISTINCT', 'ALL', 'FROM', 'WHERE', 'GROUP', 'BY', 'HAVING', 'QUALIFY', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'INTERSECT', 'EXCEPT',
  'VALUES', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'NULL', 'TRUE', 'FALSE', 'AND', 'OR', 'NOT', 'IS', 'IN', 'BETWEEN', 'LIKE', 'ILIKE',
  'GLOB', 'SIMILAR', 'ESCAPE', 'ASC', 'DESC', 'NULLS', 'FIRST', 'LAST', 'COLLATE', 'DIV', 'MOD', 'LAMBDA', 'FOR', 'IF', 'ARRAY', 'OVER',
]);
/** Words that make a size a date, a time or an interval. */
const TEMPORAL_WORDS: ReadonlySet<string> = new Set(['DATE', 'TIME', 'TIMESTAMP', 'TIMESTAMPTZ', 'INTERVAL', 'TO_TIMESTAMP', 'MAKE_DATE', 'MAKE_TIMESTAMP', 'NOW', 'CURRENT_DATE', 'CURRENT_TIMESTAMP', 'TODAY']);

/**
 * A size argument's value: a number (written out, or integer arithmetic and casts over numbers the hub
 * evaluates); `unsized` for a constant it cannot evaluate (a function of constants, a scalar subquery of
 * constants, a date or time); `data` when it names a column, whose value is not in the text.
 */
function constantValue(arg: readonly Token[]): number | 'unsized' | 'data' {
  const literal = literalNumber(arg);
  if (literal !== undefined) return literal;
  const words = arg.filter((t) => t.kind === 'word' || t.kind === 'quoted_ident').map((t) => functionName(t) ?? '');
  if (words.some((w) => TEMPORAL_WORDS.has(w))) return 'unsized';
  if (arg.some(isColumn)) return 'data';
  return new Arithmetic(arg).value() ?? 'unsized';

  function isColumn(t: Token, k: number): boolean {
    if (t.kind !== 'word' && t.kind !== 'quoted_ident' && t.kind !== 'variable') return false;
    if (isPunct(arg[k + 1], '(')) return false;
    const previous = arg[k - 1];
    // The word after AS is a type or an alias, the one after `::` a type.
    if (previous?.kind === 'word' && previous.upper === 'AS') return false;
    if (isPunct(previous, '::') || isPunct(previous, ':')) return false;
    return t.kind !== 'word' || !(KEYWORDS.has(t.upper ?? '') || CONSTANT_WORDS.has(t.upper ?? ''));
  }
}

/** Functions that return their argument's length, in characters or elements. */
const LENGTH_FUNCTIONS: ReadonlySet<string> = new Set(['LEN', 'LENGTH', 'STRLEN', 'ARRAY_LENGTH', 'LENGTH_GRAPHEMES', 'CHAR_LENGTH', 'CHARACTER_LENGTH']);

/** Integer arithmetic over numbers, parentheses, casts (`+ - * / // %`, `::T`, CAST(x AS T)) and lengths of constants; undefined for anything else. */
class Arithmetic {
  #k = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  value(): number | undefined {
    const v = this.#sum();
    return this.#k === this.tokens.length && v !== undefined && Number.isFinite(v) ? v : undefined;
  }

  #sum(): number | undefined {
    let v = this.#product();
    while (v !== undefined && (this.#at('+') || this.#at('-'))) {
      const op = this.tokens[this.#k++]!.text;
      const r = this.#product();
      v = r === undefined ? undefined : op === '+' ? v + r : v - r;
    }
    return v;
  }

  #product(): number | undefined {
    let v = this.#unary();
    while (v !== undefined && (this.#at('*') || this.#at('/') || this.#at('//') || this.#at('%'))) {
      const op = this.tokens[this.#k++]!.text;
      const r = this.#unary();
      if (r === undefined) return undefined;
      if (op === '*') v *= r;
      else if (r === 0) return undefined;
      else v = op === '%' ? v % r : v / r;
    }
    return v;
  }

  #unary(): number | undefined {
    if (this.#at('-') || this.#at('+')) {
      const negative = this.tokens[this.#k++]!.text === '-';
      const v = this.#unary();
      return v === undefined ? undefined : negative ? -v : v;
    }
    const v = this.#primary();
    // A cast after a value leaves its size as it is.
    while (v !== undefined && this.#at('::') && this.tokens[this.#k + 1]?.kind === 'word') this.#k += 2;
    return v;
  }

  #primary(): number | undefined {
    const t = this.tokens[this.#k];
    if (t === undefined) return undefined;
    if (t.kind === 'number' || t.kind === 'string') {
      // Only a number written out: `1_000` is two tokens, read together by literalNumber.
      let end = this.#k + 1;
      while (this.tokens[end] !== undefined && this.tokens[end]!.start === this.tokens[end - 1]!.end && /^[_0-9]+$/.test(this.tokens[end]!.text)) end++;
      const v = literalNumber(this.tokens.slice(this.#k, end));
      this.#k = end;
      return v;
    }
    if (this.#at('(')) {
      this.#k++;
      const v = this.#sum();
      if (!this.#at(')')) return undefined;
      this.#k++;
      return v;
    }
    if (LENGTH_FUNCTIONS.has(functionName(t) ?? '') && isPunct(this.tokens[this.#k + 1], '(')) {
      // The length of a constant is at most what it builds (`len([1, 2, 3])`: 3).
      const v = producedSize(callArguments(this.tokens, this.#k + 1)[0] ?? []);
      this.#k = closingIndex(this.tokens, this.#k + 1) + 1;
      return v;
    }
    if (t.kind === 'word' && (t.upper === 'CAST' || t.upper === 'TRY_CAST') && isPunct(this.tokens[this.#k + 1], '(')) {
      this.#k += 2;
      const v = this.#sum();
      if (this.tokens[this.#k]?.upper !== 'AS') return undefined;
      while (this.tokens[this.#k] !== undefined && !this.#at(')')) this.#k++;
      if (!this.#at(')')) return undefined;
      this.#k++;
      return v;
    }
    return undefined;
  }

  #at(text: string): boolean {
    return isPunct(this.tokens[this.#k], text);
  }
}

/**
 * How many elements range/generate_series builds from its bounds ((stop − start) / step); with a
 * bound read from the data, the largest known one (a guess on the safe side, or nothing to go by).
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

/**
 * Tokens of the statement with every CTE written out where it is named: a CTE's body counts once for
 * each time the query (or a CTE used by it) names it. A CTE the engine inlines is planned once per use, so
 * a chain of CTEs each naming the one before twice plans 2^n copies; the engine materialises most CTEs
 * named more than once, but `NOT MATERIALIZED` and correlated uses inline them.
 */
function cteExpansion(tokens: readonly Token[]): number {
  const ctes = cteDefinitions(tokens);
  if (ctes.length === 0) return tokens.length;
  /** For each name, its CTEs in the order they are defined. */
  const byName = new Map<string, number[]>();
  ctes.forEach((cte, c) => byName.set(cte.name, [...(byName.get(cte.name) ?? []), c]));
  /** Each CTE's body with its uses written out; final once the scan has passed the body. */
  const sizes = ctes.map((cte) => cte.end - cte.start);
  /** The bodies the scan is inside, innermost last: a use adds to the innermost one. */
  const inside: number[] = [];
  let total = tokens.length;
  let next = 0;
  for (let k = 0; k < tokens.length; k++) {
    while (inside.length > 0 && ctes[inside[inside.length - 1]!]!.end <= k) inside.pop();
    while (next < ctes.length && ctes[next]!.start <= k) {
      // A body is counted where its CTE is used, not where it is defined.
      const length = ctes[next]!.end - ctes[next]!.start;
      if (inside.length > 0) sizes[inside[inside.length - 1]!]! -= length;
      else total -= length;
      inside.push(next++);
    }
    const t = tokens[k]!;
    if ((t.kind !== 'word' && t.kind !== 'quoted_ident') || isPunct(tokens[k + 1], '(') || isPunct(tokens[k + 1], '.') || isPunct(tokens[k - 1], '.')) continue;
    const candidates = byName.get(t.upper ?? '');
    if (candidates === undefined) continue;
    // The CTE of that name defined last before this use whose WITH's scope holds it; inside its own body
    // the name is recursion, read once.
    let target: number | undefined;
    for (let n = candidates.length - 1; n >= 0 && target === undefined; n--) {
      const cte = ctes[candidates[n]!]!;
      if (cte.nameAt < k && k < cte.scopeEnd && !(cte.start <= k && k < cte.end)) target = candidates[n]!;
    }
    if (target === undefined) continue;
    const extra = sizes[target]! - 1;
    if (inside.length > 0) sizes[inside[inside.length - 1]!]! += extra;
    else total += extra;
  }
  return total;
}

/** Every CTE of the statement, at any depth: its name, the tokens of its body, and where its WITH's scope ends. */
function cteDefinitions(tokens: readonly Token[]): { name: string; nameAt: number; start: number; end: number; scopeEnd: number }[] {
  const ctes: { name: string; nameAt: number; start: number; end: number; scopeEnd: number }[] = [];
  // Each bracket's partner and each token's enclosing bracket, found once: nested WITHs would otherwise
  // scan the statement once each.
  const close = new Int32Array(tokens.length).fill(tokens.length);
  const enclosing = new Int32Array(tokens.length).fill(-1);
  const open: number[] = [];
  tokens.forEach((t, k) => {
    enclosing[k] = open[open.length - 1] ?? -1;
    if (isPunct(t, '(') || isPunct(t, '[')) open.push(k);
    else if ((isPunct(t, ')') || isPunct(t, ']')) && open.length > 0) close[open.pop()!] = k;
  });
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.kind !== 'word' || tokens[i]!.upper !== 'WITH') continue;
    const scopeEnd = enclosing[i]! < 0 ? tokens.length : close[enclosing[i]!]!;
    let j = i + 1;
    if (tokens[j]?.upper === 'RECURSIVE') j++;
    for (;;) {
      const name = tokens[j];
      if (name === undefined || (name.kind !== 'word' && name.kind !== 'quoted_ident')) break;
      const nameAt = j++;
      // Column list, USING KEY (…), AS, [NOT] MATERIALIZED: up to the body's parenthesis.
      while (tokens[j] !== undefined && !(isPunct(tokens[j], '(') && tokens[j - 1]?.kind === 'word' && ['AS', 'MATERIALIZED'].includes(tokens[j - 1]!.upper ?? ''))) {
        if (isPunct(tokens[j], '(')) j = close[j]!;
        j++;
        if (j - nameAt > 64) break;
      }
      if (!isPunct(tokens[j], '(')) break;
      const end = close[j]!;
      ctes.push({ name: name.upper ?? name.text, nameAt, start: j + 1, end, scopeEnd });
      j = end + 1;
      if (!isPunct(tokens[j], ',')) break;
      j++;
    }
  }
  return ctes;
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

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

/** Why the embedded engine must not run this statement, or undefined. */
export function engineHazard(tokens: readonly Token[]): string | undefined {
  let setOperations = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'word') continue;
    const word = t.upper ?? '';
    if (word === 'UNION' || word === 'INTERSECT' || word === 'EXCEPT') {
      if (++setOperations > MAX_SET_OPERATIONS) {
        return `joins more than ${MAX_SET_OPERATIONS.toLocaleString('en-US')} queries with UNION, INTERSECT or EXCEPT, which the embedded engine plans in memory growing with the square of their number (enough of them ends the hub). Split it into several queries, or put the values in one VALUES list`;
      }
      continue;
    }
    const sizing = BUILDERS.get(word);
    if (sizing === undefined || tokens[i + 1]?.kind !== 'punct' || tokens[i + 1]!.text !== '(') continue;
    const before = tokens[i - 1];
    if (sizing === 'bounds' && before?.kind === 'word' && TABLE_POSITION.has(before.upper ?? '')) continue;
    const args = callArguments(tokens, i + 1).map(literalNumber);
    const size = sizing === 'bounds' ? boundsSize(args) : args[sizing];
    if (size !== undefined && size > MAX_BUILT_SIZE) {
      return `calls ${shownText(t.text)} with a size of ${size.toLocaleString('en-US')}, building one value of that many elements or characters in the hub's memory, outside the engine's memory limit and beyond its reach to cancel (at most ${MAX_BUILT_SIZE.toLocaleString('en-US')}). Build less, or aggregate over FROM range(…), which streams its rows`;
    }
  }
  return undefined;
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

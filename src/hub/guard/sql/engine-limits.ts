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

/** Functions whose numeric arguments size the value they build (elements of a list, characters of a string). */
const BUILDERS: ReadonlySet<string> = new Set(['RANGE', 'GENERATE_SERIES', 'REPEAT', 'LPAD', 'RPAD', 'LIST_RESIZE', 'ARRAY_RESIZE', 'BITSTRING']);
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
    if (!BUILDERS.has(word) || tokens[i + 1]?.kind !== 'punct' || tokens[i + 1]!.text !== '(') continue;
    const before = tokens[i - 1];
    if ((word === 'RANGE' || word === 'GENERATE_SERIES') && before?.kind === 'word' && TABLE_POSITION.has(before.upper ?? '')) continue;
    const size = largestLiteralArgument(tokens, i + 1);
    if (size !== undefined && size > MAX_BUILT_SIZE) {
      return `calls ${shownText(t.text)} with ${size.toLocaleString('en-US')}, building one value of that many elements or characters in the hub's memory, outside the engine's memory limit and beyond its reach to cancel (at most ${MAX_BUILT_SIZE.toLocaleString('en-US')}). Build less, or aggregate over FROM range(…), which streams its rows`;
    }
  }
  return undefined;
}

/** The largest absolute numeric literal among the call's top-level arguments (the `(` at `open`). */
function largestLiteralArgument(tokens: readonly Token[], open: number): number | undefined {
  let depth = 0;
  let largest: number | undefined;
  for (let j = open; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.kind === 'punct' && (t.text === '(' || t.text === '[')) depth++;
    else if (t.kind === 'punct' && (t.text === ')' || t.text === ']')) {
      if (--depth === 0) return largest;
    } else if (depth === 1 && t.kind === 'number') {
      // DuckDB reads `1_000_000` as one number; the lexer gives `1` and the word `_000_000` after it.
      let text = t.text;
      for (let next = tokens[j + 1]; next !== undefined && next.start === tokens[j]!.end && /^[_0-9]+$/.test(next.text); next = tokens[j + 1]) {
        text += next.text;
        j++;
      }
      const value = Math.abs(Number(text.replace(/_/g, '')));
      if (!Number.isNaN(value)) largest = Math.max(largest ?? 0, value);
    }
  }
  return largest;
}

/**
 * The most rows a query can return, as its own text guarantees: a top-level `LIMIT n` (with or without an
 * OFFSET), or a SELECT of constants (no FROM, no parenthesis: nothing in it can call a function that
 * expands rows, such as DuckDB's unnest or generate_subscripts, or read a table). A backend that knows a
 * result is this small may fetch it in one round trip instead of streaming it. Undefined when the text
 * does not say — which is every other statement, and always the safe answer.
 */
import type { StatementReading } from './sql-reading.js';

const SET_OPERATORS = new Set(['UNION', 'EXCEPT', 'INTERSECT', 'MINUS']);
const PLAIN_INTEGER = /^\d+$/;

export function rowBound(statement: StatementReading): number | undefined {
  if (statement.type !== 'SELECT') return undefined;
  const tokens = statement.tokens;
  const opening = tokens[0];
  if (opening?.kind !== 'word' || (opening.upper !== 'SELECT' && opening.upper !== 'WITH')) return undefined;
  let depth = 0;
  let parenthesised = false;
  let fromOrSetOperator = false;
  let limit: number | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct') {
      if (t.text === '(' || t.text === '[' || t.text === '{') {
        depth++;
        if (t.text === '(') parenthesised = true;
      } else if (t.text === ')' || t.text === ']' || t.text === '}') depth--;
      continue;
    }
    if (depth !== 0 || t.kind !== 'word') continue;
    if (t.upper === 'FROM' || SET_OPERATORS.has(t.upper ?? '')) fromOrSetOperator = true;
    else if (t.upper === 'LIMIT') limit = limitAt(tokens, i);
  }
  if (depth !== 0) return undefined;
  if (limit !== undefined) return limit;
  return opening.upper === 'SELECT' && !parenthesised && !fromOrSetOperator ? 1 : undefined;
}

/**
 * `LIMIT <integer>` ending the statement or followed by its OFFSET: the row count. Anything else (an
 * expression, DuckDB's `LIMIT 10%` or `LIMIT 10 PERCENT`, a parameter) says nothing here.
 */
function limitAt(tokens: StatementReading['tokens'], at: number): number | undefined {
  const count = tokens[at + 1];
  if (count?.kind !== 'number' || !PLAIN_INTEGER.test(count.text)) return undefined;
  const after = tokens[at + 2];
  if (after !== undefined && !(after.kind === 'word' && after.upper === 'OFFSET')) return undefined;
  const n = Number(count.text);
  return Number.isSafeInteger(n) ? n : undefined;
}

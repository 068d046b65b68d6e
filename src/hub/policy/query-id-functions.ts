/**
 * SQL functions that read what an earlier query left behind, given its query id: RESULT_SCAN (its rows),
 * GET_QUERY_OPERATOR_STATS (its profile) and BIND_VALUES (the values it was run with). Snowflake scopes them
 * to the Snowflake user, and every session of a profile shares that user, so through SQL they would show
 * one identity another's result, as fetch_results and query_profile may not. The object-policy stage asks
 * here which ids a statement passes them, and applies the same result-owner rule, for every role.
 */
import type { SqlReading } from '../guard/sql/classifier.js';
import type { Token } from '../guard/sql/lexer.js';

const QUERY_ID_FUNCTIONS = new Set(['RESULT_SCAN', 'GET_QUERY_OPERATOR_STATS', 'BIND_VALUES']);

/** A query id written as a plain literal: `'01b2…-…'`, nothing to unescape. */
const LITERAL_ID = /^'([A-Za-z0-9-]{1,100})'$/;

export interface QueryIdUse {
  /** The function, upper-cased. */
  fn: string;
  /** The query id when it is written as one plain string literal; null for anything else (LAST_QUERY_ID(), a bind, an expression). */
  queryId: string | null;
}

/** Every call of a query-id function in the statements read, with its id when the SQL spells it out. */
export function queryIdUses(reading: SqlReading): QueryIdUse[] {
  const uses: QueryIdUse[] = [];
  for (const statement of reading.statements) {
    const toks = statement.tokens.filter((t) => t.kind !== 'comment');
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i]!;
      if ((t.kind !== 'word' && t.kind !== 'quoted_ident') || !isPunct(toks[i + 1], '(')) continue;
      const fn = nameOf(t);
      if (!QUERY_ID_FUNCTIONS.has(fn)) continue;
      const arg = toks[i + 2];
      const literal = arg?.kind === 'string' && isPunct(toks[i + 3], ')') ? LITERAL_ID.exec(arg.text) : null;
      uses.push({ fn, queryId: literal ? literal[1]! : null });
    }
  }
  return uses;
}

function isPunct(t: Token | undefined, text: string): boolean {
  return t?.kind === 'punct' && t.text === text;
}

function nameOf(t: Token): string {
  // Quoted names upper-cased too: erring towards checking a call the engine might not resolve.
  return t.kind === 'quoted_ident' ? t.text.slice(1, -1).replace(/""/g, '"').toUpperCase() : (t.upper ?? t.text.toUpperCase());
}

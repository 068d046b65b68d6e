/**
 * SQL that reads an earlier statement's result by query id — `RESULT_SCAN(id)`, `DESCRIBE RESULT id`,
 * `GET_QUERY_OPERATOR_STATS(id)`, `BIND_VALUES(id)` (the values it ran with) — is fetch_results / query_profile by another path, so it follows their
 * rule: only the identity that ran a query may read it (object-policy.ts, checkResultOwner). That needs
 * the id as a literal; `LAST_QUERY_ID()` is refused outright, anywhere in the SQL (sql-policy.ts), because
 * the hub runs each call on a pooled connection whose previous statement was some other call's, often
 * another identity's.
 * Read from the classifier's tokens, so comments, strings and quoting are already resolved.
 */
import type { SqlReading } from '../guard/sql/classifier.js';
import type { Token } from '../guard/sql/lexer.js';

export interface ResultRead {
  /** How the statement reads it, for messages: `RESULT_SCAN`, `DESCRIBE RESULT`, `GET_QUERY_OPERATOR_STATS`. */
  via: string;
  /** The query id when it is written as a plain string literal; undefined when computed. */
  queryId?: string;
  /** The id comes from LAST_QUERY_ID(…). */
  lastQueryId: boolean;
}

const RESULT_FUNCTIONS = new Set(['RESULT_SCAN', 'GET_QUERY_OPERATOR_STATS', 'BIND_VALUES']);

export function resultReads(reading: SqlReading): ResultRead[] {
  const found: ResultRead[] = [];
  for (const statement of reading.statements) {
    // Comments are already gone (the splitter leaves them out): `RESULT_SCAN /* x */ (` reads as one call.
    const toks = statement.tokens;
    const first = toks[0];
    const second = toks[1];
    if (first?.kind === 'word' && (first.upper === 'DESCRIBE' || first.upper === 'DESC') && second?.kind === 'word' && second.upper === 'RESULT') {
      found.push(judgeArgument('DESCRIBE RESULT', toks.slice(2)));
    }
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i]!;
      if ((t.kind !== 'word' && t.kind !== 'quoted_ident') || !RESULT_FUNCTIONS.has(nameOf(t))) continue;
      if (!isPunct(toks[i + 1], '(')) continue;
      // A qualified name (db.sch.result_scan) is a user function that merely shares the name, except in
      // INFORMATION_SCHEMA, where Snowflake's own live (INFORMATION_SCHEMA.BIND_VALUES).
      const qualifier = toks[i - 2];
      if (isPunct(toks[i - 1], '.') && !(qualifier && nameOf(qualifier) === 'INFORMATION_SCHEMA')) continue;
      const close = matchingParen(toks, i + 1);
      found.push(judgeArgument(nameOf(t), toks.slice(i + 2, close)));
    }
  }
  return found;
}

/**
 * Whether the SQL calls LAST_QUERY_ID anywhere (Snowflake's own, unqualified; quoted too). Outside a
 * result reader it still hands out the id of the pooled connection's previous statement, another call's,
 * which other functions the hub does not owner-check take (SYSTEM$ESTIMATE_QUERY_ACCELERATION, query history).
 */
export function callsLastQueryId(reading: SqlReading): boolean {
  return reading.statements.some(({ tokens }) =>
    tokens.some((t, i) => (t.kind === 'word' || t.kind === 'quoted_ident') && nameOf(t) === 'LAST_QUERY_ID' && isPunct(tokens[i + 1], '(') && !isPunct(tokens[i - 1], '.')),
  );
}

function judgeArgument(via: string, args: readonly Token[]): ResultRead {
  const lastQueryId = args.some((a) => a.kind === 'word' && a.upper === 'LAST_QUERY_ID');
  const only = args.length === 1 ? args[0] : undefined;
  const queryId = only === undefined ? undefined : literalValue(only);
  return queryId === undefined ? { via, lastQueryId } : { via, queryId, lastQueryId };
}

/** The value of a string literal without escapes ('…' or $$…$$); undefined for anything else. */
function literalValue(t: Token): string | undefined {
  if (t.kind === 'string') return /^'([^'\\]*)'$/.exec(t.text)?.[1];
  if (t.kind === 'dollar_string') return /^\$\$([^$]*)\$\$$/.exec(t.text)?.[1];
  return undefined;
}

/** A quoted name too ("RESULT_SCAN"), upper-cased: erring towards checking a call the engine might not resolve. */
function nameOf(t: Token): string {
  return t.kind === 'quoted_ident' ? t.text.slice(1, -1).replace(/""/g, '"').toUpperCase() : (t.upper ?? t.text.toUpperCase());
}

function isPunct(t: Token | undefined, text: string): boolean {
  return t?.kind === 'punct' && t.text === text;
}

/** Index of the ')' closing the '(' at `open`, or the end of the tokens when it is not closed. */
function matchingParen(toks: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < toks.length; i++) {
    if (isPunct(toks[i], '(')) depth++;
    else if (isPunct(toks[i], ')') && --depth === 0) return i;
  }
  return toks.length;
}

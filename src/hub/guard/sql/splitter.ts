/**
 * Splits a token stream into statements at top-level semicolons.
 *
 * Parentheses do not protect a semicolon: `SELECT (1; DELETE FROM t)` is split, so it is seen as two
 * statements (the engines reject it anyway). The one exception is a Snowflake Scripting block
 * (`DECLARE … BEGIN … END`, `BEGIN … END`, or a procedure body `… AS BEGIN … END`), which Snowflake
 * receives as one statement with semicolons inside; the splitter keeps it whole so it is reported
 * as one SCRIPT (or CREATE) statement rather than as fragments. DuckDB has no such blocks.
 */

import type { SqlDialect, Token } from './lexer.js';

export interface StatementSlice {
  /** Significant (non-comment) tokens of the statement, in order. Never empty. */
  tokens: Token[];
  /**
   * Source range of the statement: from its first token (a leading comment included) to its last
   * significant token, so the text never ends inside a line comment and can be wrapped safely.
   */
  start: number;
  end: number;
}

/** Words after BEGIN that make it a transaction start rather than a scripting block. */
const TRANSACTION_BEGIN_FOLLOWERS = new Set(['TRANSACTION', 'WORK', 'NAME']);
/** END X forms whose opener the depth count does not track. */
const UNTRACKED_END_FORMS = new Set(['IF', 'LOOP', 'FOR', 'WHILE', 'REPEAT']);
/** Statements whose `AS` may introduce an unquoted Snowflake Scripting body. */
const BODY_STATEMENTS = new Set(['CREATE', 'WITH']);

export function splitStatements(tokens: readonly Token[], dialect: SqlDialect): StatementSlice[] {
  const statements: StatementSlice[] = [];
  let current: Token[] = [];
  let firstAny: Token | undefined; // first token of the statement, comments included
  let lastAny: Token | undefined; // last significant token
  // Snowflake Scripting state for the current statement.
  let blockDepth = 0;
  let declarePending = false;

  const flush = (): void => {
    if (current.length > 0 && firstAny && lastAny) {
      statements.push({ tokens: current, start: firstAny.start, end: lastAny.end });
    }
    current = [];
    firstAny = undefined;
    lastAny = undefined;
    blockDepth = 0;
    declarePending = false;
  };

  const nextSignificantIndex = (from: number): number => {
    for (let j = from; j < tokens.length; j++) {
      if (tokens[j]?.kind !== 'comment') return j;
    }
    return -1;
  };

  let skipIndex = -1; // the CASE of an END CASE, already counted
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (!token) continue;
    if (token.kind === 'semicolon' && blockDepth === 0 && !declarePending) {
      flush();
      continue;
    }
    if (token.kind !== 'comment' && dialect === 'snowflake' && token.kind === 'word' && i !== skipIndex) {
      const word = token.upper ?? '';
      const isFirst = current.length === 0;
      // A procedure, function or task body (`CREATE … AS BEGIN … END`, `WITH p AS PROCEDURE … AS BEGIN`).
      const afterBodyAs = current[current.length - 1]?.upper === 'AS' && BODY_STATEMENTS.has(current[0]?.upper ?? '');
      if (word === 'DECLARE' && blockDepth === 0 && (isFirst || afterBodyAs)) {
        declarePending = true;
      } else if (word === 'BEGIN') {
        const follower = tokens[nextSignificantIndex(i + 1)];
        const transactionForm =
          follower === undefined || follower.kind === 'semicolon' || TRANSACTION_BEGIN_FOLLOWERS.has(follower.upper ?? '');
        if (!transactionForm && (blockDepth > 0 || declarePending || isFirst || afterBodyAs)) {
          blockDepth++;
          declarePending = false;
        }
      } else if (word === 'CASE' && blockDepth > 0) {
        blockDepth++;
      } else if (word === 'END' && blockDepth > 0) {
        const followerIndex = nextSignificantIndex(i + 1);
        const follower = tokens[followerIndex];
        const form = follower?.kind === 'word' ? (follower.upper ?? '') : '';
        if (form === 'CASE') skipIndex = followerIndex;
        if (!UNTRACKED_END_FORMS.has(form)) blockDepth--;
      }
    }
    if (!firstAny) firstAny = token;
    if (token.kind !== 'comment') {
      current.push(token);
      lastAny = token;
    }
  }
  flush();
  return statements;
}

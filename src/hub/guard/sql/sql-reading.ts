/**
 * One reading of a piece of SQL in one dialect: lexed once, split once, each statement analysed once.
 * The read-only check (policy.ts), the object extraction (policy/sql-objects.ts) and the session-effect
 * scan (warehouse/snowflake) all read this one result, so a governed call lexes its SQL once per dialect.
 */
import { analyzeStatement } from './analyzer.js';
import { tokenize, type SqlDialect, type Token } from './lexer.js';
import { splitStatements } from './splitter.js';
import type { StatementType } from './statement-types.js';

export interface StatementReading {
  type: StatementType;
  /** Source of this statement: leading comments kept, trailing comments and the `;` dropped. */
  text: string;
  /** UTF-16 offsets of `text` in the input, end exclusive. */
  start: number;
  end: number;
  /** True when the statement only reads: its type reads and `hazards` is empty. */
  readOnly: boolean;
  /** Why it is not read-only, e.g. "DELETE inside a WITH clause is a write", "calls SYSTEM$CANCEL_ALL_QUERIES, which …". */
  hazards: string[];
  /**
   * Snowflake stages it touches (`@stage`, `'@stage/path'`, stage-file functions). A read-only
   * session allows these only with `allowStageListing`.
   */
  stages: string[];
  /** Its significant (non-comment) tokens, in order. */
  tokens: readonly Token[];
}

export interface SqlReadError {
  code: string;
  message: string;
  /** UTF-16 offset where reading failed. */
  offset?: number;
}

export interface SqlReading {
  readonly sql: string;
  readonly dialect: SqlDialect;
  readonly statements: readonly StatementReading[];
  readonly error?: SqlReadError | undefined;
}

export function readSql(sql: string, dialect: SqlDialect): SqlReading {
  const lexed = tokenize(sql, { dialect });
  if (lexed.error) {
    return { sql, dialect, statements: [], error: { code: lexed.error.code, message: lexed.error.message, offset: lexed.error.offset } };
  }
  const statements = splitStatements(lexed.tokens, dialect).map((slice): StatementReading => {
    const analysis = analyzeStatement(slice.tokens, dialect);
    return {
      type: analysis.type,
      text: sql.slice(slice.start, slice.end),
      start: slice.start,
      end: slice.end,
      readOnly: analysis.hazards.length === 0,
      hazards: analysis.hazards,
      stages: analysis.stages,
      tokens: slice.tokens,
    };
  });
  return { sql, dialect, statements };
}

/** The first `n` words of a statement, upper-cased, skipping opening parentheses. */
export function leadingWords(statement: StatementReading, n: number): string[] {
  const words: string[] = [];
  for (const t of statement.tokens) {
    if (words.length >= n) break;
    if (t.kind === 'punct' && t.text === '(') continue;
    if (t.kind !== 'word') break;
    words.push(t.upper ?? t.text.toUpperCase());
  }
  return words;
}

/**
 * Whether the statement chains statements with Snowflake's `->>` flow operator (anywhere: the classifier
 * refuses the nested forms as reads, but a role that may write gets them through). Each part runs as a
 * statement of its own, so what the statement may do is what any part may do, not what its first words
 * say. In DuckDB `->>` is JSON extraction.
 */
export function chainsStatements(statement: StatementReading, dialect: SqlDialect): boolean {
  return dialect === 'snowflake' && statement.tokens.some((t) => t.kind === 'punct' && t.text === '->>');
}

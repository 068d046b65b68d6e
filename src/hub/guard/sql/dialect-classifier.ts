/** Lex → split → analyze, for one dialect. The public entry points live in classifier.ts and policy.ts. */

import type { SqlDialect } from './lexer.js';
import { readSql, type SqlReading } from './sql-reading.js';
import type { StatementType } from './statement-types.js';

/** Which engine's rules to read the SQL with; 'any' reads it both ways and keeps the stricter result. */
export type SqlDialectChoice = SqlDialect | 'any';

export const DIALECT_NAMES: Readonly<Record<SqlDialect, string>> = { snowflake: 'Snowflake', duckdb: 'DuckDB' };

export interface ClassifiedStatement {
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
}

export interface ClassifyError {
  code: string;
  message: string;
  /** UTF-16 offset where reading failed. */
  offset?: number;
}

export interface DialectClassification {
  statements: ClassifiedStatement[];
  error?: ClassifyError;
}

export function classifyInDialect(sql: string, dialect: SqlDialect): DialectClassification {
  return classificationOf(readSql(sql, dialect));
}

/** The classifier's view of a reading (the statements without their tokens). */
export function classificationOf(reading: SqlReading): DialectClassification {
  if (reading.error) return { statements: [], error: reading.error };
  return { statements: reading.statements.map(({ tokens: _tokens, ...statement }) => statement) };
}

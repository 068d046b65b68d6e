/** Lex → split → analyze, for one dialect. The public entry points live in classifier.ts and policy.ts. */

import type { SqlDialect } from './lexer.js';
import { readSql, type SqlReadError, type SqlReading, type StatementReading } from './sql-reading.js';

/** Which engine's rules to read the SQL with; 'any' reads it both ways and keeps the stricter result. */
export type SqlDialectChoice = SqlDialect | 'any';

export const DIALECT_NAMES: Readonly<Record<SqlDialect, string>> = { snowflake: 'Snowflake', duckdb: 'DuckDB' };

/** A statement as the classifier reports it: its reading without the tokens. */
export type ClassifiedStatement = Omit<StatementReading, 'tokens'>;

export type ClassifyError = SqlReadError;

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

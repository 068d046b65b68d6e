/**
 * The SQL statement classifier: what each statement in a piece of SQL is, and whether it only reads.
 *
 * The hub runs user SQL against Snowflake and against the embedded DuckDB, whose lexical rules differ
 * (see lexer.ts). With `dialect: 'any'` (the default) the text is classified under both and the
 * stricter reading wins, so a statement that is read-only in one engine but not the other is reported
 * as not read-only. Pass the engine you will actually run the SQL on when you know it.
 *
 * Policy decisions (read-only sessions, multi-statement input, stage listing) are made by `checkSql`
 * in policy.ts, re-exported here so the hub has one import.
 */

import {
  DIALECT_NAMES,
  classifyInDialect,
  type ClassifiedStatement,
  type ClassifyError,
  type DialectClassification,
  type SqlDialectChoice,
} from './dialect-classifier.js';
import type { SqlDialect } from './lexer.js';
import { READ_TYPES } from './statement-types.js';

export type { ClassifiedStatement, ClassifyError, SqlDialectChoice } from './dialect-classifier.js';
export type { SqlDialect } from './lexer.js';
export { readSql, type SqlReading, type StatementReading } from './sql-reading.js';
export type { StatementType } from './statement-types.js';
export { ALL_STATEMENT_TYPES, READ_TYPES } from './statement-types.js';
export { checkSql, checkSqlReading, type SqlPolicy, type SqlVerdict, type SqlRefusalCode } from './policy.js';

export interface ClassifyOptions {
  dialect?: SqlDialectChoice;
}

export function classifySql(sql: string, options: ClassifyOptions = {}): { statements: ClassifiedStatement[]; error?: ClassifyError } {
  try {
    if (typeof sql !== 'string') return { statements: [], error: { code: 'NOT_TEXT', message: 'the query is not text' } };
    const dialect = options.dialect ?? 'any';
    if (dialect !== 'any') return classifyInDialect(sql, dialect);
    return mergeDialects(classifyInDialect(sql, 'snowflake'), classifyInDialect(sql, 'duckdb'));
  } catch (err) {
    return { statements: [], error: { code: 'CLASSIFIER_FAILED', message: `the classifier failed: ${err instanceof Error ? err.name : 'error'}` } };
  }
}

function withDialect(error: ClassifyError, dialect: SqlDialect): ClassifyError {
  return { ...error, message: `${error.message} (reading it as ${DIALECT_NAMES[dialect]} SQL)` };
}

/** Keeps Snowflake's reading, made stricter by DuckDB's wherever DuckDB sees a hazard. */
function mergeDialects(snowflake: DialectClassification, duckdb: DialectClassification): { statements: ClassifiedStatement[]; error?: ClassifyError } {
  if (snowflake.error) return { statements: [], error: withDialect(snowflake.error, 'snowflake') };
  if (duckdb.error) return { statements: [], error: withDialect(duckdb.error, 'duckdb') };
  const a = snowflake.statements;
  const b = duckdb.statements;
  const aligned = a.length === b.length && a.every((s, i) => s.start === b[i]?.start && s.end === b[i]?.end);
  if (!aligned) {
    const longer = b.length > a.length ? b : a;
    const note = 'Snowflake and DuckDB split this text into statements differently';
    return { statements: longer.map((s) => ({ ...s, readOnly: false, hazards: unique([...s.hazards, note]) })) };
  }
  return {
    statements: a.map((s, i) => {
      const d = b[i] ?? s;
      const hazards = unique([...s.hazards, ...d.hazards]);
      const type = s.type === d.type || !(READ_TYPES.has(s.type) && !READ_TYPES.has(d.type)) ? s.type : d.type;
      return { ...s, type, hazards, readOnly: hazards.length === 0, stages: unique([...s.stages, ...d.stages]) };
    }),
  };
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/**
 * DuckDB's `EXPLAIN (FORMAT json)` as a QueryPlan: every operator in order, the tables scans read, and the
 * rows those scans read summed as the statement's row estimate. DuckDB estimates rows, not bytes or
 * partitions: those stay undefined.
 *
 * What a scan reads is not what it emits: a SEQ_SCAN's "Estimated Cardinality" is after the filters pushed
 * into it (DuckDB assumes 20 % for a filter it cannot judge, so `WHERE comment <> 'zz'` read as a fifth of
 * the table), while the scan still reads every row of it. A table's scan therefore counts the table's row
 * count (`tableRows`, from the catalog); a table function that generates rows (`range`, `generate_series`,
 * `unnest`) counts the rows DuckDB says it produces. Operators that re-read rows the plan computed itself (a
 * CTE's or a join's intermediate result, a VALUES list) read nothing new and are not counted.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PlanOperation, QueryPlan } from '../types.js';

interface DuckPlanNode {
  name?: unknown;
  extra_info?: unknown;
  children?: unknown;
}

/** Scans of rows the plan itself computed or holds: they read no table or generator. */
const INTERMEDIATE_SCANS = new Set(['CTE_SCAN', 'DELIM_SCAN', 'RECURSIVE_CTE_SCAN', 'RECURSIVE_RECURRING_CTE_SCAN', 'COLUMN_DATA_SCAN', 'CHUNK_SCAN', 'DUMMY_SCAN', 'EMPTY_RESULT']);

/**
 * `tableRows`: rows per table as the plan names it (`database.schema.table`, compared ignoring case), for
 * the scans that read a whole table; a table not in it counts DuckDB's estimate.
 */
export function duckDbPlan(explainJson: string, tableRows: ReadonlyMap<string, number> = new Map()): QueryPlan {
  const roots = JSON.parse(explainJson) as unknown;
  const operations: PlanOperation[] = [];
  let rows: number | undefined;
  const walk = (node: DuckPlanNode): void => {
    const name = typeof node.name === 'string' ? node.name.trim() : 'UNKNOWN';
    const info = node.extra_info !== null && typeof node.extra_info === 'object' ? (node.extra_info as Record<string, unknown>) : {};
    const estimated = Number(info['Estimated Cardinality']);
    const emits = Number.isFinite(estimated) ? estimated : undefined;
    const table = typeof info['Table'] === 'string' ? (info['Table'] as string) : undefined;
    const read = scanRead(name, info, table, emits, tableRows);
    const detail = ['Filters', 'Projections', 'Conditions', 'Aggregates', 'Groups']
      .map((k) => (typeof info[k] === 'string' && info[k] !== '' ? `${k}: ${String(info[k]).replace(/\s+/g, ' ')}` : ''))
      .concat(read !== undefined && emits !== undefined && emits !== read ? [`emits about ${emits} of the ${read} rows it reads`] : [])
      .filter(Boolean)
      .join('; ');
    const shown = read ?? emits;
    const op: PlanOperation = { operation: name, objects: table ? [table] : [], estimate: shown !== undefined ? { rows: shown } : {} };
    if (detail) op.detail = detail;
    operations.push(op);
    if (read !== undefined) rows = (rows ?? 0) + read;
    if (Array.isArray(node.children)) for (const child of node.children) walk(child as DuckPlanNode);
  };
  if (Array.isArray(roots)) for (const r of roots) walk(r as DuckPlanNode);
  return { estimate: rows === undefined ? {} : { rows }, operations };
}

/** The rows an operator reads from a table or a generator; undefined for every other operator. */
function scanRead(name: string, info: Record<string, unknown>, table: string | undefined, emits: number | undefined, tableRows: ReadonlyMap<string, number>): number | undefined {
  if (INTERMEDIATE_SCANS.has(name)) return undefined;
  // An index scan reads the rows its key finds, which is what it emits.
  if (table !== undefined && name !== 'INDEX_SCAN') return tableRows.get(table.toLowerCase()) ?? emits;
  if (table !== undefined || typeof info['Function'] === 'string') return emits;
  return /SCAN/.test(name) ? emits : undefined;
}

/** Every table's row count (DuckDB keeps it exact for its own tables), keyed as duckDbPlan looks them up. */
export async function duckDbTableRows(connection: DuckDBConnection): Promise<Map<string, number>> {
  const reader = await connection.runAndReadAll('SELECT database_name, schema_name, table_name, estimated_size FROM duckdb_tables()');
  const rows = new Map<string, number>();
  for (const [database, schema, table, size] of reader.getRows()) {
    const count = Number(size);
    if (Number.isFinite(count)) rows.set(`${String(database)}.${String(schema)}.${String(table)}`.toLowerCase(), count);
  }
  return rows;
}

/**
 * Snowflake's `EXPLAIN USING TABULAR` as a QueryPlan. Its GlobalStats row holds the statement's totals
 * (partitionsTotal, partitionsAssigned, bytesAssigned: what may be scanned after compile-time pruning);
 * without one, the TableScan rows are summed. Snowflake estimates no row counts here.
 */
import type { JsonValue, PlanOperation, QueryPlan, QueryResult, ScanEstimate } from '../types.js';

export function snowflakePlan(result: QueryResult): QueryPlan {
  const index = new Map(result.columns.map((c, i) => [c.name.toLowerCase(), i]));
  const cell = (row: JsonValue[], name: string): JsonValue | undefined => {
    const i = index.get(name.toLowerCase());
    return i === undefined ? undefined : row[i];
  };
  const num = (v: JsonValue | undefined): number | undefined => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    return Number.isFinite(n) ? n : undefined;
  };
  const estimateOf = (row: JsonValue[]): ScanEstimate => {
    const e: ScanEstimate = {};
    const bytes = num(cell(row, 'bytesAssigned'));
    const partitions = num(cell(row, 'partitionsAssigned'));
    const total = num(cell(row, 'partitionsTotal'));
    if (bytes !== undefined) e.bytes = bytes;
    if (partitions !== undefined) e.partitions = partitions;
    if (total !== undefined) e.partitionsTotal = total;
    return e;
  };
  let global: ScanEstimate | undefined;
  const operations: PlanOperation[] = [];
  const scans: ScanEstimate = {};
  for (const row of result.rows) {
    const operation = String(cell(row, 'operation') ?? '');
    if (operation === 'GlobalStats') {
      global = estimateOf(row);
      continue;
    }
    const objects = cell(row, 'objects');
    const expressions = cell(row, 'expressions');
    const estimate = estimateOf(row);
    const op: PlanOperation = { operation, objects: typeof objects === 'string' && objects !== '' ? [objects] : [], estimate };
    if (typeof expressions === 'string' && expressions !== '') op.detail = expressions;
    operations.push(op);
    if (operation === 'TableScan') {
      for (const k of ['bytes', 'partitions', 'partitionsTotal'] as const) {
        if (estimate[k] !== undefined) scans[k] = (scans[k] ?? 0) + estimate[k];
      }
    }
  }
  return { estimate: global ?? scans, operations };
}

/**
 * Snowflake's `EXPLAIN USING TABULAR` as a QueryPlan. Its GlobalStats row holds the statement's totals
 * (partitionsTotal, partitionsAssigned, bytesAssigned: what may be scanned after compile-time pruning);
 * without one, the TableScan rows are summed. Snowflake estimates no row counts here.
 */
import type { JsonValue, OperatorStats, PlanOperation, QueryPlan, QueryProfile, QueryResult, ScanEstimate } from '../types.js';

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

/**
 * GET_QUERY_OPERATOR_STATS as a QueryProfile: one row per operator, with OPERATOR_STATISTICS and
 * EXECUTION_TIME_BREAKDOWN as VARIANTs (parsed by the driver, or JSON text).
 */
export function snowflakeProfile(queryId: string, result: QueryResult): QueryProfile {
  const index = new Map(result.columns.map((c, i) => [c.name.toUpperCase(), i]));
  const cell = (row: JsonValue[], name: string): JsonValue | undefined => {
    const i = index.get(name);
    return i === undefined ? undefined : row[i];
  };
  const object = (v: JsonValue | undefined): Record<string, JsonValue> => {
    const parsed = typeof v === 'string' ? safeJson(v) : v;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, JsonValue>) : {};
  };
  const operators: OperatorStats[] = result.rows.map((row) => {
    const stats = object(cell(row, 'OPERATOR_STATISTICS'));
    const time = object(cell(row, 'EXECUTION_TIME_BREAKDOWN'));
    const parents = cell(row, 'PARENT_OPERATORS');
    const parentList = Array.isArray(parents) ? parents : typeof parents === 'string' ? (safeJson(parents) as JsonValue[] | null) ?? [] : [];
    const op: OperatorStats = {
      operatorId: Number(cell(row, 'OPERATOR_ID') ?? 0),
      parentOperators: (Array.isArray(parentList) ? parentList : []).map(Number).filter(Number.isFinite),
      operatorType: String(cell(row, 'OPERATOR_TYPE') ?? ''),
    };
    const rows = Number(stats['output_rows']);
    if (Number.isFinite(rows)) op.outputRows = rows;
    const pct = Number(time['overall_percentage']);
    if (Number.isFinite(pct)) op.percentOfTime = pct;
    const attributes = cell(row, 'OPERATOR_ATTRIBUTES');
    if (attributes !== undefined && attributes !== null) op.detail = typeof attributes === 'string' ? attributes : JSON.stringify(attributes);
    return op;
  });
  return { queryId, operators };
}

function safeJson(text: string): JsonValue | null {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return null;
  }
}

/**
 * DuckDB's `EXPLAIN (FORMAT json)` as a QueryPlan: every operator in order, the tables scans read, and
 * the scans' estimated cardinalities summed as the statement's row estimate. DuckDB estimates rows, not
 * bytes or partitions: those stay undefined.
 */
import type { PlanOperation, QueryPlan } from '../types.js';

interface DuckPlanNode {
  name?: unknown;
  extra_info?: unknown;
  children?: unknown;
}

export function duckDbPlan(explainJson: string): QueryPlan {
  const roots = JSON.parse(explainJson) as unknown;
  const operations: PlanOperation[] = [];
  let rows: number | undefined;
  const walk = (node: DuckPlanNode): void => {
    const name = typeof node.name === 'string' ? node.name.trim() : 'UNKNOWN';
    const info = node.extra_info !== null && typeof node.extra_info === 'object' ? (node.extra_info as Record<string, unknown>) : {};
    const estimated = Number(info['Estimated Cardinality']);
    const table = typeof info['Table'] === 'string' ? (info['Table'] as string) : undefined;
    const isScan = /SCAN/.test(name);
    const detail = ['Filters', 'Projections', 'Conditions', 'Aggregates', 'Groups']
      .map((k) => (typeof info[k] === 'string' && info[k] !== '' ? `${k}: ${String(info[k]).replace(/\s+/g, ' ')}` : ''))
      .filter(Boolean)
      .join('; ');
    const op: PlanOperation = { operation: name, objects: table ? [table] : [], estimate: Number.isFinite(estimated) ? { rows: estimated } : {} };
    if (detail) op.detail = detail;
    operations.push(op);
    if (isScan && Number.isFinite(estimated)) rows = (rows ?? 0) + estimated;
    if (Array.isArray(node.children)) for (const child of node.children) walk(child as DuckPlanNode);
  };
  if (Array.isArray(roots)) for (const r of roots) walk(r as DuckPlanNode);
  return { estimate: rows === undefined ? {} : { rows }, operations };
}

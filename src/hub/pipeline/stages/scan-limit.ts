/**
 * Statement stage, the cost guard: for a role with scan limits (max_scan_bytes, max_scan_partitions,
 * max_scan_rows) or a scan budget (quota scan_bytes, spent by the usage stage), a query is first explained — Snowflake compiles it without a running warehouse, DuckDB
 * plans it — and refused before it runs when the estimate is over a limit, saying the estimate, the limit
 * and how to narrow it. A limit applies where the engine gives that figure (Snowflake: bytes and
 * partitions; DuckDB: rows). The estimate goes into the call's record either way.
 */
import { SnowmuxError } from '../../../errors.js';
import { formatBytes, formatScanEstimate } from '../../observe/byte-size.js';
import { failureCode } from '../../observe/tracing.js';
import type { Token } from '../../guard/sql/lexer.js';
import type { ScanEstimate } from '../../warehouse/types.js';
import { roleNow, type StatementStage } from '../statement.js';

/** Statements an engine can explain: queries (SHOW, DESCRIBE and the like read no table data; SUMMARIZE below does). */
const EXPLAINABLE = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE']);

export const scanLimit: StatementStage = {
  name: 'scan-limit',
  async run(st, next) {
    // The role as it is now: a reload while the statement waited for its slot may have set or lowered a limit
    // (rules-current judged it again just before this stage).
    const role = roleNow(st.scope);
    const limit = role.scanLimit;
    // A scan budget per window ([roles.*.quota] scan_bytes) needs the estimate too, limit or not.
    const budgeted = role.quota?.scanBytes !== undefined;
    const first = st.reading?.statements[0];
    if (st.op.kind !== 'query' || (!limit && !budgeted) || !first || !(EXPLAINABLE.has(first.type) || summarizes(first.tokens))) return next();
    const w = st.warehouse;
    if (!w?.explain || st.text === undefined) return next();
    const span = st.scope.trace?.span.child('pre-flight', { 'snowmux.rule': limit ? 'max_scan' : 'scan_budget' });
    let plan;
    try {
      plan = await w.explain(st.text, st.op.options);
    } catch (err) {
      span?.end(undefined, failureCode(err));
      throw err;
    }
    // Into the call's record whatever the verdict: a refusal is audited with the estimate that caused it.
    st.scope.meter.scanEstimate = plan.estimate;
    const over = limit && overLimit(plan.estimate, limit, st.scope.target.kind === 'snowflake' ? 'Snowflake' : 'DuckDB');
    span?.end({
      'snowmux.scan.bytes': plan.estimate.bytes,
      'snowmux.scan.partitions': plan.estimate.partitions,
      'snowmux.scan.rows': plan.estimate.rows,
      'snowmux.scan.over_limit': over ? over.key : undefined,
    });
    if (over) {
      throw new SnowmuxError(
        'SCAN_LIMIT',
        `Query refused before it ran: ${over.engine} estimates it reads ${over.estimate}; role "${role.name}" may read at most ${over.limit} per statement (${over.key}). ` +
          'Narrow it: filter on the columns the table is clustered or partitioned by (dates first), select only the columns you need, or aggregate in the query.' +
          (role.toolAllowed('explain_query') ? ' explain_query shows the plan.' : ''),
        { details: { estimate: plan.estimate, limit, rule: over.key } },
      );
    }
    return next();
  },
};

/** DuckDB's SUMMARIZE (typed DESCRIBE) reads every row of its table or query, and DuckDB explains it. */
function summarizes(tokens: readonly Token[]): boolean {
  return tokens[0]?.upper === 'SUMMARIZE';
}

function overLimit(e: ScanEstimate, limit: { bytes?: number | undefined; partitions?: number | undefined; rows?: number | undefined }, engine: string) {
  if (limit.bytes !== undefined && e.bytes !== undefined && e.bytes > limit.bytes) {
    return { engine, key: 'max_scan_bytes', estimate: formatScanEstimate({ bytes: e.bytes, partitions: e.partitions, partitionsTotal: e.partitionsTotal })!, limit: formatBytes(limit.bytes) };
  }
  if (limit.partitions !== undefined && e.partitions !== undefined && e.partitions > limit.partitions) {
    return { engine, key: 'max_scan_partitions', estimate: formatScanEstimate({ partitions: e.partitions, partitionsTotal: e.partitionsTotal })!, limit: `${limit.partitions} partitions` };
  }
  if (limit.rows !== undefined && e.rows !== undefined && e.rows > limit.rows) {
    return { engine, key: 'max_scan_rows', estimate: formatScanEstimate({ rows: e.rows })!, limit: `${limit.rows} rows` };
  }
  return undefined;
}

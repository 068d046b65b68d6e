/**
 * One warehouse operation a tool asks for (a SQL statement, a page of an earlier result, a metadata
 * listing), as it passes the statement stages. Tools never build these: they call the governed
 * warehouse (governed-warehouse.ts), which turns each method call into one Statement.
 */
import type { SqlReading } from '../guard/sql/classifier.js';
import type { CallMeter } from '../governance/call-meter.js';
import type { Governance, ResultOwner } from '../governance/governance.js';
import type { CallSpan } from '../observe/tracing.js';
import type { NameToResolve } from '../policy/enforce.js';
import type { EffectiveRole } from '../policy/policy.js';
import { DEFAULT_SESSION_NAMES, type SessionNames } from '../names/session-names.js';
import type { WarehouseTarget } from '../warehouse/warehouse-registry.js';
import type {
  AnalystReply,
  AnalystRequest,
  CallContext,
  ColumnDescription,
  DatabaseInfo,
  ObjectDetails,
  ObjectInfo,
  ObjectKind,
  ObjectRef,
  QueryOptions,
  QueryPlan,
  QueryProfile,
  QueryResult,
  SchemaInfo,
  SearchReply,
  SearchRequest,
  Warehouse,
  WarehouseQueryFacts,
} from '../warehouse/types.js';
import type { Stage } from './stage.js';

export type Operation =
  | { kind: 'query'; sql: string; options: QueryOptions }
  | { kind: 'explain'; sql: string; options: CallContext }
  | { kind: 'fetch'; queryId: string; page: { offset: number; limit: number; maxBytes?: number }; ctx: CallContext }
  | { kind: 'profile'; queryId: string; ctx: CallContext }
  | { kind: 'databases'; ctx: CallContext }
  | { kind: 'schemas'; database: string; ctx: CallContext }
  | { kind: 'objects'; database: string; schema: string; objectKind: ObjectKind; ctx: CallContext }
  | { kind: 'describe'; ref: ObjectRef; objectKind: ObjectKind; ctx: CallContext }
  | { kind: 'facts'; queryIds: string[]; ctx: CallContext }
  | { kind: 'details'; ref: ObjectRef; objectKind: ObjectKind; tags: boolean; ctx: CallContext }
  | { kind: 'analyst'; request: AnalystRequest; ctx: CallContext }
  | { kind: 'search'; service: ObjectRef; request: SearchRequest; ctx: CallContext };

/** What each operation returns. */
export interface OperationResults {
  query: QueryResult;
  explain: QueryPlan;
  fetch: QueryResult;
  profile: QueryProfile;
  databases: DatabaseInfo[];
  schemas: SchemaInfo[];
  objects: ObjectInfo[];
  describe: ColumnDescription[];
  details: ObjectDetails;
  facts: WarehouseQueryFacts[];
  analyst: AnalystReply;
  search: SearchReply;
}

export type OperationResult = OperationResults[keyof OperationResults];

/** Who runs the operation, under which rules, and where its use is counted: fixed for one tool call. */
export interface StatementScope {
  governance: Governance;
  /** Where the call runs: known without a login (the dialect, the default context). */
  target: WarehouseTarget;
  role: EffectiveRole;
  /**
   * The rules `role` was taken under (Governance.policyGeneration), the role the session has now and the
   * call's tool: a reload between the two makes rules-current judge a statement again before it is sent.
   * Absent (a hub-internal statement): judged once.
   */
  rules?: { generation: number; current(): EffectiveRole; tool: string; adopt?(role: EffectiveRole, generation: number): RoleCaps } | undefined;
  identity: string;
  /** The fair queue's key (one share per session). */
  sessionKey: string;
  meter: CallMeter;
  /**
   * False for a tool's own look-ups (ToolCall.lookups): their rows and bytes are not what the caller receives,
   * so the accounting stage leaves them out of the meter. Absent: metered.
   */
  metered?: boolean | undefined;
  /** The call's span when traces are exported: stages that take time open children of it. */
  trace?: StatementTrace | undefined;
  /**
   * Keeps a trace of a statement that may change data before it runs (write-intent): resolves once the
   * audit log holds it. Absent for a tool's own look-ups, which only read.
   */
  announceWrite?: ((sql: string) => Promise<void>) | undefined;
  /**
   * Stops the call's deadline while the call waits for work of the hub's own (the breaker's half-open probe);
   * returns the function that restarts it with the time that was left.
   */
  pauseDeadline?: (() => () => void) | undefined;
  /**
   * The call's deadline (hub.call_timeout_ms): how long it is, and what is left of it now. The queue gives no
   * slot to a statement with less than its floor left (stages/queue.ts). Absent: no deadline to keep.
   */
  deadline?: { readonly totalMs: number; leftMs(): number } | undefined;
}

/** A traced call as its statements see it. */
/**
 * What a call's role sets for each of its statements, as a call that adopts a role (rules-current, after a
 * reload) gets them: the largest row cap and the statement timeout with the setting it comes from.
 */
export interface RoleCaps {
  maxRows: number;
  timeoutMs: number;
  timeoutSetting: string;
}

export interface StatementTrace {
  readonly span: CallSpan;
  /** When the last statement's result came back (epoch ms): where result shaping starts. */
  lastResultAt?: number | undefined;
}

export interface Statement {
  /** The operation; quota-charge replaces it with one whose row and byte caps fit what is left of the quota. */
  op: Operation;
  /** rules-current replaces it with one holding the role as it is now, when it judged the statement again. */
  scope: StatementScope;
  /** Set by sql-policy: the one reading of the SQL every later check uses. */
  reading?: SqlReading;
  /** Set by sql-policy: the statement text that runs (comments after it and the `;` dropped). */
  text?: string;
  /** Set by row-cap: the LIMIT it appended to `text` (the reading's tokens do not show it). */
  appendedLimit?: number;
  /** Set by object-policy for a page or profile of an earlier result: who ran it, when the hub knows. */
  resultOwner?: ResultOwner | undefined;
  /** Set by object-policy: allowed names that would mean a refused object if they did not exist (name-resolution looks them up). */
  namesToResolve?: NameToResolve[];
  /** Set by open-warehouse: the shared warehouse, opened (logged in) only once the rules before it passed. */
  warehouse?: Warehouse;
  /** Set by object-policy (Snowflake, a role with object rules): the name settings the names were judged with. */
  judgedNames?: SessionNames;
  /**
   * Set by runStatement: runs an operation a stage needs for its own judgement (name-resolution's catalog
   * listing) as a statement of the same call, through every stage (the metadata cache, a slot in the fair
   * queue, the breaker, retries), its rows not counted as received. A stage never calls the warehouse itself.
   */
  lookup?: <K extends Operation['kind']>(op: Extract<Operation, { kind: K }>) => Promise<OperationResults[K]>;
}

export type StatementStage = Stage<Statement, OperationResult>;

/**
 * The role a statement's answer is judged under now: the call's, or, when a reload changed the rules since
 * the call took it, the role its session has now (a listing filtered on its way back, see object-policy).
 */
export function roleNow(scope: StatementScope): EffectiveRole {
  const rules = scope.rules;
  return rules === undefined || rules.generation === scope.governance.policyGeneration ? scope.role : rules.current();
}

/**
 * The name settings a statement's names are judged with: on Snowflake, for a role with object rules, the
 * ones the last login of the profile's user read (Snowflake's defaults before one did); undefined otherwise
 * (names are not judged, or the engine has no such settings). The warehouse runs the statement only on a
 * session with the same settings (judgedNames).
 */
export function namesToJudge(scope: StatementScope): SessionNames | undefined {
  const { target, role } = scope;
  return target.kind === 'snowflake' && role.objectsRestricted ? (target.sessionNames?.() ?? DEFAULT_SESSION_NAMES) : undefined;
}

export function signalOf(op: Operation): AbortSignal {
  return contextOf(op).signal;
}

/** The call's context an operation carries (its signal, tag, progress reporter…). */
export function contextOf(op: Operation): CallContext {
  return op.kind === 'query' || op.kind === 'explain' ? op.options : op.ctx;
}

/** Whether the operation can only read, whatever the role (metadata, plans and paging always only read). */
export function onlyReads(st: Statement): boolean {
  return st.op.kind !== 'query' || !st.scope.role.write || st.op.options.readOnly === true;
}

/** Operations that carry SQL: the SQL stages judge both the same way. */
export function sqlOf(op: Operation): { sql: string; context: CallContext } | undefined {
  return op.kind === 'query' || op.kind === 'explain' ? { sql: op.sql, context: op.options } : undefined;
}

/**
 * What of an operation's result the caller receives, as the `rows` and `bytes` quotas count it: the accounting
 * stage charges exactly this, and the quota-charge stage holds exactly this to what is left of the budgets, so
 * nothing can be charged that was not capped first. `bytes` false: only its rows count (a metadata listing).
 * Undefined: the operation returns no rows to count (a plan, a profile, Cortex Analyst's answer, whose SQL is
 * counted when it runs as a query). A new kind must say which here.
 */
export function returnedBy(op: Operation, result: OperationResult): { rows: readonly unknown[]; rowCount: number; bytes: boolean } | undefined {
  switch (op.kind) {
    case 'query':
    case 'fetch': {
      const r = result as QueryResult;
      return { rows: r.rows, rowCount: r.rowCount, bytes: true };
    }
    case 'search': {
      const r = result as SearchReply;
      return { rows: r.results, rowCount: r.results.length, bytes: true };
    }
    case 'databases':
    case 'schemas':
    case 'objects':
    case 'describe': {
      const r = result as unknown[];
      return { rows: r, rowCount: r.length, bytes: false };
    }
    case 'explain':
    case 'profile':
    case 'facts':
    case 'details':
    case 'analyst':
      return undefined;
    default: {
      const unjudged: never = op;
      return unjudged;
    }
  }
}

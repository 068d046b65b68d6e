/**
 * Per-call session context on pooled connections. A connection's current database/schema/role/warehouse
 * is tracked from Snowflake's own answer after every statement (finalDatabaseName …); before a call, only
 * the USE statements needed to reach that call's context are sent. Context is "restored" lazily: the next
 * call applies its own (the profile's defaults when it asks for nothing), so no call ever runs in another
 * call's context. Where a value cannot be restored (the profile sets no default for it), or a statement
 * may have changed other session state (ALTER SESSION, SET, transactions, temporary objects…), the
 * connection is discarded instead of being returned to the pool.
 */
import { normalizeIdentifier, quoteIdentifier } from '../../names/identifiers.js';
import type { SnowflakeProfile } from '../../config/profile-types.js';
import type { CallContext } from '../types.js';
import { chainsStatements, leadingWords, readSql, type StatementReading } from '../../guard/sql/sql-reading.js';
import { READ_TYPES, type StatementType } from '../../guard/sql/statement-types.js';

export type ContextField = 'role' | 'warehouse' | 'database' | 'schema';
const FIELDS: readonly ContextField[] = ['role', 'warehouse', 'database', 'schema'];

/** What a call wants. `null` = no preference (keep the login's value). */
export type DesiredContext = Record<ContextField, string | null>;

interface TrackedField {
  /** Last value Snowflake reported; undefined until first observed (fresh connection, value from login). */
  value: string | null | undefined;
  /** False once the value moved away from what login gave. */
  pristine: boolean;
}

export class TrackedContext {
  private readonly fields: Record<ContextField, TrackedField>;

  constructor(loginDefaults: DesiredContext) {
    // Login applied the profile's values; fields the profile leaves open are unknown until observed.
    this.fields = {
      role: { value: loginDefaults.role ?? undefined, pristine: true },
      warehouse: { value: loginDefaults.warehouse ?? undefined, pristine: true },
      database: { value: loginDefaults.database ?? undefined, pristine: true },
      schema: { value: loginDefaults.schema ?? undefined, pristine: true },
    };
  }

  get(field: ContextField): string | null | undefined {
    return this.fields[field].value;
  }

  /** Records Snowflake's report of the session state after a statement. */
  observe(state: Partial<Record<ContextField, string | null | undefined>>): void {
    for (const field of FIELDS) {
      if (!(field in state)) continue;
      const reported = state[field] ?? null;
      const tracked = this.fields[field];
      if (tracked.value === undefined) tracked.value = reported;
      else if (tracked.value !== reported) {
        tracked.value = reported;
        tracked.pristine = false;
      }
    }
  }

  /** After a USE we sent: the value is what we asked for (Snowflake's answer will confirm it). */
  set(field: ContextField, value: string | null): void {
    const tracked = this.fields[field];
    if (tracked.value !== value) tracked.pristine = false;
    tracked.value = value;
  }

  /**
   * True when this connection can serve the next call: every field either has a profile default the next
   * call can restore with USE, or still holds what login gave.
   */
  restorable(baseline: DesiredContext): boolean {
    return FIELDS.every((f) => baseline[f] !== null || this.fields[f].pristine);
  }
}

/** The profile's own context, normalized the way Snowflake resolves names. */
export function baselineContext(profile: SnowflakeProfile): DesiredContext {
  const norm = (v: string | undefined, what: string): string | null => (v === undefined || v === '' ? null : normalizeIdentifier(v, what));
  return {
    role: norm(profile.role, 'role'),
    warehouse: norm(profile.warehouse, 'warehouse'),
    database: norm(profile.database, 'database'),
    schema: norm(profile.schema, 'schema'),
  };
}

/** This call's context: its own choices over the profile's defaults. */
export function desiredContext(baseline: DesiredContext, ctx: Pick<CallContext, 'database' | 'schema' | 'role' | 'warehouse'>): DesiredContext {
  const pick = (v: string | undefined, what: string): string | null | undefined => (v === undefined || v === '' ? undefined : normalizeIdentifier(v, what));
  // A call's database and schema arrive resolved (once, in the tool layer, before the policy judged them).
  const resolved = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  const database = resolved(ctx.database);
  const schema = resolved(ctx.schema);
  const otherDatabase = database !== undefined && database !== baseline.database;
  return {
    role: pick(ctx.role, 'role') ?? baseline.role,
    warehouse: pick(ctx.warehouse, 'warehouse') ?? baseline.warehouse,
    database: database ?? baseline.database,
    // The profile's schema belongs to the profile's database: in another database, only the call's own schema.
    schema: schema ?? (otherDatabase ? null : baseline.schema),
  };
}

export interface ContextStatement {
  sql: string;
  /** The fields this statement sets, for when Snowflake's answer carries no session state. */
  sets: Partial<Record<ContextField, string>>;
}

/**
 * The USE statements that move a connection from its tracked context to the desired one (role first: it decides
 * what is visible). `baseline`: the profile's context. A call in another database without a schema of its own
 * runs where `USE DATABASE` lands (PUBLIC, or no schema when the database has none), which is where the object
 * rules judge its unqualified names (statementContext); a pooled connection already in that database but in a
 * schema an earlier call chose is moved there too, not left in that call's schema.
 */
export function contextStatements(tracked: TrackedContext, desired: DesiredContext, baseline?: DesiredContext): ContextStatement[] {
  const out: ContextStatement[] = [];
  if (desired.role !== null && tracked.get('role') !== desired.role) {
    out.push({ sql: `USE ROLE ${quoteIdentifier(desired.role)}`, sets: { role: desired.role } });
  }
  if (desired.warehouse !== null && tracked.get('warehouse') !== desired.warehouse) {
    out.push({ sql: `USE WAREHOUSE ${quoteIdentifier(desired.warehouse)}`, sets: { warehouse: desired.warehouse } });
  }
  if (desired.database !== null) {
    const dbDiffers = tracked.get('database') !== desired.database;
    if (desired.schema !== null && (dbDiffers || tracked.get('schema') !== desired.schema)) {
      out.push({
        sql: `USE SCHEMA ${quoteIdentifier(desired.database)}.${quoteIdentifier(desired.schema)}`,
        sets: { database: desired.database, schema: desired.schema },
      });
    } else if (desired.schema === null && (dbDiffers || (baseline !== undefined && desired.database !== baseline.database && !landedByUseDatabase(tracked.get('schema'))))) {
      out.push({ sql: `USE DATABASE ${quoteIdentifier(desired.database)}`, sets: { database: desired.database } });
    }
  } else if (desired.schema !== null && tracked.get('schema') !== desired.schema) {
    out.push({ sql: `USE SCHEMA ${quoteIdentifier(desired.schema)}`, sets: { schema: desired.schema } });
  }
  return out;
}

/** Whether a schema is one `USE DATABASE` leaves the session in: its PUBLIC, or none (a database without PUBLIC). */
function landedByUseDatabase(schema: string | null | undefined): boolean {
  return schema === null || schema === 'PUBLIC';
}

/**
 * What a statement may do to its session:
 * - `none`: reads and writes data but leaves the session as it was;
 * - `context`: USE ROLE/WAREHOUSE/DATABASE/SCHEMA — tracked from Snowflake's answer, restored by the next call;
 * - `dirty`: may change other session state (parameters, variables, transactions, temporary objects,
 *   procedures that run anything, secondary roles) — the connection is discarded after the call.
 */
export type SessionEffect = 'none' | 'context' | 'dirty';

const NEUTRAL_FIRST = new Set([
  'SELECT', 'WITH', 'SHOW', 'DESC', 'DESCRIBE', 'EXPLAIN', 'LIST', 'LS', 'VALUES', 'TABLE',
  'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'COPY', 'GET', 'PUT', 'REMOVE', 'RM',
  'DROP', 'UNDROP', 'GRANT', 'REVOKE', 'COMMENT',
]);
/**
 * Statement types whose leading words decide their effect. Any other type (CALL — also `WITH p AS
 * PROCEDURE … CALL p()`, which opens like a query —, EXECUTE, scripting blocks, SET, transactions,
 * anything unrecognised) may run anything, so it is dirty whatever its first words are.
 */
const WORD_JUDGED_TYPES: ReadonlySet<StatementType> = new Set<StatementType>([
  ...READ_TYPES, 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'COPY', 'PUT', 'GET', 'REMOVE',
  'CREATE', 'ALTER', 'DROP', 'UNDROP', 'COMMENT', 'GRANT', 'REVOKE', 'USE',
]);
/** How many leading words the rule reads. */
const SESSION_EFFECT_WORDS = 6;
const SESSION_OBJECT = /\b(TEMP|TEMPORARY|VOLATILE)\b/;

/**
 * The effect of one statement of the hub's reading. A statement the classifier judged read-only (every
 * `->>` part a pure read, no side-effect function, no procedure) leaves the session alone. Anything else
 * got here only through a role that may write, and is judged as a whole, not by its opening words:
 * - a `->>` chain anywhere in it: each part runs as a statement of its own, and the session's answer
 *   reports only the last, so a chain that is not a pure read is dirty (`SELECT 1 ->> ALTER SESSION …`);
 * - a read that is not read-only hides something else (a stored procedure in `TABLE(…)`, a function
 *   with side effects): dirty;
 * - otherwise its type and its leading words decide (`ALTER SESSION`, `CREATE TEMPORARY …`, `USE …`).
 */
export function statementEffect(statement: StatementReading): SessionEffect {
  if (statement.readOnly) return 'none';
  if (chainsStatements(statement, 'snowflake')) return 'dirty';
  if (READ_TYPES.has(statement.type) || !WORD_JUDGED_TYPES.has(statement.type)) return 'dirty';
  return wordsEffect(leadingWords(statement, SESSION_EFFECT_WORDS));
}

/**
 * The effect of SQL the hub did not read for this call (the backend's own statements, direct callers):
 * read as Snowflake reads it, the most any of its statements may do; SQL that cannot be read is dirty.
 */
export function sessionEffect(sql: string): SessionEffect {
  const reading = readSql(sql, 'snowflake');
  if (reading.error !== undefined || reading.statements.length === 0) return 'dirty';
  const effects = reading.statements.map(statementEffect);
  return effects.includes('dirty') ? 'dirty' : effects.includes('context') ? 'context' : 'none';
}

function wordsEffect(words: readonly string[]): SessionEffect {
  const first = words[0] ?? '';
  // USE SECONDARY ROLES widens what the session may do and Snowflake reports no trace of it in the
  // statement's answer (finalRoleName stays the primary role): it cannot be tracked, so it is dirty.
  if (first === 'USE') return words[1] === 'SECONDARY' ? 'dirty' : 'context';
  if (NEUTRAL_FIRST.has(first)) return 'none';
  if (first === 'CREATE') return SESSION_OBJECT.test(words.join(' ')) ? 'dirty' : 'none';
  if (first === 'ALTER') return words[1] === 'SESSION' ? 'dirty' : 'none';
  return 'dirty';
}

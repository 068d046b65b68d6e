/**
 * A session's view of a shared warehouse, with the hub's rules applied around every statement:
 * the role's object policy (metadata is filtered to what the role may see; SQL naming a forbidden object
 * is refused), a fair-queue slot, the warehouse's circuit breaker, bounded retries for read-only work,
 * and accounting (queue wait, run time, rows, bytes) into the call's meter.
 */
import { SnowmuxError } from '../../errors.js';
import type { FairScheduler } from '../guard/fair-scheduler.js';
import type { WarehouseBreaker } from '../guard/breaker.js';
import { withRetry } from '../guard/retry.js';
import { checkSql } from '../guard/sql/classifier.js';
import { enforceObject, enforceSqlObjects } from '../policy/enforce.js';
import { policyDenied } from '../policy/policy.js';
import type { EffectiveRole } from '../policy/policy.js';
import type {
  CallContext,
  ColumnDescription,
  DatabaseInfo,
  ObjectInfo,
  ObjectKind,
  ObjectRef,
  QueryOptions,
  QueryResult,
  SchemaInfo,
  Warehouse,
  WarehouseInfo,
} from '../warehouse/types.js';
import type { CallMeter } from './call-meter.js';
import type { MetadataCache } from './metadata-cache.js';

/** Which identity produced which query id: a result is paged only by the identity that ran it. */
export interface ResultOwners {
  remember(queryId: string, identity: string): void;
  ownerOf(queryId: string): string | undefined;
}

export interface GovernedDeps {
  scheduler: FairScheduler;
  owners: ResultOwners;
  identity: string;
  breaker: WarehouseBreaker;
  retry: { attempts: number; budgetMs: number };
  sessionKey: string;
  role: EffectiveRole;
  meter: CallMeter;
  /** Shared metadata answers; `scope` names the warehouse instance the answers come from. */
  metadata?: { cache: MetadataCache; scope: string };
}

export class GovernedWarehouse implements Warehouse {
  constructor(private readonly inner: Warehouse, private readonly deps: GovernedDeps) {}

  get kind(): Warehouse['kind'] {
    return this.inner.kind;
  }

  info(): WarehouseInfo {
    return this.inner.info();
  }

  /**
   * Every statement any tool sends passes here: the role's SQL policy (read-only unless the role may
   * write, one statement, lexed as the engine that runs it), then its object rules. A tool cannot skip
   * either by building its own SQL.
   */
  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const info = this.inner.info();
    const verdict = checkSql(sql, { ...this.deps.role.sqlPolicy(), dialect: this.inner.kind });
    if (!verdict.allowed) throw new SnowmuxError(verdict.code, verdict.message, { details: { statementType: verdict.statementType, rule: verdict.rule } });
    const statement = verdict.statement.text;
    enforceSqlObjects(this.deps.role, statement, { database: options.database ?? info.defaultDatabase, schema: options.schema ?? info.defaultSchema }, { dialect: this.inner.kind });
    const result = await this.run(options.signal, !this.deps.role.write, () => this.inner.query(statement, options));
    this.account(result);
    return result;
  }

  async fetchResults(queryId: string, page: { offset: number; limit: number; maxBytes?: number }, ctx: CallContext): Promise<QueryResult> {
    if (!this.inner.fetchResults) {
      throw new SnowmuxError('UNSUPPORTED', 'This warehouse cannot page through earlier results. Re-run the query with a narrower WHERE or a LIMIT.');
    }
    const owner = this.deps.owners.ownerOf(queryId);
    if (owner !== undefined ? owner !== this.deps.identity : this.deps.role.objectsRestricted) {
      // Snowflake keeps results per Snowflake user, and every session of a profile shares that user;
      // the hub is what keeps one identity from paging another's result.
      throw policyDenied(
        owner !== undefined
          ? `Access denied: query ${queryId} was run by another user; results can only be paged by whoever ran the query. Run the query yourself.`
          : `Access denied: query ${queryId} was not run through this hub by you, and role "${this.deps.role.name}" may only use some objects. Run the query again with execute_query.`,
        { rule: 'result-owner' },
      );
    }
    const fetch = this.inner.fetchResults.bind(this.inner);
    const result = await this.run(ctx.signal, true, () => fetch(queryId, page, ctx));
    this.account(result);
    return result;
  }

  async listDatabases(ctx: CallContext): Promise<DatabaseInfo[]> {
    const all = await this.cached(ctx, ['databases'], () => this.run(ctx.signal, true, () => this.inner.listDatabases(ctx)));
    return this.counted(all.filter((d) => this.deps.role.canSee({ database: d.name })));
  }

  async listSchemas(database: string, ctx: CallContext): Promise<SchemaInfo[]> {
    enforceObject(this.deps.role, { database }, 'database');
    const all = await this.cached(ctx, ['schemas', database], () => this.run(ctx.signal, true, () => this.inner.listSchemas(database, ctx)));
    return this.counted(all.filter((s) => this.deps.role.canSee({ database, schema: s.name })));
  }

  async listObjects(database: string, schema: string, kind: ObjectKind, ctx: CallContext): Promise<ObjectInfo[]> {
    enforceObject(this.deps.role, { database, schema }, 'schema');
    const all = await this.cached(ctx, ['objects', database, schema, kind], () => this.run(ctx.signal, true, () => this.inner.listObjects(database, schema, kind, ctx)));
    return this.counted(all.filter((o) => this.deps.role.canSee({ database, schema, name: o.name })));
  }

  async describeObject(ref: ObjectRef, kind: ObjectKind, ctx: CallContext): Promise<ColumnDescription[]> {
    enforceObject(this.deps.role, ref, kind);
    const key = ['describe', kind, ref.database ?? '', ref.schema ?? '', ref.name];
    return this.counted(await this.cached(ctx, key, () => this.run(ctx.signal, true, () => this.inner.describeObject(ref, kind, ctx))));
  }

  /**
   * Through the shared metadata cache when there is one. The hub role's object filter is applied by the
   * caller afterwards; what the warehouse itself shows depends on the Snowflake role and warehouse the
   * call runs as, so those are part of the key.
   */
  private cached<T>(ctx: CallContext, what: string[], load: () => Promise<T>): Promise<T> {
    const m = this.deps.metadata;
    if (!m) return load();
    const key = [m.scope, ctx.role ?? '', ctx.warehouse ?? '', ...what].join('\u0000');
    return m.cache.get(key, ctx.signal, load);
  }

  /** The warehouse is shared by every session: a session never closes it. */
  async close(): Promise<void> {}

  private async run<T>(signal: AbortSignal, readOnly: boolean, fn: () => Promise<T>): Promise<T> {
    const { scheduler, breaker, retry, sessionKey, meter } = this.deps;
    const slot = await scheduler.schedule(sessionKey, signal);
    meter.queueWaitMs += slot.waitMs;
    const started = performance.now();
    try {
      return await breaker.run(() => withRetry(() => fn(), { readOnly, retries: retry.attempts, totalBudgetMs: retry.budgetMs, signal }));
    } finally {
      meter.runMs += performance.now() - started;
      slot.release();
    }
  }

  private account(result: QueryResult): void {
    const { meter } = this.deps;
    meter.rows += result.rowCount;
    meter.bytes += Buffer.byteLength(JSON.stringify(result.rows));
    if (result.queryId) {
      meter.queryId = result.queryId;
      this.deps.owners.remember(result.queryId, this.deps.identity);
    }
  }

  private counted<T>(rows: T[]): T[] {
    this.deps.meter.rows += rows.length;
    return rows;
  }
}

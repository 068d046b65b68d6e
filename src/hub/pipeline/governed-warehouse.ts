/**
 * The only warehouse a tool body ever holds: each method call becomes one Statement and passes every
 * statement stage (statement-pipeline.ts). Its info() comes from the target, so a tool can read the
 * default context without causing a login.
 */
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
  WarehouseInfo,
  WarehouseQueryFacts,
} from '../warehouse/types.js';
import type { Operation, OperationResults, StatementScope } from './statement.js';
import { runStatement } from './statement-pipeline.js';

export class GovernedWarehouse implements Warehouse {
  /**
   * `scope` may be a function: a call's scope as it is when each statement starts (a call that adopted a
   * reloaded role runs its later statements under that role from their first stage).
   */
  constructor(private readonly scopeOf: StatementScope | (() => StatementScope)) {}

  private get scope(): StatementScope {
    return typeof this.scopeOf === 'function' ? this.scopeOf() : this.scopeOf;
  }

  get kind(): Warehouse['kind'] {
    return this.scope.target.kind;
  }

  info(): WarehouseInfo {
    const t = this.scope.target;
    return { kind: t.kind, name: t.name, detail: {}, defaultDatabase: t.defaultDatabase, defaultSchema: t.defaultSchema };
  }

  query(sql: string, options: QueryOptions): Promise<QueryResult> {
    return this.run({ kind: 'query', sql, options });
  }

  explain(sql: string, ctx: CallContext): Promise<QueryPlan> {
    return this.run({ kind: 'explain', sql, options: ctx });
  }

  queryProfile(queryId: string, ctx: CallContext): Promise<QueryProfile> {
    return this.run({ kind: 'profile', queryId, ctx });
  }

  fetchResults(queryId: string, page: { offset: number; limit: number; maxBytes?: number }, ctx: CallContext): Promise<QueryResult> {
    return this.run({ kind: 'fetch', queryId, page, ctx });
  }

  listDatabases(ctx: CallContext): Promise<DatabaseInfo[]> {
    return this.run({ kind: 'databases', ctx });
  }

  listSchemas(database: string, ctx: CallContext): Promise<SchemaInfo[]> {
    return this.run({ kind: 'schemas', database, ctx });
  }

  listObjects(database: string, schema: string, objectKind: ObjectKind, ctx: CallContext): Promise<ObjectInfo[]> {
    return this.run({ kind: 'objects', database, schema, objectKind, ctx });
  }

  describeObject(ref: ObjectRef, objectKind: ObjectKind, ctx: CallContext): Promise<ColumnDescription[]> {
    return this.run({ kind: 'describe', ref, objectKind, ctx });
  }

  queryFacts(queryIds: string[], ctx: CallContext): Promise<WarehouseQueryFacts[]> {
    return this.run({ kind: 'facts', queryIds, ctx });
  }

  objectDetails(ref: ObjectRef, objectKind: ObjectKind, options: { tags: boolean }, ctx: CallContext): Promise<ObjectDetails> {
    return this.run({ kind: 'details', ref, objectKind, tags: options.tags, ctx });
  }

  cortexAnalyst(request: AnalystRequest, ctx: CallContext): Promise<AnalystReply> {
    return this.run({ kind: 'analyst', request, ctx });
  }

  cortexSearch(service: ObjectRef, request: SearchRequest, ctx: CallContext): Promise<SearchReply> {
    return this.run({ kind: 'search', service, request, ctx });
  }

  /** The warehouse is shared by every session: a session never closes it. */
  async close(): Promise<void> {}

  private async run<K extends Operation['kind']>(op: Extract<Operation, { kind: K }>): Promise<OperationResults[K]> {
    return (await runStatement({ op, scope: this.scope })) as OperationResults[K];
  }
}

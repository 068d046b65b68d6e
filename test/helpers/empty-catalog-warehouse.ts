/**
 * A warehouse with an empty catalog, for tests about what happens to its statements: a subclass gives its
 * kind, info() and query(), and overrides a catalog method only where the test needs one.
 */
import type { ColumnDescription, DatabaseInfo, ObjectInfo, QueryOptions, QueryResult, SchemaInfo, Warehouse, WarehouseInfo } from '../../src/hub/warehouse/types.js';

export abstract class EmptyCatalogWarehouse implements Warehouse {
  abstract readonly kind: Warehouse['kind'];
  abstract info(): WarehouseInfo;
  abstract query(sql: string, options: QueryOptions): Promise<QueryResult>;
  async listDatabases(): Promise<DatabaseInfo[]> {
    return [];
  }
  async listSchemas(): Promise<SchemaInfo[]> {
    return [];
  }
  async listObjects(): Promise<ObjectInfo[]> {
    return [];
  }
  async describeObject(): Promise<ColumnDescription[]> {
    return [];
  }
  async close(): Promise<void> {}
}

/**
 * Prepared statements kept per pooled DuckDB connection, by the context (the USE) they were prepared in and
 * their text: a statement the connection already prepared runs again without DuckDB parsing, binding and
 * planning it (about 300 µs of a trivial query's ~500), which is what a team-defined tool with new
 * parameters, an agent's repeated query or a paging loop sends. Only reads are kept (the embedded
 * warehouse is opened read-only, so nothing they name can change under them); a connection's statements
 * are destroyed before the connection is closed.
 */
import type { DuckDBConnection, DuckDBPreparedStatement } from '@duckdb/node-api';
import { LRUCache } from 'lru-cache';

/** Per connection: enough for a few tools' statements, small next to a connection's own memory. */
const PER_CONNECTION = 32;

const kept = new WeakMap<DuckDBConnection, LRUCache<string, DuckDBPreparedStatement>>();

export function keptStatement(connection: DuckDBConnection, key: string): DuckDBPreparedStatement | undefined {
  return kept.get(connection)?.get(key);
}

export function keepStatement(connection: DuckDBConnection, key: string, statement: DuckDBPreparedStatement): void {
  let cache = kept.get(connection);
  if (!cache) {
    cache = new LRUCache<string, DuckDBPreparedStatement>({ max: PER_CONNECTION, dispose: destroyQuietly });
    kept.set(connection, cache);
  }
  cache.set(key, statement);
}

/** Destroys what a connection kept (before it closes). */
export function forgetStatements(connection: DuckDBConnection): void {
  kept.get(connection)?.clear();
  kept.delete(connection);
}

function destroyQuietly(statement: DuckDBPreparedStatement): void {
  try {
    statement.destroySync();
  } catch {
    // Already gone with its connection.
  }
}

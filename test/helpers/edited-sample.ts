/**
 * The embedded warehouse over a copy of the sample with objects of a test's own (mixed-case names, names
 * with dots or tabs), which the generated sample does not have: the stamp is kept, so the warehouse opens
 * it as the sample.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbWarehouse } from '../../src/hub/warehouse/duckdb/duckdb-warehouse.js';
import { buildSampleDatabase, sampleDatabasePath } from '../../src/hub/warehouse/duckdb/sample-database.js';

export interface EditedSample {
  warehouse: DuckDbWarehouse;
  /** Closes the warehouse and removes its directory. */
  close(): Promise<void>;
}

/** Builds the sample in a temp directory, runs `sql` on it, and opens the warehouse over it. */
export async function editedSample(sql: string): Promise<EditedSample> {
  const dataDir = mkdtempSync(join(tmpdir(), 'smx-sample-'));
  try {
    await buildSampleDatabase(dataDir);
    const writable = await DuckDBInstance.create(sampleDatabasePath(dataDir));
    const connection = await writable.connect();
    await connection.run(sql);
    connection.closeSync();
    writable.closeSync();
    const warehouse = await DuckDbWarehouse.open({ dataDir, threads: 1 });
    return {
      warehouse,
      close: async () => {
        await warehouse.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Hands each session its warehouse. Warehouses are shared: every session on the same profile uses one
 * pool, and the embedded warehouse is opened once per hub. Opening starts with the hub (warm for the
 * first call) and a failure is reported to the call that needs it, with what to do.
 */
import { join } from 'node:path';
import type { Logger } from '../observe/logger.js';
import type { Session } from '../session/session.js';
import type { WarehouseProvider } from '../tools/tool-runtime.js';
import type { Warehouse, WarehouseInfo } from './types.js';

export interface WarehouseRegistryOptions {
  home: string;
  logger: Logger;
}

export class WarehouseRegistry implements WarehouseProvider {
  private embedded: Promise<Warehouse> | null = null;
  private readonly open = new Set<Warehouse>();

  constructor(private readonly opts: WarehouseRegistryOptions) {}

  /** Opens the embedded warehouse ahead of the first call. */
  warmUp(): void {
    void this.embeddedWarehouse().catch(() => {});
  }

  async forSession(_session: Session): Promise<Warehouse> {
    return this.embeddedWarehouse();
  }

  private embeddedWarehouse(): Promise<Warehouse> {
    if (!this.embedded) {
      const started = performance.now();
      this.embedded = import('./duckdb/duckdb-warehouse.js')
        .then(({ DuckDbWarehouse }) => DuckDbWarehouse.open({ dataDir: join(this.opts.home, 'warehouse') }))
        .then((w) => {
          this.open.add(w);
          this.opts.logger.info({ ms: Math.round(performance.now() - started), warehouse: w.info() }, 'embedded warehouse ready');
          return w;
        });
      this.embedded.catch((err) => {
        this.opts.logger.error({ err }, 'embedded warehouse failed to open');
        this.embedded = null; // let the next call try again
      });
    }
    return this.embedded;
  }

  describe(): WarehouseInfo[] {
    return [...this.open].map((w) => w.info());
  }

  async close(): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    await Promise.all(all.map((w) => w.close()));
  }
}

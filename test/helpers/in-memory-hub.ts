/**
 * A hub core over one test warehouse, in process and without keys, and MCP clients served from it over
 * the SDK's in-memory transport: what the unit tests of tools and the HTTP face build on.
 */
import { PassThrough } from 'node:stream';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { createMcpServer } from '../../src/hub/core/mcp-server.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import type { TeamTool, ToolEnv } from '../../src/hub/tools/tool-runtime.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';
import { WarehouseRegistry } from '../../src/hub/warehouse/warehouse-registry.js';
import { defer, type Cleanup } from './harness.js';

export interface CoreOptions {
  /** The target's name (default the warehouse's kind), default database (default DB) and schema (default S). */
  name?: string;
  defaultDatabase?: string;
  defaultSchema?: string;
  /** config.toml text for the roles (default: none, every session under the default role). */
  config?: string;
  /** The target's engine (default duckdb): the SQL dialect the rules read the calls' SQL in. */
  kind?: 'duckdb' | 'snowflake';
  teamTools?: TeamTool[];
  shutdownGraceMs?: number;
}

/** A hub core whose every session's calls run on `warehouse`, under the roles of `options.config`; closed when the test ends. */
export function coreOver(t: Cleanup, warehouse: Warehouse, options: CoreOptions = {}): HubCore {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText(options.config ?? '', 'test.toml'), 'test.toml'), logger });
  const target = { kind: options.kind ?? ('duckdb' as const), name: options.name ?? warehouse.kind, defaultDatabase: options.defaultDatabase ?? 'DB', defaultSchema: options.defaultSchema ?? 'S', open: async () => warehouse };
  const warehouses = { targetFor: () => target, describe: () => [], close: async () => {} };
  defer(t, () => governance.close());
  return new HubCore({
    home: '/nonexistent',
    logger,
    warehouses,
    governance,
    ...(options.teamTools === undefined ? {} : { teamTools: options.teamTools }),
    ...(options.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: options.shutdownGraceMs }),
  });
}

/**
 * A hub core whose warehouses come from each session's settings, as the hub's own (WarehouseRegistry: an
 * editor's SNOWFLAKE_* variables open a pool of their own), under the roles of `config`; closed when the test
 * ends. What tests against the Snowflake double attach their sessions to.
 */
export function coreOverSettings(t: Cleanup, config: string): { core: HubCore; warehouses: WarehouseRegistry } {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText(config, 'test.toml'), 'test.toml'), logger });
  defer(t, () => governance.close());
  const warehouses = new WarehouseRegistry({ home: '/nonexistent', logger, env: {} });
  defer(t, () => warehouses.close());
  return { core: new HubCore({ home: '/nonexistent', logger, warehouses, governance }), warehouses };
}

/** An MCP client of a server made for `env` (one session's tools), connected in memory; closed when the test ends. */
export async function clientOf(t: Cleanup, env: ToolEnv): Promise<Client> {
  const server = createMcpServer(env);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'c', version: '1' });
  await client.connect(b);
  defer(t, async () => {
    await client.close();
    await server.close();
  });
  return client;
}

/** A local user's (alice's, unless named) session on `core`, and its client; detached when the test ends. */
export async function localClient(t: Cleanup, core: HubCore, identity = 'alice'): Promise<Client> {
  const attached = core.attachSession({ identity: { kind: 'local-user', name: identity }, transport: 'stdio' }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  defer(t, () => attached.detach('test over'));
  return clientOf(t, attached.env);
}

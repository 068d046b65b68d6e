/**
 * The HTTP face in process (no network) on a real hub core with no keys, over a warehouse whose queries
 * the test holds: `fetch` is what a client's fetch would be (it names the loopback host).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import type { Session } from '../../src/hub/session/session.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { createHttpFace, type HttpFace, type HttpFaceOptions, type ServedHub } from '../../src/hub/http/http-face.js';
import type { QueryOptions, QueryResult } from '../../src/hub/warehouse/types.js';
import { EmptyCatalogWarehouse } from './empty-catalog-warehouse.js';

/** Answers `select <n>` at once; a query naming `held` waits until released or cancelled. */
export class Held extends EmptyCatalogWarehouse {
  readonly kind = 'duckdb' as const;
  readonly started: ((sql: string) => void)[] = [];
  /** Releases of the held queries running, by their SQL. */
  readonly releases = new Map<string, () => void>();
  info() {
    return { kind: 'duckdb' as const, name: 'held', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 8 };
  }
  /** Resolves when the next held query has started. */
  nextStart(): Promise<string> {
    return new Promise((resolve) => this.started.push(resolve));
  }
  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const done: QueryResult = { columns: [{ name: 'N', type: 'INTEGER' }], rows: [[Number(/\d+/.exec(sql)?.[0] ?? 1)]], rowCount: 1, truncated: false, elapsedMs: 0 };
    if (!sql.includes('held')) return done;
    this.started.shift()?.(sql);
    return new Promise((resolve, reject) => {
      this.releases.set(sql, () => resolve(done));
      options.signal.addEventListener('abort', () => reject(Object.assign(new Error('cancelled'), { name: 'AbortError' })), { once: true });
    });
  }
  override async listDatabases() {
    return [{ name: 'DB' }];
  }
}

export function hubFace(
  t: { after(fn: () => unknown): void },
  options: Partial<HttpFaceOptions> = {},
  coreOptions: { shutdownGraceMs?: number } = {},
): { face: HttpFace; warehouse: Held; fetch: typeof fetch; core: HubCore; governance: Governance; sessions: Session[] } {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'), logger });
  const warehouse = new Held();
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'held', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance, ...coreOptions });
  /** Every session the face attached, in order. */
  const sessions: Session[] = [];
  const hub: ServedHub = {
    events: core.events,
    status: () => core.status(),
    statusFor: (v) => core.statusFor(v),
    seesEveryone: (v) => core.seesEveryone(v),
    health: () => core.health(),
    noteAnswerCut: (why, identity) => core.noteAnswerCut(why, identity),
    get isDraining() {
      return core.isDraining;
    },
    attachSession: (...args) => {
      const attached = core.attachSession(...args);
      sessions.push(attached.session);
      return attached;
    },
    acceptRemoteLink: () => {},
  };
  const face = createHttpFace({ hub, keys: null, metrics: null, logger, hosts: [], loopbackOnly: true, allowedOrigins: [], ...options });
  t.after(async () => {
    await face.close();
    governance.close();
  });
  const inProcess = (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    request.headers.set('host', '127.0.0.1');
    return face.fetch(request, { remoteAddress: '127.0.0.1' });
  }) as typeof fetch;
  return { face, warehouse, fetch: inProcess, core, governance, sessions };
}

/**
 * A hub for the HTTP face alone: running, no sessions (attaching one throws), healthy; `extra` replaces any
 * of it (a test's events emitter, its remote-link handler).
 */
export function sessionlessHub(extra: Record<string, unknown> = {}): ServedHub {
  return {
    events: new EventEmitter(),
    status: () => ({ state: 'running', sessions: [] }),
    seesEveryone: () => false,
    health: () => ({ ok: true, body: {} }),
    isDraining: false,
    attachSession: () => {
      throw new Error('no sessions here');
    },
    acceptRemoteLink: () => {},
    ...extra,
  } as unknown as ServedHub;
}

/** What a 2025 client sends on every /mcp POST to the in-process face. */
export const MCP_POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
export const MCP_URL = 'http://127.0.0.1/mcp';

/** A 2025 session on `version`, initialized and acknowledged: the headers its next POSTs carry. */
export async function legacySession(fetch: typeof globalThis.fetch, version: string): Promise<Record<string, string>> {
  const res = await fetch(MCP_URL, { method: 'POST', headers: MCP_POST_HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'c', version: '1' } } }) });
  assert.equal(res.status, 200);
  await res.text();
  const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': version };
  const ack = await fetch(MCP_URL, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  assert.equal(ack.status, 202);
  return headers;
}

/** The JSON-RPC messages of an answer (JSON, or SSE data lines). */
export async function rpcMessages(res: Response): Promise<{ id?: unknown; result?: unknown; error?: { code: number; message: string } }[]> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) return [JSON.parse(text)].flat();
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
}

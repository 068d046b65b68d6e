/**
 * Helpers for tests that run the Snowflake backend against the double: a profile pointing at the double
 * and a call context with a fresh AbortSignal.
 */
import type { EventEmitter } from 'node:events';
import { DEFAULT_POOL } from '../../../src/hub/config/config-schema.js';
import type { PoolSettings, SnowflakeAuth, SnowflakeProfile } from '../../../src/hub/config/profile-types.js';
import type { CallContext, QueryOptions } from '../../../src/hub/warehouse/types.js';
import type { SnowflakeDouble } from './server.js';

export function doubleProfile(
  double: SnowflakeDouble,
  overrides: Partial<Omit<SnowflakeProfile, 'pool'>> & { auth?: SnowflakeAuth; pool?: Partial<PoolSettings> } = {},
): SnowflakeProfile {
  const { pool, ...rest } = overrides;
  return {
    name: 'dev',
    account: double.account.toLowerCase(),
    user: 'alice',
    auth: { method: 'password', password: 'alice-secret-pw' },
    role: 'ANALYST',
    warehouse: 'COMPUTE_WH',
    database: 'SNOWFLAKE_SAMPLE_DATA',
    schema: 'TPCH_SF1',
    accessUrl: double.url,
    statementTimeoutMs: 30_000,
    sources: {
      account: 'test fixture',
      user: 'test fixture',
      password: 'env SNOWFLAKE_PASSWORD',
      token: 'env SNOWFLAKE_TOKEN',
      privateKeyPassphrase: 'env SNOWFLAKE_PRIVATE_KEY_PASSPHRASE',
      'pool.max': 'test fixture',
    },
    ...rest,
    pool: { ...DEFAULT_POOL, acquireTimeoutMs: 2_000, ...pool },
  };
}

let requestCounter = 0;

/** A call context; `signal` defaults to one that never aborts. */
export function callContext(overrides: Partial<CallContext> = {}): CallContext {
  requestCounter++;
  return {
    signal: new AbortController().signal,
    tag: { sessionId: 'sess-1', requestId: `req-${requestCounter}`, client: 'test-client', tool: 'execute_query' },
    ...overrides,
  };
}

export function queryOptions(overrides: Partial<QueryOptions> = {}): QueryOptions {
  return { ...callContext(), maxRows: 100, ...overrides };
}

/** Resolves with the first `event` whose payload satisfies `predicate`; rejects after `timeoutMs` (a guard, not a clock). */
export function waitForEvent<T>(emitter: EventEmitter, event: string, predicate: (payload: T) => boolean = () => true, timeoutMs = 5_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    const listener = (payload: T): void => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(payload);
    };
    emitter.on(event, listener);
  });
}

/** Resolves once `condition()` holds, re-checking whenever the double reports an event of `event`. */
export async function until(emitter: EventEmitter, event: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  if (condition()) return;
  await waitForEvent(emitter, event, () => condition(), timeoutMs);
}

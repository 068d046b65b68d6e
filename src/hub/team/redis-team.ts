/**
 * What replicas of a team hub share through Redis (`hub.redis_url`): each identity's rate limit, taken
 * atomically across replicas (a token bucket in one Lua script, on Redis's clock), and a registry of
 * replicas (each heartbeats its summary with a TTL, so a dead replica drops out by itself).
 *
 * When Redis cannot be reached, the hub keeps serving with its local limits (never unlimited, never a
 * crash), says so in status, readiness and metrics, and rejoins when Redis answers again.
 */
import { Redis } from 'ioredis';
import type { BucketLimit, TakeResult } from '../guard/rate-limit.js';
import { windowStartOf, type QuotaUsage } from '../guard/quota.js';
import type { Logger } from '../observe/logger.js';

/** KEYS[1] bucket; ARGV capacity, refill per second, tokens wanted. Returns {allowed (0/1), retryAfterMs, remaining*1000}. */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil then tokens = capacity; at = now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local retry = 0
if tokens + 0.000001 >= want then
  tokens = math.max(0, tokens - want)
  allowed = 1
else
  retry = math.max(1, math.ceil((want - tokens) / rate * 1000))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, retry, math.floor(tokens * 1000)}
`;

/**
 * How a replica holds Redis: commands fail at once while it is disconnected (the caller falls back to
 * local state) and the client keeps reconnecting in the background.
 */
export const LIVE_REDIS_OPTIONS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  retryStrategy: (times: number) => Math.min(times * 200, 2_000),
};

export interface ReplicaSummary {
  id: string;
  pid: number;
  version: string;
  state: string;
  sessions: number;
  running: number;
  queued: number;
  breakers: { profile: string; state: string }[];
  at: string;
}

export interface TeamState {
  /** 'connected', or 'local' while Redis cannot be reached (local limits apply). */
  readonly mode: 'connected' | 'local';
  /** Takes a token from the team-wide bucket; undefined when Redis is unavailable (use the local bucket). */
  take(identity: string, limit: BucketLimit): Promise<TakeResult | undefined>;
  /** Usage of each window, summed over every replica; undefined when Redis is unavailable. */
  quotaUsage(identity: string, windowsMs: number[]): Promise<Map<number, QuotaUsage> | undefined>;
  /** Adds a finished call's usage to the team's windows; false when Redis is unavailable. */
  quotaRecord(identity: string, windowsMs: number[], usage: QuotaUsage): Promise<boolean>;
  /** Replicas seen in the last heartbeat (this one included). */
  replicas(): ReplicaSummary[];
  snapshot(): Record<string, unknown>;
  close(): Promise<void>;
}

export interface RedisTeamOptions {
  url: string;
  /** Key prefix: hubs with the same namespace form one team. */
  namespace: string;
  replicaId: string;
  summary: () => Omit<ReplicaSummary, 'id' | 'at'>;
  logger: Logger;
  heartbeatMs?: number;
  onModeChange?: (mode: 'connected' | 'local') => void;
}

export function connectRedisTeam(opts: RedisTeamOptions): TeamState {
  const heartbeatMs = opts.heartbeatMs ?? 2_000;
  const redis = new Redis(opts.url, LIVE_REDIS_OPTIONS);
  let mode: 'connected' | 'local' = 'local';
  let failures = 0;
  let seen: ReplicaSummary[] = [];
  const setMode = (next: 'connected' | 'local', why?: string) => {
    if (next === mode) return;
    mode = next;
    if (next === 'local') opts.logger.warn({ why }, 'redis unreachable: rate limits are per replica until it is back');
    else opts.logger.info('redis connected: team-wide limits and registry');
    opts.onModeChange?.(next);
  };
  redis.on('ready', () => setMode('connected'));
  redis.on('error', (err: Error) => setMode('local', err.message));
  redis.on('close', () => setMode('local', 'connection closed'));
  redis.defineCommand('smxTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });

  const key = (...parts: string[]) => [opts.namespace, ...parts].join(':');
  const beat = async () => {
    if (mode !== 'connected') return;
    try {
      const me: ReplicaSummary = { ...opts.summary(), id: opts.replicaId, at: new Date().toISOString() };
      await redis.set(key('replica', opts.replicaId), JSON.stringify(me), 'PX', heartbeatMs * 3);
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', key('replica', '*'), 'COUNT', 100);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      const values = keys.length ? await redis.mget(...keys) : [];
      seen = values.filter((v): v is string => typeof v === 'string').map((v) => JSON.parse(v) as ReplicaSummary).sort((a, b) => a.id.localeCompare(b.id));
    } catch (err) {
      opts.logger.debug({ err: (err as Error).message }, 'replica heartbeat failed');
    }
  };
  const timer = setInterval(() => void beat(), heartbeatMs);
  timer.unref();
  redis.once('ready', () => void beat());

  return {
    get mode() {
      return mode;
    },
    async take(identity, limit) {
      if (mode !== 'connected') return undefined;
      try {
        const [allowed, retry, remaining] = (await (redis as unknown as { smxTake(k: string, c: number, r: number, w: number): Promise<[number, number, number]> }).smxTake(key('rate', identity), limit.capacity, limit.refillPerSecond, 1));
        failures = 0;
        return allowed === 1 ? { ok: true, remaining: remaining / 1000 } : { ok: false, retryAfterMs: retry };
      } catch (err) {
        failures += 1;
        opts.logger.debug({ err: (err as Error).message, failures }, 'redis rate-limit call failed; local limit applies');
        return undefined;
      }
    },
    async quotaUsage(identity, windowsMs) {
      if (mode !== 'connected' || windowsMs.length === 0) return undefined;
      try {
        const now = Date.now();
        const out = new Map<number, QuotaUsage>();
        const pipeline = redis.pipeline();
        for (const w of windowsMs) pipeline.hmget(key('quota', identity, String(w), String(windowStartOf(now, w))), 'queries', 'rows', 'bytes');
        const results = (await pipeline.exec()) ?? [];
        windowsMs.forEach((w, i) => {
          const [err, values] = results[i] ?? [new Error('no reply'), null];
          if (err) throw err;
          const [q, r, b] = (values as (string | null)[]).map((v) => Number(v ?? 0));
          out.set(w, { queries: q!, rows: r!, bytes: b! });
        });
        return out;
      } catch (err) {
        opts.logger.debug({ err: (err as Error).message }, 'redis quota read failed; local quota applies');
        return undefined;
      }
    },
    async quotaRecord(identity, windowsMs, usage) {
      if (mode !== 'connected' || windowsMs.length === 0) return false;
      try {
        const now = Date.now();
        const pipeline = redis.pipeline();
        for (const w of windowsMs) {
          const k = key('quota', identity, String(w), String(windowStartOf(now, w)));
          pipeline.hincrby(k, 'queries', usage.queries).hincrby(k, 'rows', usage.rows).hincrby(k, 'bytes', usage.bytes).pexpire(k, w + 60_000);
        }
        await pipeline.exec();
        return true;
      } catch (err) {
        opts.logger.debug({ err: (err as Error).message }, 'redis quota write failed; recorded locally');
        return false;
      }
    },
    replicas: () => (mode === 'connected' ? seen : []),
    snapshot: () => ({ mode, namespace: opts.namespace, replicaId: opts.replicaId, replicas: mode === 'connected' ? seen : [] }),
    async close() {
      clearInterval(timer);
      try {
        if (mode === 'connected') await redis.del(key('replica', opts.replicaId));
      } catch {
        /* going away anyway */
      }
      redis.disconnect();
    },
  };
}

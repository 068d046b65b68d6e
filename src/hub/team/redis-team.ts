/**
 * What replicas of a team hub share through Redis (`hub.redis_url`): each identity's rate limit, taken
 * atomically across replicas (a token bucket in one Lua script, on Redis's clock), and a registry of
 * replicas (each heartbeats its summary with a TTL, so a dead replica drops out by itself).
 *
 * When Redis cannot be reached, the hub keeps serving with its local limits (never unlimited, never a
 * crash), says so in status, readiness and metrics, and rejoins when Redis answers again. When Redis loses
 * what it held without a disconnect (FLUSHALL, a failover to an empty replica), a marker key tells, and the
 * replica writes its part back (stateWasLost).
 */
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { BucketLimit, TakeResult } from '../guard/rate-limit.js';
import { type QuotaAdmission, type QuotaRule, type QuotaUsage } from '../guard/quota.js';
import type { Logger } from '../observe/logger.js';
import { hideUrlCredentials } from '../../shown-text.js';
import { errorMessage } from '../../errors.js';
import { AuditStreamShipper } from './audit-stream.js';
import { QuotaShare } from './quota-share.js';

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
 * Redis's clock in ms, as TAKE_SCRIPT reads it: quota windows are on it, so replicas whose own clocks differ
 * count in one window (one replica ahead counted in the next window, with a fresh budget, for as long as it
 * was ahead) and give one reset time.
 */
const REDIS_NOW_LUA = `
local function redisNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * The window bookkeeping both quota scripts share. KEYS[1] is the holder's set of window lengths in use, the
 * hashes are `<prefix>:<length>:<window start>` (ARGV of the script: the prefix; the time is Redis's, see
 * REDIS_NOW_LUA).
 *
 * A reload that changes a quota's `window` gives the holder a window length Redis has no hash for: the first
 * use of it, on whichever replica, starts it (in the same atomic step) from the windows of the other lengths
 * in use that lie wholly within it, each replica's field at the most it holds in any of them, so a longer
 * window does not hand out a fresh budget (a shorter one starts from zero: what fell inside it is not known).
 * Every call then counts in every length in use, whatever the rules of the replica that takes it: replicas
 * that reload at different moments count each call once in each window, and a length used again later finds
 * every call made since.
 */
/** Shared by the scripts that write the team's index of quota holders (QUOTA_WINDOW_LUA, QUOTA_SEED_SCRIPT). */
const EXPIRE_WITH_LAST_HOLDER_LUA = `
-- The index of holders (noteHolder) goes when its last entry's window ends: read only while replicas run, an
-- index left by a team stopped (or a namespace no longer used) stayed in Redis for good.
local function expireWithLastHolder(holders)
  local last = redis.call('ZRANGE', holders, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', holders, tonumber(last[2])) end
end
`;

const QUOTA_WINDOW_LUA = REDIS_NOW_LUA + EXPIRE_WITH_LAST_HOLDER_LUA + `
local function windowKey(prefix, w, at)
  -- Concatenated, not formatted: a holder holds a NUL (identity, role), where %s would cut it.
  return prefix .. string.format(':%d:%d', w, at - (at % w))
end
local function ensureWindow(prefix, w, at)
  local k = windowKey(prefix, w, at)
  redis.call('SADD', KEYS[1], string.format('%d', w))
  if redis.call('EXISTS', k) == 1 then return k end
  local start = at - (at % w)
  local carried = {}
  for _, o in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local ow = tonumber(o)
    local os = at - (at % ow)
    if ow ~= w and os >= start and os + ow <= start + w then
      local fields = redis.call('HGETALL', windowKey(prefix, ow, at))
      for f = 1, #fields, 2 do
        local v = tonumber(fields[f + 1]) or 0
        if v > (carried[fields[f]] or 0) then carried[fields[f]] = v end
      end
    end
  end
  for f, v in pairs(carried) do redis.call('HSET', k, f, v) end
  if next(carried) ~= nil then redis.call('PEXPIRE', k, w + 60000) end
  return k
end
-- The lengths in use: kept as long as the holder calls within the longest of them (and a minute), so an
-- idle holder's set goes with its windows.
local function lengthsInUse()
  local out = {}
  local longest = 0
  for _, o in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    out[#out + 1] = tonumber(o)
    longest = math.max(longest, out[#out])
  end
  redis.call('PEXPIRE', KEYS[1], longest + 60000)
  return out
end
-- The holder among those with usage in an open window (the team's index, read by every replica: quotaHolders),
-- until its longest window ends. Only where usage is counted: a read must not keep an idle holder listed.
local function noteHolder(holders, prefix, at, lengths)
  local longest = 0
  for _, w in ipairs(lengths) do longest = math.max(longest, w) end
  local ends = at - (at % longest) + longest + 60000
  local held = tonumber(redis.call('ZSCORE', holders, prefix))
  if held == nil or held < ends then redis.call('ZADD', holders, ends, prefix) end
  expireWithLastHolder(holders)
end
`;

/**
 * A call's admission against an identity's quota, atomic across replicas, in the windows of Redis's clock
 * (every replica counts in the same window whatever its own clock says). KEYS[1] the holder's window
 * lengths in use, KEYS[2] the team's state marker, KEYS[3] the team's index of holders with usage (noteHolder);
 * ARGV[1] this replica's id, ARGV[2] 1 to count the call or
 * 0 only to read, ARGV[3] the holder's key prefix, ARGV[4] the state marker this replica knows, then per
 * window of its rules: the length, then the limits on queries, rows, bytes, scanBytes
 * (-1: none). Each replica keeps its own fields (`<replica>|queries`, …; bare `queries`, … of older replicas
 * count too) and the usage is their sum: a replica can then write its own share again after Redis lost it
 * without counting anyone twice. When every window is under every limit (and ARGV[2] asks to count), counts
 * the call's query in every window length in use (QUOTA_WINDOW_LUA), in this replica's field. Returns
 * {admitted (0/1), Redis's time (ms), then queries, rows, bytes, scanBytes of each rule window as they were
 * before, then the window lengths in use}; {-1} when the marker is not the one this replica knows (Redis lost
 * the team's state).
 */
const QUOTA_ADMIT_SCRIPT = QUOTA_WINDOW_LUA + `
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return {-1} end
local metrics = {queries = 1, rows = 2, bytes = 3, scanBytes = 4}
local prefix = ARGV[3]
local at = redisNow()
local out = {0, at}
local over = false
local n = (#ARGV - 4) / 5
for i = 1, n do
  local base = 4 + (i - 1) * 5
  local used = {0, 0, 0, 0}
  local fields = redis.call('HGETALL', ensureWindow(prefix, tonumber(ARGV[base + 1]), at))
  for f = 1, #fields, 2 do
    local name = fields[f]
    local bar = string.find(name, '|', 1, true)
    if bar then name = string.sub(name, bar + 1) end
    local m = metrics[name]
    if m then used[m] = used[m] + (tonumber(fields[f + 1]) or 0) end
  end
  for j = 1, 4 do
    out[#out + 1] = used[j]
    local limit = tonumber(ARGV[base + 1 + j])
    if limit >= 0 and used[j] >= limit then over = true end
  end
end
local lengths = lengthsInUse()
if not over and ARGV[2] == '1' then
  -- Every window started before any is counted in: one started after would carry the call in, then count it again.
  local keys = {}
  for i, w in ipairs(lengths) do keys[i] = ensureWindow(prefix, w, at) end
  for i, w in ipairs(lengths) do
    redis.call('HINCRBY', keys[i], ARGV[1] .. '|queries', 1)
    redis.call('PEXPIRE', keys[i], w + 60000)
  end
  noteHolder(KEYS[3], prefix, at, lengths)
  out[1] = 1
end
for _, w in ipairs(lengths) do out[#out + 1] = w end
return out
`;

/**
 * A call's usage added to the holder's windows (rows and bytes after it ran, or a query given back). KEYS[1]
 * the holder's window lengths in use, KEYS[2] the team's index of holders with usage (noteHolder); ARGV[1] this replica's id, ARGV[2] the prefix, ARGV[3] the time (Redis's,
 * as an admission answered it) the usage belongs to, or -1 for now on Redis's clock (a time ahead of it counts
 * as now), ARGV[4..7] queries, rows, bytes, scanBytes to add, then the lengths of the rules' windows. Adds to
 * those and to every other length in use (QUOTA_WINDOW_LUA). Returns the lengths it added to.
 */
const QUOTA_RECORD_SCRIPT = QUOTA_WINDOW_LUA + `
local prefix = ARGV[2]
local now = redisNow()
local at = tonumber(ARGV[3])
if at < 0 or at > now then at = now end
for i = 8, #ARGV do ensureWindow(prefix, tonumber(ARGV[i]), at) end
local lengths = lengthsInUse()
local names = {'queries', 'rows', 'bytes', 'scanBytes'}
-- Every window started before any is added to (as in the admission script).
local keys = {}
for i, w in ipairs(lengths) do keys[i] = ensureWindow(prefix, w, at) end
for i, w in ipairs(lengths) do
  for j = 1, 4 do redis.call('HINCRBY', keys[i], ARGV[1] .. '|' .. names[j], ARGV[3 + j]) end
  redis.call('PEXPIRE', keys[i], w + 60000)
end
noteHolder(KEYS[2], prefix, at, lengths)
return lengths
`;

/**
 * The holders with usage in a window still open, on any replica (KEYS[1], noteHolder's index; ARGV[1] how many
 * at most, those whose windows end last first); those whose windows all ended leave the index.
 */
const QUOTA_HOLDERS_SCRIPT = REDIS_NOW_LUA + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', redisNow())
return redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
`;

/**
 * This replica's share of a quota window written again (a rejoin, or the team's state lost): KEYS[1] the
 * window's hash, KEYS[2] the holder's window lengths in use, KEYS[3] the team's index of holders with usage;
 * ARGV the window's length, field, value pairs, then the holder's prefix and the TTL ms. Each field becomes the larger of what Redis holds and the value: Redis never holds more of
 * a replica's share than the replica itself (it counts locally first), so this restores what Redis lost
 * without undoing an increment that reached it meanwhile, or the count of an earlier process that had the
 * same replica id. The length goes back among those in use, so calls count in the window again.
 */
const QUOTA_SEED_SCRIPT = EXPIRE_WITH_LAST_HOLDER_LUA + `
for i = 2, #ARGV - 2, 2 do
  local value = tonumber(ARGV[i + 1])
  local held = tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or 0
  if value > held then redis.call('HSET', KEYS[1], ARGV[i], value) end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[#ARGV]))
-- Listed again among the holders with usage (KEYS[3], QUOTA_WINDOW_LUA's noteHolder; ARGV[#ARGV - 1] the prefix) until the window ends.
local t = redis.call('TIME')
local ends = tonumber(t[1]) * 1000 + tonumber(ARGV[#ARGV])
local held = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[#ARGV - 1]))
if held == nil or held < ends then redis.call('ZADD', KEYS[3], ends, ARGV[#ARGV - 1]) end
expireWithLastHolder(KEYS[3])
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  local longest = 0
  for _, o in ipairs(redis.call('SMEMBERS', KEYS[2])) do longest = math.max(longest, tonumber(o)) end
  redis.call('PEXPIRE', KEYS[2], longest + 60000)
end
`;

/** A pipeline with the seed script defined on it (ioredis adds defined commands to pipelines too). */
interface QuotaSeedPipeline {
  smxQuotaSeed(k: string, lengths: string, holders: string, windowMs: number, ...fieldsValuesPrefixTtl: (string | number)[]): unknown;
}

/**
 * Takes one of a team's query slots in arrival order across replicas (KEYS[1] the leases zset, scored by
 * expiry; KEYS[2] the waiting tickets zset, scored by arrival; KEYS[3] the tickets' expiries; KEYS[4] the
 * arrival counter, KEYS[5] the team's state marker. ARGV: limit, lease id, lease ms, ticket id, ticket ms, the
 * marker this replica knows). A caller gets a free slot when
 * no one waits ahead of it: polling alone let the newest waiter (polling fastest) take each freed slot, so a
 * replica flooding the team kept every other replica's callers waiting. A ticket that is not renewed (its
 * replica died, or the call gave up without saying) leaves the line by itself. Returns 1 when granted, -1
 * when the marker is not the one this replica knows: Redis lost the leases of calls running, which the
 * replicas write back before any slot is granted against the emptied set.
 */
const ACQUIRE_SLOT_SCRIPT = `
if redis.call('GET', KEYS[5]) ~= ARGV[6] then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
local ticketTtl = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, ticket in ipairs(gone) do
  redis.call('ZREM', KEYS[2], ticket)
  redis.call('ZREM', KEYS[3], ticket)
end
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local rank = redis.call('ZRANK', KEYS[2], ARGV[4])
local ahead = rank
if rank == false then ahead = redis.call('ZCARD', KEYS[2]) end
if ahead < free then
  if rank ~= false then
    redis.call('ZREM', KEYS[2], ARGV[4])
    redis.call('ZREM', KEYS[3], ARGV[4])
  end
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  return 1
end
if rank == false then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[4])
end
redis.call('ZADD', KEYS[3], now + ticketTtl, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ticketTtl * 2)
redis.call('PEXPIRE', KEYS[3], ticketTtl * 2)
redis.call('PEXPIRE', KEYS[4], ticketTtl * 2)
return 0
`;

/** Leaves the line (KEYS[1] waiting tickets, KEYS[2] their expiries; ARGV ticket id): a call that gave up. */
const LEAVE_SLOT_LINE_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

/**
 * Extends the lease of a call still running (KEYS[1] zset; ARGV lease id, lease ms), and puts it back when Redis
 * lost it: it expired while Redis was unreachable for longer than a lease (the renewals failed), or Redis lost
 * it. The call holds its slot as long as it runs; a lease left out let other replicas' calls take the slot
 * while it ran on, past the team's cap. Returns 0 when it was put back.
 */
const RENEW_SLOT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) == 0
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
if held then return 1 end
return 0
`;

/**
 * The lease of a call still running here, written back after Redis lost the team's state (KEYS[1] zset;
 * ARGV lease id, lease ms). NX: a lease Redis still holds keeps its expiry.
 */
const RESTORE_SLOT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'NX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
`;

/**
 * The team's state marker (KEYS[1]), written by the first replica to find it missing (ARGV[1]: a new value).
 * Redis keeps it as long as it keeps the rest of the team's keys (it never expires), so a marker other than
 * the one a replica knows means Redis lost what it held (FLUSHALL, a restart without persistence, a failover
 * to an empty replica), even without a disconnect. Returns the marker.
 */
const STATE_MARKER_SCRIPT = `
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`;

/** What a loss of the team's state takes with it, for the warning (each replica writes back its part of the first three). */
const LOST_WITH_STATE = ['quota usage', 'team slot leases', 'result owners', 'team slot waiting line', 'rate-limit buckets', 'replica registry', 'team API keys', 'audit stream'];

/**
 * How long a waiting call keeps its place in a team slot's line without polling again (it polls at least
 * every 200 ms): a replica that died leaves the line within this.
 */
const SLOT_TICKET_MS = 5_000;

/**
 * How many of the team's quota holders a replica reads the usage of (every 5 s, for the local count it falls back
 * to): those whose windows end last. More identities than this with usage at once leave the rest to what this
 * replica saw of them itself.
 */
const MAX_QUOTA_HOLDERS = 5_000;

/** How long a result's owner is kept: Snowflake keeps a query's result for 24 hours. */
const OWNER_TTL_MS = 24 * 3600_000;

/**
 * How long a replica waits for one Redis reply before it treats Redis as unreachable. A Redis that holds
 * the connection open without answering (stopped, swapping, or a network path that drops packets without
 * a reset) would otherwise hold every call that takes a token.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 1_000;

/**
 * How a replica holds Redis: commands fail at once while it is disconnected, and within
 * REDIS_COMMAND_TIMEOUT_MS when Redis does not answer (the caller falls back to local state); the client
 * keeps reconnecting in the background.
 */
export const LIVE_REDIS_OPTIONS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  retryStrategy: (times: number) => Math.min(times * 200, 2_000),
};

/** Runs a pipeline; exec() resolves with each command's error instead of rejecting, so a refused write throws here. */
async function execOrThrow(pipeline: ReturnType<Redis['pipeline']>): Promise<void> {
  const refused = (await pipeline.exec())?.find(([e]) => e)?.[0];
  if (refused) throw refused;
}

/** An error reply from Redis itself (ioredis's ReplyError: OOM, READONLY, MISCONF…), not a lost connection. */
function refusedByRedis(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** ioredis's rejection of a command that got no reply within commandTimeout. */
export function timedOut(err: unknown): boolean {
  return err instanceof Error && /Command timed out/i.test(err.message);
}

export interface ReplicaSummary {
  id: string;
  pid: number;
  version: string;
  state: string;
  sessions: number;
  running: number;
  queued: number;
  breakers: { profile: string; state: string }[];
  /** A hash of the rules the replica applies (roles, policy, tools, rates; Runtime.policyFingerprint); older replicas send none. */
  policy?: string;
  at: string;
}

/** A registry entry as a summary (breakers a list, as status reads them), or none when it is not one. */
function replicaSummaryOf(value: string | null): ReplicaSummary[] {
  if (value === null) return [];
  try {
    const r = JSON.parse(value) as Partial<ReplicaSummary> | null;
    if (typeof r !== 'object' || r === null || typeof r.id !== 'string') return [];
    return [{ ...r, breakers: Array.isArray(r.breakers) ? r.breakers : [] } as ReplicaSummary];
  } catch {
    return [];
  }
}

export interface TeamState {
  /** 'connected', or 'local' while Redis cannot be reached (local limits apply). */
  readonly mode: 'connected' | 'local';
  /** Takes a token from the team-wide bucket; undefined when Redis is unavailable (use the local bucket). */
  take(identity: string, limit: BucketLimit): Promise<TakeResult | undefined>;
  /**
   * Checks the identity's team-wide usage against `rules` and, when under every limit and `count` is set,
   * counts one query in each window, in one atomic step, in the windows of Redis's clock (the admission's
   * `at`); undefined when Redis is unavailable (the local quota applies).
   */
  quotaAdmit(identity: string, rules: QuotaRule[], count: boolean): Promise<QuotaAdmission | undefined>;
  /**
   * Adds usage to the team's windows (those containing `at`, an admission's time on Redis's clock; default
   * Redis's now) of `windowsMs` and of every other window length the holder's calls count in (a reload changed
   * `window`); false when Redis is unavailable.
   */
  quotaRecord(identity: string, windowsMs: number[], usage: QuotaUsage, at?: number): Promise<boolean>;
  /**
   * The holders (as quotaAdmit names them) with usage in a window still open, counted on any replica (at most
   * MAX_QUOTA_HOLDERS); undefined when Redis is unavailable. A replica reads the team's usage of each, so that
   * while Redis is away it starts from what the team used, also for identities that never called it.
   */
  quotaHolders(): Promise<string[] | undefined>;
  /**
   * Records who ran a query (for 24 h, as long as Snowflake keeps its result, or the `ttlMs` left of it): `owner` is opaque here (the
   * identity and the role, as Governance encodes them); false when Redis is unavailable. An owner Redis
   * already holds stays: a query id never changes hands.
   */
  rememberOwner(queryId: string, owner: string, ttlMs?: number): Promise<boolean>;
  /**
   * Who ran a query, on any replica; undefined when Redis knows no owner, `{ unavailable }` (why) when
   * Redis cannot be asked now (or this replica is still writing back what Redis lost): not "no owner".
   */
  ownerOf(queryId: string): Promise<string | undefined | { unavailable: string }>;
  /**
   * Waits for one of `limit` slots of `scope` (a warehouse profile) across the team; the lease is renewed
   * while held and expires on its own if this replica dies. Undefined when Redis is unavailable (the
   * replica's own queue is then the limit).
   */
  acquireSlot(scope: string, limit: number, signal: AbortSignal): Promise<{ release(): void } | undefined>;
  /** Replicas seen in the last heartbeat (this one included). */
  replicas(): ReplicaSummary[];
  /** Starts shipping this replica's audit records to the team's stream `key` (see audit-stream.ts). */
  auditStream(key: string, max: number): AuditStreamShipper;
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
  /** How long a team query slot's lease lasts without renewal (default 15 s; renewed at a third of it). */
  slotLeaseMs?: number;
  /** Told when the replica joins Redis, falls back to local limits (with why), or first fails to reach it. */
  onModeChange?: (mode: 'connected' | 'local', why?: string) => void;
}

export function connectRedisTeam(opts: RedisTeamOptions): TeamState {
  const heartbeatMs = opts.heartbeatMs ?? 2_000;
  const redis = new Redis(opts.url, LIVE_REDIS_OPTIONS);
  let mode: 'connected' | 'local' = 'local';
  /** Whether the current mode was announced: a replica that never reached Redis (down, wrong password) says so too. */
  let announced = false;
  /** Why Redis was last unreachable (its error, never the URL: it may hold the password), for status and the terminal. */
  let lastError: string | undefined;
  let failures = 0;
  /** Times this replica fell back to local limits (Redis unreachable), for the metric. */
  let fallbacks = 0;
  let seen: ReplicaSummary[] = [];
  /**
   * Who ran each query this replica ran in the last 24 h, written to Redis or not: written again each time
   * the replica (re)joins Redis, which may have restarted empty (no persistence) or been unreachable when the
   * query ran. Without it, the owner of such a result is refused its pages on every other replica.
   */
  const owners = new LRUCache<string, string>({ max: 100_000, ttl: OWNER_TTL_MS });
  /** This replica's share of every identity's open quota windows, written again on the same occasions. */
  const myQuota = new QuotaShare();
  /**
   * Redis's clock minus this replica's monotonic clock, as the last admission read it (until then, this
   * replica's wall clock): this replica's share of the team's windows is kept on Redis's clock too, so it
   * names the windows Redis counts in (and writes back to them). Carried forward on the monotonic clock, so a
   * step of this machine's wall clock between admissions (while Redis is away, say) does not move the
   * windows the share is written back to on rejoin.
   */
  let redisAhead = Date.now() - performance.now();
  // Whole milliseconds, as Redis gives them: window keys are named by them.
  const redisNow = () => Math.floor(performance.now() + redisAhead);
  const restored = { owners: 0, quotaWindows: 0, at: null as string | null };
  /** Team slots held by this replica's calls still running (lease id → its zset), written back after a loss. */
  const heldLeases = new Map<string, string>();
  /** The team's state marker as this replica last saw it (STATE_MARKER_SCRIPT); undefined until it first read it. */
  let stateMarker: string | undefined;
  let checkingState: Promise<boolean> | undefined;
  /**
   * Set for two heartbeats after this replica rebuilt its part of a lost state: the other replicas notice
   * the loss at their next heartbeat at the latest, and until they have written their parts back, the
   * emptied counts would admit calls over a budget and grant slots that running calls hold.
   */
  let settling: Promise<void> | undefined;
  /** Redis losing the team's state under this replica, for status: how often, when last, what this replica wrote back. */
  const stateLost = { times: 0, at: null as string | null, rebuilt: null as { quotaWindows: number; owners: number; slots: number } | null };
  /**
   * Writes again what this replica put (or would have put) in Redis: Redis may have lost it. Calls run
   * meanwhile (the replica is connected again) and count in the same fields, so the quota shares go first,
   * each batch read from the share the moment it is sent, and merged by a script that only ever raises a
   * field: an increment Redis already has is in the share too, and one sent later lands on top. (The shares
   * were written after the owners, from a snapshot taken before them, as absolute values: increments made
   * in between were overwritten, and lost to the team until the next rejoin.)
   */
  const rejoin = async (): Promise<{ owners: number; quotaWindows: number } | undefined> => {
    const shares = myQuota.open(redisNow());
    const ownerEntries = [...owners.entries()];
    if (ownerEntries.length === 0 && shares.length === 0) return { owners: 0, quotaWindows: 0 };
    try {
      for (let i = 0; i < shares.length; i += 1_000) {
        const pipeline = redis.pipeline();
        const now = redisNow();
        for (const { key: k, prefix, windowMs } of shares.slice(i, i + 1_000)) {
          const share = myQuota.of(k, now);
          if (!share) continue;
          const { leftMs, usage } = share;
          (pipeline as unknown as QuotaSeedPipeline).smxQuotaSeed(k, lengthsKey(prefix), holdersKey, windowMs, myField('queries'), usage.queries, myField('rows'), usage.rows, myField('bytes'), usage.bytes, myField('scanBytes'), usage.scanBytes, prefix, leftMs + 60_000);
        }
        await execOrThrow(pipeline);
      }
      for (let i = 0; i < ownerEntries.length; i += 1_000) {
        const pipeline = redis.pipeline();
        for (const [queryId, owner] of ownerEntries.slice(i, i + 1_000)) {
          const ttl = Math.ceil(owners.getRemainingTTL(queryId));
          // NX: an owner Redis still holds is the same one; a query id never changes hands.
          if (ttl > 0) pipeline.set(key('owner', queryId), owner, 'PX', ttl, 'NX');
        }
        await execOrThrow(pipeline);
      }
      Object.assign(restored, { owners: ownerEntries.length, quotaWindows: shares.length, at: new Date().toISOString() });
      opts.logger.info({ owners: ownerEntries.length, quotaWindows: shares.length }, 'result owners and quota usage written to Redis again after rejoining it');
      return { owners: ownerEntries.length, quotaWindows: shares.length };
    } catch (err) {
      failed(err);
      opts.logger.warn({ err: hideUrlCredentials((err as Error).message) }, 'writing result owners and quota usage to Redis again failed; they are written at the next rejoin');
      return undefined;
    }
  };
  /**
   * Redis lost the team's state (the marker changed) while this replica was connected, or while it was away:
   * a FLUSHALL, a restart without persistence, a failover to an empty replica. Nothing else tells: the
   * connection may never drop, and every budget would restart and the slots of running calls be free again.
   * Writes back what this replica can (its quota share, its result owners, the slots its running calls
   * hold), and says once what was lost. The new marker is taken only then, so this replica's calls wait for
   * its share to be back before they are admitted against the emptied counts.
   */
  const stateWasLost = async (marker: string): Promise<void> => {
    stateLost.times += 1;
    stateLost.at = new Date().toISOString();
    const written = await rejoin();
    let slots = 0;
    if (heldLeases.size > 0) {
      try {
        const pipeline = redis.pipeline();
        for (const [lease, zset] of heldLeases) (pipeline as unknown as { smxRestoreSlot(k: string, lease: string, ttl: number): unknown }).smxRestoreSlot(zset, lease, leaseMs);
        await execOrThrow(pipeline);
        slots = heldLeases.size;
      } catch (err) {
        failed(err);
      }
    }
    settling = new Promise<void>((resolve) => setTimeout(resolve, heartbeatMs * 2).unref()).then(() => {
      settling = undefined;
    });
    stateMarker = marker;
    stateLost.rebuilt = { quotaWindows: written?.quotaWindows ?? 0, owners: written?.owners ?? 0, slots };
    opts.logger.warn(
      { lost: LOST_WITH_STATE, rebuilt: stateLost.rebuilt },
      "Redis lost the team's shared state (FLUSHALL, a restart without persistence, or a failover to an empty replica): quota usage, team slot leases and their waiting line, result owners, rate-limit buckets, the replica registry, team API keys and the audit stream were gone. This replica wrote back its quota share, its result owners and the slots of its calls running; usage counted by replicas no longer running is lost (those budgets restart in part), rate limits start full, and the audit stream's earlier records are only in each replica's own audit log",
    );
  };
  /**
   * Reads the team's state marker: the first read adopts it; another value later means Redis lost the
   * team's state, rebuilt before this resolves (true then). One check at a time: calls that find the
   * marker changed wait for the same rebuild.
   */
  const checkState = (): Promise<boolean> =>
    (checkingState ??= (async () => {
      try {
        const marker = await scripts.smxStateMarker(key('state'), `${opts.replicaId}@${new Date().toISOString()}`);
        if (stateMarker === undefined || marker === stateMarker) {
          stateMarker = marker;
          return false;
        }
        await stateWasLost(marker);
        return true;
      } catch (err) {
        failed(err);
        return false;
      } finally {
        checkingState = undefined;
      }
    })());
  /** The reason last said on the terminal and in the log for being on local limits. */
  let announcedWhy: string | undefined;
  const setMode = (next: 'connected' | 'local', why?: string) => {
    if (why !== undefined && next === 'local') lastError = hideUrlCredentials(why).replace(/\.$/, '');
    // Staying local for a new reason is said too: a password changed on a running Redis showed up as a
    // plain "connection closed", its WRONGPASS only in status, where nobody was looking.
    if (next === mode && announced && (next === 'connected' || lastError === announcedWhy)) return;
    if (next === 'local' && mode === 'connected') fallbacks += 1;
    // Back on Redis: a loss while away is rebuilt with what was lost said; otherwise the usual rejoin.
    if (next === 'connected' && mode === 'local') void checkState().then((rebuilt) => (rebuilt ? undefined : rejoin()));
    mode = next;
    announced = true;
    announcedWhy = next === 'local' ? lastError : undefined;
    if (next === 'local') opts.logger.warn({ why: lastError }, 'redis unreachable: rate limits are per replica until it is back');
    else opts.logger.info('redis connected: team-wide limits and registry');
    opts.onModeChange?.(next, next === 'local' ? lastError : undefined);
  };
  /**
   * A command got no reply in time: Redis holds the connection without answering. Every replica call would
   * wait as long, so go local now and reconnect; the new connection is ready (and the replica back on
   * team-wide limits) only once Redis answers again.
   */
  const failed = (err: unknown) => {
    if (mode !== 'connected') return;
    if (refusedByRedis(err)) {
      // Redis answers but refuses (OOM under maxmemory noeviction, READONLY, MISCONF): the connection stays,
      // limits go local, and the heartbeat's next successful write brings the replica back.
      setMode('local', `Redis refused a command: ${err.message}`);
      return;
    }
    if (!timedOut(err)) return;
    setMode('local', 'Redis did not answer in time');
    redis.disconnect(true);
  };
  redis.on('ready', () => {
    lastError = undefined;
    setMode('connected');
  });
  redis.on('error', (err: Error) => setMode('local', err.message));
  // A close that follows an error (a refused password, a refused connection) keeps that error as the reason.
  redis.on('close', () => setMode('local', lastError ?? 'connection closed'));
  redis.defineCommand('smxTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  redis.defineCommand('smxQuotaAdmit', { numberOfKeys: 3, lua: QUOTA_ADMIT_SCRIPT });
  redis.defineCommand('smxQuotaRecord', { numberOfKeys: 2, lua: QUOTA_RECORD_SCRIPT });
  redis.defineCommand('smxQuotaSeed', { numberOfKeys: 3, lua: QUOTA_SEED_SCRIPT });
  redis.defineCommand('smxQuotaHolders', { numberOfKeys: 1, lua: QUOTA_HOLDERS_SCRIPT });
  redis.defineCommand('smxAcquireSlot', { numberOfKeys: 5, lua: ACQUIRE_SLOT_SCRIPT });
  redis.defineCommand('smxRestoreSlot', { numberOfKeys: 1, lua: RESTORE_SLOT_SCRIPT });
  redis.defineCommand('smxStateMarker', { numberOfKeys: 1, lua: STATE_MARKER_SCRIPT });
  redis.defineCommand('smxLeaveSlotLine', { numberOfKeys: 2, lua: LEAVE_SLOT_LINE_SCRIPT });
  redis.defineCommand('smxRenewSlot', { numberOfKeys: 1, lua: RENEW_SLOT_SCRIPT });
  const scripts = redis as unknown as {
    smxQuotaAdmit(lengths: string, state: string, holders: string, ...args: (string | number)[]): Promise<number[]>;
    smxQuotaRecord(lengths: string, holders: string, ...args: (string | number)[]): Promise<number[]>;
    smxQuotaHolders(holders: string, max: number): Promise<string[]>;
    smxAcquireSlot(k: string, waiting: string, ticketExpiry: string, arrivals: string, state: string, limit: number, lease: string, ttl: number, ticket: string, ticketTtl: number, marker: string): Promise<number>;
    smxStateMarker(state: string, fresh: string): Promise<string>;
    smxLeaveSlotLine(waiting: string, ticketExpiry: string, ticket: string): Promise<number>;
    smxRenewSlot(k: string, lease: string, ttl: number): Promise<number>;
  };
  const leaseMs = opts.slotLeaseMs ?? 15_000;
  let leaseSeq = 0;
  const slotsWaiting = { now: 0, total: 0 };

  const key = (...parts: string[]) => [opts.namespace, ...parts].join(':');
  /** The set of window lengths in use of the holder whose windows' keys start with `prefix` (QUOTA_WINDOW_LUA). */
  const lengthsKey = (prefix: string) => `${prefix}:windows`;
  /** The team's index of the holders with usage in an open window (QUOTA_WINDOW_LUA's noteHolder). */
  const holdersKey = key('quota-holders');
  /** The marker, read first if this replica has not yet: undefined when Redis does not answer. */
  const knownMarker = async (): Promise<string | undefined> => stateMarker ?? (await checkState(), stateMarker);
  /** This replica's own field of a quota window's hash (the admission script sums every replica's). */
  const myField = (metric: string) => `${opts.replicaId}|${metric}`;
  let shipper: AuditStreamShipper | undefined;
  /**
   * The replicas grouped by the rules they apply, while they differ (two configs left after a partial rollout,
   * a reload run on one replica only): each replica applies its own, so a call's outcome depends on which one
   * takes it. Said once at warn per change (and when they agree again), and in status.
   */
  let policyDrift: { policy: string; replicas: string[] }[] | undefined;
  let policyDriftSaid = '';
  const notePolicyDrift = () => {
    const groups = new Map<string, string[]>();
    for (const r of seen) {
      if (typeof r.policy !== 'string') continue;
      const ids = groups.get(r.policy) ?? [];
      ids.push(r.id);
      groups.set(r.policy, ids);
    }
    policyDrift = groups.size > 1 ? [...groups].map(([policy, replicas]) => ({ policy, replicas })) : undefined;
    const said = policyDrift ? JSON.stringify(policyDrift) : '';
    if (said === policyDriftSaid) return;
    if (policyDrift) {
      opts.logger.warn(
        { replicaPolicies: policyDrift, thisReplica: opts.replicaId },
        "the team's replicas apply different rules (their config.toml differ in roles, policy, tools, [limits] rate or team_max_concurrent_queries): each replica applies its own, so whether a call is allowed depends on which replica takes it. Make config.toml the same on every replica, then run `snowmux reload` on each",
      );
    } else if (policyDriftSaid !== '') {
      opts.logger.info("the team's replicas apply the same rules again");
    }
    policyDriftSaid = said;
  };
  const beat = async () => {
    // Also while on local limits with the connection up (Redis refused a write): a write that succeeds rejoins.
    if (redis.status !== 'ready') return;
    try {
      const me: ReplicaSummary = { ...opts.summary(), id: opts.replicaId, at: new Date().toISOString() };
      await redis.set(key('replica', opts.replicaId), JSON.stringify(me), 'PX', heartbeatMs * 3);
      if (mode !== 'connected') {
        lastError = undefined;
        setMode('connected');
      } else {
        // A FLUSHALL keeps the connection: only the marker tells, also while no call uses Redis.
        await checkState();
      }
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', key('replica', '*'), 'COUNT', 100);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      const values = keys.length ? await redis.mget(...keys) : [];
      // One entry that is not a summary (another program's key, a damaged value) is left out: it threw here,
      // failing every heartbeat's read, and the registry stayed as it was (dead replicas listed, new ones never).
      seen = values.flatMap((v) => replicaSummaryOf(v)).sort((a, b) => a.id.localeCompare(b.id));
      notePolicyDrift();
    } catch (err) {
      failed(err);
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
        failed(err);
        failures += 1;
        opts.logger.debug({ err: (err as Error).message, failures }, 'redis rate-limit call failed; local limit applies');
        return undefined;
      }
    },
    async quotaAdmit(identity, rules, count) {
      if (mode !== 'connected' || rules.length === 0) return undefined;
      const prefix = key('quota', identity);
      const windows = [...new Map(rules.map((r) => [r.windowMs, rules.filter((x) => x.windowMs === r.windowMs)])).entries()];
      // Several rules over one window: the tightest limit of each metric applies.
      const tightest = (rs: QuotaRule[], m: 'queries' | 'rows' | 'bytes' | 'scanBytes') => {
        const set = rs.map((r) => r[m]).filter((v): v is number => v !== undefined);
        return set.length ? Math.min(...set) : -1;
      };
      const args = windows.flatMap(([w, rs]) => [w, tightest(rs, 'queries'), tightest(rs, 'rows'), tightest(rs, 'bytes'), tightest(rs, 'scanBytes')]);
      try {
        if (settling) await settling;
        for (let attempt = 0; attempt < 2; attempt++) {
          const marker = await knownMarker();
          if (marker === undefined) return undefined;
          const [admitted, at, ...rest] = await scripts.smxQuotaAdmit(lengthsKey(prefix), key('state'), holdersKey, opts.replicaId, count ? 1 : 0, prefix, marker, ...args);
          // Redis lost the team's state: admitted only once this replica's share is back (checkState rebuilds it).
          if (admitted === -1 || at === undefined) {
            await checkState();
            continue;
          }
          redisAhead = at - performance.now();
          const used = rest.slice(0, windows.length * 4);
          const lengths = rest.slice(windows.length * 4);
          myQuota.noteLengths(prefix, lengths);
          const usage = new Map<number, QuotaUsage>();
          windows.forEach(([w], i) => usage.set(w, { queries: used[i * 4]!, rows: used[i * 4 + 1]!, bytes: used[i * 4 + 2]!, scanBytes: used[i * 4 + 3]! }));
          if (admitted === 1) myQuota.add(prefix, lengths, at, { queries: 1, rows: 0, bytes: 0, scanBytes: 0 }, at);
          return { reserved: admitted === 1, usage, at };
        }
        return undefined;
      } catch (err) {
        failed(err);
        opts.logger.debug({ err: (err as Error).message }, 'redis quota admission failed; local quota applies');
        return undefined;
      }
    },
    async quotaRecord(identity, windowsMs, usage, at) {
      const prefix = key('quota', identity);
      // Kept whether or not Redis takes it now: written again when the replica rejoins. On Redis's clock as last
      // seen (the script reads it itself).
      const now = redisNow();
      const shareAt = at === undefined ? now : Math.min(at, now);
      const lengths = myQuota.lengthsOf(prefix, windowsMs);
      myQuota.add(prefix, lengths, shareAt, usage, now);
      if (mode !== 'connected' || windowsMs.length === 0) return false;
      try {
        const counted = await scripts.smxQuotaRecord(lengthsKey(prefix), holdersKey, opts.replicaId, prefix, at ?? -1, usage.queries, usage.rows, usage.bytes, Math.round(usage.scanBytes ?? 0), ...windowsMs);
        // A length another replica's rules started since this one last heard of the holder: counted there too.
        // Its window starts here from the windows within it, which hold this usage already: nothing to add.
        myQuota.add(prefix, counted.filter((w) => !lengths.includes(w)), shareAt, { queries: 0, rows: 0, bytes: 0, scanBytes: 0 }, now);
        myQuota.noteLengths(prefix, counted);
        return true;
      } catch (err) {
        failed(err);
        opts.logger.debug({ err: (err as Error).message }, 'redis quota write failed; recorded locally');
        return false;
      }
    },
    async quotaHolders() {
      if (mode !== 'connected') return undefined;
      try {
        const quotaPrefix = key('quota', '');
        return (await scripts.smxQuotaHolders(holdersKey, MAX_QUOTA_HOLDERS)).filter((p) => p.startsWith(quotaPrefix)).map((p) => p.slice(quotaPrefix.length));
      } catch (err) {
        failed(err);
        opts.logger.debug({ err: (err as Error).message }, "redis quota holders read failed; the usage last seen stays");
        return undefined;
      }
    },
    async rememberOwner(queryId, owner, lifetimeMs = OWNER_TTL_MS) {
      // Whole milliseconds for PX; an owner handed over from the journal has only part of its lifetime left.
      const ttlMs = Math.max(1, Math.ceil(lifetimeMs));
      owners.set(queryId, owner, { ttl: ttlMs });
      if (mode !== 'connected') return false;
      try {
        // NX: a reader the owner was unknown to (Redis away, or just emptied) is recorded too, and must not
        // take the result over from its owner, whose record another replica writes back.
        await redis.set(key('owner', queryId), owner, 'PX', ttlMs, 'NX');
        return true;
      } catch (err) {
        failed(err);
        opts.logger.debug({ err: (err as Error).message }, 'redis owner write failed; this replica remembers it');
        return false;
      }
    },
    async ownerOf(queryId) {
      if (mode !== 'connected') return { unavailable: lastError ?? 'Redis is not connected' };
      try {
        // Just after Redis lost the team's state, the owners are being written back by every replica.
        if (settling) await settling;
        return (await redis.get(key('owner', queryId))) ?? undefined;
      } catch (err) {
        failed(err);
        return { unavailable: hideUrlCredentials(errorMessage(err)) };
      }
    },
    async acquireSlot(scope, limit, signal) {
      const k = key('slots', scope);
      const line = [key('slots', scope, 'waiting'), key('slots', scope, 'ticket-expiry'), key('slots', scope, 'arrivals')] as const;
      const lease = `${opts.replicaId}:${++leaseSeq}`;
      // The lease id doubles as the ticket: one call, one place in the line.
      const ticket = lease;
      let queued = false;
      let delay = 20;
      slotsWaiting.now += 1;
      try {
        for (;;) {
          if (signal.aborted) throw signal.reason;
          if (mode !== 'connected') return undefined;
          try {
            const marker = await knownMarker();
            if (marker === undefined) return undefined;
            // Just after a loss, the other replicas' running calls may not have their leases back yet: wait.
            const granted = settling ? 0 : await scripts.smxAcquireSlot(k, ...line, key('state'), limit, lease, leaseMs, ticket, SLOT_TICKET_MS, marker);
            if (granted === 1) {
              queued = false;
              break;
            }
            // Redis lost the leases of the calls running: they are written back (checkState) before any is granted.
            if (granted === -1) {
              await checkState();
              continue;
            }
          } catch (err) {
            failed(err);
            opts.logger.debug({ err: (err as Error).message }, 'redis slot call failed; the local queue applies');
            return undefined;
          }
          if (!queued) slotsWaiting.total += 1;
          queued = true;
          // Polling with backoff (capped, jittered): the line keeps the order, the poll only how soon the
          // first in line sees its slot (within ~100–200 ms).
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, delay + Math.floor(Math.random() * delay));
            function done() {
              signal.removeEventListener('abort', done);
              clearTimeout(timer);
              resolve();
            }
            signal.addEventListener('abort', done, { once: true });
          });
          delay = Math.min(delay * 2, 100);
        }
      } finally {
        slotsWaiting.now -= 1;
        // A call that gave up (cancelled, timed out, Redis gone) leaves the line now rather than when its ticket expires.
        if (queued) scripts.smxLeaveSlotLine(line[0], line[1], ticket).catch(() => {});
      }
      heldLeases.set(lease, k);
      const renew = setInterval(() => {
        scripts.smxRenewSlot(k, lease, leaseMs).then(
          (held) => {
            if (held === 0) opts.logger.warn({ scope, lease }, "a running call's team query slot had left Redis (its lease expired while Redis was unreachable, or Redis lost it): put back, so the team's cap counts the call again");
          },
          () => {},
        );
      }, Math.max(100, Math.floor(leaseMs / 3)));
      renew.unref();
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          heldLeases.delete(lease);
          clearInterval(renew);
          redis.zrem(k, lease).catch(() => {});
        },
      };
    },
    replicas: () => (mode === 'connected' ? seen : []),
    auditStream(streamKey, max) {
      // Tried whenever the connection is up, also while a refused write keeps the limits local: the stream
      // takes records again as soon as Redis does (a refused batch is dropped and declared as a gap).
      // Records written before the first connection (hub_start) wait for it rather than go out as a gap.
      const firstReady = redis.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => redis.once('ready', () => resolve()));
      shipper ??= new AuditStreamShipper(redis, streamKey, max, opts.replicaId, () => redis.status === 'ready', opts.logger, firstReady);
      return shipper;
    },
    snapshot: () => ({
      mode,
      ...(mode === 'local' && lastError !== undefined ? { lastError } : {}),
      fallbacks,
      namespace: opts.namespace,
      replicaId: opts.replicaId,
      replicas: mode === 'connected' ? seen : [],
      slotWaits: { waiting: slotsWaiting.now, total: slotsWaiting.total },
      ...(mode === 'connected' && policyDrift ? { policyDrift } : {}),
      restored,
      ...(stateLost.times > 0 ? { stateLost } : {}),
      ...(shipper ? { auditStream: shipper.stats() } : {}),
    }),
    async close() {
      clearInterval(timer);
      // The records of the hub's last moments (hub_stop among them) reach the stream before Redis is let go.
      await shipper?.close(2_000);
      try {
        if (mode === 'connected') await redis.del(key('replica', opts.replicaId));
      } catch {
        /* going away anyway */
      }
      redis.disconnect();
    },
  };
}

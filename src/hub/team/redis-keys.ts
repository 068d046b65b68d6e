/**
 * API keys shared by every replica of a team hub: records (hashes, never secrets) in a Redis hash, with a
 * pub/sub message on every change so a revocation reaches every replica at once; each replica also
 * re-reads the hash every 30 s, in case a message was missed while it was disconnected. The replica's own
 * keys.json still counts (keys made before the team had Redis). While Redis is unreachable, the last
 * copy read stays in force: revocations made meanwhile apply once it is back.
 *
 * Either connection may die without a reset (a NAT or firewall that lost the flow, a network path that drops
 * packets): the subscriber is pinged every LIVENESS_MS, and a command of either that gets no reply within the
 * command timeout drops that connection, which reconnects and re-reads the hash. Without that, a replica kept
 * accepting revoked keys and refused new ones for as long as the kernel took to notice (minutes to hours).
 */
import { Redis } from 'ioredis';
import { SnowmuxError, errorMessage } from '../../errors.js';
import type { HubPlace } from '../../snowmux-command.js';
import { checkKey, findKey, newKey, rotation, type ApiKeyRecord, type ApiKeyStore, type KeyCheck, type KeyChecker } from '../keys/api-keys.js';
import type { Logger } from '../observe/logger.js';
import { hideUrlCredentials } from '../../shown-text.js';
import { LIVE_REDIS_OPTIONS, timedOut } from './redis-team.js';

const REFRESH_MS = 30_000;
/** How long an empty hash read at start is taken for keys not written back yet: one re-read period and a margin. */
const EMPTY_GRACE_MS = REFRESH_MS + 5_000;
/** How often the subscriber is asked to answer: a dead one would miss every change unnoticed. */
const LIVENESS_MS = 2_000;

const hashKey = (namespace: string) => `${namespace}:keys`;
const channel = (namespace: string) => `${namespace}:keys-changed`;

function parseRecords(values: Record<string, string>): Map<string, ApiKeyRecord> {
  const out = new Map<string, ApiKeyRecord>();
  for (const [id, json] of Object.entries(values)) {
    try {
      const r = JSON.parse(json) as ApiKeyRecord;
      if (r.id === id && typeof r.hash === 'string') out.set(id, r);
    } catch {
      /* a broken record authenticates no one */
    }
  }
  return out;
}

/** Whether `held` (Redis's copy of a key) lives longer than `known` (this replica's): no expiry, or a later one. */
function endsLater(held: ApiKeyRecord, known: ApiKeyRecord): boolean {
  if (!known.expiresAt) return false;
  return !held.expiresAt || Date.parse(held.expiresAt) > Date.parse(known.expiresAt);
}

export class RedisKeyStore implements KeyChecker {
  #records = new Map<string, ApiKeyRecord>();
  /** Whether the hash was read once: until then a key this replica does not know may be a valid team key. */
  #loaded = false;
  /** When this replica first read the hash empty, before it ever held keys (a Redis restarted without its data?). */
  #emptySince: number | undefined;
  /** Whether an unknown key is surely not a team key: the hash held keys once, or stayed empty past the grace. */
  #settled = false;
  #subscribed = false;
  /** Why the last re-read failed, while it does (said once at warn, and once when it works again). */
  #failing: string | null = null;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #timer: NodeJS.Timeout;
  readonly #liveness: NodeJS.Timeout;
  readonly #listeners: (() => void)[] = [];

  constructor(
    url: string,
    private readonly namespace: string,
    private readonly local: ApiKeyStore,
    private readonly logger: Logger,
  ) {
    this.#redis = new Redis(url, LIVE_REDIS_OPTIONS);
    // A subscriber must queue its SUBSCRIBE until connected (and re-subscribes after reconnects by itself).
    this.#subscriber = new Redis(url, { ...LIVE_REDIS_OPTIONS, enableOfflineQueue: true });
    this.#redis.on('error', () => {});
    this.#subscriber.on('error', () => {});
    this.#redis.on('ready', () => void this.refresh());
    // A SUBSCRIBE sent while Redis is down fails (no retries per command), and ioredis re-subscribes after a
    // reconnect only channels it once had: subscribe on each connection until one succeeds.
    const subscribe = () => {
      if (this.#subscribed) return;
      this.#subscriber.subscribe(channel(namespace)).then(
        () => (this.#subscribed = true),
        () => {},
      );
    };
    subscribe();
    // A subscriber back after a drop may have missed messages meanwhile: re-read what they announced.
    this.#subscriber.on('ready', () => {
      if (this.#subscribed) void this.refresh();
      subscribe();
    });
    this.#subscriber.on('message', () => void this.refresh());
    this.#timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.#timer.unref();
    // The subscriber only listens, so a dead connection would never show: it must answer a PING in time.
    this.#liveness = setInterval(() => {
      if (this.#subscriber.status !== 'ready') return;
      this.#subscriber.ping().catch((err: unknown) => {
        if (timedOut(err)) this.#subscriber.disconnect(true);
      });
    }, LIVENESS_MS);
    this.#liveness.unref();
  }

  async refresh(): Promise<void> {
    try {
      const fetched = parseRecords(await this.#redis.hgetall(hashKey(this.namespace)));
      await this.#restore(fetched);
      this.#records = fetched;
      this.#loaded = true;
      // An empty hash read before any with keys is either a team with no keys yet or a Redis that restarted
      // empty, whose keys the other replicas write back within their re-read period: until then, a key this
      // replica does not know is "cannot check yet" (503), not "not valid" (401).
      if (!this.#settled) this.#settled = fetched.size > 0 || performance.now() - (this.#emptySince ??= performance.now()) >= EMPTY_GRACE_MS;
    } catch (err) {
      const why = hideUrlCredentials(errorMessage(err));
      // Redis holds the connection without answering: drop it, so the reconnect's 'ready' re-reads.
      if (timedOut(err)) this.#redis.disconnect(true);
      if (this.#failing === null && this.#loaded) this.logger.warn({ why }, "team API keys could not be re-read from Redis; the last copy read stays in force (revocations and new keys apply once it answers)");
      this.#failing = why;
      return;
    }
    if (this.#failing !== null) {
      this.#failing = null;
      this.logger.info('team API keys re-read from Redis again');
    }
    for (const listener of this.#listeners) listener();
  }

  /**
   * No command removes a key from the hash (`keys revoke` marks it), a revocation is never undone, and an
   * expiry is never put later (`keys rotate` ends the old key's life at the overlap, or keeps an earlier
   * end): a key this replica knew that Redis lacks was lost with Redis's data (a restart without
   * persistence), and a key it knew revoked that Redis shows unrevoked, or expiring later or never, came back
   * from an older copy (a restart from an older snapshot, a failover to a replica that lagged). Both are
   * written back (a missing one only if still missing), so a Redis that restarted empty does not lock the
   * whole team out, nor bring a revoked key back, nor keep a rotated-out key working past its overlap.
   */
  async #restore(fetched: Map<string, ApiKeyRecord>): Promise<void> {
    const missing = [...this.#records.values()].filter((r) => !fetched.has(r.id));
    const unrevoked = [...this.#records.values()].filter((r) => r.revokedAt && fetched.has(r.id) && !fetched.get(r.id)!.revokedAt);
    const outlived = [...this.#records.values()].filter((r) => !unrevoked.includes(r) && fetched.has(r.id) && endsLater(fetched.get(r.id)!, r));
    if (missing.length === 0 && unrevoked.length === 0 && outlived.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const r of missing) pipeline.hsetnx(hashKey(this.namespace), r.id, JSON.stringify(r));
    // The older copy's revocation, if it has one, stays with the earlier end.
    const ended = outlived.map((r) => ({ ...r, revokedAt: fetched.get(r.id)!.revokedAt ?? r.revokedAt }));
    for (const r of [...unrevoked, ...ended]) pipeline.hset(hashKey(this.namespace), r.id, JSON.stringify(r));
    pipeline.publish(channel(this.namespace), 'restored');
    await pipeline.exec();
    for (const r of [...missing, ...unrevoked, ...ended]) fetched.set(r.id, r);
    this.logger.warn(
      { restored: missing.map((r) => r.id), revokedAgain: unrevoked.map((r) => r.id), expiryRestored: ended.map((r) => r.id) },
      missing.length > 0
        ? 'team keys missing from Redis (did it restart without persistence?) were written back from this replica\'s copy'
        : "team keys Redis holds in an older state (revoked or rotated since: did it restart from an older snapshot, or fail over to a replica that lagged?) were written back from this replica's copy",
    );
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves once the team's keys have been read from Redis (at once if they have). */
  loaded(): Promise<void> {
    if (this.#loaded) return Promise.resolve();
    return new Promise((resolve) => this.onChange(() => this.#loaded && resolve()));
  }

  get activeCount(): number {
    const now = Date.now();
    const all = [...this.#records.values(), ...this.local.records()];
    return all.filter((r) => !r.revokedAt && !(r.expiresAt && Date.parse(r.expiresAt) <= now)).length;
  }

  check(token: string | undefined): KeyCheck {
    const local = this.local.check(token);
    if (local.ok || local.reason !== 'unknown') return local;
    const why = this.unavailable();
    if (why !== null) return { ok: false, reason: 'unavailable', ...(local.id === undefined ? {} : { id: local.id }), why };
    const checked = checkKey(token!, (id) => this.#records.get(id), Date.now());
    // Serving (the hash was read) but it was empty: a key not there yet may be one the other replicas are
    // writing back after Redis lost them, so "cannot check yet" rather than "not valid" for a short while.
    if (!checked.ok && checked.reason === 'unknown' && !this.#settled) {
      return { ok: false, reason: 'unavailable', id: checked.id, why: "the team's API keys read from Redis are empty (did it restart without its data?), and the other replicas may be writing them back" };
    }
    return checked;
  }

  unavailable(): string | null {
    return this.#loaded ? null : "the team's API keys are not loaded yet: this replica has not read them from Redis (hub.redis_url) since it started";
  }

  close(): void {
    clearInterval(this.#timer);
    clearInterval(this.#liveness);
    this.#redis.disconnect();
    this.#subscriber.disconnect();
  }
}

/** How long `snowmux keys` waits for one Redis command: a Redis that holds the connection but never answers. */
const KEYS_COMMAND_TIMEOUT_MS = 5_000;
/** How often `snowmux keys` reads again when another operator wrote the keys between its read and its write. */
const MAX_WRITE_ATTEMPTS = 5;

/** `snowmux keys` on a team hub: the same operations on the shared hash, announced to every replica. */
export async function withTeamKeys<T>(url: string, namespace: string, fn: (ops: TeamKeyOps) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, commandTimeout: KEYS_COMMAND_TIMEOUT_MS, retryStrategy: () => null });
  // What Redis said (a refused password, say): the connect call itself only learns that the connection closed.
  let refused: Error | undefined;
  redis.on('error', (err: Error) => (refused = err));
  try {
    await redis.connect();
  } catch (err) {
    const why = hideUrlCredentials((refused ?? (err as Error)).message).replace(/\.$/, '');
    // A refused login is the config's to fix (hub.redis_url's password); a Redis that does not answer is not.
    const code = /WRONGPASS|NOAUTH|NOPERM/.test(why) ? 'CONFIG_INVALID' : 'TEAM_REDIS_FAILED';
    throw new SnowmuxError(code, `Cannot reach the team's Redis at hub.redis_url (${why}); keys of a team hub live there, and nothing was changed. Start Redis (or make it answer), or fix hub.redis_url (its password too), then run the command again. (For a key of this home's keys.json, add --local: that needs no Redis.)`);
  }
  /**
   * A command Redis failed or never answered, as what it means for the key: whether the change was made,
   * and what to do. Redis's own words (OOM, READONLY, a timeout) follow, without the URL's password.
   */
  const step = async <R>(run: () => Promise<R>, notDone: string): Promise<R> => {
    try {
      return await run();
    } catch (err) {
      const why = hideUrlCredentials(errorMessage(err)).replace(/\.$/, '');
      throw new SnowmuxError('TEAM_REDIS_FAILED', `The team's Redis (hub.redis_url) did not do it: ${why}. ${notDone} Make Redis answer writes again (a full maxmemory, a replica that is read-only, a stopped server), then run the command again.`);
    }
  };
  /** The change is in the hash: a replica that misses the message still applies it at its next re-read. */
  const announce = (done: string) =>
    redis.publish(channel(namespace), 'changed').then(
      () => undefined,
      (err: unknown) => {
        throw new SnowmuxError('TEAM_REDIS_FAILED', `${done}, but telling the replicas failed (${hideUrlCredentials(errorMessage(err)).replace(/\.$/, '')}): each applies it at its next re-read of the keys, within 30 s.`);
      },
    );
  try {
    const list = () => step(async () => [...parseRecords(await redis.hgetall(hashKey(namespace))).values()], 'Nothing was changed.');
    /**
     * Reads the keys, decides the change, and writes it only if nobody wrote the hash meanwhile (WATCH, then
     * MULTI/EXEC), else reads again. Read-then-write let a rotate that read before another operator's revoke
     * write the key back unrevoked; now the rotate reads again and finds the key revoked.
     */
    const update = async <R>(change: (records: ApiKeyRecord[]) => { writes: ApiKeyRecord[]; result: R; notDone: string }): Promise<R> => {
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        await step(() => redis.watch(hashKey(namespace)), 'Nothing was changed.');
        const { writes, result, notDone } = change(await list());
        const fields = writes.flatMap((r) => [r.id, JSON.stringify(r)]);
        const done = await step(async () => {
          const replies = await redis.multi().hset(hashKey(namespace), ...fields).exec();
          const failed = replies?.find(([err]) => err !== null)?.[0];
          if (failed) throw failed;
          return replies;
        }, notDone);
        // Null: the hash changed after WATCH, and Redis wrote nothing.
        if (done !== null) return result;
      }
      throw new SnowmuxError('TEAM_REDIS_FAILED', `The team's keys kept changing in Redis while this command ran (${MAX_WRITE_ATTEMPTS} tries): nothing was changed. Run the command again.`);
    };
    return await fn({
      list,
      async create(identity, expiresAt) {
        const made = newKey(identity, expiresAt);
        await step(() => redis.hset(hashKey(namespace), made.record.id, JSON.stringify(made.record)), 'No key was created.');
        await announce(`Key ${made.record.id} was created`);
        return made;
      },
      async revoke(prefix) {
        const target = await update((records) => {
          const found = findKey(records, prefix);
          if (found.revokedAt === null) found.revokedAt = new Date().toISOString();
          return { writes: [found], result: found, notDone: `Key ${found.id} was NOT revoked: it still works.` };
        });
        await announce(`Key ${target.id} is revoked in Redis`);
        return target;
      },
      async rotate(prefix, overlapEnds, expiresAt, place) {
        const rotated = await update((records) => {
          const made = rotation(records, prefix, overlapEnds, expiresAt, new Date(), place);
          // One HSET for both: a reader never sees the new key without the old one's new expiry, or the reverse.
          return { writes: [made.old, made.record], result: made, notDone: `Key ${made.old.id} was NOT rotated: it works as before, and no new key was made.` };
        });
        await announce(`Key ${rotated.record.id} was made to replace ${rotated.old.id}`);
        return rotated;
      },
    });
  } finally {
    redis.disconnect();
  }
}

export interface TeamKeyOps {
  list(): Promise<ApiKeyRecord[]>;
  create(identity: string, expiresAt: Date | null): Promise<{ key: string; record: ApiKeyRecord }>;
  revoke(prefix: string): Promise<ApiKeyRecord>;
  /** `place`: the home and config the command runs with, for the advice its errors give. */
  rotate(prefix: string, overlapEnds: Date, expiresAt: Date | null | undefined, place?: HubPlace): Promise<{ key: string; record: ApiKeyRecord; old: ApiKeyRecord }>;
}

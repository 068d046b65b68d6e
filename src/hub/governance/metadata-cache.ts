/**
 * Metadata answers shared by every session of the hub: ten editors asking the same `list_tables` cause one
 * warehouse round trip (in-flight requests are joined) and, for the TTL, none. Keys name the warehouse
 * instance (one profile's pool), the Snowflake role and warehouse the call runs as, the operation and its
 * arguments — never the hub role, whose object filter applies after the cache, per caller.
 *
 * A joined request that fails only because the caller who started it cancelled is retried by the next
 * caller in line, so one editor's cancel never fails another's call.
 */
import { LRUCache } from 'lru-cache';
import { isSnowmuxError } from '../../errors.js';

export interface MetadataCacheStats {
  entries: number;
  hits: number;
  misses: number;
  /** Requests that joined one already in flight. */
  joined: number;
  ttlMs: number;
}

export class MetadataCache {
  readonly #values: LRUCache<string, { value: unknown }>;
  readonly #inFlight = new Map<string, Promise<unknown>>();
  readonly #ttlMs: number;
  #hits = 0;
  #misses = 0;
  #joined = 0;
  /** Bumped by clear(): a listing that started before it is neither kept nor joined after it. */
  #generation = 0;

  constructor(opts: { ttlMs: number; maxEntries?: number }) {
    this.#ttlMs = opts.ttlMs;
    this.#values = new LRUCache({ max: opts.maxEntries ?? 5_000, ttl: Math.max(1, opts.ttlMs) });
  }

  async get<T>(key: string, signal: AbortSignal, load: () => Promise<T>): Promise<T> {
    for (;;) {
      if (this.#ttlMs > 0) {
        const hit = this.#values.get(key);
        if (hit) {
          this.#hits += 1;
          return hit.value as T;
        }
      }
      let flight = this.#inFlight.get(key) as Promise<T> | undefined;
      const mine = flight === undefined;
      if (flight === undefined) {
        this.#misses += 1;
        flight = load();
        const started = flight;
        const generation = this.#generation;
        this.#inFlight.set(key, started);
        started.then(
          (value) => {
            if (this.#ttlMs > 0 && generation === this.#generation) this.#values.set(key, { value });
          },
          () => {},
        ).finally(() => {
          if (this.#inFlight.get(key) === started) this.#inFlight.delete(key);
        });
      } else {
        this.#joined += 1;
      }
      try {
        return await untilAborted(flight, signal);
      } catch (err) {
        // The caller who started it went away; ours is still wanted: go again.
        if (!mine && !signal.aborted && isSnowmuxError(err, 'QUERY_CANCELLED')) continue;
        throw err;
      }
    }
  }

  /**
   * `snowmux reload`, or a statement through the hub that changed objects or grants: everything is fetched
   * afresh, including what was being fetched when the change ran (it may predate it).
   */
  clear(): void {
    this.#generation += 1;
    this.#values.clear();
    this.#inFlight.clear();
  }

  stats(): MetadataCacheStats {
    return { entries: this.#values.size, hits: this.#hits, misses: this.#misses, joined: this.#joined, ttlMs: this.#ttlMs };
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

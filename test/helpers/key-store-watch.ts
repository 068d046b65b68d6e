/** Watching a team's key store from a test: what it says of a key, and waiting until it says what the test expects. */
import type { RedisKeyStore } from '../../src/hub/team/redis-keys.js';

export function watchKeyStore(store: RedisKeyStore): {
  /** Resolves once `ok` holds after one of the store's re-reads of the keys; fails past `withinMs`. */
  after(ok: () => boolean, withinMs: number, what: string): Promise<void>;
  /** 'ok', or why the store refuses the key. */
  verdict(key: string): string;
} {
  return {
    after: (ok, withinMs, what) =>
      new Promise<void>((resolve, reject) => {
        if (ok()) return resolve();
        const timer = setTimeout(() => reject(new Error(`${what}: not within ${withinMs} ms`)), withinMs);
        store.onChange(() => {
          if (!ok()) return;
          clearTimeout(timer);
          resolve();
        });
      }),
    verdict: (key) => {
      const check = store.check(key);
      return check.ok ? 'ok' : check.reason;
    },
  };
}

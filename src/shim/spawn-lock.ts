/**
 * A start-up lock in the home, so that ten shims opening at once start exactly one hub.
 * O_EXCL creation is atomic on local filesystems; a lock whose owner died, or that is older than
 * the start-up deadline, is stale and may be taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../wire/process-alive.js';

export const SPAWN_LOCK_NAME = 'hub-start.lock';

export interface SpawnLock {
  release(): void;
}

export function tryAcquireSpawnLock(home: string, staleAfterMs: number): SpawnLock | null {
  const path = join(home, SPAWN_LOCK_NAME);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid} ${Date.now()}\n`);
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            // Only remove our own lock: a stale-lock takeover may have replaced it.
            if (readFileSync(path, 'utf8').startsWith(`${process.pid} `)) rmSync(path, { force: true });
          } catch {
            /* already gone */
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return null;
      if (!isStale(path, staleAfterMs)) return null;
      rmSync(path, { force: true });
    }
  }
  return null;
}

function isStale(path: string, staleAfterMs: number): boolean {
  try {
    const [pidText] = readFileSync(path, 'utf8').split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) return true;
    return Date.now() - statSync(path).mtimeMs > staleAfterMs;
  } catch {
    return false;
  }
}

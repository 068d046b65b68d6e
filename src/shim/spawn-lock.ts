/**
 * A start-up lock in the home, so that ten shims opening at once start exactly one hub (and, by another
 * name, that of the hubs of a take-over exactly one claims the audit writer at a time).
 * O_EXCL creation is atomic on local filesystems; a lock whose owner died, is stopped (SIGSTOP), or whose
 * pid now names another process, or that is older than the start-up deadline, is stale and may be taken over.
 * A shim that leaves while starting a hub (its editor closed stdin, a signal) exits through process.exit,
 * which skips the `finally` that releases the lock: the lock goes with the process ('exit'), and only a
 * SIGKILL leaves one behind — whose dead pid lets the next shim take it over at once.
 */
import { closeSync, existsSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { isNotAFile, readStateFile, stateFileFix } from '../wire/bounded-read.js';
import { dirname, join } from 'node:path';
import { shellWord } from '../shell-word.js';
import { SnowmuxError } from '../errors.js';
import { processAlive, processStartTicks, processStopped } from '../wire/process-alive.js';

export const SPAWN_LOCK_NAME = 'hub-start.lock';

/**
 * A lock without its owner's pid is one whose writer was killed between creating it and writing the pid
 * (microseconds apart): after this long it is nobody's.
 */
const UNWRITTEN_LOCK_STALE_MS = 2_000;

export interface SpawnLock {
  release(): void;
}

/**
 * The lock, or null while another process holds it. A home where the lock cannot be written at all (a full
 * or read-only disk, no permission) throws HOME_UNUSABLE saying so: waiting would only end in "no hub
 * answered", and a half-written lock (created, then the write failed) would block the next start.
 */
export function tryAcquireSpawnLock(home: string, staleAfterMs: number, name = SPAWN_LOCK_NAME): SpawnLock | null {
  const path = join(home, name);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        // The pid's start time too: a pid reused by another process (or one of another pid namespace
        // sharing the home) must not hold the lock until it is old enough to count as stale.
        writeSync(fd, `${process.pid} ${Date.now()} ${processStartTicks(process.pid) ?? '-'}\n`);
      } catch (err) {
        rmSync(path, { force: true });
        throw unusable(path, err);
      } finally {
        closeSync(fd);
      }
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        process.off('exit', release);
        try {
          // Only remove our own lock: a stale-lock takeover may have replaced it.
          if (readStateFile(path).startsWith(`${process.pid} `)) rmSync(path, { force: true });
        } catch {
          /* already gone */
        }
      };
      process.once('exit', release);
      return { release };
    } catch (err) {
      if (err instanceof SnowmuxError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(path, err);
      if (!isStale(path, staleAfterMs)) return null;
      rmSync(path, { force: true });
    }
  }
  return null;
}

function unusable(path: string, err: unknown): SnowmuxError {
  const home = dirname(path);
  if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(home)) return homeGone(home, err);
  return new SnowmuxError('HOME_UNUSABLE', `Cannot start a hub: the start-up lock ${path} cannot be written (${(err as Error).message}). Free space on that disk or fix its permissions, or choose another home with --home or SNOWMUX_HOME.`, { cause: err });
}

/**
 * A lock's name taken by something that is not a lock file (a FIFO made reading it block for ever, a
 * directory made every shim wait out its deadline, then say "no hub answered"): refused at once, named.
 */
function notALock(path: string, err: unknown): SnowmuxError {
  return new SnowmuxError('HOME_UNUSABLE', `Cannot start a hub: the lock ${path} is taken by something that is not a lock file (${(err as Error).message}); ${stateFileFix(path)}`, { cause: err });
}

/**
 * The home was there (the shim made or checked it at start) and is gone now: moved or deleted under a running
 * editor. Said as such; a full disk or permissions were the advice before. It is not re-created here: a moved
 * home's config (roles, limits) and audit log would stay behind, and a hub started in a fresh one would serve
 * the editor without them, unseen. Once the home is back (or made anew), the shim's next try starts a hub.
 */
function homeGone(home: string, err: unknown): SnowmuxError {
  return new SnowmuxError(
    'HOME_UNUSABLE',
    `The snowmux home ${home} no longer exists: it was moved or deleted while snowmux was running, so no hub can start there. ` +
      `Move it back, or, to start over with a new home there (default config, a new audit log), create it: mkdir -m 700 ${shellWord(home)}. The editor's next call then starts a hub there (restarting the editor's MCP server creates the home anew as well).`,
    { cause: err },
  );
}

function isStale(path: string, staleAfterMs: number): boolean {
  let text: string;
  try {
    text = readStateFile(path);
  } catch (err) {
    if (isNotAFile(err)) throw notALock(path, err);
    return false;
  }
  try {
    const [pidText, , ticks] = text.trim().split(' ');
    const pid = Number(pidText);
    if (!(Number.isInteger(pid) && pid > 0)) return Date.now() - statSync(path).mtimeMs > Math.min(staleAfterMs, UNWRITTEN_LOCK_STALE_MS);
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) return true;
    // Stopped (SIGSTOP, Ctrl-Z: a shim frozen with its editor): it starts nothing until resumed, and a
    // hub it started then loses the race to the one started now. Outwaiting it only delayed every editor.
    if (processStopped(pid) === true) return true;
    // Alive, but not the process that wrote the lock: its pid was reused.
    if (ticks !== undefined && ticks !== '-' && Number.isInteger(pid) && pid > 0) {
      const now = processStartTicks(pid);
      if (now !== null && now !== ticks) return true;
    }
    return Date.now() - statSync(path).mtimeMs > staleAfterMs;
  } catch {
    return false;
  }
}

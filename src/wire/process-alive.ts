import { readFileSync } from 'node:fs';

/**
 * Whether a process runs, for lock and hand-over files that name a pid. EPERM means it exists but belongs
 * to someone else — alive all the same. A zombie (exited, not yet reaped by its parent) is not: it holds no
 * socket, lock or file any more, and `kill(pid, 0)` still succeeds on it. A hub killed (SIGKILL, the OOM
 * killer) after its shim exited is reaped by whatever adopted it, which in a container is often a PID 1
 * that never reaps (`sleep infinity`): its `hub.pid` then refused every later hub for good, naming a pid
 * that `kill` cannot end. Node builtins only: the shim uses it.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return statFields(pid)?.[0] !== 'Z';
}

/** The fields of Linux /proc/<pid>/stat from the state on (field 3), or null where unknown (not Linux, gone). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * When the process started, in clock ticks since boot (Linux /proc/<pid>/stat field 22), or null where
 * unknown. With the pid it names one process for good: pids are reused, start times are not.
 */
export function processStartTicks(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** The command line of a process, or null where unknown (not Linux, gone, or not ours to read). */
export function processCommandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

/**
 * Whether a process is stopped (SIGSTOP, Ctrl-Z, a debugger's stop: state T or t), or null where unknown.
 * A stopped process answers nothing and lets go of nothing (a socket, a port, a lock) until it is resumed.
 */
export function processStopped(pid: number): boolean | null {
  const state = statFields(pid)?.[0];
  return state === undefined ? null : state === 'T' || state === 't';
}

import { readFileSync } from 'node:fs';

/**
 * Whether a process exists, for lock and hand-over files that name a pid. EPERM means it exists but
 * belongs to someone else — alive all the same. Node builtins only: the shim uses it.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When the process started, in clock ticks since boot (Linux /proc/<pid>/stat field 22), or null where
 * unknown. With the pid it names one process for good: pids are reused, start times are not.
 */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
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
 * Whether a process is stopped (SIGSTOP, Ctrl-Z, a debugger's stop: state T or t in Linux
 * /proc/<pid>/stat), or null where unknown (not Linux, gone). A stopped process answers nothing and lets
 * go of nothing (a socket, a port, a lock) until it is resumed.
 */
export function processStopped(pid: number): boolean | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't';
  } catch {
    return null;
  }
}

/**
 * Whether a process has exited but not been reaped (a zombie: state Z in Linux /proc/<pid>/stat). `kill(pid, 0)`
 * still succeeds on one, so a process whose parent has not waited for it looks alive to processAlive.
 */
export function processZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

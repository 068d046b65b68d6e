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

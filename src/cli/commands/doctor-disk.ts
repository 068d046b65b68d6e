/**
 * doctor's view of what the running hub itself reports, and of free space where a hub writes: a hub whose
 * audit log cannot write (a full disk) is not "All checks passed". Kept apart from doctor-command.ts's
 * start-up checks: these look at a hub that runs, and at the disk under it.
 */
import { existsSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { snowmuxCommand } from '../../snowmux-command.js';

/** A check as doctor-command.ts's `Check` (its shape, not an import: doctor-command imports this file). */
interface Check {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

/** The running hub's own judgement (status.health, the same /readyz answers by); absent from older hubs. */
export interface RunningHealth {
  ok?: unknown;
  reasons?: unknown;
  warnings?: unknown;
}

/**
 * Each reason the running hub gives for being unhealthy, and each of its warnings (audit records not being
 * written, a stale audit-head, a warehouse that cannot serve…), as a failed check: doctor must not pass a
 * hub that says something is wrong now. The hub's lines already say what to do.
 */
export function runningHubHealth(health: RunningHealth | undefined, home: string): Check[] {
  if (health === undefined || health === null || typeof health !== 'object') return [];
  const lines = [...asLines(health.reasons), ...asLines(health.warnings)];
  const fix = `See \`${snowmuxCommand('status', home)}\` (and its log: \`${snowmuxCommand('logs --level warn', home)}\`); run doctor again once it is fixed.`;
  return lines.map((line): Check => ({ check: 'hub health', status: 'fail', detail: `the running hub reports: ${line}`, fix }));
}

function asLines(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Below this a hub's next audit file, log rotation or sample build is likely to fail: a failed check. */
export const MIN_FREE_BYTES = 16 * 1024 * 1024;
/** Below this, a warning: a busy hub writes its audit log at tens of MiB an hour, in files of up to [audit] max_file_mb (64 MiB by default). */
export const LOW_FREE_BYTES = 256 * 1024 * 1024;

type StatFs = (path: string) => { bavail: number; bsize: number; ffree: number; files: number };
const MIB = 1024 * 1024;

/**
 * Free space (and inodes) on the filesystem of the home and of the audit directory, once per filesystem:
 * `access(W_OK)` passes on a full disk, where every audit append fails with ENOSPC. A path not made yet is
 * judged by its nearest existing parent (where the hub will make it).
 */
export function checkFreeSpace(home: string, auditDir: string | undefined, statfs: StatFs = statfsSync): Check[] {
  const checks: Check[] = [];
  const seen = new Set<number>();
  for (const [what, path] of [['home', home], ['audit', auditDir]] as const) {
    if (path === undefined) continue;
    const at = nearestExisting(path);
    if (at === undefined) continue;
    let dev: number;
    try {
      dev = statSync(at).dev;
    } catch {
      continue;
    }
    if (seen.has(dev)) continue;
    seen.add(dev);
    let fs: ReturnType<StatFs>;
    try {
      fs = statfs(at);
    } catch {
      continue; // a filesystem that cannot say: the other checks judge it
    }
    const free = fs.bavail * fs.bsize;
    const shown = `${(free / MIB).toFixed(1)} MiB`;
    const holds = what === 'home' ? `the home ${home}${auditDir !== undefined && sameDevice(auditDir, dev) ? ' and the audit log' : ''}` : `the audit directory ${auditDir ?? ''}`;
    const fix = `Free space on that filesystem (the hub's audit log, hub.log and sample need room; under [audit] on_failure = "refuse" a hub refuses calls while its records cannot be written), or move ${what === 'home' ? 'the home (--home, SNOWMUX_HOME)' : '[audit] dir'} to a filesystem with room.`;
    if (fs.files > 0 && fs.ffree === 0) {
      checks.push({ check: 'disk', status: 'fail', detail: `the filesystem of ${holds} has no free inodes: no new file can be made there (a new audit file, hub.log's rotation)`, fix });
    } else if (free < MIN_FREE_BYTES) {
      checks.push({ check: 'disk', status: 'fail', detail: `the filesystem of ${holds} has ${shown} free, under the ${MIN_FREE_BYTES / MIB} MiB a hub needs to write its audit log safely`, fix });
    } else if (free < LOW_FREE_BYTES) {
      checks.push({ check: 'disk', status: 'warn', detail: `the filesystem of ${holds} has ${shown} free (under ${LOW_FREE_BYTES / MIB} MiB): audit records stop being written when it fills`, fix });
    } else {
      checks.push({ check: 'disk', status: 'ok', detail: `${shown} free for ${holds}` });
    }
  }
  return checks;
}

function nearestExisting(path: string): string | undefined {
  let at = path;
  for (;;) {
    if (existsSync(at)) return at;
    const up = dirname(at);
    if (up === at) return undefined;
    at = up;
  }
}

function sameDevice(path: string, dev: number): boolean {
  const at = nearestExisting(path);
  try {
    return at !== undefined && statSync(at).dev === dev;
  } catch {
    return false;
  }
}

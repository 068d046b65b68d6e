/**
 * The home's audit-writer claim (`audit-writer.pid`): which hub process writes the home's audit log. A hub
 * takes it at start and holds it until it exits, through a drain that has already given up the socket, so
 * it also tells `snowmux status` that a hub is still there when the socket no longer answers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, processCommandLine, processStartTicks } from './process-alive.js';

const AUDIT_WRITER_FILE = 'audit-writer.pid';

/** The claim: a pid and, where known, its start time; null when there is none to read. */
export function readAuditClaim(home: string): { pid: number; started: string | undefined } | null {
  try {
    const [pidText, startText] = readFileSync(join(home, AUDIT_WRITER_FILE), 'utf8').trim().split(/\s+/);
    return { pid: Number(pidText), started: startText };
  } catch {
    return null;
  }
}

/**
 * The live process the claim names, other than this one. A pid that now belongs to an unrelated process
 * (reused after a crash or a reboot) is stale. Where start times are unknown (not Linux), a live pid
 * counts, unless its command line is readable and is not a snowmux one.
 */
export function liveAuditWriter(home: string): number | null {
  const claim = readAuditClaim(home);
  if (claim === null) return null;
  const { pid, started } = claim;
  if (pid === process.pid) return null;
  return liveSnowmuxProcess(pid, started) ? pid : null;
}

/** Whether `pid` (started at `started`, where known) is still that snowmux process, not gone or reused. */
export function liveSnowmuxProcess(pid: number, started: string | undefined): boolean {
  if (!processAlive(pid)) return false;
  const actualStart = processStartTicks(pid);
  if (started !== undefined && actualStart !== null) return started === actualStart;
  const command = processCommandLine(pid);
  return command === null || command.includes('snowmux');
}

/** This process takes the claim. */
export function claimAuditWriter(home: string): void {
  const started = processStartTicks(process.pid);
  writeFileSync(join(home, AUDIT_WRITER_FILE), `${process.pid}${started === null ? '' : ` ${started}`}\n`, { mode: 0o600 });
}

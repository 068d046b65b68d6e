/**
 * The home's audit-writer claim (`audit-writer.pid`): which hub process writes the home's audit log. A hub
 * takes it at start and holds it until it exits, through a drain that has already given up the socket, so
 * it also tells `snowmux status` that a hub is still there when the socket no longer answers.
 */
import { constants, writeFileSync } from 'node:fs';
import { SnowmuxError } from '../errors.js';
import { closeQuietly, isNotAFile, openStateFile, readStateFile, stateFileFix } from './bounded-read.js';
import { join } from 'node:path';
import { processAlive, processCommandLine, processStartTicks } from './process-alive.js';

const AUDIT_WRITER_FILE = 'audit-writer.pid';

/** The claim: a pid and, where known, its start time; null when there is none to read. */
export function readAuditClaim(home: string): { pid: number; started: string | undefined } | null {
  try {
    // Never a blocking read: a FIFO there hung the hub at start (and status).
    const [pidText, startText] = readStateFile(join(home, AUDIT_WRITER_FILE), 4096).trim().split(/\s+/);
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
  const path = join(home, AUDIT_WRITER_FILE);
  let fd: number;
  try {
    ({ fd } = openStateFile(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC));
  } catch (err) {
    if (isNotAFile(err)) throw new SnowmuxError('HOME_UNUSABLE', `Cannot claim the audit log: ${path} is taken by something that is not the hub's pid file (${(err as Error).message}); ${stateFileFix(path)}`, { cause: err });
    throw err;
  }
  try {
    writeFileSync(fd, `${process.pid}${started === null ? '' : ` ${started}`}\n`);
  } finally {
    closeQuietly(fd);
  }
}

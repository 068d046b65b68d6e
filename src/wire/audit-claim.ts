/**
 * The home's audit-writer claim (`audit-writer.pid`): which hub process writes the home's audit log. A hub
 * takes it at start and holds it until it exits, through a drain that has already given up the socket, so
 * it also tells `snowmux status` that a hub is still there when the socket no longer answers.
 */
import { constants, statSync, writeFileSync } from 'node:fs';
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
 * Whether this process still holds the claim (or none is there to read: nothing says another hub writes), for
 * the audit log's check before each write. The claim is read again only when its file changed (another inode,
 * size, modification or change time): one stat per write instead of an open, fstat, read and close, which
 * cost every call on a slow-syscall host. A claim rewritten between the stat and the read is seen changed at
 * the next check, and read then; one written in the last 2 s is read at every check (file times are coarse).
 */
const RECENT_CLAIM_MS = 2_000;

export function ownClaimWatch(home: string): () => boolean {
  const path = join(home, AUDIT_WRITER_FILE);
  let seen: string | undefined;
  let holds = true;
  return () => {
    let key = 'none';
    let recent = false;
    try {
      const st = statSync(path, { bigint: true });
      key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      // File times move in coarse ticks (a few ms): two writes of one size within a tick look alike, so a
      // claim changed lately is read every time.
      recent = Date.now() - Number(st.mtimeMs) < RECENT_CLAIM_MS;
    } catch {
      /* no claim file: read below, as before */
    }
    if (key !== seen || recent) {
      seen = key;
      const pid = readAuditClaim(home)?.pid;
      holds = pid === undefined || !Number.isInteger(pid) || pid === process.pid;
    }
    return holds;
  };
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

/**
 * The home's serving claim (`hub.pid`): which hub process serves the home. One home, one hub: the socket
 * name alone kept that only while every spelling of the home led to the same name; the claim is a file in
 * the home itself, so a second hub on it — however it was reached, whatever socket it bound — refuses to
 * serve, naming the running one. A hub takes it once it holds its socket and gives it up when it stops
 * accepting (a draining hub no longer serves: the hub a shim starts meanwhile, or a `--replace` successor,
 * takes it). A claim whose process is gone, or whose pid now names another process, is stale.
 */
import { constants, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SnowmuxError } from '../errors.js';
import { closeQuietly, isNotAFile, openStateFile, readStateFile, stateFileFix } from './bounded-read.js';
import { liveSnowmuxProcess } from './audit-claim.js';
import { processStartTicks } from './process-alive.js';

export const HUB_CLAIM_FILE = 'hub.pid';

/** The live hub process, other than this one, that holds the home's serving claim; null when none does. */
export function servingHubPid(home: string): number | null {
  let text: string;
  try {
    text = readStateFile(join(home, HUB_CLAIM_FILE), 4096);
  } catch (err) {
    if (isNotAFile(err)) throw notAClaim(join(home, HUB_CLAIM_FILE), err);
    return null;
  }
  const [pidText, started] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  return liveSnowmuxProcess(pid, started) ? pid : null;
}

/**
 * This process takes the home's serving claim. Refused (HUB_ALREADY_RUNNING, naming the holder) while
 * another live hub holds it, unless `takeOver` (this hub took the socket over from it: `hub --replace`).
 * The caller holds the home's claim lock (audit-writer.lock, see hub-process), so that of two hubs that found
 * it free at once one takes it; it is written whole (a temp file renamed over the name), then read back.
 */
export function claimHome(home: string, takeOver: boolean, advice: (pid: number) => string): void {
  const path = join(home, HUB_CLAIM_FILE);
  const refuse = (pid: number) =>
    new SnowmuxError('HUB_ALREADY_RUNNING', `Another snowmux hub (pid ${pid}) already serves the home ${home}, and one home has one hub: this one stops. ${advice(pid)}`);
  const holder = servingHubPid(home);
  if (holder !== null && !takeOver) throw refuse(holder);
  const started = processStartTicks(process.pid);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const { fd } = openStateFile(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
    try {
      writeFileSync(fd, `${process.pid}${started === null ? '' : ` ${started}`}\n`);
    } finally {
      closeQuietly(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    if (isNotAFile(err)) throw notAClaim(tmp, err);
    throw new SnowmuxError('HOME_UNUSABLE', `Cannot start a hub: its claim on the home, ${path}, cannot be written (${(err as Error).message}). Free space on that disk or fix its permissions, or choose another home with --home or SNOWMUX_HOME.`, { cause: err });
  }
  const now = servingHubPid(home);
  if (now !== null && !takeOver) throw refuse(now);
}

/** Gives the claim up, if it is still this process's (a successor may hold it by now). */
export function releaseHomeClaim(home: string): void {
  const path = join(home, HUB_CLAIM_FILE);
  try {
    if (readStateFile(path, 4096).trim().split(/\s+/)[0] === String(process.pid)) rmSync(path, { force: true });
  } catch {
    /* gone, or not ours to remove */
  }
}

function notAClaim(path: string, err: unknown): SnowmuxError {
  return new SnowmuxError('HOME_UNUSABLE', `Cannot start a hub: ${path} is taken by something that is not the hub's claim file (${(err as Error).message}); ${stateFileFix(path)}`, { cause: err });
}

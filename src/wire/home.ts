/**
 * Where a hub keeps its state (socket, logs, audit, config), and the permissions that make the socket
 * a same-user channel. Shared by shim, hub and CLI; no dependencies beyond node builtins.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SnowmuxError } from '../errors.js';

export const SOCKET_NAME = 'hub.sock';
/** sun_path is 108 bytes on Linux and 104 on macOS; stay under both. */
const MAX_SOCKET_PATH = 100;

export interface HomeSource {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** `--home DIR`, else `$SNOWMUX_HOME`, else `~/.snowmux`. */
export function resolveHome(source: HomeSource = {}): string {
  const env = source.env ?? process.env;
  if (source.flag) return resolve(source.flag);
  if (env.SNOWMUX_HOME) return resolve(env.SNOWMUX_HOME);
  return join(homedir(), '.snowmux');
}

/**
 * The socket lives in the home unless that path is too long for a Unix socket; then it moves to a
 * per-home name in the temp directory (still 0600, still found by every process using the same home).
 */
export function socketPathFor(home: string): string {
  const inHome = join(home, SOCKET_NAME);
  if (Buffer.byteLength(inHome) <= MAX_SOCKET_PATH) return inHome;
  const digest = fnv1a64(home);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(tmpdir(), `snowmux-${uid}-${digest}.sock`);
}

/**
 * 64-bit FNV-1a of the path, as 16 hex digits: a stable, distinct-enough name per home. Not security:
 * the socket's protection is its 0600 mode in a per-user name. (node:crypto would cost the shim ms to load.)
 */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/** Creates the home (0700) or checks an existing one: ours, a directory, not open to others. */
export function ensureHome(home: string): void {
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new SnowmuxError('HOME_UNUSABLE', `Cannot create the snowmux home ${home}: ${(err as Error).message}. Choose another with --home or SNOWMUX_HOME.`, { cause: err });
  }
  checkHome(home, true);
}

/** Verifies the home without creating it. `fix` tightens permissions on a home we own. */
export function checkHome(home: string, fix = false): void {
  let st;
  try {
    st = statSync(home);
  } catch (err) {
    throw new SnowmuxError('HOME_UNUSABLE', `The snowmux home ${home} is not readable: ${(err as Error).message}. Choose another with --home or SNOWMUX_HOME.`, { cause: err });
  }
  if (!st.isDirectory()) {
    throw new SnowmuxError('HOME_UNUSABLE', `The snowmux home ${home} is not a directory. Choose another with --home or SNOWMUX_HOME.`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) {
    throw new SnowmuxError('HOME_NOT_OWNED', `The snowmux home ${home} belongs to another user (uid ${st.uid}); a hub there is not yours. Use a home of your own.`);
  }
  if ((st.mode & 0o077) !== 0) {
    if (!fix) {
      throw new SnowmuxError('HOME_TOO_OPEN', `The snowmux home ${home} is accessible to other users (mode ${(st.mode & 0o777).toString(8)}). Run: chmod 700 ${home}`);
    }
    chmodSync(home, 0o700);
  }
}

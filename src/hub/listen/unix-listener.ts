/**
 * Binds the hub's Unix socket, one hub per home: a socket that answers means another hub runs (refuse);
 * a socket that refuses connections was left by a crash (replace it, under a short lock so two hubs
 * starting at once cannot both replace it). The socket is created 0600 (umask) and chmod-ed to be sure.
 *
 * A replacing hub (`hub --replace`) binds a temporary name and renames it over the path, so at every
 * instant the path answers: shims that reconnect during the hand-over find the new hub and never start one.
 * The old hub must then not close its listener (libuv unlinks the path it bound, which is now the new
 * hub's): it checks `socketIdentity` before letting go.
 */
import { chmodSync, closeSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { readStateFile } from '../../wire/bounded-read.js';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { SnowmuxError } from '../../errors.js';
import { snowmuxCommand, type HubPlace } from '../../snowmux-command.js';
import { processAlive } from '../../wire/process-alive.js';

const REPLACE_LOCK = 'hub-bind.lock';

function listenOnce(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const previous = process.umask(0o177);
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    try {
      server.listen(path);
    } finally {
      process.umask(previous);
    }
  });
}

/** True when something accepts connections on the socket path. */
export function socketAnswers(path: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(true), timeoutMs); // accepted but silent: still alive (maybe busy)
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export function withBindLock<T>(home: string, fn: () => Promise<T>): Promise<T> {
  const path = join(home, REPLACE_LOCK);
  for (let i = 0; i < 2; i++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return fn().finally(() => rmSync(path, { force: true }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // The lock is held for milliseconds; an old one belongs to a hub that died mid-bind.
      try {
        const age = Date.now() - statSync(path).mtimeMs;
        const pid = Number(readStateFile(path, 4096).trim()); // a FIFO there is refused, not waited on
        if (!processAlive(pid) || age > 10_000) rmSync(path, { force: true });
        else break;
      } catch {
        /* raced with its removal: retry */
      }
    }
  }
  return Promise.reject(new SnowmuxError('HUB_ALREADY_RUNNING', `Another hub is starting in this home right now. Use \`${snowmuxCommand('status', home)}\` to see it.`));
}

export async function listenExclusive(socketPath: string, place: HubPlace, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  try {
    await listenOnce(server, socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw wrapListenError(err, socketPath);
    await withBindLock(place.home, async () => {
      if (await socketAnswers(socketPath)) {
        throw new SnowmuxError('HUB_ALREADY_RUNNING', `A snowmux hub is already running at ${socketPath}. Use \`${snowmuxCommand('status', place.home)}\` to see it, \`${snowmuxCommand('stop', place.home)}\` to stop it, or \`${snowmuxCommand('hub --replace', place)}\` to take over.`);
      }
      rmSync(socketPath, { force: true }); // stale: left by a hub that crashed
      try {
        await listenOnce(server, socketPath);
      } catch (e) {
        throw wrapListenError(e, socketPath);
      }
    });
  }
  try {
    chmodSync(socketPath, 0o600);
  } catch (err) {
    // A listener left open kept the process alive: a hub that failed to start never exited, and shims
    // reached it half-started.
    server.close();
    throw wrapListenError(err, socketPath);
  }
  return server;
}

function wrapListenError(err: unknown, socketPath: string): SnowmuxError {
  return new SnowmuxError('HUB_LISTEN_FAILED', `Cannot listen on ${socketPath}: ${(err as Error).message}. Check the home directory's permissions, or choose another with --home.`, { cause: err });
}

/** Which socket file a path names now (device + inode), or null when there is none. */
export interface SocketIdentity {
  dev: number;
  ino: number;
}

export function socketIdentity(path: string): SocketIdentity | null {
  try {
    const st = statSync(path);
    return st.isSocket() ? { dev: st.dev, ino: st.ino } : null;
  } catch {
    return null;
  }
}

export function sameSocket(a: SocketIdentity | null, b: SocketIdentity | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/** Linux sun_path holds 107 bytes, macOS 103: the temporary name must fit too. */
const MAX_BIND_PATH = 103;

/**
 * Takes the socket path over from a running (or frozen) hub without a moment in which it does not answer:
 * bind a temporary name in the same directory, then rename it over the path (atomic on one filesystem).
 */
export async function listenTakingOver(socketPath: string, place: HubPlace, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  const temp = join(dirname(socketPath), `.${basename(socketPath)}.${process.pid}`);
  if (Buffer.byteLength(temp) > MAX_BIND_PATH) {
    throw new SnowmuxError('HUB_LISTEN_FAILED', `Cannot take over ${socketPath}: the temporary socket name would be too long for a Unix socket. Stop the running hub with \`${snowmuxCommand('stop', place.home)}\` and start this one without --replace, or use a shorter --home.`);
  }
  rmSync(temp, { force: true });
  try {
    await listenOnce(server, temp);
    chmodSync(temp, 0o600);
    renameSync(temp, socketPath);
  } catch (err) {
    server.close();
    rmSync(temp, { force: true });
    throw wrapListenError(err, socketPath);
  }
  return server;
}

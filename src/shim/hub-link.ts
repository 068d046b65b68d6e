/**
 * Opening a link to the hub: connect to the socket, say hello, wait for the welcome.
 * When no hub answers, start one (detached, logging into the home) under the start-up lock and wait for it.
 */
import { closeSync, constants, lstatSync, readFileSync, renameSync } from 'node:fs';
import { isNotAFile, openStateFile, stateFileFix } from '../wire/bounded-read.js';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { SnowmuxError, isSnowmuxError, type ErrorCode } from '../errors.js';
import { escapeInvisible, shownText } from '../shown-text.js';
import { snowmuxCommand } from '../snowmux-command.js';
import { LineDecoder } from '../wire/framing.js';
import { type Hello, type Welcome, parseLinkFrame } from '../wire/hello.js';
import { tryAcquireSpawnLock } from './spawn-lock.js';
import { checkSocketPath } from '../wire/home.js';
import { hubStartEnvironment } from '../wire/forwarded-env.js';

export interface OpenLink {
  /** The Unix socket, or a remote shim's WebSocket stream. */
  socket: Duplex & Partial<Pick<Socket, 'setNoDelay'>>;
  welcome: Welcome;
  /** Bytes that arrived after the welcome line, to be processed as hub output. */
  rest: Buffer;
}

export const HANDSHAKE_TIMEOUT_MS = 5_000;

/**
 * One attempt: resolves with an open link, or rejects with the connect error (code ENOENT/ECONNREFUSED…).
 * Nothing is sent until the socket's directory and owner are verified (SOCKET_NOT_OWNED / RUNTIME_DIR_UNSAFE).
 */
/** `home`: the hub's home, so the advice to replace a frozen hub names it. */
export function openLink(socketPath: string, hello: Hello, timeoutMs = HANDSHAKE_TIMEOUT_MS, home?: string): Promise<OpenLink> {
  try {
    checkSocketPath(socketPath);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let settled = false;
    const timer = setTimeout(() => fail(new SnowmuxError('HUB_NO_WELCOME', `The hub at ${socketPath} accepted the connection but did not answer the handshake within ${timeoutMs} ms: it is frozen (stopped, or the machine is resuming) or overloaded. The shim keeps trying; \`${home === undefined ? 'snowmux hub --replace' : snowmuxCommand('hub --replace', home)}\` starts a new hub in its place.`)), timeoutMs);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('close', () => fail(Object.assign(new Error('The hub closed the connection during the handshake.'), { code: 'ECONNRESET' })));
    socket.once('connect', () => socket.write(JSON.stringify(hello) + '\n'));
    awaitWelcome(socket, {
      welcome: (welcome, rest) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        resolve({ socket, welcome, rest });
      },
      fail,
      notAHub: () => new SnowmuxError('HUB_BAD_HANDSHAKE', `Something at ${socketPath} is not a snowmux hub (unexpected handshake reply). Remove it or use another --home.`),
    });
  });
}

/**
 * Reads the hub's first line on a link (socket or WebSocket stream) after the hello: a welcome, a
 * refusal with the hub's own code, or something that is not a hub at all.
 */
export function awaitWelcome(link: Duplex, on: { welcome(welcome: Welcome, rest: Buffer): void; fail(err: Error): void; notAHub(): Error }): void {
  const decoder = new LineDecoder(64 * 1024);
  const onData = (chunk: Buffer) => {
    const nl = chunk.indexOf(0x0a);
    if (nl === -1) {
      decoder.push(chunk, () => {});
      return;
    }
    let first: Buffer | undefined;
    decoder.push(chunk.subarray(0, nl + 1), (ev) => {
      if (ev.kind === 'line') first = ev.line;
    });
    link.off('data', onData);
    const frame = first ? parseLinkFrame(first) : null;
    // A welcome's pid and session are shown and sent back (resumeOf): a hub's are a pid and a short id.
    if (frame?.snowmux === 'welcome' && Number.isSafeInteger(frame.hubPid) && typeof frame.sessionId === 'string' && SESSION_ID.test(frame.sessionId)) on.welcome(frame, chunk.subarray(nl + 1));
    // The hub's own code; a newer hub may send one this shim does not know, which is still worth showing. Its
    // text goes to the editor and the shim's stderr: escaped, as whatever answers the socket or --url wrote it.
    else if (frame?.snowmux === 'refused' && typeof frame.code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(frame.code)) on.fail(new SnowmuxError(frame.code as ErrorCode, hubText(frame.message, 8_000, true)));
    else on.fail(on.notAHub());
  };
  link.on('data', onData);
}

/** What a hub's session id looks like (a UUID, a test's short name; empty on a control link): printable, short. */
const SESSION_ID = /^[\w.:-]{0,128}$/;

/**
 * Text a hub sent (a refusal's message, a draining or cut frame's reason) as the shim shows it in the editor's
 * errors and on stderr: at most `max` characters, control and invisible characters escaped (an ESC sequence
 * from whatever answers the link reached the terminal as is), and '' for a value that is no string (a
 * non-string `cut` reason threw in the shim's data handler and ended the shim). `keepNewlines`: a refusal's
 * message may hold lines (a hub's start failure), kept as they are.
 */
export function hubText(value: unknown, max: number, keepNewlines = false): string {
  if (typeof value !== 'string') return '';
  return keepNewlines ? escapeInvisible(value.length > max ? `${value.slice(0, max)}…` : value) : shownText(value, max);
}

export function isNoHub(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE';
}

export interface EnsureHubOptions {
  home: string;
  socketPath: string;
  hello: Hello;
  /** argv to start a hub: [script, ...args]; run with process.execPath. */
  hubCommand: string[];
  /** Total time to wait for a hub to answer. */
  deadlineMs: number;
  /** How long a hub that accepted the connection may take to answer the hello. */
  handshakeTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Stops the waiting at once (the shim is closing): rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Waits `ms`, or less when `signal` fires (then rejects with its reason). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Connects to the hub, starting one when none answers. Exactly one of many concurrent callers spawns. */
export async function connectOrStartHub(opts: EnsureHubOptions): Promise<OpenLink> {
  try {
    return await reachHub(opts);
  } catch (err) {
    throw isSnowmuxError(err, 'HUB_TOO_OLD') ? withOwnReplaceCommand(err, opts) : err;
  }
}

/**
 * The running hub, older than this shim, advises `snowmux hub --replace` — but a bare `snowmux` may be an
 * older install first on PATH, which would start the same old hub again. This shim is the newer snowmux,
 * and knows its own command: the advice names that.
 */
function withOwnReplaceCommand(err: SnowmuxError, opts: EnsureHubOptions): SnowmuxError {
  const command = ownReplaceCommand(opts.hubCommand);
  if (command === null) return err;
  const said = err.message.split(' Run `')[0]!;
  return new SnowmuxError('HUB_TOO_OLD', `${said} Run \`${command}\` (the snowmux this editor launches) to start the newer hub; editors stay connected.`, { cause: err });
}

async function reachHub(opts: EnsureHubOptions): Promise<OpenLink> {
  const deadline = performance.now() + opts.deadlineMs;
  let delay = 5;
  let spawned = false;
  for (;;) {
    try {
      return await openLink(opts.socketPath, opts.hello, opts.handshakeTimeoutMs, opts.home);
    } catch (err) {
      if (!isNoHub(err)) throw err;
      if (performance.now() > deadline) {
        throw new SnowmuxError(
          'HUB_UNREACHABLE',
          `No snowmux hub answered at ${opts.socketPath} within ${opts.deadlineMs} ms${spawned ? ' after starting one' : ''}. See ${join(opts.home, 'hub.log')} and ${join(opts.home, 'hub-stderr.log')}, or run \`${hubCommandLine(opts)}\` in a terminal to see why it does not start.`,
          { cause: err },
        );
      }
    }
    if (!spawned) {
      // A live holder that is not starting a hub (a shim frozen with its editor, a pid reused where start
      // times are unknown) is outwaited for half the deadline, not all of it: taken over at the deadline,
      // the hub spawned then had no time at all to start.
      const lock = tryAcquireSpawnLock(opts.home, opts.deadlineMs / 2);
      if (lock) {
        try {
          // Another shim may have finished starting a hub between our connect and the lock.
          try {
            return await openLink(opts.socketPath, opts.hello, opts.handshakeTimeoutMs, opts.home);
          } catch (err) {
            if (!isNoHub(err)) throw err;
          }
          const started = await spawnHub(opts);
          spawned = true;
          // The hub this shim starts gets the whole start-up time from its own start, whenever the lock came.
          return await waitForHub(opts, Math.max(deadline, performance.now() + opts.deadlineMs), started);
        } finally {
          // Whatever happened (a hub that could not even be spawned too), the next start must not wait for us.
          lock.release();
        }
      }
    }
    await pause(delay, opts.signal);
    delay = Math.min(delay * 2, 100);
  }
}

async function waitForHub(opts: EnsureHubOptions, deadline: number, started: StartedHub): Promise<OpenLink> {
  let delay = 5;
  for (;;) {
    try {
      return await openLink(opts.socketPath, opts.hello, opts.handshakeTimeoutMs, opts.home);
    } catch (err) {
      if (!isNoHub(err)) throw err;
      // A hub that exited before it listened (a config error, a home it may not use) said why on its
      // stderr: hand that to the editor now instead of waiting out the deadline.
      // (Exit code 0 is a deliberate stop, not a failure: keep waiting. A hub that lost a start race to
      // another one exits non-zero, so look once more before reporting.)
      if (started.exit !== null && started.exit !== 'exit code 0') {
        try {
          return await openLink(opts.socketPath, opts.hello, opts.handshakeTimeoutMs, opts.home);
        } catch (again) {
          if (!isNoHub(again)) throw again;
        }
        throw hubExitedError(opts, started);
      }
      if (performance.now() > deadline) {
        throw new SnowmuxError(
          'HUB_START_FAILED',
          `Started a hub but it did not answer at ${opts.socketPath} within ${opts.deadlineMs} ms. See ${join(opts.home, 'hub-stderr.log')} for why, or run \`${hubCommandLine(opts)}\` in a terminal.`,
          { cause: err },
        );
      }
    }
    await pause(delay, opts.signal);
    delay = Math.min(delay * 2, 100);
  }
}

/** The command that starts this shim's hub by hand, pasteable into a shell (paths with spaces quoted). */
function hubCommandLine(opts: EnsureHubOptions): string {
  return ['snowmux', ...opts.hubCommand.slice(1)].map(shellQuote).join(' ');
}

/** `hub --replace` as this shim's own snowmux runs it (its node, its entry, the hub's --home/--config), or null when it starts no hub. */
export function ownReplaceCommand(hubCommand: readonly string[]): string | null {
  const [entry, verb, ...rest] = hubCommand;
  if (entry === undefined || verb !== 'hub') return null;
  return [process.execPath, entry, 'hub', '--replace', ...rest].map(shellQuote).join(' ');
}

/** A word as a shell reads it back (quoted when it holds anything but the usual path characters). */
function shellQuote(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

interface StartedHub {
  /** Size of hub-stderr.log before the hub started (0 once rotated): what follows is this hub's. */
  logOffset: number;
  /** Exit code (or signal) once the started hub has exited, else null. */
  exit: string | null;
  /** Why the hub's process could not be started at all (spawn failed), when it could not. */
  spawnError?: NodeJS.ErrnoException;
}

function hubExitedError(opts: EnsureHubOptions, started: StartedHub): SnowmuxError {
  if (started.spawnError) return spawnFailedError(started.spawnError);
  const logPath = join(opts.home, 'hub-stderr.log');
  let said = '';
  try {
    const { fd } = openStateFile(logPath, constants.O_RDONLY);
    let text: Buffer;
    try {
      text = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
    said = text.subarray(started.logOffset).toString('utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    /* no log: the exit code alone */
  }
  const why = said.length > 0 ? `: ${said.replace(/^snowmux hub: /gm, '')}` : ` (see ${logPath})`;
  return new SnowmuxError('HUB_START_FAILED', `The snowmux hub this editor started exited (${started.exit}) before serving${why}`);
}

/** The hub's process could not be started (ENOENT: the Node binary is gone; EAGAIN: the process limit). */
function spawnFailedError(err: NodeJS.ErrnoException): SnowmuxError {
  const gone = err.code === 'ENOENT' ? ', the Node.js this shim runs under is gone (upgraded or removed while the editor was open)' : '';
  return new SnowmuxError('HUB_START_FAILED', `Cannot start a hub: ${process.execPath} could not be run (${err.code ?? err.message})${gone}. Restart the editor's MCP server.`, { cause: err });
}

/** This process's working directory, or undefined when it was deleted. */
export function workingDirectory(): string | undefined {
  try {
    return process.cwd();
  } catch {
    return undefined;
  }
}

async function spawnHub(opts: EnsureHubOptions): Promise<StartedHub> {
  // Loaded only when a hub must be started: child_process adds milliseconds to every shim start.
  const { spawn } = await import('node:child_process');
  const logPath = join(opts.home, 'hub-stderr.log');
  // The started hub gets a file of its own: a hub still draining (after `snowmux stop`) keeps writing
  // ("stopped") through the descriptor it inherited, which now names the renamed file, so what follows
  // can only be this hub's — the error an editor is shown quotes nothing of another hub. One generation
  // back is kept. If the rename fails, the shared file and the offset below still bound what is quoted.
  try {
    if (lstatSync(logPath).isFile()) renameSync(logPath, `${logPath}.1`);
  } catch {
    /* none yet, or it cannot be renamed: append as before */
  }
  let logFd: number;
  let logSize: number;
  try {
    // Never waiting in open(): a FIFO there blocked the shim for good (SIGTERM did not end it).
    ({ fd: logFd, stat: { size: logSize } } = openStateFile(logPath, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND));
  } catch (err) {
    if (isNotAFile(err)) throw new SnowmuxError('HUB_START_FAILED', `Cannot start a hub: its log ${logPath} is taken by something that is not a log file (${(err as Error).message}); ${stateFileFix(logPath)}`, { cause: err });
    throw new SnowmuxError('HUB_START_FAILED', `Cannot start a hub: its log ${logPath} cannot be opened (${(err as Error).message}). Free space on that disk or fix its permissions, or choose another home with --home or SNOWMUX_HOME.`, { cause: err });
  }
  const started: StartedHub = { logOffset: logSize, exit: null };
  try {
    const child = spawn(process.execPath, [...opts.hubCommand], {
      detached: true,
      // A hub started in a directory deleted under its editor stopped at once (uv_cwd ENOENT), at every try.
      cwd: workingDirectory() ?? opts.home,
      stdio: ['ignore', logFd, logFd],
      env: { ...hubStartEnvironment(opts.env ?? process.env), SNOWMUX_STARTED_BY: `shim:${process.pid}` },
    });
    child.once('exit', (code, signal) => {
      started.exit ??= signal ? `signal ${signal}` : `exit code ${code}`;
    });
    // A process that could not be started at all is an 'error' on the child: unheard, it ended the shim.
    child.once('error', (err: NodeJS.ErrnoException) => {
      started.exit ??= 'not started';
      started.spawnError = err;
    });
    child.unref();
  } finally {
    closeSync(logFd);
  }
  return started;
}

/**
 * `snowmux stdio` — the same tools served in-process to one client on stdin/stdout, with no hub
 * (containers, CI, and the baseline the benchmarks compare against). Same config and policies; its audit
 * records go to a chain of its own beside the hub's.
 */
import { constants as osConstants, userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { CommandIo } from '../command-io.js';
import { parseCommandArgs } from '../args.js';
import { PROFILE_FLAGS_HELP, PROFILE_FLAG_OPTIONS, profileFlagsFrom, refuseSecretFlags } from '../profile-flags.js';
import { ensureHome, resolveHome } from '../../wire/home.js';
import { createLogger, logLevelFromEnv } from '../../hub/observe/logger.js';
import { HubCore, waitUntil } from '../../hub/core/hub-core.js';
import { SnowmuxError } from '../../errors.js';
import { createMcpServer } from '../../hub/core/mcp-server.js';
import { createRuntime } from '../../hub/runtime.js';
import { LineTransport } from '../../hub/session/line-transport.js';
import { recordTransportRefusal } from '../../hub/tools/refused-calls.js';
import { observeClientMessage } from '../../hub/session/session.js';
import { stdioChainSubdir } from '../../hub/audit/audit-files.js';
import { KnownSecrets } from '../../hub/audit/known-secrets.js';
import { escapeInvisible } from '../../shown-text.js';
import { isRequestId } from '../../wire/request-id.js';

/** The shim's code for "no server to serve this" (HUB_UNAVAILABLE), for the same situation in-process. */
const SERVER_CANNOT_START = -32002;

export async function stdioCommand(argv: string[], io: CommandIo): Promise<number> {
  refuseSecretFlags(argv);
  const { values } = parseCommandArgs('stdio', argv, {
    home: { type: 'string' },
    config: { type: 'string' },
    profile: { type: 'string' },
    help: { type: 'boolean' },
    ...PROFILE_FLAG_OPTIONS,
  });
  if (values.help) {
    io.stderr.write(`Usage: snowmux stdio [--home DIR] [--config PATH] [profile flags]\n\nServes the snowmux tools on stdin/stdout in this process (no hub).\n${PROFILE_FLAGS_HELP}\n`);
    return 0;
  }
  // An empty variable (an editor config's "" placeholder) is unset. Checked as the hub checks it, before
  // anything is made: passed to pino as written, "verbose" ended the process with pino's own error.
  const level = logLevelFromEnv(process.env.SNOWMUX_LOG_LEVEL, 'warn');
  const home = resolveHome({ flag: values.home });
  ensureHome(home);
  if (process.stdin.isTTY === true) {
    io.stderr.write('snowmux stdio: waiting for MCP JSON-RPC messages on stdin, one per line — an editor runs this as its MCP server. Set one up with `snowmux setup <client>`; Ctrl-D ends.\n');
  }
  // stdout is the protocol channel: logs go to stderr, quietly by default.
  const secrets = new KnownSecrets();
  const logger = createLogger({ destination: process.stderr, level, scrub: (line) => secrets.scrubLogLine(line) });
  // Several in-process servers may run beside a hub on one home, and the hub's audit chain has one writer:
  // each stdio process keeps its own chain (audit/stdio/<start>-<pid>/), which `audit verify` checks too.
  let runtime: Awaited<ReturnType<typeof createRuntime>> | undefined;
  try {
    runtime = await createRuntime({ home, logger, configPath: values.config, profileName: values.profile, flags: profileFlagsFrom(values), auditSubdir: stdioChainSubdir(), secrets });
    await runtime.openAudit();
  } catch (err) {
    if (!(err instanceof SnowmuxError)) throw err;
    await runtime?.close('could not start').catch(() => {});
    return await answerEveryRequestWith(err, io);
  }
  void runtime.warehouses.warmUp();
  // The same core as the hub (sessions, the call pipeline, records, status), with stdio as its one transport.
  const core = new HubCore({
    home,
    logger,
    warehouses: runtime.warehouses,
    governance: runtime.governance,
    limits: runtime.limits,
    sinks: runtime.sinks,
    scrubCall: runtime.scrubCall,
    secrets,
    teamTools: runtime.teamTools,
    tracer: runtime.tracer,
    shutdownGraceMs: runtime.shutdownGraceMs,
  });
  let ended!: () => void;
  const closed = new Promise<void>((resolve) => (ended = resolve));
  let transport: LineTransport | null = null;
  const attached = core.attachSession(
    { identity: { kind: 'local-user', name: userInfo().username }, transport: 'stdio', profile: values.profile ?? (process.env.SNOWMUX_PROFILE || undefined) },
    { drain: () => {}, outstanding: () => transport?.outstanding ?? 0, close: () => ended() },
  );
  // What a shim does for its editor, this process does itself (it is both ends): a signal (an editor's
  // shutdown is stdin closed, then SIGTERM) or an editor gone for good ends the calls still running now —
  // cancelled in the warehouse, each recorded as such — instead of leaving a Snowflake query running (and
  // billed) with no record of it when the default action killed the process.
  let exitCode = 0;
  let endedNow = false;
  /** Why the process ends, for the audit chain's hub_stop record and the core's stop. */
  let endReason = 'stdin ended';
  const endNow = (why: string, code: number): void => {
    if (endedNow) return;
    endedNow = true;
    endReason = why;
    exitCode = code;
    if (attached.session.running.size > 0) logger.warn({ runningCalls: attached.session.running.size, why }, 'ending: cancelling the calls still running');
    attached.session.close(why, new SnowmuxError('QUERY_CANCELLED', `The call was cancelled: ${why}.`));
    ended();
  };
  // A signal also ends the wait for the client to read its last answers (stdoutRead): an editor shuts a server
  // down by closing stdin and then sending SIGTERM, and one that does not read any more would be waited on for ever.
  let signalled: (() => void) | undefined;
  const signalReceived = new Promise<void>((resolve) => (signalled = resolve));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      endNow(`snowmux stdio received ${signal}`, 128 + osConstants.signals[signal]);
      signalled?.();
      // A second one ends the process at once.
      process.once(signal, () => process.exit(128 + osConstants.signals[signal]));
    });
  }
  // The editor closed its end of stdout: no answer can reach it any more (unhandled, this was an uncaught EPIPE).
  process.stdout.on('error', () => endNow('the editor closed its end of stdout', 0));
  // stdin ended with calls still running: the editor is either waiting for their answers or gone (crashed,
  // killed). Once it is gone (this process re-parented), nobody reads what they return.
  const editorPid = process.ppid;
  let editorGone = false;
  process.stdin.once('end', () => {
    const watch = setInterval(() => {
      if (process.ppid === editorPid) return;
      editorGone = true;
      endNow(`the editor (pid ${editorPid}) is gone`, 0);
    }, EDITOR_CHECK_MS);
    watch.unref();
  });
  transport = new LineTransport({
    input: process.stdin,
    output: process.stdout,
    maxLineBytes: runtime.maxLineBytes,
    observe: (m) => observeClientMessage(attached.session, m),
    onToolCallRefused: (id, params, code) => recordTransportRefusal(attached.env, id, params, code),
    onEnded: () => ended(),
    // Past the protocol-error bound the hub cuts such a session, saying why; so does this process, on stderr
    // (the editor's MCP log) and in the answers to the calls it cancels, instead of ending without a word.
    onMisbehaving: (why) => {
      process.stdin.pause();
      logger.warn({ why }, 'the client kept sending malformed input; ending');
      endNow(`the client kept sending malformed input (${why})`, 1);
    },
    // A client that closes stdin after its last request still gets every answer, as through a shim.
    answerAfterInputEnds: true,
  });
  const handle = serveStdio(() => createMcpServer(attached.env, { announceListChanges: true }), { transport });
  // The SDK does not react to stdin EOF by itself; the transport does (once every request is answered), and we exit then.
  await closed;
  // Calls cancelled above settle (their records handed to the audit log) before the log closes.
  await waitUntil(() => attached.session.running.size === 0, CANCEL_SETTLE_MS);
  attached.detach(endedNow ? 'ended' : 'stdin ended');
  await handle.close().catch(() => {});
  await core.stop(endReason);
  await runtime.close(endReason).catch(() => {});
  // An editor known to be gone reads nothing more (whoever still holds its pipe would never read).
  if (!editorGone) await Promise.race([stdoutRead(logger), signalReceived]);
  setImmediate(() => process.exit(exitCode));
  return exitCode;
}

/**
 * Resolves once everything written to stdout has left the process, as the shim's flushStdout does. An answer
 * is "written" as soon as Node queues it, and a pipe the editor has not read yet holds only 64 KiB:
 * process.exit dropped the rest, and a client that read its answers after closing stdin lost the last ones.
 * No time bound: a client busy for a while still reads it all; one that went away ends the wait (EPIPE, or
 * the pipe closed).
 */
function stdoutRead(logger: { info: (facts: object, message: string) => void }): Promise<void> {
  const out = process.stdout;
  if (out.destroyed || out.writableFinished || out.errored !== null) return Promise.resolve();
  if (out.writableLength > 0) logger.info({ bytes: out.writableLength }, 'waiting for the client to read the rest of its answers before exiting');
  return new Promise((resolve) => {
    out.once('finish', () => resolve());
    out.once('error', () => resolve());
    out.once('close', () => resolve());
    out.end();
  });
}

/** How often, once stdin ended with calls running, the process checks that its editor is still there (as the shim does). */
const EDITOR_CHECK_MS = 500;
/** How long cancelled calls get to settle (a warehouse's cancel answered, the record written) before the process ends. */
const CANCEL_SETTLE_MS = 5_000;

/**
 * A server that cannot start (a config.toml it cannot read, an audit directory it does not trust) answers each
 * request with why, as the shim does when it cannot reach a hub, until stdin ends, then exits 1: exiting at
 * once left the editor only "server disconnected", the reason in a log file the user rarely opens.
 */
async function answerEveryRequestWith(err: SnowmuxError, io: CommandIo): Promise<number> {
  const message = `snowmux stdio: ${escapeInvisible(err.message)} [${err.code}]`;
  io.stderr.write(`${message}\n`);
  // An editor that closed its end of stdout reads no answer: the reason above stays the last word (unhandled,
  // the EPIPE crashed the process with a stack trace).
  let readerGone = false;
  process.stdout.on('error', () => (readerGone = true));
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (readerGone) continue;
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch {
      continue;
    }
    const id = (request as { id?: unknown } | null)?.id;
    if (typeof (request as { method?: unknown } | null)?.method !== 'string' || !isRequestId(id)) continue;
    process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, error: { code: SERVER_CANNOT_START, message, data: { code: err.code } } })}\n`);
  }
  return 1;
}

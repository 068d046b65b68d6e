/**
 * `snowmux hub` — runs the hub in the foreground until SIGTERM/SIGINT or `snowmux stop`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CommandIo } from '../command-io.js';
import { parseCommandArgs } from '../args.js';
import { SnowmuxError, errorMessage, isSnowmuxError } from '../../errors.js';
import { encodeLine } from '../../wire/framing.js';
import { makeHello } from '../../wire/hello.js';
import { checkHome, checkSocketPath, ensureHome, ensureRuntimeDir, resolveHome, socketPathFor } from '../../wire/home.js';
import { isNoHub, openLink, type OpenLink } from '../../shim/hub-link.js';
import { createLogger, flushLogger } from '../../hub/observe/logger.js';
import type { CallRecord, CallSink } from '../../hub/observe/call-record.js';
import { Hub } from '../../hub/hub.js';
import { createRuntime, type HubRuntime } from '../../hub/runtime.js';
import { SecretScrubber } from '../../hub/audit/audit-redact.js';
import { HubMetrics } from '../../hub/observe/metrics.js';
import { listenMetrics } from '../../hub/listen/metrics-listener.js';
import type { HttpService } from '../../hub/http/serve-http.js';
import type { TeamState } from '../../hub/team/redis-team.js';
import { PROFILE_FLAGS_HELP, PROFILE_FLAG_OPTIONS, profileFlagsFrom } from '../profile-flags.js';
import { VERSION } from '../../version.js';
import { processAlive, processCommandLine, processStartTicks } from '../../wire/process-alive.js';

const HELP = `Usage: snowmux hub [--home DIR] [--config PATH] [--replace] [profile flags]

Runs the hub in the foreground. Logs go to <home>/hub.log.
  --config PATH  config file (default <home>/config.toml, or $SNOWMUX_CONFIG)
  --replace      take over from a running hub: the socket moves to this hub at once, the old one finishes
                 its running calls and exits; editors stay connected (a frozen hub is replaced too)
  --http ADDR    also serve HTTP on host:port (/mcp, /healthz, /readyz, /metrics, /status, /events);
                 overrides hub.http_listen. Keys: snowmux keys create
${PROFILE_FLAGS_HELP}
`;

export async function hubCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('hub', argv, {
    home: { type: 'string' },
    replace: { type: 'boolean' },
    http: { type: 'string' },
    config: { type: 'string' },
    profile: { type: 'string' },
    help: { type: 'boolean' },
    ...PROFILE_FLAG_OPTIONS,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  // A shim creates the home before it starts a hub; a home missing by now was removed on purpose (an
  // uninstall, a test's temp dir), and re-creating it would leave a hub nobody will ever stop.
  if (process.env.SNOWMUX_STARTED_BY?.startsWith('shim:')) checkHome(home, true);
  else ensureHome(home);
  const socketPath = socketPathFor(home);
  if (dirname(socketPath) !== home) ensureRuntimeDir(dirname(socketPath));
  checkSocketPath(socketPath);
  const predecessor = values.replace ? await findPredecessor(socketPath) : null;
  // One scrubber of known secrets for logs, status and audit; profiles add theirs as they resolve.
  const scrubber = new SecretScrubber();
  const logger = createLogger({ home, scrub: (line) => scrubber.scrub(line) });
  // Config errors stop the hub here, before it binds, with the file and key that is wrong.
  const runtime = await createRuntime({ home, logger, scrubber, configPath: values.config, profileName: values.profile, flags: profileFlagsFrom(values) });
  const held = holdRecords(runtime.sinks, true);
  // Opt-in Prometheus metrics; its gauges read the hub when scraped, so it can be built before the hub.
  let hubRef: Hub | undefined;
  const httpListen = values.http ?? runtime.config.config.hub.httpListen;
  if (httpListen !== undefined && !/^[\w.:[\]-]+:\d{1,5}$/.test(httpListen)) throw new SnowmuxError('USAGE', `--http must be host:port, e.g. 127.0.0.1:8765; got "${httpListen}".`);
  const metrics = runtime.config.config.hub.metricsListen || httpListen ? hubMetrics(runtime, () => hubRef) : null;
  let http: HttpService | undefined;
  let team: TeamState | undefined;
  let metricsUrl: string | undefined;
  let metricsServer: { close(): unknown } | undefined;
  const hub = new Hub({
    home,
    socketPath,
    logger,
    warehouses: runtime.warehouses,
    governance: runtime.governance,
    limits: runtime.limits,
    maxLineBytes: runtime.maxLineBytes,
    shutdownGraceMs: runtime.shutdownGraceMs,
    linkIdleTimeoutMs: numberEnv('SNOWMUX_LINK_IDLE_MS'),
    stalledOutputMs: numberEnv('SNOWMUX_STALLED_OUTPUT_MS'),
    sinks: metrics ? [held.sink, metrics] : [held.sink],
    scrubCall: runtime.scrubCall,
    reload: () => runtime.reload(),
    teamTools: runtime.teamTools,
    statusSections: () => ({
      ...runtime.statusSections(),
      ...(metricsUrl ? { metrics: { url: `${metricsUrl}/metrics` } } : {}),
      ...(http ? { http: { url: http.url, auth: http.auth.enabled } } : {}),
      ...(team ? { team: team.snapshot() } : {}),
    }),
    // The next hub (a replacement, or one a shim starts while this one drains) wants the same ports.
    onStopping: () => {
      metricsServer?.close();
      http?.stopAccepting();
    },
  });
  hubRef = hub;
  if (predecessor?.link) {
    // Make before break: open the warehouse (a Snowflake login, the DuckDB file) while the old hub still
    // serves, so the first calls after the take-over do not wait for it.
    await Promise.race([runtime.warehouses.warmUp(), new Promise((r) => setTimeout(r, WARM_UP_WAIT_MS).unref())]);
  }
  await hub.start({ takeOver: predecessor !== null });
  if (predecessor?.link) {
    // We hold the path now: tell the old hub to drain.
    predecessor.link.socket.on('error', () => {});
    predecessor.link.socket.write(encodeLine({ id: 1, op: 'replace' }));
    io.stderr.write(`snowmux hub: took over from hub pid ${predecessor.link.welcome.hubPid}; it finishes its running calls, then exits\n`);
  } else if (predecessor?.frozen) {
    io.stderr.write(`snowmux hub: the running hub did not answer within ${REPLACE_HANDSHAKE_MS} ms (frozen?); took over its socket. It exits when it resumes.\n`);
  } else if (predecessor) {
    io.stderr.write(`snowmux hub: the running hub refused the hand-over (${predecessor.refusal}); took over its socket anyway. New editors come here; stop the old hub process to move the ones still on it.\n`);
  }
  // Only the hub that owns the socket writes the audit log, and one writer at a time: a hub that is still
  // draining (after `--replace`, or a stop while shims already started this one) appends until its process
  // ends. Our records wait for it, in order.
  const previousWriter = auditWriter(home);
  if (previousWriter === null) {
    claimAuditWriter(home);
    await runtime.openAudit();
    held.release();
  } else {
    logger.info({ pid: previousWriter }, 'waiting for the previous hub to finish its audit records');
    void processGone(previousWriter, HANDOVER_WAIT_MS)
      .then(() => claimAuditWriter(home))
      .then(() => runtime.openAudit())
      .then(() => held.release())
      .catch((err) => {
        logger.error({ err: errorMessage(err) }, 'audit log failed to open after the hand-over');
        held.release();
      });
  }
  void runtime.warehouses.warmUp();
  if (metrics && runtime.config.config.hub.metricsListen) {
    const serveMetrics = () => listenMetrics(runtime.config.config.hub.metricsListen!, {
      metrics: () => metrics.text(),
      contentType: metrics.contentType,
      health: () => {
        const st = hub.status();
        return { ok: st.state === 'running', body: { status: st.state, version: st.version, sessions: st.sessions.length, uptimeMs: st.uptimeMs } };
      },
    });
    const onListening = (endpoint: { server: { close(): unknown }; url: string }) => {
      metricsServer = endpoint.server;
      metricsUrl = endpoint.url;
      logger.info({ url: `${endpoint.url}/metrics` }, 'metrics listening');
    };
    if (previousWriter === null) {
      onListening(await serveMetrics());
    } else {
      // A previous hub is still draining and may hold the port a moment longer: we already serve
      // editors, so keep trying in the background instead of failing the take-over.
      void retryWhileInUse(serveMetrics, HANDOVER_WAIT_MS).then(onListening, (err) => {
        logger.error({ err: errorMessage(err) }, 'metrics not served');
        io.stderr.write(`snowmux hub: ${errorMessage(err)}\n`);
      });
    }
  }
  const hubSettings = runtime.config.config.hub;
  if (hubSettings.redisUrl !== undefined) {
    const { connectRedisTeam } = await import('../../hub/team/redis-team.js');
    const { hostname } = await import('node:os');
    team = connectRedisTeam({
      url: hubSettings.redisUrl,
      namespace: hubSettings.teamNamespace,
      replicaId: `${hostname()}:${process.pid}`,
      logger,
      summary: () => {
        const st = hub.status();
        const g = runtime.governance.snapshot() as { queue: { running: number; queued: number }; breakers: { profile: string; state: string }[] };
        return { pid: process.pid, version: VERSION, state: st.state, sessions: st.sessions.length, running: g.queue.running, queued: g.queue.queued, breakers: g.breakers.map((b) => ({ profile: b.profile, state: b.state })) };
      },
      onModeChange: (mode) => io.stderr.write(mode === 'local' ? 'snowmux hub: Redis unreachable; rate limits are per replica until it is back\n' : 'snowmux hub: Redis connected; rate limits are team-wide\n'),
    });
    runtime.governance.useTeam(team);
  }
  if (httpListen !== undefined) {
    const { serveHttp } = await import('../../hub/http/serve-http.js');
    const serve = () => serveHttp({ hub, home, address: httpListen, settings: runtime.config.config.hub, metrics, logger });
    const onServing = (service: HttpService) => {
      http = service;
      logger.info({ url: service.url, auth: service.auth }, 'http listening');
      io.stderr.write(`snowmux hub: HTTP on ${service.url} (/mcp, /healthz, /readyz, /metrics, /status, /events)${service.auth.enabled ? '' : ' without API keys (loopback only)'}\n`);
      if (service.auth.enabled && service.auth.activeKeys === 0) io.stderr.write('snowmux hub: no API key exists yet, so only /healthz answers over HTTP. Create one: snowmux keys create --identity NAME\n');
    };
    if (previousWriter === null) {
      try {
        onServing(await serve());
      } catch (err) {
        // Serving half of what was asked would hide the problem: stop, and say why.
        await hub.stop('the HTTP listener could not start');
        await runtime.close('hub stopped');
        throw err;
      }
    } else {
      // The draining predecessor may hold the port a moment longer (as for metrics above).
      void retryWhileInUse(serve, HANDOVER_WAIT_MS).then(onServing, (err) => {
        logger.error({ err: errorMessage(err) }, 'http not served');
        io.stderr.write(`snowmux hub: ${errorMessage(err)}\n`);
      });
    }
  }
  io.stderr.write(`snowmux hub ${VERSION} listening on ${socketPath} (pid ${process.pid}); logs in ${home}/hub.log\n`);

  const onSignal = (signal: string) => {
    io.stderr.write(`snowmux hub: ${signal} received, stopping gracefully\n`);
    void hub.stop(signal);
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => {
    try {
      const r = hub.reload() as { applied: string[]; needsRestart: string[] };
      io.stderr.write(`snowmux hub: SIGHUP: configuration reloaded (${r.applied.join(', ') || 'no change that applies now'})${r.needsRestart.length ? `; needs a restart: ${r.needsRestart.join(', ')}` : ''}\n`);
    } catch (err) {
      io.stderr.write(`snowmux hub: SIGHUP: the new configuration was refused, the running one stays: ${errorMessage(err)}\n`);
    }
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    flushLogger(logger);
  });
  await hub.stopped;
  await http?.close();
  await team?.close();
  await runtime.close('hub stopped');
  io.stderr.write('snowmux hub: stopped\n');
  // Driver pools and timers may keep the loop alive after a stop; the hub is done.
  setImmediate(() => process.exit(0));
  return 0;
}

/** How long `--replace` waits for the running hub's hello before treating it as frozen. */
const REPLACE_HANDSHAKE_MS = 3_000;
/** Upper bound on waiting for a replaced hub to finish before this one opens the audit log anyway. */
const HANDOVER_WAIT_MS = 120_000;
/** How long `--replace` lets the warehouse open before taking over anyway (the calls then wait for it). */
const WARM_UP_WAIT_MS = 15_000;

/** Pid of the hub that writes (or last wrote) the home's audit log. */
const AUDIT_WRITER_FILE = 'audit-writer.pid';

/**
 * The hub still writing the audit log, if it is another live process. The file names the writer by pid and
 * start time: a pid that now belongs to an unrelated process (reused after a crash or a reboot) is stale, and
 * must not hold this hub's audit records back. Where start times are unknown (not Linux), a live pid counts,
 * unless its command line is readable and is not a snowmux one.
 */
function auditWriter(home: string): number | null {
  let pid: number;
  let started: string | undefined;
  try {
    const [pidText, startText] = readFileSync(join(home, AUDIT_WRITER_FILE), 'utf8').trim().split(/\s+/);
    pid = Number(pidText);
    started = startText;
  } catch {
    return null;
  }
  if (pid === process.pid || !processAlive(pid)) return null;
  const actualStart = processStartTicks(pid);
  if (started !== undefined && actualStart !== null) return started === actualStart ? pid : null;
  const command = processCommandLine(pid);
  if (command !== null && !command.includes('snowmux')) return null;
  return pid;
}

function claimAuditWriter(home: string): void {
  const started = processStartTicks(process.pid);
  writeFileSync(join(home, AUDIT_WRITER_FILE), `${process.pid}${started === null ? '' : ` ${started}`}\n`, { mode: 0o600 });
}

interface Predecessor {
  /** Control link to the old hub, opened before we take the path (afterwards the path leads to us). */
  link: OpenLink | null;
  /** It accepted the connection but did not answer: stopped, or stuck. */
  frozen: boolean;
  /** Why it would not talk to us, when it refused. */
  refusal?: string | undefined;
}

/** The hub `--replace` takes over from, or null when none runs (then this is a plain start). */
async function findPredecessor(socketPath: string): Promise<Predecessor | null> {
  try {
    return { link: await openLink(socketPath, makeHello({ role: 'control', pid: process.pid }), REPLACE_HANDSHAKE_MS), frozen: false };
  } catch (err) {
    if (isNoHub(err)) return null;
    // Frozen, or too different to talk to: take the path anyway; it notices and exits when it can.
    return { link: null, frozen: isSnowmuxError(err, 'HUB_NO_WELCOME'), refusal: errorMessage(err) };
  }
}

/**
 * Holds finished-call records until released, then passes them on in order: during a hand-over the
 * old hub still writes the audit log, and two writers would fork its hash chain.
 */
function holdRecords(sinks: CallSink[], holding: boolean): { sink: CallSink; release(): void } {
  let held: CallRecord[] | null = holding ? [] : null;
  const pass = (call: CallRecord) => {
    for (const sink of sinks) {
      try {
        sink.record(call);
      } catch {
        /* one sink failing must not hide the call from the others */
      }
    }
  };
  return {
    sink: { record: (call) => (held ? held.push(call) : pass(call)) },
    release() {
      const calls = held ?? [];
      held = null;
      for (const call of calls) pass(call);
    },
  };
}

/** Retries `listen` while its error says the address is still in use, up to `boundMs`. */
async function retryWhileInUse<T>(listen: () => Promise<T>, boundMs: number): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    try {
      return await listen();
    } catch (err) {
      const inUse = /EADDRINUSE/.test(errorMessage(err));
      if (!inUse || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Resolves once the process is gone (or after `boundMs`); polls, since it is not our child. */
async function processGone(pid: number, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (!processAlive(pid) || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 25).unref());
  }
}

function numberEnv(name: string): number | undefined {
  const raw = process.env[name];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Prometheus metrics fed by every finished call, with gauges read from the hub's snapshots at scrape time. */
function hubMetrics(runtime: HubRuntime, hub: () => Hub | undefined): HubMetrics {
  const governance = () => runtime.governance.snapshot() as {
    queue: { running: number; queued: number };
    breakers: { profile: string; state: string; opensCount: number }[];
    metadataCache: { hits: number; misses: number; joined: number; entries: number };
  };
  return new HubMetrics({
    sessions: () => hub()?.status().sessions.length ?? 0,
    queue: () => governance().queue,
    breakers: () => governance().breakers,
    pools: () => runtime.warehouses.describe().map((w) => ({ name: w.name, kind: w.kind, logins: (w.detail.pool as { logins?: number } | undefined)?.logins })),
    auditSeq: () => (runtime.statusSections().audit as { lastSeq?: number }).lastSeq,
    metadataCache: () => governance().metadataCache,
  });
}

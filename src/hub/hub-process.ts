/**
 * A hub process, composed: the runtime built from config, the hub (core + Unix-socket face), the
 * take-over of a running hub (`--replace`), the audit log's single writer across a hand-over, and the
 * optional metrics port, HTTP face and team state. The CLI (`snowmux hub`) only parses flags, checks the
 * home, handles signals and prints; everything a hub process is made of is put together here.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SnowmuxError, errorMessage, isSnowmuxError } from '../errors.js';
import { hubPlace, snowmuxCommand, type HubPlace } from '../snowmux-command.js';
import { VERSION } from '../version.js';
import { LineDecoder, encodeLine } from '../wire/framing.js';
import { WIRE_VERSION, makeHello } from '../wire/hello.js';
import { compareVersions } from '../version-order.js';
import { claimAuditWriter, liveAuditWriter, ownClaimWatch } from '../wire/audit-claim.js';
import { processStopped } from '../wire/process-alive.js';
import { claimHome, releaseHomeClaim } from '../wire/hub-claim.js';
import { tryAcquireSpawnLock } from '../shim/spawn-lock.js';
import { isNoHub, openLink, type OpenLink } from '../shim/hub-link.js';
import type { KnownSecrets } from './audit/known-secrets.js';
import type { HttpEngineChoice } from './config/config-schema.js';
import type { ProfileSettings } from './config/profile-settings.js';
import type { HttpService } from './http/serve-http.js';
import { listenMetrics, type MetricsListener } from './listen/metrics-listener.js';
import { watchForSuccessor, type SuccessorWatch } from './listen/successor-watch.js';
import { isListenAddress, parseListen } from './listen/listen-address.js';
import { listenRefusal, portInUse } from './listen/port-in-use.js';
import { CallSinks } from './observe/recent-calls.js';
import { createLogger, flushLogger, type Logger } from './observe/logger.js';
import { HubMetrics, type PoolGauges, type QueuePoolSource } from './observe/metrics.js';
import type { TeamState } from './team/redis-team.js';
import { Hub } from './hub.js';
import { watchUnclaimedStart } from './unclaimed-start.js';
import { replacedServiceOutcome, serviceManagerOf, type ServiceManagerInfo } from './service-manager.js';
import { createRuntime, type HubRuntime, type ReloadResult } from './runtime.js';
import { BUILTIN_TOOL_NAMES } from './tools/team-tools.js';

export interface HubProcessOptions {
  home: string;
  socketPath: string;
  /** Take over from a running hub (`snowmux hub --replace`). */
  replace?: boolean | undefined;
  /** Take over even from a hub of a newer version or link version (`--allow-downgrade`: a rollback). */
  allowDowngrade?: boolean | undefined;
  /** Take over even from a hub a service manager runs (`--force`). */
  force?: boolean | undefined;
  /** host:port for the HTTP face; overrides hub.http_listen. */
  httpListen?: string | undefined;
  /** auto | uws | node; overrides hub.http_engine. */
  httpEngine?: HttpEngineChoice | undefined;
  configPath?: string | undefined;
  profileName?: string | undefined;
  flags?: Partial<ProfileSettings> | undefined;
  /**
   * The hub's known secrets, filled as config and profiles are read: hub.log is scrubbed with them here, and
   * the caller scrubs `say`'s lines (and its own) with the same.
   */
  secrets: KnownSecrets;
  /** Lines for the person running the hub (the terminal): take-over, HTTP, Redis mode, failures. */
  say(line: string): void;
}

export interface HubProcess {
  hub: Hub;
  logger: Logger;
  reload(): ReloadResult;
  stop(reason: string): Promise<void>;
  /** Resolves once the hub has stopped and everything it opened (HTTP, Redis, audit, pools) is closed. */
  closed: Promise<void>;
}

export async function startHubProcess(options: HubProcessOptions): Promise<HubProcess> {
  const { home, socketPath } = options;
  const say = (line: string) => options.say(line);
  const predecessor = options.replace ? await findPredecessor(socketPath) : null;
  if (predecessor?.link && !options.allowDowngrade) refuseDowngrade(predecessor.link);
  // What runs this hub, said in its status: a later `--replace` from a terminal is sent to that manager.
  const ownService = serviceManagerOf();
  if (predecessor?.link && !options.force) await refuseServiceManaged(predecessor.link, ownService);
  // The known secrets for logs, status and audit; profiles add theirs as they resolve (a session's own only
  // to that session's records and lines).
  const { secrets } = options;
  const logger = createLogger({ home, scrub: (line) => secrets.scrubLogLine(line) });
  // Config errors stop the hub here, before it binds, with the file and key that is wrong.
  const runtime = await createRuntime({ home, logger, secrets, configPath: options.configPath, profileName: options.profileName, flags: options.flags, httpListen: options.httpListen, auditStillWriter: ownClaimWatch(home), keepHubState: true });
  const sinks = new CallSinks(runtime.sinks);
  // Opt-in Prometheus metrics; its gauges read the hub when scraped, so it can be built before the hub.
  let hubRef: Hub | undefined;
  const httpListen = options.httpListen ?? runtime.config.config.hub.httpListen;
  if (httpListen !== undefined && !isListenAddress(httpListen)) throw new SnowmuxError('USAGE', `--http must be host:port (a port from 0 to 65535), e.g. 127.0.0.1:8765; got "${httpListen}".`);
  const metrics = runtime.config.config.hub.metricsListen || httpListen ? hubMetrics(runtime, () => hubRef, () => team) : null;
  if (metrics) runtime.timeAuditWrites((seconds) => metrics.auditWritten(seconds));
  let http: HttpService | undefined;
  let team: TeamState | undefined;
  let metricsUrl: string | undefined;
  let metricsListener: MetricsListener | undefined;
  const hub = new Hub({
    home,
    socketPath,
    configFile: runtime.config.path,
    logger,
    warehouses: runtime.warehouses,
    governance: runtime.governance,
    limits: runtime.limits,
    maxLineBytes: runtime.maxLineBytes,
    shutdownGraceMs: runtime.shutdownGraceMs,
    linkIdleTimeoutMs: numberEnv('SNOWMUX_LINK_IDLE_MS'),
    stalledOutputMs: numberEnv('SNOWMUX_STALLED_OUTPUT_MS'),
    sinks: metrics ? [sinks, metrics] : [sinks],
    scrubCall: runtime.scrubCall,
    secrets,
    reload: () => runtime.reload(),
    teamTools: runtime.teamTools,
    tracer: runtime.tracer,
    statusSections: () => ({
      ...runtime.statusSections(),
      ...(metricsUrl ? { metrics: { url: `${metricsUrl}/metrics` } } : {}),
      ...(http ? { http: { url: http.url, engine: http.engine, auth: http.auth.enabled } } : {}),
      ...(team ? { team: team.snapshot() } : {}),
      ...(ownService ? { service: ownService } : {}),
    }),
    // While draining, /healthz answers 503 on the metrics and HTTP listeners until the process exits —
    // unless the next hub (a replacement, or one a shim starts while this one drains) comes up: it wants
    // the same fixed ports at once, so they are let go of then.
    onStopping: (reason) => {
      // A draining hub no longer serves: the next one (a successor, or one a shim starts) takes the home.
      releaseHomeClaim(home);
      // The terminal (or the service manager's journal) learns why this hub stops, not only that it did:
      // `snowmux stop`, a take-over, its socket taken or removed. A signal's stop is said where it is received.
      if (!/^SIG[A-Z]+$/.test(reason) && reason !== START_FAILED) say(`stopping: ${reason}; running calls finish first, then it exits\n`);
      successor = watchForSuccessor(socketPath, () => {
        logger.info('the next hub holds the socket; letting go of the metrics and HTTP ports for it');
        releasePorts();
      });
    },
  });
  const httpKey = options.httpListen === undefined ? 'hub.http_listen' : '--http';
  const wantedPorts = [
    { key: httpKey, address: httpListen },
    { key: 'hub.metrics_listen', address: runtime.config.config.hub.metricsListen },
  ];
  if (predecessor?.link) {
    try {
      await refuseForeignPorts(predecessor.link, wantedPorts);
    } catch (err) {
      predecessor.link.socket.destroy();
      await runtime.close('take-over refused').catch(() => {});
      throw err;
    }
  } else if (predecessor?.frozen) {
    try {
      await refuseStoppedHolder(home, runtime.config.path, wantedPorts);
    } catch (err) {
      await runtime.close('take-over refused').catch(() => {});
      throw err;
    }
  }
  if (predecessor !== null) {
    try {
      await refuseDoomedTakeOver(runtime, wantedPorts, predecessor.link?.welcome.hubPid, hubPlace(home, runtime.config.path));
    } catch (err) {
      predecessor.link?.socket.destroy();
      await runtime.close('take-over refused').catch(() => {});
      throw err;
    }
  }
  let successor: SuccessorWatch | undefined;
  let portsReleased = false;
  /** The audit hand-over (this hub waits to claim the writer), while it runs; and whether a stop gave up on it. */
  let handover: Promise<void> | undefined;
  let handoverGivenUp = false;
  const releasePorts = () => {
    portsReleased = true;
    metricsListener?.release();
    http?.stopAccepting();
  };
  hubRef = hub;
  hub.events.on('session_close', (closed) => runtime.sessionEnded(closed.id));
  if (predecessor?.link) {
    // Make before break: open the warehouse (a Snowflake login, the DuckDB file) while the old hub still
    // serves, so the first calls after the take-over do not wait for it.
    await Promise.race([runtime.warehouses.warmUp(), new Promise((r) => setTimeout(r, WARM_UP_WAIT_MS).unref())]);
  }
  // Sessions wait until the rest is up (audit log, listeners): a failure below stops the hub, and the
  // editors whose shims are already connected are told why instead of being served by half a hub.
  // A predecessor that speaks the ready handshake keeps serving until this hub is ready (`replace`), and
  // takes its socket back if this one fails (`hand-back`) or dies before: a replace is all or nothing.
  // One that does not (an older snowmux) is told to drain as soon as this hub holds the path, as before.
  const readyBoundMs = replaceReadyMs();
  const handshake = predecessor?.link ? await predecessorWaits(predecessor.link, readyBoundMs) : false;
  const handBack = async (): Promise<boolean> => {
    if (!handshake || !predecessor?.link) return false;
    // The running hub may already have taken its socket back on its own (this one was past its bound).
    if (predecessor.link.socket.destroyed) return !hub.ownsSocket();
    predecessor.link.socket.write(encodeLine({ id: 'hand-back', op: 'hand-back' }));
    const deadline = performance.now() + REPLACE_HANDSHAKE_MS;
    while (hub.ownsSocket() && performance.now() < deadline) await new Promise((r) => setTimeout(r, HANDOVER_POLL_MS));
    return !hub.ownsSocket();
  };
  try {
    await hub.start({ takeOver: predecessor !== null, holdUntilReady: true });
  } catch (err) {
    predecessor?.link?.socket.destroy();
    await runtime.close('hub stopped').catch(() => {});
    throw err;
  }
  // A replace is all or nothing, and not forever: the running hub serves on while this one finishes starting,
  // but a step that hangs (a lock, a disk, a listener) must not hold the editors that reach this hub, nor the
  // terminal, without end. Past the bound this hub gives the socket back and says so (below).
  let startStep = 'claiming the home';
  try {
    await withinStartBound(handshake ? readyBoundMs : undefined, () => startStep, home, async () => {
      await startFault('after-bind');
      // One home, one hub: another live hub serving this home on another socket (another runtime base, an older
      // snowmux, a removed socket) makes this one stop here, unless this one took the socket over (`--replace`).
      await claimHomeExclusively(home, socketPath, predecessor !== null);
      process.once('exit', () => releaseHomeClaim(home));
      if (predecessor?.link) predecessor.link.socket.on('error', () => {});
      if (predecessor?.link && !handshake) {
        // We hold the path now: tell the old hub to drain.
        predecessor.link.socket.write(encodeLine({ id: 1, op: 'replace' }));
        say(`took over from hub pid ${predecessor.link.welcome.hubPid}; it finishes its running calls, then exits\n`);
      } else if (predecessor?.frozen) {
        say(`the running hub did not answer within ${REPLACE_HANDSHAKE_MS} ms (frozen?); took over its socket. It exits when it resumes.\n`);
      } else if (predecessor && !predecessor.link) {
        say(`the running hub refused the hand-over (${predecessor.refusal}); took over its socket anyway. New editors come here; stop the old hub process to move the ones still on it.\n`);
      }
      // Only the hub that owns the socket writes the audit log, and one writer at a time: a hub that is still
      // draining (after `--replace`, or a stop while shims already started this one) appends until its process
      // ends. Meanwhile our records go to our side file in the audit directory (durable, and answers wait
      // past 64 unwritten as for the log), chained in, in order, once we hold the claim — or by the next hub
      // to open the log, should this one end first.
      startStep = 'opening the audit log';
      const first = await tryClaimAuditWriter(home, () => runtime.auditHeldAhead(), null);
      const previousWriter = first === 'claimed' ? null : first;
      if (previousWriter === null) {
        await runtime.openAudit();
        // No earlier hub writes the home any more: what the last one left is this one's to go on from.
        runtime.governance.restoreQuotas();
      } else {
        await runtime.openAudit({ hold: true });
        handover = handOverAudit({ home, runtime, logger, boundMs: handoverBoundMs(runtime.limits.callTimeoutMs), first: previousWriter, stopped: () => handoverGivenUp });
      }
      startStep = 'comparing audit directories with the running hub';
      if (predecessor?.link) await warnOfAuditDirChange(predecessor.link, runtime, logger, say);
      // A login that fails is said on the terminal when it does (the log has it too), not at an editor's first call.
      void runtime.warehouses.warmUp().then((failed) => {
        if (failed !== undefined) say(`warning: ${failed}\n`);
      });
      // Resolving the default profile (warmUp's first step) is synchronous: its warnings are known now.
      for (const warning of runtime.warnings()) say(`warning: ${warning}\n`);
      if (metrics && runtime.config.config.hub.metricsListen) {
        const serveMetrics = () => listenMetrics(runtime.config.config.hub.metricsListen!, {
          metrics: () => metrics.text(),
          contentType: metrics.contentType,
          health: () => hub.health(),
        });
        const onListening = (endpoint: MetricsListener) => {
          metricsListener = endpoint;
          // The next hub came up while this one was still getting the port: not ours to keep.
          if (portsReleased) endpoint.release();
          metricsUrl = endpoint.url;
          logger.info({ url: `${endpoint.url}/metrics` }, 'metrics listening');
        };
        // A predecessor still serving (the handshake) lets go of the port once told this hub is ready.
        if (previousWriter === null && !handshake) {
          onListening(await serveMetrics());
        } else {
          // A previous hub is still draining and may hold the port a moment longer: we already serve
          // editors, so keep trying in the background instead of failing the take-over.
          void retryWhileInUse(serveMetrics, HANDOVER_WAIT_MS, { home, config: runtime.config.path, key: 'hub.metrics_listen', address: runtime.config.config.hub.metricsListen }).then(onListening, (err) => {
            logger.error({ err: errorMessage(err) }, 'metrics not served');
            say(`${errorMessage(err)}\n`);
          });
        }
      }
      const hubSettings = runtime.config.config.hub;
      if (hubSettings.redisUrl !== undefined) {
        startStep = 'connecting to Redis';
        const { connectRedisTeam } = await import('./team/redis-team.js');
        team = connectRedisTeam({
          url: hubSettings.redisUrl,
          namespace: hubSettings.teamNamespace,
          replicaId: runtime.replicaId ?? `pid:${process.pid}`,
          slotLeaseMs: numberEnv('SNOWMUX_TEAM_LEASE_MS'),
          logger,
          summary: () => {
            const st = hub.status();
            const g = runtime.governance.snapshot() as { queue: { running: number; queued: number }; breakers: { profile: string; state: string }[] };
            return { pid: process.pid, version: VERSION, state: st.state, sessions: st.sessions.length, running: g.queue.running, queued: g.queue.queued, breakers: g.breakers.map((b) => ({ profile: b.profile, state: b.state })), policy: runtime.policyFingerprint() };
          },
          onModeChange: (mode, why) => say(mode === 'local' ? `Redis unreachable${why ? ` (${why})` : ''}; rate limits are per replica until it is back\n` : 'Redis connected; rate limits are team-wide\n'),
        });
        runtime.governance.useTeam(team);
        const { redisStream, redisStreamMax } = runtime.config.config.audit;
        if (redisStream !== undefined) {
          const shipper = team.auditStream(redisStream, redisStreamMax);
          runtime.copyAuditTo((record) => shipper.ship(record));
        }
      }
      if (httpListen !== undefined) {
        startStep = 'starting the HTTP face';
        const { serveHttp } = await import('./http/serve-http.js');
        const settings = { ...runtime.config.config.hub, httpEngine: options.httpEngine ?? runtime.config.config.hub.httpEngine };
        const serve = () => serveHttp({ hub, home, address: httpListen, settings, metrics, logger, auditAuthRefusal: (refusal) => runtime.auditAuthRefusal(refusal) });
        // The advice names this hub's home and config: pasted bare, `keys create` wrote to ~/.snowmux (a key
        // this hub never reads) and, without the config, made a team hub's key local.
        const place = hubPlace(home, runtime.config.path);
        const onServing = (service: HttpService) => {
          http = service;
          if (portsReleased) service.stopAccepting();
          logger.info({ url: service.url, auth: service.auth }, 'http listening');
          say(`HTTP on ${service.url} (/mcp, /healthz, /readyz, /metrics, /status, /events; ${service.engine === 'uws' ? 'uWebSockets.js' : 'node:http'})${service.auth.enabled ? '' : ' without API keys (loopback only)'}\n`);
          if (!service.auth.enabled) say(`warning: hub.http_auth = false: every local user and process on this machine (and any container sharing its network) can call tools as you and read /status over HTTP. Create keys (${snowmuxCommand('keys create --identity NAME', place)}) and remove http_auth = false unless this machine is yours alone.\n`);
          if (service.keysLoaded) {
            // Redis is usually up and answers within moments of the connection: the warning waits that long,
            // so a healthy start does not read as a broken replica; once said, the load is said too.
            const pending = service.auth.keysPending;
            let warned = false;
            const warn = pending === null ? undefined : setTimeout(() => {
              warned = true;
              say(`${pending}: team keys are answered 503 (retry) and /healthz 503 until Redis answers; this replica's own keys work.\n`);
            }, KEYS_PENDING_GRACE_MS);
            warn?.unref();
            void service.keysLoaded().then(() => {
              clearTimeout(warn);
              logger.info('team API keys loaded from Redis');
              if (warned) say("the team's API keys are loaded from Redis: team keys are served now.\n");
            });
          }
          if (service.auth.keysPending === null && service.auth.enabled && service.auth.activeKeys === 0) say(`no API key exists yet, so only /healthz answers over HTTP. Create one: ${snowmuxCommand('keys create --identity NAME', place)}\n`);
        };
        if (previousWriter === null && !handshake) {
          // Serving half of what was asked would hide the problem: a failure stops the hub (below), saying why.
          onServing(await serve());
        } else {
          // The draining predecessor may hold the port a moment longer (as for metrics above).
          void retryWhileInUse(serve, HANDOVER_WAIT_MS, { home, config: runtime.config.path, key: httpKey, address: httpListen }).then(onServing, (err) => {
            logger.error({ err: errorMessage(err) }, 'http not served');
            say(`${errorMessage(err)}\n`);
          });
        }
      }
    });
  } catch (err) {
    const code = isSnowmuxError(err) ? err.code : (err as NodeJS.ErrnoException).code;
    releaseHomeClaim(home);
    const handedBack = await handBack();
    hub.failedToStart(`${errorMessage(err)}${code && !errorMessage(err).includes(`[${code}]`) ? ` [${code}]` : ''}`, handedBack);
    if (handedBack && err instanceof Error) err.message += ` Nothing was taken over: the running hub (pid ${predecessor!.link!.welcome.hubPid}) took its socket back and goes on serving.`;
    else if (handshake && err instanceof Error) err.message += ` The running hub (pid ${predecessor!.link!.welcome.hubPid}) was asked to take its socket back but did not within ${REPLACE_HANDSHAKE_MS} ms: check \`${snowmuxCommand('status', home)}\`.`;
    // An open control link would keep this failed process alive.
    predecessor?.link?.socket.destroy();
    // What a failed start holds is closed (its sessions told, its audit log, Redis, listeners), within a bound of
    // its own: a step that hung (a disk, a lock, Redis) may hold what the clean-up closes, and the terminal waits
    // for the message until the clean-up is over. Past the bound this process says so and exits without the rest.
    let cleanUpStep = 'stopping its sessions';
    const cleanUpMs = startCleanUpMs(runtime.shutdownGraceMs);
    const cleaned = await withinBound(cleanUpMs, async () => {
      await hub.stop(START_FAILED);
      cleanUpStep = 'closing the audit log and the warehouses';
      await startFault('clean-up');
      await runtime.close('hub stopped').catch(() => {});
      cleanUpStep = 'closing its Redis connection and listeners';
      await team?.close().catch(() => {});
      await http?.close().catch(() => {});
      await metricsListener?.close().catch(() => {});
    });
    if (!cleaned) {
      const note = `This hub's clean-up did not finish within ${cleanUpMs / 1000} s (it was still ${cleanUpStep}): the process exits without the rest. See ${join(home, 'hub.log')}.`;
      logger.warn({ step: cleanUpStep, boundMs: cleanUpMs }, 'the failed start\'s clean-up did not finish in time; exiting without the rest');
      flushLogger(logger);
      if (err instanceof Error) err.message += ` ${note}`;
    }
    throw err;
  }
  hub.ready();
  if (predecessor?.link && handshake) {
    // Ready: now the old hub drains (and lets go of its ports for this one).
    predecessor.link.socket.write(encodeLine({ id: 1, op: 'replace' }));
    say(`took over from hub pid ${predecessor.link.welcome.hubPid}; it finishes its running calls, then exits\n`);
  }
  const unclaimed = watchUnclaimedStart({
    startedBy: process.env.SNOWMUX_STARTED_BY,
    sessionsOpened: () => hub.openedSessions,
    stop: (reason) => {
      logger.warn({ reason }, 'stopping a hub nobody uses');
      // The terminal is told by onStopping.
      void hub.stop(reason);
    },
  });

  // The listeners go last: /healthz says "draining" for as long as anything of this hub is still open.
  const closed = hub.stopped.then(async () => {
    unclaimed.cancel();
    successor?.stop();
    if (handover) {
      // Still waiting to write the log: the held records are written if the previous hub ends within the
      // stop's grace; otherwise they (and hub_stop) stay in the side file, fsynced, for the next hub to open it.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([handover, new Promise((r) => (timer = setTimeout(r, runtime.shutdownGraceMs)))]);
      clearTimeout(timer);
      handoverGivenUp = true;
    }
    const stillHeld = runtime.auditHolding();
    await runtime.close('hub stopped');
    if (stillHeld) {
      const { file, records } = runtime.auditHolding() ?? stillHeld;
      logger.warn({ file, records }, 'the previous hub still writes the audit log: this hub\'s records stay in its side file in the audit directory, and the next hub to take the log over writes them into the chain');
      say(`the previous hub still writes the audit log: this hub's ${records} audit record(s) stay in ${file} in the audit directory; the next hub to take the log over writes them into the chain\n`);
    }
    // After the audit log's last record (hub_stop), so a team's audit stream gets it too.
    await team?.close();
    await http?.close();
    await metricsListener?.close();
  });
  return { hub, logger, reload: () => hub.reload() as ReloadResult, stop: (reason) => hub.stop(reason), closed };
}

/** The stop of a hub that failed to start (the terminal is told the failure itself). */
const START_FAILED = 'start-up failed';
/** How long `--replace` waits for the running hub's hello before treating it as frozen. */
const REPLACE_HANDSHAKE_MS = 3_000;
/** Least wait for a replaced hub to finish before this one takes the audit writer over anyway. */
const HANDOVER_WAIT_MS = 120_000;
/** Beyond a replaced hub's call timeout: its calls' last answers, cancel confirmations and final records. */
const HANDOVER_MARGIN_MS = 30_000;
/** How often a hub waiting for the audit writer asks again. */
const HANDOVER_POLL_MS = 25;
/**
 * The lock around checking and taking a claim in the home, the audit writer's or the hub's (held for a
 * moment; a dead holder's is stale).
 */
const AUDIT_CLAIM_LOCK = 'audit-writer.lock';
const AUDIT_CLAIM_LOCK_STALE_MS = 10_000;

/**
 * Takes the home's serving claim (hub.pid, see claimHome) under the claim lock, so that of two hubs that
 * found the home unclaimed at once (reached on two sockets) one serves and the other refuses; the lock is
 * held for a moment, so a busy one is waited for, briefly.
 */
async function claimHomeExclusively(home: string, socketPath: string, takeOver: boolean): Promise<void> {
  const advice = (pid: number) =>
    `It does not answer on this hub's socket, ${socketPath}: it was started with another $SNOWMUX_RUNTIME_BASE, or by an older snowmux (which named the socket from the home's path as spelled, not its real path), or its socket was removed. ` +
    `Stop it (\`${snowmuxCommand('stop', home)}\`; if that does not find it, kill ${pid}) and start again.`;
  for (const started = performance.now(); ; ) {
    const lock = tryAcquireSpawnLock(home, AUDIT_CLAIM_LOCK_STALE_MS, AUDIT_CLAIM_LOCK);
    if (lock !== null) {
      try {
        claimHome(home, takeOver, advice);
        return;
      } finally {
        lock.release();
      }
    }
    // A lock older than its stale time is taken over above: this is only a bound, never reached in practice.
    if (performance.now() - started > 2 * AUDIT_CLAIM_LOCK_STALE_MS) {
      throw new SnowmuxError('HUB_ALREADY_RUNNING', `Another hub is starting in ${home} right now: ${join(home, AUDIT_CLAIM_LOCK)} stayed taken for ${(2 * AUDIT_CLAIM_LOCK_STALE_MS) / 1000} s. Use \`${snowmuxCommand('status', home)}\` to see it, and start again.`);
    }
    await new Promise((r) => setTimeout(r, HANDOVER_POLL_MS));
  }
}

/**
 * How long a hub waits for the previous audit writer before taking over from it anyway (docs/audit.md):
 * a replaced hub lets its calls run to their deadline (the call timeout), so it may write that long.
 */
export function handoverBoundMs(callTimeoutMs: number): number {
  return Math.max(HANDOVER_WAIT_MS, callTimeoutMs + HANDOVER_MARGIN_MS);
}

/**
 * Takes the home's audit-writer claim when no other live hub writes the log and none holds records ahead
 * of this one — or when the one in the way is `overdue` (frozen past the bound). Checked and taken under
 * the claim lock: two successors of one hub (two `hub --replace` at once) both took it and forked the
 * chain. Returns 'claimed', or the pid to wait for (-1: the lock is busy for a moment).
 */
async function tryClaimAuditWriter(home: string, heldAhead: () => Promise<number | null>, overdue: number | null): Promise<'claimed' | number> {
  const lock = tryAcquireSpawnLock(home, AUDIT_CLAIM_LOCK_STALE_MS, AUDIT_CLAIM_LOCK);
  if (lock === null) return -1;
  try {
    const inTheWay = liveAuditWriter(home) ?? (await heldAhead());
    if (inTheWay !== null && inTheWay !== overdue) return inTheWay;
    claimAuditWriter(home);
    return 'claimed';
  } finally {
    lock.release();
  }
}

/**
 * Waits until this hub may write the audit log (see tryClaimAuditWriter), then chains in what it held.
 * Each hub in the way gets its own bound from when it was first seen: a writer that claimed meanwhile (the
 * hub ahead of this one in a row of take-overs) is waited for, not overridden.
 */
async function handOverAudit(o: { home: string; runtime: HubRuntime; logger: Logger; boundMs: number; first: number; stopped: () => boolean }): Promise<void> {
  const { home, runtime, logger, boundMs } = o;
  let awaited = -1;
  // On the monotonic clock: a wall clock stepped back would stretch the bound by the size of the step.
  let since = 0;
  const waitFor = (pid: number) => {
    if (pid === awaited || pid === -1) return;
    awaited = pid;
    since = performance.now();
    // Status shows the bound as a time of day: the wall clock's now plus what is left of it.
    runtime.awaitAuditHandover(pid, Date.now() + boundMs);
    logger.info({ previousPid: pid, atMostMs: boundMs }, 'waiting for the previous hub to finish its audit records');
  };
  waitFor(o.first);
  let failure: string | undefined;
  for (;;) {
    await new Promise((r) => setTimeout(r, HANDOVER_POLL_MS));
    if (o.stopped()) return;
    const overdue = awaited !== -1 && performance.now() - since > boundMs ? awaited : null;
    let result: 'claimed' | number;
    try {
      result = await tryClaimAuditWriter(home, () => runtime.auditHeldAhead(), overdue);
    } catch (err) {
      // A lock that cannot be written (a full disk): the records stay held, durable; keep trying.
      if (failure !== errorMessage(err)) logger.error({ err: (failure = errorMessage(err)) }, 'could not take the audit writer over; retrying');
      continue;
    }
    if (result !== 'claimed') {
      waitFor(result);
      continue;
    }
    if (overdue !== null) logger.warn({ previousPid: overdue, waitedMs: Math.round(performance.now() - since) }, 'the previous hub did not finish its audit records in time (frozen?); this hub writes the log now, and that hub writes nothing more to it');
    try {
      await runtime.claimAudit();
    } catch (err) {
      logger.error({ err: errorMessage(err) }, 'audit log failed to open after the hand-over');
    }
    // The replaced hub wrote its quota usage as it stopped: added to what this one counted since.
    runtime.governance.restoreQuotas();
    return;
  }
}
/** How long a replica's team keys may take to load at start before its terminal says they have not. */
const KEYS_PENDING_GRACE_MS = 2_000;
/** How long `--replace` lets the warehouse open before taking over anyway (the calls then wait for it). */
const WARM_UP_WAIT_MS = 15_000;
/**
 * How long `--replace` has, once it holds the socket, to finish starting (home claim, audit log, listeners)
 * before it gives the socket back to the running hub; the running hub takes it back itself a little later
 * (a frozen new hub cannot give it). Warm-up and the audit hand-over have their own bounds and are not in it.
 * SNOWMUX_TEST_REPLACE_READY_MS shortens it for tests.
 */
const REPLACE_READY_MS = 60_000;

function replaceReadyMs(): number {
  return numberEnv('SNOWMUX_TEST_REPLACE_READY_MS') ?? REPLACE_READY_MS;
}

/**
 * Runs the rest of a replacing hub's start-up within `boundMs` (no bound when undefined): past it, start-up
 * fails with HUB_START_TIMEOUT naming the step it was in, and the caller gives the socket back.
 */
async function withinStartBound(boundMs: number | undefined, step: () => string, home: string, rest: () => Promise<void>): Promise<void> {
  if (boundMs === undefined) return rest();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SnowmuxError('HUB_START_TIMEOUT', `This hub did not finish starting within ${boundMs / 1000} s of taking the socket (it was still ${step()}). See ${join(home, 'hub.log')} for why, fix it, and run hub --replace again.`)), boundMs);
  });
  try {
    await Promise.race([rest(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Beyond the stop's grace (its sessions' drain): the clean-up of a start that failed, before the process exits anyway. */
const START_CLEANUP_MARGIN_MS = 5_000;

/** How long a failed start's clean-up may take; SNOWMUX_TEST_START_CLEANUP_MS shortens it for tests. */
function startCleanUpMs(shutdownGraceMs: number): number {
  return numberEnv('SNOWMUX_TEST_START_CLEANUP_MS') ?? shutdownGraceMs + START_CLEANUP_MARGIN_MS;
}

/** Runs `work` for at most `boundMs`: whether it finished (it is left running past the bound, unawaited). */
async function withinBound(boundMs: number, work: () => Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), boundMs)));
  try {
    return await Promise.race([work().then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

interface Predecessor {
  /** Control link to the old hub, opened before we take the path (afterwards the path leads to us). */
  link: OpenLink | null;
  /** It accepted the connection but did not answer: stopped, or stuck. */
  frozen: boolean;
  /** Why it would not talk to us, when it refused. */
  refusal?: string | undefined;
}

/**
 * A stale snowmux (an old install first on PATH) must not move a newer hub back to its version without
 * being told to: editors launching the newer one would be served by the older code (or refused, HUB_TOO_OLD,
 * when the newer one speaks a later link version) until someone notices.
 */
function refuseDowngrade(link: OpenLink): void {
  const { version, wire, hubPid } = link.welcome;
  const newer = compareVersions(version, VERSION) > 0 ? `snowmux ${version}` : wire > WIRE_VERSION ? `link version ${wire}` : null;
  if (newer === null) return;
  link.socket.destroy();
  const self = process.argv[1] ?? 'this snowmux';
  throw new SnowmuxError(
    'HUB_ALREADY_RUNNING',
    `The running hub (pid ${hubPid}) is newer than this snowmux (${newer}; this is ${VERSION} at ${self}): replacing it would downgrade it: editors launching the newer snowmux would then be served by this older code (or refused, HUB_TOO_OLD, when the newer one speaks a later link version). Run \`hub --replace\` from the newer snowmux (the one your editors launch), or add --allow-downgrade to roll the hub back to ${VERSION} on purpose.`,
  );
}

/**
 * After a take-over the new hub retries a port while it is in use, since the draining hub lets go of its
 * ports only once it sees its successor. A port the running hub does not hold (a changed http_listen or
 * metrics_listen that another program has) is not going to be let go of: refused here, before the socket
 * is taken, so the running hub keeps serving and the person running `--replace` is told at once.
 */
async function refuseForeignPorts(link: OpenLink, wanted: { key: string; address: string | undefined }[]): Promise<void> {
  let held: Set<number> | undefined;
  for (const { key, address } of wanted) {
    if (address === undefined || !(await portInUse(address))) continue;
    held ??= await predecessorPorts(link);
    const { port } = parseListen(address);
    if (held.has(port)) continue;
    const shown = held.size === 0 ? 'serves no TCP port' : `serves on port ${[...held].join(' and ')}`;
    throw new SnowmuxError(
      'HUB_LISTEN_FAILED',
      `Cannot take over: ${address} (${key}) is in use by another program — the running hub (pid ${link.welcome.hubPid}) ${shown}. Nothing was taken over; the running hub keeps serving. Find what holds the port (\`ss -ltnp 'sport = :${port}'\` or \`lsof -iTCP:${port} -sTCP:LISTEN\`) and stop it, or choose another ${key}; then run hub --replace again.`,
    );
  }
}

/**
 * What would stop this hub once it holds the socket, checked before it takes it: the replaced hub sees its
 * socket taken and drains whatever follows, so an unsafe or unwritable audit directory (the hub stops) or
 * an address that cannot be listened on (the HTTP face or metrics never come back) left no hub serving, or
 * none on that address. Refused here instead: the running hub keeps serving, and the terminal says why.
 */
async function refuseDoomedTakeOver(runtime: HubRuntime, wanted: { key: string; address: string | undefined }[], runningPid: number | undefined, place: HubPlace): Promise<void> {
  const keeps = `Nothing was taken over; the running hub${runningPid === undefined ? '' : ` (pid ${runningPid})`} keeps serving. Fix that, then run \`${snowmuxCommand('hub --replace', place)}\` again.`;
  try {
    await runtime.checkAudit();
  } catch (err) {
    if (!isSnowmuxError(err)) throw err;
    throw new SnowmuxError(err.code, `Cannot take over: ${err.message} ${keeps}`, { cause: err });
  }
  for (const { key, address } of wanted) {
    if (address === undefined) continue;
    const refusal = await listenRefusal(address);
    if (refusal === null) continue;
    throw new SnowmuxError('HUB_LISTEN_FAILED', `Cannot take over: ${address} (${key}) cannot be listened on: ${refusal}. Choose another ${key}. ${keeps}`);
  }
}

/** What the running hub's status says, asked once over the control link (before the take-over). */
interface PredecessorStatus {
  audit?: { dir?: string };
  http?: { url?: string };
  metrics?: { url?: string };
  service?: ServiceManagerInfo;
}
const predecessorStatuses = new WeakMap<OpenLink, Promise<PredecessorStatus>>();

function predecessorStatus(link: OpenLink): Promise<PredecessorStatus> {
  let asked = predecessorStatuses.get(link);
  if (asked === undefined) {
    asked = askStatus(link);
    predecessorStatuses.set(link, asked);
  }
  return asked;
}

function askStatus(link: OpenLink): Promise<PredecessorStatus> {
  return askPredecessor<PredecessorStatus>(link, STATUS_REQUEST_ID, 'status').then((reply) => (reply.ok ? (reply.result ?? {}) : {}));
}

/**
 * Whether the running hub takes part in the ready handshake: told a successor is coming, it serves on
 * until that one says it is ready or gives the socket back (or dies). An older hub answers UNKNOWN_OP.
 */
async function predecessorWaits(link: OpenLink, readyWithinMs: number): Promise<boolean> {
  try {
    return (await askPredecessor(link, PREPARE_REQUEST_ID, 'prepare-replace', { readyWithinMs })).ok === true;
  } catch {
    return false;
  }
}

function askPredecessor<T>(link: OpenLink, id: string, op: string, extra: Record<string, unknown> = {}): Promise<{ ok?: boolean; result?: T }> {
  return new Promise((resolve, reject) => {
    const decoder = new LineDecoder(64 * 1024 * 1024);
    const done = (settle: () => void) => {
      clearTimeout(timer);
      link.socket.off('data', onData);
      settle();
    };
    const timer = setTimeout(() => done(() => reject(new SnowmuxError('HUB_NO_ANSWER', `The running hub (pid ${link.welcome.hubPid}) did not answer a ${op} request within ${REPLACE_HANDSHAKE_MS} ms; nothing was taken over. Run hub --replace again, or stop it first.`))), REPLACE_HANDSHAKE_MS);
    const onData = (chunk: Buffer) => decoder.push(chunk, (ev) => {
      if (ev.kind !== 'line') return;
      const reply = JSON.parse(ev.line.toString('utf8')) as { id?: unknown; ok?: boolean; result?: T };
      if (reply.id === id) done(() => resolve(reply));
    });
    link.socket.on('data', onData);
    link.socket.write(encodeLine({ ...extra, id, op }));
    // What came with the welcome is read once: a second request must not see it again.
    if (link.rest.length > 0) {
      const rest = link.rest;
      link.rest = Buffer.alloc(0);
      onData(rest);
    }
  });
}

/**
 * A replace whose config moves `[audit] dir` (or turns audit off) starts the next records in another chain:
 * nothing links it to the one the replaced hub wrote, and `audit verify` of either directory alone looks
 * complete. Said on the terminal, in hub.log and in status's warnings for as long as this hub runs.
 */
async function warnOfAuditDirChange(link: OpenLink, runtime: HubRuntime, logger: Logger, say: (line: string) => void): Promise<void> {
  let before: string | undefined;
  try {
    before = (await predecessorStatus(link)).audit?.dir;
  } catch {
    return;
  }
  const now = runtime.auditDir();
  if (before === undefined || before === now) return;
  const pid = link.welcome.hubPid;
  const warning = now === null
    ? `audit is off in this hub's config, while the hub it replaced (pid ${pid}) wrote an audit chain in ${before}: calls from now on are not audited. Turn [audit] back on and run hub --replace if that was not meant.`
    : `[audit] dir changed with this replace: the hub it replaced (pid ${pid}) wrote its audit chain in ${before}; this hub writes ${now}, a chain of its own that does not link to that one. Keep ${before} (it holds the records up to the replace) and verify each on its own: snowmux audit verify --dir ${before}, then --dir ${now}.`;
  logger.warn({ previousDir: before, dir: now }, warning);
  runtime.addWarning(warning);
  say(`warning: ${warning}\n`);
}

/** The TCP ports the running hub serves on (HTTP, metrics), read from its status over the control link. */
async function predecessorPorts(link: OpenLink): Promise<Set<number>> {
  const status = await predecessorStatus(link);
  const ports = new Set<number>();
  for (const url of [status.http?.url, status.metrics?.url]) {
    if (!url) continue;
    const { port, protocol } = new URL(url);
    ports.add(port === '' ? (protocol === 'https:' ? 443 : 80) : Number(port));
  }
  return ports;
}

/**
 * A hub a service manager runs is restarted through that manager, not replaced from a terminal (see
 * service-manager.ts for what would follow). A hub the same manager starts as the same service (its own
 * restart) goes on; `--force` takes over anyway.
 */
async function refuseServiceManaged(link: OpenLink, own: ServiceManagerInfo | null): Promise<void> {
  let service: ServiceManagerInfo | undefined;
  try {
    service = (await predecessorStatus(link)).service;
  } catch (err) {
    link.socket.destroy();
    throw err;
  }
  if (service === undefined || (own !== null && own.manager === service.manager && own.unit === service.unit)) return;
  link.socket.destroy();
  const { hubPid } = link.welcome;
  throw new SnowmuxError(
    'HUB_ALREADY_RUNNING',
    `The running hub (pid ${hubPid}) is run by ${service.manager} (${service.manager === 'pm2' ? 'app' : service.manager === 'launchd' ? 'job' : 'unit'} ${service.unit}): replaced from here, ${replacedServiceOutcome(service)}. Nothing was taken over. Restart it through its manager instead (after an upgrade too): ${service.restart}. To take it over from here anyway, add --force.`,
  );
}

const STATUS_REQUEST_ID = 'predecessor-status';
const PREPARE_REQUEST_ID = 'prepare-replace';

/**
 * A fault injected into start-up, for tests of what a replace that fails late leaves behind:
 * SNOWMUX_TEST_START_FAULT=<point>:throw (start-up fails with an error), <point>:crash (the process is
 * killed, SIGKILL: no handler, no clean-up), <point>:hang (start-up never goes on; timers still run) or
 * <point>:freeze (the process stops itself, SIGSTOP: nothing runs); several, comma-separated. Points:
 * after-bind (the socket is taken, nothing else yet), clean-up (a failed start closes its audit log).
 */
async function startFault(point: string): Promise<void> {
  const fault = process.env.SNOWMUX_TEST_START_FAULT?.split(',').find((f) => f.startsWith(`${point}:`));
  if (fault === undefined) return;
  if (fault.endsWith(':crash')) process.kill(process.pid, 'SIGKILL');
  if (fault.endsWith(':freeze')) process.kill(process.pid, 'SIGSTOP');
  if (fault.endsWith(':hang')) return new Promise<void>(() => {});
  throw new SnowmuxError('HUB_START_FAILED', `injected start-up fault at ${point} (SNOWMUX_TEST_START_FAULT)`);
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
 * Retries `listen` while its error says the address is still in use, up to `boundMs` — unless the previous
 * hub (the audit writer this hub waits for, which holds the port until it sees its successor) is stopped:
 * it lets go of nothing until resumed, so that fails at once, naming it, instead of after the bound.
 */
async function retryWhileInUse<T>(listen: () => Promise<T>, boundMs: number, port: { home: string; config: string; key: string; address: string }): Promise<T> {
  const deadline = performance.now() + boundMs;
  for (;;) {
    try {
      return await listen();
    } catch (err) {
      const inUse = /EADDRINUSE/.test(errorMessage(err));
      if (!inUse || performance.now() > deadline) throw err;
      const holder = liveAuditWriter(port.home);
      if (holder !== null && stoppedProcess(holder)) {
        throw new SnowmuxError('HUB_LISTEN_FAILED', `${port.address} (${port.key}) is not served: ${stoppedHolderSays(holder, port)} This hub serves editors on its socket meanwhile. ${stoppedHolderAdvice(holder, port)}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * `--replace` over a hub that did not answer: when that hub is stopped (SIGSTOP, Ctrl-Z) and a port this
 * hub wants is in use, it is that hub's and stays so until it is resumed or ended. Refused before the
 * socket is taken, within the handshake's wait, instead of taking over and waiting for the port for minutes.
 * The hub is known by its audit-writer claim (it did not answer, so it could not say its pid).
 */
async function refuseStoppedHolder(home: string, config: string, wanted: { key: string; address: string | undefined }[]): Promise<void> {
  const holder = liveAuditWriter(home);
  if (holder === null || !stoppedProcess(holder)) return;
  for (const { key, address } of wanted) {
    if (address === undefined || !(await portInUse(address))) continue;
    const port = { home, config, key, address };
    throw new SnowmuxError('HUB_LISTEN_FAILED', `Cannot take over: ${stoppedHolderSays(holder, port)} Nothing was taken over. ${stoppedHolderAdvice(holder, port)}`);
  }
}

function stoppedHolderSays(pid: number, port: { key: string; address: string }): string {
  return `${port.address} (${port.key}) is held by the previous hub, pid ${pid}, which is stopped (SIGSTOP or Ctrl-Z): a stopped process answers nothing and lets go of nothing until it is resumed.`;
}

function stoppedHolderAdvice(pid: number, port: { home: string; config: string }): string {
  return `Resume it (\`kill -CONT ${pid}\`: it then hands over or finishes and lets go of the port) or end it (\`kill -KILL ${pid}\`), then run \`${snowmuxCommand('hub --replace', hubPlace(port.home, port.config))}\`.`;
}

/** Whether `pid` is stopped: Linux's /proc, else (macOS) what ps says; false where neither tells. */
function stoppedProcess(pid: number): boolean {
  const known = processStopped(pid);
  if (known !== null) return known;
  if (process.platform !== 'darwin') return false;
  const ps = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8', timeout: 2_000 });
  return ps.status === 0 && ps.stdout.trim().startsWith('T');
}

function numberEnv(name: string): number | undefined {
  const raw = process.env[name];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Prometheus metrics fed by every finished call, with gauges read from the hub's snapshots at scrape time. */
function hubMetrics(runtime: HubRuntime, hub: () => Hub | undefined, team: () => TeamState | undefined): HubMetrics {
  const governance = () => runtime.governance.snapshot() as {
    queue: { running: number; queued: number; pools: QueuePoolSource[] };
    breakers: { profile: string; state: string; opensCount: number }[];
    metadataCache: { hits: number; misses: number; joined: number; entries: number };
  };
  // The hub's own tools and the team's ([tools.*], read when the hub starts): a bounded set of labels.
  const knownTools: ReadonlySet<string> = new Set([...BUILTIN_TOOL_NAMES, ...runtime.teamTools.map((t) => t.name)]);
  return new HubMetrics({
    knownTools: () => knownTools,
    sessions: () => hub()?.status().sessions ?? [],
    sessionsCut: () => hub()?.status().totals.sessionsCut,
    queue: () => governance().queue,
    breakers: () => governance().breakers,
    pools: () =>
      runtime.warehouses.describe().map((w) => {
        const pool = w.detail.pool as (PoolGauges & { logins?: number }) | undefined;
        // What tells pools of one name apart (other editors' settings), no secret among it.
        const d = w.detail;
        const settings = JSON.stringify([d.account, d.user, d.authenticator, d.role, d.warehouse, d.database, d.schema, d.accessUrl, w.defaultDatabase, w.defaultSchema]);
        return { name: w.name, kind: w.kind, settings, logins: pool?.logins, connections: pool };
      }),
    auditSeq: () => (runtime.statusSections().audit as { lastSeq?: number }).lastSeq,
    auditFailedAppends: () => (runtime.statusSections().audit as { failedAppends?: number }).failedAppends,
    traceSpansDropped: () => (runtime.statusSections().traces as { spansDropped?: number } | undefined)?.spansDropped,
    metadataCache: () => governance().metadataCache,
    team: () => {
      const t = team();
      return t && { mode: t.mode, fallbacks: (t.snapshot() as { fallbacks: number }).fallbacks };
    },
  });
}

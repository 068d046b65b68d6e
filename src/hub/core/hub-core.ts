/**
 * The hub's core, free of any transport: the sessions (whoever carries them — the Unix socket, a remote
 * shim's WebSocket, Streamable HTTP, stdio), the one call pipeline they all share, the call record,
 * status, reload and the graceful stop. Transports live outside (hub/socket, hub/http): they attach a
 * session with hooks to drain and close it, serve `createMcpServer(attached.env)` on it, and register
 * as listeners so a stop first stops them accepting and finally closes what they hold.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { SnowmuxError, errorMessage } from '../../errors.js';
import { hubPlace } from '../../snowmux-command.js';
import { VERSION } from '../../version.js';
import type { KnownSecrets } from '../audit/known-secrets.js';
import type { Governance } from '../governance/governance.js';
import type { CallRecord, CallSink } from '../observe/call-record.js';
import { flushLogger, type Logger } from '../observe/logger.js';
import { assessHealth } from './hub-health.js';
import { callerWarehouses, ownStatus, type HubStatus } from './status-view.js';
import { QueryHistory } from '../observe/query-history.js';
import type { CallTracer } from '../observe/tracing.js';
import { CallSinks, RecentCalls } from '../observe/recent-calls.js';
import { CallPipeline } from '../pipeline/call-pipeline.js';
import { DEFAULT_LIMITS, type HubLimits } from '../pipeline/hub-limits.js';
import { Session, type Identity, type SessionFacts } from '../session/session.js';
import { shownText } from '../../shown-text.js';
import type { TeamTool } from '../tools/team-tools.js';
import type { ToolEnv } from '../tools/tool-runtime.js';
import type { WarehouseInfo } from '../warehouse/types.js';
import type { WarehouseProvider } from '../warehouse/warehouse-registry.js';

export type { HubStatus } from './status-view.js';

export interface HubCoreOptions {
  home: string;
  /** The config file the hub reads: the health advice to restart the hub names it when it is not the home's own. */
  configFile?: string | undefined;
  logger: Logger;
  warehouses: WarehouseProvider & { describe(): WarehouseInfo[]; close(): Promise<void> };
  /** The state behind the rules (roles, limits, queues, breakers): every call's pipeline reads it. */
  governance: Governance;
  limits?: Partial<HubLimits>;
  /** How long a stop waits for running calls before cancelling them. */
  shutdownGraceMs?: number;
  /** Extra sinks for every finished call (audit, metrics). */
  sinks?: CallSink[];
  /** Applied to every finished call before any sink (recent list in status included) sees it. */
  scrubCall?: (call: CallRecord) => CallRecord;
  /** Extra sections for status output (pool, breaker, limits…). */
  statusSections?: () => Record<string, unknown>;
  /**
   * Called once when the hub starts draining, after the listeners stopped accepting sessions. The next
   * hub may already be running (a take-over) or start at any moment (a shim starts one).
   */
  onStopping?: (reason: string) => void;
  /** Tools defined in config.toml, checked at start. */
  teamTools?: readonly TeamTool[];
  /** Re-reads the configuration (see HubRuntime.reload). */
  reload?: () => unknown;
  /** Spans for every call, when traces are exported (hub.otel_endpoint). */
  tracer?: CallTracer | undefined;
  /** The hub's known secrets: kept out of status and of the failure messages callers get. */
  secrets?: KnownSecrets | undefined;
}

/**
 * What `/healthz` answers, on every listener that serves it: 200 while the hub runs, 503 from the moment
 * it starts draining until it exits, so a load balancer or process manager stops sending it new work.
 */
export interface HubHealth {
  ok: boolean;
  /**
   * What /healthz answers anyone, without a key: whether it runs, and which process (a load balancer or a
   * test tells the draining hub from the next by pid). Version and activity are for key holders (/status).
   */
  body: { status: 'running' | 'draining'; message?: string; pid: number; uptimeMs: number; audit?: string };
}

/** What the hub tells listeners (the HTTP face's /events): sessions coming and going, calls, draining. */
export interface HubEvents {
  session_open: [{ id: string; transport: string; identity: string; client: string | null }];
  session_close: [{ id: string; why: string; calls: number; errors: number }];
  /** A call began (before its rules ran); `call` follows with its outcome, under the same requestId. */
  call_start: [{ at: string; sessionId: string; requestId: string; tool: string }];
  call: [Pick<CallRecord, 'at' | 'sessionId' | 'requestId' | 'tool' | 'outcome' | 'errorCode' | 'ms' | 'rows' | 'queryId'>];
  /** A warehouse's circuit breaker changed state (open: calls to it fail fast; half-open: a probe may pass). */
  breaker: [{ profile: string; from: string; to: string; at: string; failures: number; nextAttemptAt: string | null }];
  draining: [{ reason: string }];
  reload: [Record<string, unknown>];
  /** The API keys changed (`snowmux keys revoke|rotate`): the HTTP face checks what each key holds open again. */
  keys_changed: [];
}

/** How the transport carrying a session lets the core drain and close it. */
export interface AttachedSessionHooks {
  /** Stop taking new requests for this session; close once it is owed nothing. */
  drain(reason: string): void;
  /** Requests received and not answered yet. */
  outstanding(): number;
  /** End it now (running calls are cancelled). */
  close(why: string): void;
  /** Cut it as a dead link would (`snowmux disconnect`): a shim reconnects with a fresh session. Default: close. */
  cut?(): void;
}

export interface AttachedSession {
  session: Session;
  /** What createMcpServer needs to serve this session's calls. */
  env: ToolEnv;
  logger: Logger;
  /** The transport ended the session: it leaves status, and a stop stops waiting for it. */
  detach(why: string): void;
}

/** A transport's listener, as the core's stop sees it. */
export interface HubListener {
  /** Status fields it adds (the socket path…). */
  describe?(): Record<string, unknown>;
  /** First thing on a stop: accept nothing more and free what the next hub needs (the socket path). */
  stopAccepting(reason: string): void;
  /** Last thing on a stop, after the sessions: end every connection still open. */
  closeAll(): Promise<void>;
}

export class HubCore {
  readonly startedAt = new Date();
  /** performance.now() at start: uptime is measured on it, so a step of the wall clock cannot make it negative or inflate it. */
  private readonly startedMono = performance.now();
  /** See HubEvents. Listeners must not throw. */
  readonly events = new EventEmitter<HubEvents>();
  readonly limits: HubLimits;
  readonly logger: Logger;
  /** Resolves when the hub has fully stopped. */
  readonly stopped: Promise<void>;
  private readonly sessions = new Map<string, { session: Session; hooks: AttachedSessionHooks }>();
  /** Per session, what runs after an applied reload (its servers telling their clients the tools changed). */
  private readonly reloadWatchers = new Map<string, (() => void)[]>();
  private readonly listeners: HubListener[] = [];
  private readonly recent = new RecentCalls(50);
  /** Each identity's recent SQL calls (query_history). */
  private readonly history = new QueryHistory();
  /** The one path every call of every session takes. */
  private readonly pipeline: CallPipeline;
  private sessionsOpened = 0;
  private sessionsCut = 0;
  /** HTTP answers the hub cut because their clients did not read them (http/answer-budget.ts). */
  private answersCut = 0;
  private lastCut: { at: string; why: string; identity?: string } | undefined;
  private draining = false;
  private drainReason = '';
  private stopping: Promise<void> | null = null;
  /** When a stop cancels the calls still running; each stop() request may bring it closer, never later. */
  private cancelAt = Infinity;
  /** Why they are cancelled then: which limit ran out (what the HUB_STOPPING error tells the caller). */
  private cancelWhy = '';
  private resolveStopped!: () => void;

  constructor(private readonly opts: HubCoreOptions) {
    this.logger = opts.logger;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.stopped = new Promise<void>((r) => (this.resolveStopped = r));
    const announce: CallSink = {
      record: (c) => {
        if (this.events.listenerCount('call') === 0) return;
        this.events.emit('call', { at: c.at, sessionId: c.sessionId, requestId: c.requestId, tool: c.tool, outcome: c.outcome, errorCode: c.errorCode, ms: c.ms, rows: c.rows, queryId: c.queryId });
      },
    };
    const sink = new CallSinks([this.recent, this.history, ...(opts.sinks ?? []), announce], opts.scrubCall);
    const onCallStart = (c: HubEvents['call_start'][0]) => {
      if (this.events.listenerCount('call_start') > 0) this.events.emit('call_start', c);
    };
    this.pipeline = new CallPipeline({ warehouses: opts.warehouses, governance: opts.governance, limits: this.limits, logger: opts.logger, sink, tracer: opts.tracer, onCallStart, secrets: opts.secrets });
    opts.governance.onBreakerTransition((t) => {
      this.events.emit('breaker', { profile: t.profile, from: t.from, to: t.to, at: new Date(t.at).toISOString(), failures: t.failures, nextAttemptAt: t.nextAttemptAt === null ? null : new Date(t.nextAttemptAt).toISOString() });
    });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Sessions opened since the hub started (the status's `totals.sessionsOpened`, without building a status). */
  get openedSessions(): number {
    return this.sessionsOpened;
  }

  addListener(listener: HubListener): void {
    this.listeners.push(listener);
  }

  /**
   * A session, whatever transport carries it: listed in status, governed and recorded like every other,
   * drained and closed with the hub. Refused while the hub drains.
   */
  attachSession(facts: Omit<SessionFacts, 'id'> & { id?: string }, hooks: AttachedSessionHooks): AttachedSession {
    if (this.draining) throw new Error('the hub is draining');
    const session = new Session({ ...shownFacts(facts), id: facts.id ?? randomUUID() });
    this.sessions.set(session.id, { session, hooks });
    this.sessionsOpened += 1;
    // It shares its identity's rate from now, not from its first call (another editor's burst cannot refuse that).
    this.opts.governance.sessionStarted(session);
    const logger = this.logger.child({ session: session.id });
    const shown = session.facts;
    logger.info(
      { transport: shown.transport, identity: shown.identity.name, shimPid: shown.shimPid, parent: shown.parent, shimVersion: shown.shimVersion, resumeOf: shown.resumeOf },
      'session opened',
    );
    this.events.emit('session_open', { id: session.id, transport: facts.transport, identity: facts.identity.name, client: session.client?.name ?? null });
    const afterReload = (fn: () => void): void => {
      if (!this.sessions.has(session.id)) return;
      const watchers = this.reloadWatchers.get(session.id);
      if (watchers) watchers.push(fn);
      else this.reloadWatchers.set(session.id, [fn]);
    };
    const env: ToolEnv = { session, pipeline: this.pipeline, limits: this.limits, history: this.history, teamTools: this.opts.teamTools ?? [], afterReload };
    let detached = false;
    return {
      session,
      env,
      logger,
      detach: (why) => {
        if (detached) return;
        detached = true;
        session.close(why);
        this.sessions.delete(session.id);
        // The hub's own cuts (socket-face: "cut: …") are counted, so status shows them, not only the log.
        if (why.startsWith('cut: ')) {
          this.sessionsCut += 1;
          this.lastCut = { at: new Date().toISOString(), why: why.slice('cut: '.length) };
        }
        this.opts.governance.sessionEnded(facts.identity.name, session.id);
        this.reloadWatchers.delete(session.id);
        logger.info({ why, calls: session.calls, errors: session.errors }, 'session closed');
        this.events.emit('session_close', { id: session.id, why, calls: session.calls, errors: session.errors });
      },
    };
  }

  /** `snowmux keys revoke|rotate` changed the keys: connections a key holds open are checked again at once. */
  keysChanged(): { rechecked: true } {
    this.events.emit('keys_changed');
    return { rechecked: true };
  }

  /** `snowmux reload` and SIGHUP: new rules for every session, none dropped. Throws when the new config is invalid. */
  reload(): unknown {
    if (!this.opts.reload) throw new Error('This hub cannot reload its configuration.');
    let result: unknown;
    try {
      result = this.opts.reload();
    } catch (err) {
      // A refused reload is news too: whoever watches the hub learns the file on disk is not what runs.
      this.events.emit('reload', { outcome: 'refused', reason: errorMessage(err), at: new Date().toISOString() });
      throw err;
    }
    this.events.emit('reload', { outcome: 'applied', ...(result as Record<string, unknown>) });
    for (const [id, watchers] of this.reloadWatchers) {
      for (const watcher of watchers) {
        try {
          watcher();
        } catch (err) {
          this.logger.warn({ session: id, err: errorMessage(err) }, 'telling a session about the reload failed');
        }
      }
    }
    return result;
  }

  /** Drops one session's link, as a cut connection would: its calls are cancelled, its shim reconnects. */
  disconnect(wanted: string): { disconnected: string[] } {
    if (wanted.length < 4) throw new Error('Name the session to disconnect: "session" must be its id or a prefix of at least 4 characters (see `snowmux status`).');
    const matches = [...this.sessions.values()].filter((s) => s.session.id.startsWith(wanted));
    if (matches.length > 1) throw new Error(`"${wanted}" matches ${matches.length} sessions; give more of the id.`);
    for (const { session, hooks } of matches) {
      this.logger.info({ session: session.id }, 'session disconnected by control request');
      if (hooks.cut) hooks.cut();
      else hooks.close('disconnected by control request');
    }
    return { disconnected: matches.map((s) => s.session.id) };
  }

  /**
   * An HTTP answer the hub cut because its client did not read it (the bound on unread answers, or none of it
   * taken for the stalled-output time): counted, and the last cut's reason and identity shown in status, as
   * a cut session's are, so the operator sees it without reading the log.
   */
  noteAnswerCut(why: string, identity: string | undefined): void {
    this.answersCut += 1;
    this.lastCut = { at: new Date().toISOString(), why: `an HTTP answer${identity === undefined ? '' : ` to ${identity}`}: ${why}`, ...(identity === undefined ? {} : { identity }) };
  }

  health(): HubHealth {
    // Liveness stays 200 while the audit log fails (a restart would not free the disk); the body says so.
    const trouble = this.pipeline.env.sink.unavailable?.();
    const audit = trouble ? { audit: `audit records cannot be written since ${trouble.since} (${trouble.code}): ${trouble.refuse ? 'new calls are refused (AUDIT_UNAVAILABLE)' : 'calls are served unrecorded'}; see /readyz or snowmux status` } : {};
    const base = { pid: process.pid, uptimeMs: this.uptimeMs(), ...audit };
    if (!this.draining) return { ok: true, body: { status: 'running', ...base } };
    return {
      ok: false,
      body: { status: 'draining', message: `The hub is draining (${this.drainReason}): it finishes the calls it has, then exits. Send new work to another hub.`, ...base },
    };
  }

  status(): HubStatus {
    const status: HubStatus = {
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeMs: this.uptimeMs(),
      home: this.opts.home,
      socket: '',
      ...Object.assign({}, ...this.listeners.map((l) => l.describe?.() ?? {})),
      state: this.draining ? 'draining' : 'running',
      warehouses: this.opts.warehouses.describe(),
      sessions: [...this.sessions.values()].map((s) => s.session.snapshot()),
      totals: { sessionsOpened: this.sessionsOpened, sessionsCut: this.sessionsCut, ...(this.answersCut > 0 ? { answersCut: this.answersCut } : {}), ...(this.lastCut ? { lastCut: this.lastCut } : {}), ...this.recent.totals },
      recent: this.recent.list(20).map(keptView),
      ...(this.opts.statusSections?.() ?? {}),
    };
    status.health = assessHealth(status, hubPlace(this.opts.home, this.opts.configFile));
    // What the hub says of its parts (a breaker's last failure, a refused reload, Redis's last error) quotes
    // drivers and connections: the hub's secrets out, as from hub.log.
    return this.opts.secrets ? this.opts.secrets.scrubView(status) : status;
  }

  /** Milliseconds since the hub started, on the monotonic clock (the wall clock may be stepped: NTP, a resumed VM). */
  private uptimeMs(): number {
    return Math.round(performance.now() - this.startedMono);
  }

  /** Whether `viewer` may see every identity's sessions and calls: their role says `query_history = "all"`. */
  seesEveryone(viewer: Identity): boolean {
    return this.opts.governance.policy.roleFor(viewer, null).queryHistory === 'all';
  }

  /** The status as `viewer` (a key holder over HTTP) may see it: see status-view.ts. */
  statusFor(viewer: Identity): HubStatus {
    const status = this.status();
    // The viewer's own calls as they wrote them (callerView): see CallRecord.callerView.
    const view = this.seesEveryone(viewer) ? status : { ...ownStatus(status, viewer.name), recent: this.recent.list(20).filter((c) => c.identity === viewer.name).map(callerView) };
    // A warehouse problem that names the hub's own files is told a key holder without them, its health too.
    const warehouses = callerWarehouses(view.warehouses);
    if (warehouses === undefined && view === status) return view;
    // Health judged on what the viewer is shown: its own sessions (a shim's version names the session).
    const shown: HubStatus = { ...view, warehouses: warehouses ?? view.warehouses };
    shown.health = assessHealth(shown, hubPlace(this.opts.home, this.opts.configFile));
    return shown;
  }

  /**
   * Graceful stop: stop accepting, let running calls finish, close sessions. A plain stop gives them
   * hub.shutdown_grace_ms. A replaced hub (`hub --replace`: a successor already serves new calls) has no
   * reason to hurry, so its calls run to their own deadline (the call timeout) — unless a plain stop follows
   * (a signal to the draining hub), which brings the grace period back from that moment.
   */
  stop(reason: string, opts: { replaced?: boolean } = {}): Promise<void> {
    const graceMs = this.opts.shutdownGraceMs ?? 10_000;
    const waitMs = opts.replaced ? this.limits.callTimeoutMs : graceMs;
    // On the monotonic clock: a wall clock stepped back during the drain would otherwise keep the hub waiting for
    // the size of the step (a step forward would cancel at once).
    const at = performance.now() + waitMs;
    if (at < this.cancelAt) {
      this.cancelAt = at;
      this.cancelWhy = opts.replaced
        ? `${reason}: this call was still running when the hub's ${formatMs(waitMs)} call timeout (hub.call_timeout_ms) was over`
        : `${reason}: running calls had ${formatMs(waitMs)} to finish (hub.shutdown_grace_ms) and this one had not`;
    }
    if (!this.stopping) this.stopping = this.shutdown(reason);
    return this.stopping;
  }

  /**
   * Stop accepting, tell every session's client to move on (new calls go to the next hub while this one
   * finishes what it has), close each session once it is owed nothing, cancel what is left after the
   * grace period, then close everything.
   */
  private async shutdown(reason: string): Promise<void> {
    this.draining = true;
    this.drainReason = reason;
    this.logger.info({ reason, sessions: this.sessions.size }, 'hub stopping');
    for (const l of this.listeners) l.stopAccepting(reason);
    try {
      this.opts.onStopping?.(reason);
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'onStopping failed');
    }
    this.events.emit('draining', { reason });
    for (const { hooks } of [...this.sessions.values()]) hooks.drain(reason);
    // Polled rather than timed once: a later stop() (a signal during a replace's drain) moves cancelAt closer.
    while (this.sessions.size > 0 && performance.now() < this.cancelAt) await new Promise((r) => setTimeout(r, 20));
    if (this.sessions.size > 0) {
      // Said from what is left: a session still open with no call running (its transport has not closed it) is no call cut short.
      const running = [...this.sessions.values()].reduce((n, { session }) => n + session.running.size, 0);
      if (running > 0) this.logger.warn({ sessions: this.sessions.size, runningCalls: running, why: this.cancelWhy }, 'grace period over; cancelling running calls');
      else this.logger.warn({ sessions: this.sessions.size }, 'grace period over; closing sessions still open with no call running');
      // The reason each call reports: the hub ended it, not its client (whose cancel reads QUERY_CANCELLED).
      const stopped = new SnowmuxError('HUB_STOPPING', `The hub stopped while this call ran and cancelled it (${this.cancelWhy}). Run it again: your editor's next call reaches the hub that serves now.`);
      // Cancelling makes each call answer (a cancelled tool result); give those answers a moment to go out.
      const left = [...this.sessions.values()];
      for (const { session } of left) session.close(`hub stopping: ${reason}`, stopped);
      await waitUntil(() => left.every(({ hooks }) => hooks.outstanding() === 0), 1_000);
      for (const { hooks } of left) hooks.close('hub stopping: grace period over');
    }
    await Promise.all(this.listeners.map((l) => l.closeAll().catch(() => {})));
    await this.opts.warehouses.close().catch((err) => this.logger.warn({ err: errorMessage(err) }, 'closing warehouses failed'));
    this.logger.info('hub stopped');
    flushLogger(this.logger);
    this.resolveStopped();
  }
}

/**
 * Polls a condition until it holds or the time is up (shutdown only; nothing here is latency-critical). The
 * time is measured on the monotonic clock, so a step of the wall clock neither stretches nor cuts the wait.
 */
export async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/** A call as the audit keeps it: its caller's own view left out (status shows it to others too). */
function keptView(call: CallRecord): CallRecord {
  if (call.callerView === undefined) return call;
  const { callerView: _own, ...kept } = call;
  return kept;
}

/** A call as its own caller may see it. */
function callerView(call: CallRecord): CallRecord {
  if (call.callerView === undefined) return call;
  const { callerView: own, ...kept } = call;
  return { ...kept, ...own };
}

/**
 * The hello's words about a session that the hub only shows (its version, parent command, the session it
 * resumes), cut and escaped: a client may send 64 KB of each, kept per session, listed by every status and
 * written to the log.
 */
function shownFacts<F extends Omit<SessionFacts, 'id'>>(facts: F): F {
  const cut = (text: string | undefined, max: number) => (text === undefined ? undefined : shownText(text, max));
  return {
    ...facts,
    shimVersion: cut(facts.shimVersion, 64),
    resumeOf: cut(facts.resumeOf, 64),
    parent: facts.parent && { ...facts.parent, command: cut(facts.parent.command, 256) },
  };
}

/**
 * Prometheus metrics (prom-client): per-call counters and latency histograms fed by the call sink, and
 * gauges read at scrape time from the hub's own snapshots (sessions, queue, breakers, pools, audit).
 */
import { createHash } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isErrorCode } from '../../error-codes.js';
import type { CallRecord, CallSink } from './call-record.js';

/** Connections of a warehouse pool, as the pool reports them (Snowflake pools; the embedded warehouse has none). */
export interface PoolGauges {
  size: number;
  available: number;
  borrowed: number;
  pending: number;
  max: number;
}

export interface MetricsSources {
  /** Open sessions by the transport that carries them (unix-socket, stdio, http, websocket). */
  sessions(): { transport: string }[];
  /** Sessions the hub cut itself since it started (a client that did not read, malformed input, a silent link). */
  sessionsCut(): number | undefined;
  /**
   * The fair queue: every warehouse together, and each warehouse's pool in it (by profile name; `maxConcurrent`
   * is what runs of it at once, its connections within the hub's cap).
   */
  queue(): { running: number; queued: number; pools?: readonly QueuePoolSource[] | undefined } | undefined;
  breakers(): { profile: string; state: string; opensCount: number }[];
  /**
   * Every pool, by profile name: editors whose SNOWFLAKE_* settings differ get pools of their own under the
   * same name. `settings` is what tells them apart, without secrets (account, user, role, …).
   */
  pools(): PoolSource[];
  auditSeq(): number | undefined;
  /** Audit records the log failed to write since the hub opened it (undefined while no audit log is open). */
  auditFailedAppends(): number | undefined;
  /** Trace spans the exporter could not deliver and dropped (undefined without hub.otel_endpoint). */
  traceSpansDropped(): number | undefined;
  metadataCache(): { hits: number; misses: number; joined: number; entries: number } | undefined;
  /** A team hub replica's link to Redis (undefined on a hub without hub.redis_url). */
  team(): { mode: string; fallbacks: number } | undefined;
  /**
   * The names of the tools the hub registers (its own and the team's, as configured now): a bounded set, so
   * each is its own `tool` label even for a call refused before any session looked it up. Absent: none known.
   */
  knownTools?(): ReadonlySet<string>;
}

export interface QueuePoolSource {
  name: string;
  running: number;
  queued: number;
  maxConcurrent: number;
}

/**
 * The fair queue's pools summed by profile name (several pools may share one, as in status). The queue runs at
 * most a pool's connections at once, so this is where calls wait for a connection: not the pool's own
 * `pending`, which only holds what the pool itself queues (calls waiting for a login).
 */
function queueByWarehouse(pools: readonly QueuePoolSource[]): Map<string, { running: number; queued: number; max: number }> {
  const out = new Map<string, { running: number; queued: number; max: number }>();
  for (const p of pools) {
    const seen = out.get(p.name) ?? { running: 0, queued: 0, max: 0 };
    out.set(p.name, { running: seen.running + p.running, queued: seen.queued + p.queued, max: seen.max + p.maxConcurrent });
  }
  return out;
}

export interface PoolSource {
  name: string;
  kind: string;
  settings: string;
  logins: number | undefined;
  connections?: PoolGauges | undefined;
}

const BREAKER_STATE: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Pools of one profile name with a series of their own; the rest share `pool="other"` (settings are the editors' to choose). */
export const MAX_POOL_SERIES_PER_NAME = 8;

/**
 * Each pool's `pool` label: 8 hex digits of its settings (the same pool keeps it across scrapes and
 * restarts), pools whose settings differ only in a secret summed under it, and past
 * MAX_POOL_SERIES_PER_NAME labels for one name, `other`. Without it, pools sharing a profile name wrote the
 * same series and the last one read won.
 */
export function poolSeries(pools: readonly PoolSource[]): { name: string; pool: string; kind: string; logins: number | undefined; connections: PoolGauges | undefined }[] {
  const labels = new Map<string, Set<string>>();
  const series = new Map<string, { name: string; pool: string; kind: string; logins: number | undefined; connections: PoolGauges | undefined }>();
  for (const p of pools) {
    const seen = labels.get(p.name) ?? new Set<string>();
    labels.set(p.name, seen);
    let pool = createHash('sha256').update(p.settings).digest('hex').slice(0, 8);
    if (!seen.has(pool) && seen.size >= MAX_POOL_SERIES_PER_NAME) pool = 'other';
    else seen.add(pool);
    const key = JSON.stringify([p.name, pool]);
    const s = series.get(key);
    if (!s) {
      series.set(key, { name: p.name, pool, kind: p.kind, logins: p.logins, connections: p.connections && { ...p.connections } });
      continue;
    }
    if (p.logins !== undefined) s.logins = (s.logins ?? 0) + p.logins;
    if (p.connections) {
      const c = (s.connections ??= { size: 0, available: 0, borrowed: 0, pending: 0, max: 0 });
      for (const state of POOL_STATES) c[state] += p.connections[state];
    }
  }
  return [...series.values()];
}

const POOL_STATES = ['size', 'available', 'borrowed', 'pending', 'max'] as const;

/**
 * Breakers by profile name: one per pool, so several may share a name (see poolSeries); the gauge shows the
 * worst of them and the opens of all.
 */
function breakersByName(breakers: readonly { profile: string; state: string; opensCount: number }[]): Map<string, { state: number; opens: number }> {
  const out = new Map<string, { state: number; opens: number }>();
  for (const b of breakers) {
    const state = BREAKER_STATE[b.state] ?? -1;
    const seen = out.get(b.profile);
    out.set(b.profile, { state: Math.max(seen?.state ?? -1, state), opens: (seen?.opens ?? 0) + b.opensCount });
  }
  return out;
}

/**
 * A counter whose value is a sum, read at each scrape, over things that come and go: a pool the registry
 * retires (its editors gone, its credentials superseded: configuration.md, *Pools, fingerprints and what is
 * shown*) takes its logins with it, and its breaker its opens, while the series they were summed into stays
 * (the profile's other pools, pools that differ only in a password, `pool="other"`). Exposed as read, such a
 * series went down, which Prometheus takes for a restart: increase() and rate() then counted everything the
 * remaining pools had ever done again. A series keeps what its sum lost, so it never goes below what it
 * showed; a series with nothing left under it goes (as a removed profile's gauges do), and one that comes
 * back starts afresh.
 */
class MonotonicSums {
  private readonly shown = new Map<string, { read: number; kept: number }>();

  /** What to expose for `read` (this scrape's sums by series key); keys absent from it are forgotten. */
  next(read: ReadonlyMap<string, number>): Map<string, number> {
    const out = new Map<string, number>();
    for (const key of this.shown.keys()) if (!read.has(key)) this.shown.delete(key);
    for (const [key, value] of read) {
      const seen = this.shown.get(key) ?? { read: value, kept: 0 };
      if (value < seen.read) seen.kept += seen.read - value;
      seen.read = value;
      this.shown.set(key, seen);
      out.set(key, seen.kept + value);
    }
    return out;
  }
}

export class HubMetrics implements CallSink {
  readonly registry = new Registry();
  private readonly calls: Counter<'tool' | 'outcome'>;
  private readonly duration: Histogram<'tool'>;
  private readonly queueWait: Histogram;
  private readonly rows: Counter<'tool'>;
  private readonly failures: Counter<'outcome' | 'code'>;
  private readonly httpRequests: Counter<'route' | 'status'>;
  private readonly authFailures: Counter<'reason'>;
  private readonly auditWrite: Histogram;
  /** The HTTP face's budget of unread answers, once it serves (see watchHttpAnswers). */
  private httpAnswers: { readonly heldBytes: number; readonly cuts: number } | undefined;
  /** Tool names of calls the session looked up (its tools, team tools): with knownTools, the only `tool` label values. */
  private readonly verifiedTools = new Set<string>();
  private readonly knownTools: () => ReadonlySet<string> | undefined;

  constructor(sources: MetricsSources) {
    this.knownTools = () => sources.knownTools?.();
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'snowmux_' });
    this.calls = new Counter({ name: 'snowmux_tool_calls_total', help: 'Tool calls by tool and outcome (ok, error, refused, cancelled).', labelNames: ['tool', 'outcome'], registers });
    this.failures = new Counter({
      name: 'snowmux_tool_call_failures_total',
      help: 'Tool calls that did not succeed, by outcome (error, refused, cancelled) and error code (docs/errors.md).',
      labelNames: ['outcome', 'code'],
      registers,
    });
    this.httpRequests = new Counter({ name: 'snowmux_http_requests_total', help: 'HTTP requests by route and status code.', labelNames: ['route', 'status'], registers });
    this.authFailures = new Counter({ name: 'snowmux_http_auth_failures_total', help: 'Refused HTTP authentications by reason (missing, malformed, unknown, revoked, expired, throttled; unavailable: the key store could not be read, so the key could not be checked).', labelNames: ['reason'], registers });
    this.duration = new Histogram({
      name: 'snowmux_tool_call_duration_seconds',
      help: 'Tool call duration, from the hub receiving the call to its result.',
      labelNames: ['tool'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'snowmux_queue_wait_seconds',
      help: 'Time calls waited in the fair queue for a warehouse slot (calls that asked for one only).',
      // Past 10 s (the default pool.acquire_timeout_ms: a POOL_EXHAUSTED wait) up to the default call timeout.
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.rows = new Counter({ name: 'snowmux_rows_returned_total', help: 'Rows returned to clients.', labelNames: ['tool'], registers });
    new Counter({
      name: 'snowmux_metadata_cache_requests_total',
      help: 'Metadata requests (list_*, describe_*) by how the shared cache answered: hit, miss (asked the warehouse), joined (waited for the same request in flight).',
      labelNames: ['result'],
      registers,
      collect() {
        const m = sources.metadataCache();
        if (!m) return;
        this.reset();
        this.inc({ result: 'hit' }, m.hits);
        this.inc({ result: 'miss' }, m.misses);
        this.inc({ result: 'joined' }, m.joined);
      },
    });
    this.auditWrite = new Histogram({
      name: 'snowmux_audit_write_seconds',
      help: 'Time from a call\'s audit record being handed to the log to it being written (and fsynced when the policy is "always").',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers,
    });
    new Gauge({
      name: 'snowmux_sessions',
      help: 'Open MCP sessions by transport (unix-socket, stdio, http, websocket).',
      labelNames: ['transport'],
      registers,
      collect() {
        const counts = new Map<string, number>([['unix-socket', 0], ['http', 0], ['websocket', 0], ['stdio', 0]]);
        for (const s of sources.sessions()) counts.set(s.transport, (counts.get(s.transport) ?? 0) + 1);
        for (const [transport, n] of counts) this.set({ transport }, n);
      },
    });
    const answersOf = () => this.httpAnswers;
    new Gauge({
      name: 'snowmux_http_unread_answer_bytes',
      help: 'Bytes of HTTP answers held for clients that have not read them yet, all connections together (bounded: past 128 MiB the longest-waiting are cut).',
      registers,
      collect() {
        this.set(answersOf()?.heldBytes ?? 0);
      },
    });
    new Counter({
      name: 'snowmux_http_answers_cut_total',
      help: 'HTTP answers cut because the answers their clients had not read passed the hub\'s bound (their calls cancelled).',
      registers,
      collect() {
        this.reset();
        this.inc(answersOf()?.cuts ?? 0);
      },
    });
    new Counter({
      name: 'snowmux_sessions_cut_total',
      help: 'Sessions the hub ended itself: a client that did not read its answers, kept sending malformed input, or a shim link silent past the watchdog (the reason of the last one is in status).',
      registers,
      collect() {
        this.reset();
        this.inc(sources.sessionsCut() ?? 0);
      },
    });
    new Gauge({
      name: 'snowmux_pool_connections',
      help: 'Warehouse pool connections per profile and pool (8 hex digits of its settings, or other) by state: size (open), available (idle), borrowed (in use), pending (calls the pool itself holds, waiting for a login; calls waiting for a busy connection wait in the hub queue: snowmux_warehouse_queue_calls), max.',
      labelNames: ['warehouse', 'pool', 'state'],
      registers,
      collect() {
        this.reset();
        for (const p of poolSeries(sources.pools())) {
          if (!p.connections) continue;
          for (const state of POOL_STATES) this.set({ warehouse: p.name, pool: p.pool, state }, p.connections[state]);
        }
      },
    });
    new Gauge({
      name: 'snowmux_queue_calls',
      help: 'Warehouse calls running or waiting in the fair queue.',
      labelNames: ['state'],
      registers,
      collect() {
        const q = sources.queue();
        if (!q) return;
        this.set({ state: 'running' }, q.running);
        this.set({ state: 'queued' }, q.queued);
      },
    });
    new Gauge({
      name: 'snowmux_warehouse_queue_calls',
      help: "Calls of each warehouse profile running on its connections or queued in the hub's fair queue for one (its pools summed), and max: how many of them may run at once (its pool's max, within limits.max_concurrent_queries).",
      labelNames: ['warehouse', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [warehouse, q] of queueByWarehouse(sources.queue()?.pools ?? [])) {
          this.set({ warehouse, state: 'running' }, q.running);
          this.set({ warehouse, state: 'queued' }, q.queued);
          this.set({ warehouse, state: 'max' }, q.max);
        }
      },
    });
    new Gauge({
      name: 'snowmux_breaker_state',
      help: 'Circuit breaker per warehouse profile, the worst of its pools\' breakers: 0 closed, 1 half-open, 2 open.',
      labelNames: ['profile'],
      registers,
      collect() {
        // Reset: a profile a reload removed goes, rather than keep its last state.
        this.reset();
        for (const [profile, b] of breakersByName(sources.breakers())) this.set({ profile }, b.state);
      },
    });
    // Counts since the hub started, kept by the breakers and pools: counters (rate/increase apply), set at
    // each scrape as snowmux_sessions_cut_total is, never lower than last time (MonotonicSums).
    const opens = new MonotonicSums();
    new Counter({
      name: 'snowmux_breaker_opens_total',
      help: 'Times the breakers of each warehouse profile opened since the hub started.',
      labelNames: ['profile'],
      registers,
      collect() {
        this.reset();
        const read = new Map([...breakersByName(sources.breakers())].map(([profile, b]) => [profile, b.opens]));
        for (const [profile, n] of opens.next(read)) this.inc({ profile }, n);
      },
    });
    const logins = new MonotonicSums();
    new Counter({
      name: 'snowmux_warehouse_logins_total',
      help: 'Warehouse logins per profile and pool (as snowmux_pool_connections) since the hub started.',
      labelNames: ['warehouse', 'pool', 'kind'],
      registers,
      collect() {
        this.reset();
        const read = new Map<string, number>();
        for (const p of poolSeries(sources.pools())) {
          if (p.logins === undefined) continue;
          const key = JSON.stringify([p.name, p.pool, p.kind]);
          read.set(key, (read.get(key) ?? 0) + p.logins);
        }
        for (const [key, n] of logins.next(read)) {
          const [warehouse, pool, kind] = JSON.parse(key) as [string, string, string];
          this.inc({ warehouse, pool, kind }, n);
        }
      },
    });
    new Gauge({
      name: 'snowmux_team_redis_connected',
      help: 'A team hub replica: 1 while Redis answers (team-wide limits), 0 while it falls back to its own local limits. Absent without hub.redis_url.',
      registers,
      collect() {
        const team = sources.team();
        // Without a team no sample at all: prom-client would expose an unlabelled gauge as 0, which reads
        // "Redis unreachable" and fires SnowmuxTeamRedisUnreachable on every single-user hub.
        if (team) this.set(team.mode === 'connected' ? 1 : 0);
        else this.remove();
      },
    });
    new Counter({
      name: 'snowmux_team_redis_fallbacks_total',
      help: 'Times a team hub replica lost Redis and fell back to local limits.',
      registers,
      collect() {
        const team = sources.team();
        if (!team) {
          this.remove(); // absent without a team, as its gauge
          return;
        }
        this.reset();
        this.inc(team.fallbacks);
      },
    });
    new Gauge({
      name: 'snowmux_audit_last_seq',
      help: 'Sequence number of the last audit record written.',
      registers,
      collect() {
        const seq = sources.auditSeq();
        if (seq !== undefined) this.set(seq);
      },
    });
    /** A count kept elsewhere (status has it), exported as a counter; absent while `read` says there is nothing to count. */
    const lossCounter = (name: string, help: string, read: () => number | undefined): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const count = read();
          if (count === undefined) {
            this.remove();
            return;
          }
          this.reset();
          this.inc(count);
        },
      });
    };
    // A failing audit log or trace exporter was only visible in status (and, for audit, as a last_seq that
    // stands still while calls go on): these count the losses themselves, absent where there is nothing to lose.
    lossCounter(
      'snowmux_audit_append_failures_total',
      'Audit records the hub failed to write (disk full, I/O error) since it opened its audit log. They are lost, not kept: the first record written again is a records_unwritten note that counts them. Absent without an open audit log.',
      () => sources.auditFailedAppends(),
    );
    lossCounter(
      'snowmux_trace_spans_dropped_total',
      'Trace spans the hub could not export (collector unreachable or refusing) and dropped, since it started. Absent without hub.otel_endpoint.',
      () => sources.traceSpansDropped(),
    );
  }

  record(call: CallRecord): void {
    const tool = this.toolLabel(call);
    this.calls.inc({ tool, outcome: call.outcome });
    this.duration.observe({ tool }, call.ms / 1000);
    if (call.queued) this.queueWait.observe(call.queueWaitMs / 1000);
    if (call.rows) this.rows.inc({ tool }, call.rows);
    if (call.outcome !== 'ok') this.failures.inc({ outcome: call.outcome, code: call.errorCode !== null && isErrorCode(call.errorCode) ? call.errorCode : 'OTHER' });
  }

  /**
   * Label values must stay a bounded set, and a client can name any tool it likes: a name as sent (a call
   * refused before the session looked it up, for its shape or the session's bounds) is its own label only
   * when it names a tool the hub registers (knownTools) or a call the session did look up already had that
   * name, else `(unknown)`: a real tool's calls refused before any looked-up one (a session's bounds refusing
   * a flood of execute_query) were counted under `(unknown)`. Keyed on the record's flag, not on its code: a
   * new way of refusing before the lookup cannot open the label to any text.
   */
  private toolLabel(call: CallRecord): string {
    if (call.toolUnverified !== true && call.errorCode !== 'UNKNOWN_TOOL') {
      this.verifiedTools.add(call.tool);
      return call.tool;
    }
    return this.verifiedTools.has(call.tool) || this.knownTools()?.has(call.tool) === true ? call.tool : '(unknown)';
  }

  /** `route` must come from a fixed set (the face's routes, or "other"), never from the request path. */
  /** Reports the HTTP face's budget of unread answers (snowmux_http_unread_answer_bytes, snowmux_http_answers_cut_total). */
  watchHttpAnswers(budget: { readonly heldBytes: number; readonly cuts: number }): void {
    this.httpAnswers = budget;
  }

  httpRequest(route: string, status: number): void {
    this.httpRequests.inc({ route, status: String(status) });
  }

  /** How long one audit record took to be written (by the log's durability policy). */
  auditWritten(seconds: number): void {
    this.auditWrite.observe(seconds);
  }

  authFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

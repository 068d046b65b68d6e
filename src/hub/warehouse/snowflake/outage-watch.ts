/**
 * Tells a statement waiting on an unreachable Snowflake from a long-running one. snowflake-sdk re-sends a
 * failed query or result request (refused, reset, HTTP 5xx) up to 1000 times with sleeps of up to 16 s, and
 * that limit cannot be set through connection options: left alone, a dead account makes every call hang
 * for tens of seconds before any error, and the breaker needs several of those to open.
 *
 * So while any statement of a profile has waited longer than `graceMs`, the account's endpoint (the origin
 * the driver talks to, through the same proxy rule) is probed every `intervalMs` — one probe for all the
 * profile's waiting statements: a HEAD of the front page, and, beside it, a session-less POST to the
 * statement endpoint the driver's requests go to. An outage may leave the front page and logins answering
 * while every statement gets 502/503/504 (the query service down behind its gateway): the front page alone
 * then said "Snowflake answers" and the statement waited out the driver's minutes of retries. A probe fails
 * when the connection is refused or reset, nothing answers within `probeTimeoutMs`, or a gateway answers
 * 502/503/504 on either; `strikes` failures in a row end each statement that waited through them. Any other
 * HTTP answer (Snowflake refuses a statement without a session) means Snowflake is there and the statement
 * is simply slow: it is left alone.
 */
import { shownProxy, snowflakeFetch, type SnowflakeFetchOptions } from './proxy-fetch.js';

/**
 * `proxy`: the proxy the probe went through (shownProxy), when it failed without an HTTP answer: the hub then
 * spoke only to that proxy, so it is the proxy that refused, reset or did not answer, not Snowflake.
 */
export type ProbeResult = { ok: true } | { ok: false; reason: string; proxy?: string };

export interface Outage {
  /** What the last probe met, e.g. "connection refused", "HTTP 503", "HTTP 503 from the statement endpoint". */
  reason: string;
  /** Wall-clock time of the first of the failed probes in a row. */
  since: number;
  /** How long the statement it ended had waited. */
  waitedMs: number;
  /** The proxy that did not answer, when the probes went through one (ProbeResult). */
  proxy?: string;
}

export interface OutageWatchTimings {
  graceMs: number;
  intervalMs: number;
  probeTimeoutMs: number;
  strikes: number;
}

export const DEFAULT_OUTAGE_TIMINGS: OutageWatchTimings = { graceMs: 3_000, intervalMs: 2_000, probeTimeoutMs: 2_000, strikes: 2 };

/**
 * An outage the probes are seeing: what the last one met, since when (wall clock, shown), the last one's time
 * (wall clock, shown, and monotonic: how long the outage still counts is measured on that), how many in a row.
 */
export interface OutageState {
  reason: string;
  since: number;
  lastAt: number;
  lastMono: number;
  probes: number;
}

interface Waiter {
  since: number;
  strikes: number;
  onOutage: (outage: Outage) => void;
}

/** Gateway answers: a load balancer or proxy in front of Snowflake saying the service behind it is down. */
const GATEWAY_FAILURES = new Set([502, 503, 504]);

export class OutageWatch {
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  /** Set while the probes fail; cleared by one that does not, or by a finished statement. */
  private failing: OutageState | null = null;

  constructor(
    private readonly probe: () => Promise<ProbeResult>,
    private readonly timings: OutageWatchTimings = DEFAULT_OUTAGE_TIMINGS,
  ) {}

  /** Watches one statement from now until the returned function is called; `onOutage` runs at most once. */
  watch(onOutage: (outage: Outage) => void): () => void {
    const waiter: Waiter = { since: performance.now(), strikes: 0, onOutage };
    this.waiters.add(waiter);
    this.schedule();
    return () => {
      this.waiters.delete(waiter);
      if (this.waiters.size === 0) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Whether the last probe failed (what it met, since when, how often), until Snowflake is seen answering again. */
  failingNow(): OutageState | null {
    return this.failing;
  }

  /** A statement finished: Snowflake answers. */
  answered(): void {
    this.failing = null;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.probing || this.waiters.size === 0) return;
    const now = performance.now();
    const firstDue = Math.min(...[...this.waiters].map((w) => w.since + this.timings.graceMs));
    const delay = Math.max(0, firstDue - now, this.lastProbeAt + this.timings.intervalMs - now);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runProbe();
    }, delay);
  }

  private async runProbe(): Promise<void> {
    this.probing = true;
    const startedAt = performance.now();
    this.lastProbeAt = startedAt;
    let result: ProbeResult;
    try {
      result = await this.probe();
    } catch (err) {
      result = { ok: false, reason: String(err) };
    } finally {
      this.probing = false;
    }
    const now = Date.now();
    this.failing = result.ok ? null : { reason: result.reason, since: this.failing?.since ?? now, lastAt: now, lastMono: performance.now(), probes: (this.failing?.probes ?? 0) + 1 };
    for (const waiter of [...this.waiters]) {
      // Only a statement that had already waited its grace when the probe started counts the probe.
      if (waiter.since + this.timings.graceMs > startedAt) continue;
      waiter.strikes = result.ok ? 0 : waiter.strikes + 1;
      if (result.ok || waiter.strikes < this.timings.strikes) continue;
      this.waiters.delete(waiter);
      waiter.onOutage({ reason: result.reason, since: this.failing!.since, waitedMs: Math.round(performance.now() - waiter.since), ...(result.proxy === undefined ? {} : { proxy: result.proxy }) });
    }
    this.schedule();
  }
}

export interface LoginWatchTimings {
  /** How long a login runs before the host is checked (most logins are done by then: no check at all). */
  graceMs: number;
  /** From the start of one check to the start of the next while they fail. */
  intervalMs: number;
  probeTimeoutMs: number;
  /** Failed checks in a row that end the login. */
  strikes: number;
}

/** A refused host fails its login in about 1.5 s, a silent (blackholed) one in about 4.5 s. */
export const DEFAULT_LOGIN_WATCH: LoginWatchTimings = { graceMs: 500, intervalMs: 1_000, probeTimeoutMs: 2_000, strikes: 2 };

/**
 * Watches one login for a host that does not answer at all. snowflake-sdk retries a login whose connection
 * is refused (sleeping between tries), and waits its request `timeout` (90 s) for a host that never accepts
 * the connection; its documented settings cannot tell that from a slow login: `timeout` bounds every request
 * of the connection (statements too, which Snowflake holds open for long queries), `retryTimeout` cannot be
 * under 300 s, and `sfRetryMaxLoginRetries` bounds only the count of tries (each may wait the whole `timeout`).
 *
 * So once a login has run `graceMs`, the host is checked (`probe`: the front page) every `intervalMs`; the
 * first answer ends the watch (the host is alive, a slow login is left to its own timeout), and `strikes`
 * failures in a row (refused, reset, no answer within the probe's timeout, a gateway's 502/503/504, a name
 * that does not resolve) call `onDead` once. Returns the function that stops the watch.
 */
export function watchLogin(probe: () => Promise<ProbeResult>, timings: LoginWatchTimings, onDead: (dead: { reason: string; waitedMs: number; proxy?: string }) => void): () => void {
  const started = performance.now();
  let stopped = false;
  let strikes = 0;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<void> => {
    timer = undefined;
    const checkStarted = performance.now();
    let result: ProbeResult;
    try {
      result = await probe();
    } catch (err) {
      result = { ok: false, reason: String(err) };
    }
    if (stopped || result.ok) return;
    strikes++;
    if (strikes >= timings.strikes) {
      stopped = true;
      onDead({ reason: result.reason, waitedMs: Math.round(performance.now() - started), ...(result.proxy === undefined ? {} : { proxy: result.proxy }) });
      return;
    }
    timer = setTimeout(() => void check(), Math.max(0, checkStarted + timings.intervalMs - performance.now()));
  };
  timer = setTimeout(() => void check(), timings.graceMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Where snowflake-sdk sends every statement (POST), as the probe asks it without a session. */
const STATEMENT_PATH = '/queries/v1/query-request';

/**
 * Does Snowflake answer, and is it more than a gateway saying "down"? A HEAD to the account's origin, and at
 * the same time a POST without a session to the statement endpoint: Snowflake refuses that (no session) when
 * its query service is up, while a gateway in front of a query service that is down answers 502/503/504.
 * Only such a gateway answer counts from the statement endpoint; whether the account answers at all (refused,
 * reset, silent) is the front page's to say, so a statement endpoint that is merely slow to refuse does not
 * end anything.
 */
export async function probeEndpoint(baseUrl: string, proxy: SnowflakeFetchOptions, timeoutMs: number, what: 'front-page' | 'statements' = 'statements'): Promise<ProbeResult> {
  const [front, statements] = await Promise.all([
    ask(baseUrl, '/', { method: 'HEAD' }, proxy, timeoutMs),
    what === 'front-page'
      ? Promise.resolve({ ok: true as const })
      : ask(baseUrl, STATEMENT_PATH, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{}' }, proxy, timeoutMs),
  ]);
  if (!front.ok) return { ok: false, reason: front.reason, ...(front.proxy === undefined ? {} : { proxy: front.proxy }) };
  if ('status' in statements && statements.status !== undefined && GATEWAY_FAILURES.has(statements.status)) return { ok: false, reason: `HTTP ${statements.status} from the statement endpoint` };
  return { ok: true };
}

/** One request of a probe: a gateway failure or network failure as its reason, else ok; with the HTTP status when there was one. */
async function ask(baseUrl: string, path: string, init: RequestInit, proxy: SnowflakeFetchOptions, timeoutMs: number): Promise<ProbeResult & { status?: number }> {
  try {
    // A redirect is an answer: it is not followed (it may lead off Snowflake, e.g. to a sign-in page).
    const res = await snowflakeFetch(new URL(path, baseUrl).href, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) }, proxy);
    await res.body?.cancel();
    return GATEWAY_FAILURES.has(res.status) ? { ok: false, reason: `HTTP ${res.status}`, status: res.status } : { ok: true, status: res.status };
  } catch (err) {
    const via = shownProxy(baseUrl, proxy);
    return { ok: false, reason: networkFailure(err, timeoutMs), ...(via === undefined ? {} : { proxy: via }) };
  }
}

function networkFailure(err: unknown, timeoutMs: number): string {
  if ((err as { name?: unknown }).name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = (err as { cause?: unknown }).cause ?? err;
  const code = (cause as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connection timed out';
    default:
      // Never the URL: the fetch library's texts quote it whole.
      return typeof code === 'string' ? code : 'network error';
  }
}

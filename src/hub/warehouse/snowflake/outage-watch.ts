/**
 * Tells a statement waiting on an unreachable Snowflake from a long-running one. snowflake-sdk re-sends a
 * failed query or result request (refused, reset, HTTP 5xx) up to 1000 times with sleeps of up to 16 s, and
 * that limit cannot be set through connection options: left alone, a dead account makes every call hang
 * for tens of seconds before any error, and the breaker needs several of those to open.
 *
 * So while any statement of a profile has waited longer than `graceMs`, the account's endpoint (the origin
 * the driver talks to, through the same proxy rule) is asked for a HEAD every `intervalMs` — one probe for
 * all the profile's waiting statements. A probe fails when the connection is refused or reset, nothing
 * answers within `probeTimeoutMs`, or a gateway answers 502/503/504; `strikes` failures in a row end
 * each statement that waited through them. Any other HTTP answer means Snowflake is there and the
 * statement is simply slow: it is left alone.
 */
import { snowflakeFetch, type SnowflakeFetchOptions } from './proxy-fetch.js';

export type ProbeResult = { ok: true } | { ok: false; reason: string };

export interface Outage {
  /** What the last probe met, e.g. "connection refused", "HTTP 503". */
  reason: string;
  /** Wall-clock time of the first of the failed probes in a row. */
  since: number;
  /** How long the statement it ended had waited. */
  waitedMs: number;
}

export interface OutageWatchTimings {
  graceMs: number;
  intervalMs: number;
  probeTimeoutMs: number;
  strikes: number;
}

export const DEFAULT_OUTAGE_TIMINGS: OutageWatchTimings = { graceMs: 3_000, intervalMs: 2_000, probeTimeoutMs: 2_000, strikes: 2 };

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
  private failing: { reason: string; since: number } | null = null;

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

  /** Whether the last probe failed (and what it met, since when), until Snowflake is seen answering again. */
  failingNow(): { reason: string; since: number } | null {
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
    this.failing = result.ok ? null : { reason: result.reason, since: this.failing?.since ?? Date.now() };
    for (const waiter of [...this.waiters]) {
      // Only a statement that had already waited its grace when the probe started counts the probe.
      if (waiter.since + this.timings.graceMs > startedAt) continue;
      waiter.strikes = result.ok ? 0 : waiter.strikes + 1;
      if (result.ok || waiter.strikes < this.timings.strikes) continue;
      this.waiters.delete(waiter);
      waiter.onOutage({ reason: result.reason, since: this.failing!.since, waitedMs: Math.round(performance.now() - waiter.since) });
    }
    this.schedule();
  }
}

/** One HEAD to the account's origin: does anything answer, and is it more than a gateway saying "down"? */
export async function probeEndpoint(baseUrl: string, proxy: SnowflakeFetchOptions, timeoutMs: number): Promise<ProbeResult> {
  try {
    // A redirect is an answer: it is not followed (it may lead off Snowflake, e.g. to a sign-in page).
    const res = await snowflakeFetch(new URL('/', baseUrl).href, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) }, proxy);
    await res.body?.cancel();
    return GATEWAY_FAILURES.has(res.status) ? { ok: false, reason: `HTTP ${res.status}` } : { ok: true };
  } catch (err) {
    return { ok: false, reason: networkFailure(err, timeoutMs) };
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

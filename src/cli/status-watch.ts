/**
 * The loop behind `snowmux status --watch`. When the hub has an HTTP listener it can reach, it subscribes
 * to `/events` (Server-Sent Events, with the `eventsource` client) and re-reads the status when something
 * happens — a session opens or closes, a call ends, the hub drains or reloads — coalescing bursts into
 * one read; otherwise (or while the subscription is broken) it re-reads on a timer. When no hub answers
 * it says so and keeps trying, and comes back when one does: a restart is something to wait through.
 */
import { EventSource } from 'eventsource';
import { errorMessage, isSnowmuxError } from '../errors.js';
import { timerDelay } from '../timer-delay.js';
import type { HubStatus } from '../hub/hub.js';
import type { WatchFrame } from './watch-screen.js';

/** Where the watch reads from. */
export interface WatchSource {
  /** The hub's status; throws while no hub answers. */
  read(): Promise<HubStatus>;
  /** The `/events` stream that tells when this status changes, or null to poll. */
  eventsFor(status: HubStatus): { url: string; key: string | undefined } | null;
}

export interface WatchOptions {
  source: WatchSource;
  show(frame: WatchFrame): void;
  /** Re-read period when polling. */
  intervalMs: number;
  /** Re-read period while events are live: only so that uptimes and durations move (default: intervalMs). */
  liveIntervalMs?: number;
  /** How long events are gathered into one re-read. */
  coalesceMs?: number;
  /** Retry period while no hub answers (or its event stream is broken). */
  retryMs?: number;
  /**
   * The monotonic clock (ms, any origin) the watch's waits and "waiting for the hub (N s)" are measured on,
   * so a wall-clock step neither delays a redraw nor shows a wait of hours (tests). Default performance.now.
   */
  monotonic?: () => number;
}

/** The hub events that change what status shows (the HTTP face's /events). */
const CHANGES = ['session_open', 'session_close', 'call_start', 'call', 'breaker', 'draining', 'reload'] as const;

/**
 * Runs until the hub refuses the key (resolves with exit code 1 after showing why); a missing or
 * restarting hub is waited for.
 */
export function watchStatus(opts: WatchOptions): Promise<number> {
  const coalesceMs = opts.coalesceMs ?? 100;
  const retryMs = opts.retryMs ?? 1_000;
  const liveIntervalMs = opts.liveIntervalMs ?? opts.intervalMs;
  const monotonic = opts.monotonic ?? (() => performance.now());
  let events: { source: EventSource; url: string; open: boolean } | null = null;
  /** Why the last subscription broke, and when to try again (monotonic). */
  let eventsTrouble: { why: string; retryAt: number } | null = null;
  let last: HubStatus | null = null;
  /** Since when no hub answers (monotonic). */
  let waitingSince: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let dueAt = Infinity;
  let reading = false;
  let readAgain = false;
  let stopped = false;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  /** A re-read in `ms`, unless one is already due sooner (a burst of events is one read). Due times are monotonic. */
  const schedule = (ms: number) => {
    if (stopped) return;
    const at = monotonic() + ms;
    if (timer && dueAt <= at) return;
    if (timer) clearTimeout(timer);
    dueAt = at;
    timer = setTimeout(() => {
      timer = null;
      dueAt = Infinity;
      void refresh();
    }, timerDelay(ms));
  };

  const unsubscribe = () => {
    events?.source.close();
    events = null;
  };

  const subscribe = (target: { url: string; key: string | undefined }) => {
    unsubscribe();
    const source = new EventSource(target.url, {
      // No redirect is followed (as status's own reads): the key would go with it (redirectRefusal).
      fetch: (url, init) => fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, ...(target.key ? { authorization: `Bearer ${target.key}` } : {}) } }),
    });
    const entry = { source, url: target.url, open: false };
    events = entry;
    source.addEventListener('open', () => {
      entry.open = true;
      eventsTrouble = null;
      schedule(0);
    });
    for (const name of CHANGES) source.addEventListener(name, () => schedule(coalesceMs));
    source.addEventListener('error', (ev) => {
      if (events !== entry) return;
      // The stream ended (the hub stopped) or was refused: re-read now, which says whether the hub is
      // still there, and subscribe again after the retry period. The client's own reconnect is not used:
      // the next hub may serve its events elsewhere.
      unsubscribe();
      const code = (ev as { code?: number }).code;
      eventsTrouble = { why: code ? `/events answered HTTP ${code}` : '/events stream ended', retryAt: monotonic() + retryMs };
      schedule(0);
    });
  };

  const freshness = (): string => {
    if (events?.open) return `live: redrawn on each hub event (${events.url})${liveIntervalMs < 3_600_000 ? `, re-read every ${seconds(liveIntervalMs)}` : ''}`;
    if (events) return `connecting to ${events.url}; meanwhile re-read every ${seconds(Math.min(opts.intervalMs, retryMs))}`;
    if (eventsTrouble) return `${eventsTrouble.why}; re-read every ${seconds(Math.min(opts.intervalMs, retryMs))} until it is back`;
    return `re-read every ${seconds(opts.intervalMs)} (no /events to follow: see snowmux status --help)`;
  };

  const refresh = async (): Promise<void> => {
    if (reading) {
      readAgain = true;
      return;
    }
    reading = true;
    try {
      const status = await opts.source.read();
      last = status;
      waitingSince = null;
      const wanted = opts.source.eventsFor(status);
      if (!wanted) unsubscribe();
      else if (events?.url !== wanted.url && (!eventsTrouble || monotonic() >= eventsTrouble.retryAt)) subscribe(wanted);
      opts.show({ kind: 'status', status, freshness: freshness() });
      schedule(events?.open ? liveIntervalMs : wanted ? Math.min(opts.intervalMs, retryMs) : opts.intervalMs);
    } catch (err) {
      if (isSnowmuxError(err, 'HTTP_UNAUTHORIZED')) {
        stopped = true;
        unsubscribe();
        if (timer) clearTimeout(timer);
        opts.show({ kind: 'waiting', reason: `${errorMessage(err)} Stopped watching.`, waitedMs: waitingSince === null ? 0 : monotonic() - waitingSince, last });
        finish(1);
        return;
      }
      // A hub restarting (or not started yet) is something to wait for, not a reason to quit watching.
      unsubscribe();
      waitingSince ??= monotonic();
      opts.show({ kind: 'waiting', reason: errorMessage(err), waitedMs: monotonic() - waitingSince, last });
      schedule(retryMs);
    } finally {
      reading = false;
      if (readAgain) {
        readAgain = false;
        schedule(coalesceMs);
      }
    }
  };

  void refresh();
  return finished;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

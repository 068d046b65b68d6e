/**
 * Quotas per identity (and role) per fixed window: queries run, rows returned, bytes returned, and bytes the
 * engine estimated its statements would scan (the cost guard's EXPLAIN).
 *
 * Usage is kept per identity and, when the caller names one, per role: one user's editors can run under
 * different roles, and each role's budget counts that role's calls only. Were usage per identity with the
 * rules of whichever role called last, a restricted role's query settled just after another editor's call
 * under a role without a quota was never counted (and the other editor's queries spent its budget).
 *
 * Windows are aligned to the Unix epoch, so an hour window runs from one UTC hour to the next and a day
 * window from UTC midnight to UTC midnight (reset times are the same for everyone and easy to state).
 *
 * The wall clock can be stepped (NTP, a VM resumed with a wrong clock), so a window also ends on the clock's
 * monotonic time: it lasts until the wall clock passes its end or as long as it had left when it opened
 * has elapsed (and a second), whichever comes first. A step back keeps counting the window it is in (no fresh budget)
 * but no longer than it really had left; a window opened while the clock ran ahead is not kept for as long
 * as the clock was wrong once it is corrected. Every reset time given (refusal, retryAfterMs, room, status)
 * is that end, read now: when the next call is really admitted.
 *
 * Call pattern: `exceeded(identity)` before a call as a cheap check, then `reserve(identity)` just before its
 * query runs — the check and the count of the query in one step, so calls running at once are refused exactly
 * at the `queries` limit — then `record(identity, { rows, bytes })` after it, or `refund` when the query never
 * ran. (A team hub does the reservation in Redis, QuotaAdmission.) Rows and bytes are known only once a call
 * ends, so the call is held to what is left instead: `room` gives the rows and bytes left, and the hub caps
 * the call's answer there. Calls of one identity running at once each get that room, so together they
 * overshoot by at most what they were granted beyond it. Scan bytes are an estimate of the whole statement,
 * which cannot be cut: a call that started under that budget finishes.
 */
import { SnowmuxError } from '../../errors.js';
import { systemClock, type Clock } from './clock.js';
import { describeWait } from './rate-limit.js';

export type QuotaMetric = 'queries' | 'rows' | 'bytes' | 'scanBytes';

export interface QuotaRule {
  /** Window length, e.g. 3_600_000 (hour) or 86_400_000 (day). */
  windowMs: number;
  /** Limits for this window; an absent limit means unlimited. */
  queries?: number | undefined;
  rows?: number | undefined;
  bytes?: number | undefined;
  /** Bytes the statements were estimated to scan (only calls that were explained count). */
  scanBytes?: number | undefined;
}

export interface QuotaUsage {
  queries: number;
  rows: number;
  bytes: number;
  /** Absent in records written before scan budgets existed (a team's Redis) reads as 0. */
  scanBytes?: number | undefined;
}

/** A team's atomic check-and-count of one call (Redis): whether its query was counted, and the usage seen before it. */
export interface QuotaAdmission {
  reserved: boolean;
  /** Each window's usage across the team before this call. */
  usage: Map<number, QuotaUsage>;
  /** Redis's clock (ms) when it answered: the team's windows, and their reset times, are on it. */
  at: number;
}

/** What is left of one budget: the least over the identity's windows, and when that window refills. */
export interface QuotaRoom {
  left: number;
  limit: number;
  windowMs: number;
  /** When (ms) the window with the least left starts again from zero. */
  resetsAt: number;
  /** How long from now until then, timed on the monotonic clock from when the room was read (a refusal made after a long statement, or across a wall-clock step, says the real wait). */
  retryAfterMs(): number;
}

export interface QuotaTrackerOptions {
  /** Rules for identities that `rulesFor` does not override. May be empty (no quotas). */
  rules: QuotaRule[];
  /** Per-identity rules (from the role named, if any). Called on each check/record, so reloads apply at once. */
  rulesFor?: ((identity: string, role: string | undefined) => QuotaRule[] | undefined) | undefined;
  clock?: Clock | undefined;
}

export interface QuotaWindowSnapshot {
  windowMs: number;
  /** ISO time the current window started / resets. */
  windowStart: string;
  resetsAt: string;
  used: QuotaUsage;
  /** scanBytes is present only where a scan budget is set. */
  limits: Record<Exclude<QuotaMetric, 'scanBytes'>, number | null> & { scanBytes?: number };
  /** Budget left in this window; null = unlimited. */
  remaining: Record<Exclude<QuotaMetric, 'scanBytes'>, number | null> & { scanBytes?: number };
  /**
   * A team hub: `used` and `remaining` are the team's (every replica's usage, which is what refuses calls),
   * as Redis last reported them at `seenAt` plus this replica's use since; `own` is this replica's part.
   */
  team?: { seenAt: string; own: QuotaUsage };
}

export interface QuotaSnapshotEntry {
  identity: string;
  /** The role whose budget this is, where usage is kept per role. */
  role?: string;
  windows: QuotaWindowSnapshot[];
}

/** One open window's usage, as a hub keeps it across a restart. */
export interface KeptWindow {
  identity: string;
  role?: string;
  windowMs: number;
  windowStart: number;
  own: QuotaUsage;
  others?: QuotaUsage;
}

interface WindowUsage extends QuotaUsage {
  windowStart: number;
  /** The clock's monotonic time (monotonicOf) at which this window opened, and at which it ends at the latest. */
  openedAt: number;
  endsAt: number;
  /**
   * A team hub: what the other replicas had used in this window when Redis last answered. Added to this
   * process's own usage when Redis does not answer, so an outage gives nobody a fresh budget on each replica.
   */
  others?: QuotaUsage;
  /** When `others` was last reported (ms). */
  othersAt?: number;
}

/** One budget's holder: an identity, under a role or not. */
interface Holder {
  identity: string;
  role: string | undefined;
  /** window length → usage in the current window of that length. */
  windows: Map<number, WindowUsage>;
}

const METRICS: readonly QuotaMetric[] = ['queries', 'rows', 'bytes', 'scanBytes'];
/**
 * How much longer than its monotonic end a window lasts: the wall and monotonic clocks are read apart (and
 * Date.now() is whole milliseconds), so without a step they disagree by a little, and a window must then end
 * exactly at its wall-clock end, never a moment before it with a fresh budget in between.
 */
const MONOTONIC_SLACK_MS = 1000;
const SWEEP_FLOOR = 1000;

export class QuotaTracker {
  readonly #defaultRules: QuotaRule[];
  readonly #rulesFor: ((identity: string, role: string | undefined) => QuotaRule[] | undefined) | undefined;
  readonly #clock: Clock;
  /** holderKey(identity, role) → that holder's usage. */
  readonly #usage = new Map<string, Holder>();
  #sweepAt = SWEEP_FLOOR;

  constructor(options: QuotaTrackerOptions) {
    options.rules.forEach((rule, i) => assertRule(rule, `rules[${i}]`));
    this.#defaultRules = options.rules.map((rule) => ({ ...rule }));
    this.#rulesFor = options.rulesFor;
    this.#clock = options.clock ?? systemClock;
  }

  /** Throws QUOTA_EXCEEDED if any of the identity's (role's) budgets is used up in its current window. */
  check(identity: string, role?: string): void {
    const refusal = this.exceeded(identity, role);
    if (refusal) throw refusal;
  }

  /**
   * The refusal `check` would throw, or undefined. When several budgets are spent, names the one that resets last.
   * `metrics`: only these budgets are judged (default all).
   */
  exceeded(identity: string, role?: string, shared?: (windowMs: number) => QuotaUsage | undefined, sharedNow?: number, metrics: readonly QuotaMetric[] = METRICS): SnowmuxError | undefined {
    // A team's windows are on Redis's clock (`sharedNow`, read by the admission): the reset time every replica gives.
    const now = shared && sharedNow !== undefined ? sharedNow : this.#clock.now();
    let worst: { rule: QuotaRule; metric: QuotaMetric; limit: number; used: number; resetsAt: number } | undefined;
    for (const rule of this.#rules(identity, role)) {
      // A team hub passes the usage all replicas recorded (Redis); otherwise this process's own.
      const own = shared ? undefined : this.#current(identity, role, rule.windowMs, now, false);
      const usage = shared ? shared(rule.windowMs) : withOthers(own);
      const resetsAt = own ? this.#resetsAt(own, rule.windowMs, now) : windowStartOf(now, rule.windowMs) + rule.windowMs;
      for (const metric of metrics) {
        const limit = rule[metric];
        if (limit === undefined) continue;
        const used = usage?.[metric] ?? 0;
        if (used >= limit && (worst === undefined || resetsAt > worst.resetsAt)) {
          worst = { rule, metric, limit, used, resetsAt };
        }
      }
    }
    if (!worst) return undefined;
    const resetIso = isoSeconds(worst.resetsAt);
    return new SnowmuxError(
      'QUOTA_EXCEEDED',
      `Quota exceeded for "${identity}"${role === undefined ? '' : ` under role "${role}"`}: ${describeLimit(worst.metric, worst.limit)} ${describeWindow(worst.rule.windowMs)}. ` +
        `The window resets at ${resetIso}.${role === undefined ? '' : ` ${quotaAdvice(role, worst.metric, worst.resetsAt - now)}`}`,
      {
        details: {
          rule: `quota ${worst.metric}`,
          identity,
          ...(role === undefined ? {} : { role }),
          metric: worst.metric,
          limit: worst.limit,
          used: worst.used,
          windowMs: worst.rule.windowMs,
          resetAt: resetIso,
          retryAfterMs: worst.resetsAt - now,
        },
      },
    );
  }

  /**
   * The rows and bytes the identity (under `role`) has left in its current windows: the least over its
   * rules, absent for a metric with no limit. On a team hub it includes the other replicas' usage as Redis
   * last reported it (noteTeamUsage).
   */
  room(identity: string, role?: string): Partial<Record<'rows' | 'bytes', QuotaRoom>> {
    const now = this.#clock.now();
    const mono = monotonicOf(this.#clock);
    const room: Partial<Record<'rows' | 'bytes', QuotaRoom>> = {};
    for (const rule of this.#rules(identity, role)) {
      const own = this.#current(identity, role, rule.windowMs, now, false);
      const usage = withOthers(own);
      const resetsAt = own ? this.#resetsAt(own, rule.windowMs, now) : windowStartOf(now, rule.windowMs) + rule.windowMs;
      for (const metric of ['rows', 'bytes'] as const) {
        const limit = rule[metric];
        if (limit === undefined) continue;
        const left = Math.max(0, limit - amount(usage?.[metric]));
        const least = room[metric];
        if (least === undefined || left < least.left || (left === least.left && resetsAt > least.resetsAt)) {
          room[metric] = { left, limit, windowMs: rule.windowMs, resetsAt, retryAfterMs: countdown(this.#clock, mono, resetsAt - now) };
        }
      }
    }
    return room;
  }

  /**
   * The refusal `exceeded` gives, or else counts one query in every window the identity (under `role`) has rules
   * for, at once: no other call can pass the check between them. Answers when it counted (the clock's monotonic
   * time, for `refund`).
   */
  reserve(identity: string, role?: string): { refusal: SnowmuxError } | { at: number } {
    const refusal = this.exceeded(identity, role);
    if (refusal) return { refusal };
    this.record(identity, { queries: 1 }, role);
    // Read after the count: a window it opened opened no later than this (refund compares).
    return { at: monotonicOf(this.#clock) };
  }

  /** Gives back a query `reserve` counted at `at` whose statement never ran, in the windows it was counted in. */
  refund(identity: string, at: number, role?: string): void {
    const now = this.#clock.now();
    for (const windowMs of this.#windowsKept(identity, role)) {
      const current = this.#current(identity, role, windowMs, now, false);
      // A window opened since was reset: the reservation went with the one it was counted in.
      if (current && current.openedAt <= at) current.queries = Math.max(0, current.queries - 1);
    }
  }

  /** The identity's rules (its role's, else the defaults), for a team's shared admission. */
  rulesOf(identity: string, role?: string): QuotaRule[] {
    return this.#rules(identity, role);
  }

  /** The window lengths the identity has quota rules for (none: no quota). */
  windowsOf(identity: string, role?: string): number[] {
    return [...new Set(this.#rules(identity, role).map((rule) => rule.windowMs))];
  }

  /**
   * The team-wide usage of a window as Redis last reported it: what the other replicas used is kept (the team's
   * minus this process's own), for the checks made while Redis does not answer.
   */
  noteTeamUsage(identity: string, windowMs: number, team: QuotaUsage, role?: string): void {
    const current = this.#current(identity, role, windowMs, this.#clock.now(), true);
    if (!current) return;
    const others: QuotaUsage = { queries: 0, rows: 0, bytes: 0, scanBytes: 0 };
    for (const metric of METRICS) others[metric] = Math.max(0, amount(team[metric]) - amount(current[metric]));
    current.others = others;
    current.othersAt = this.#clock.now();
  }

  /**
   * Adds a finished call's usage to every window the identity (under `role`) has rules for, and to the windows it
   * kept from earlier rules (a reload that changed `window`), so that going back to one finds its count right.
   */
  record(identity: string, usage: Partial<QuotaUsage>, role?: string): void {
    const now = this.#clock.now();
    // Every window first, then the usage: a window created after another already counted this call would
    // carry that count over (as it does after a reload that changes `window`) and count the call twice.
    const currents = [...this.#windowsKept(identity, role)].map((windowMs) => this.#current(identity, role, windowMs, now, true));
    for (const current of currents) {
      if (!current) continue;
      for (const metric of METRICS) current[metric] = (current[metric] ?? 0) + amount(usage[metric]);
    }
    if (this.#usage.size > this.#sweepAt) this.#sweep(now);
  }

  /**
   * The usage of every window still open, for a hub to keep across a restart (governance/quota-store.ts):
   * its own, and (a team replica) what the other replicas had used when Redis last answered.
   */
  exportWindows(): KeptWindow[] {
    const now = this.#clock.now();
    const mono = monotonicOf(this.#clock);
    const kept: KeptWindow[] = [];
    for (const holder of this.#usage.values()) {
      for (const [windowMs, usage] of holder.windows) {
        if (!isLive(usage, windowMs, now, mono)) continue;
        const own: QuotaUsage = { queries: usage.queries, rows: usage.rows, bytes: usage.bytes, scanBytes: amount(usage.scanBytes) };
        kept.push({ identity: holder.identity, ...(holder.role === undefined ? {} : { role: holder.role }), windowMs, windowStart: usage.windowStart, own, ...(usage.others ? { others: { ...usage.others } } : {}) });
      }
    }
    return kept;
  }

  /**
   * Adds usage kept by an earlier process of this hub to the windows it names that are open now (a window that
   * has ended since, or that the wall clock does not place now, is left out). `asOthers`: a team replica, whose
   * own count in Redis stays under the earlier process's fields: what it kept is counted as the other
   * replicas' usage (replaced by Redis's count once it answers), never as its own share, which it writes back.
   */
  importWindows(windows: readonly KeptWindow[], asOthers: boolean): number {
    const now = this.#clock.now();
    let added = 0;
    for (const w of windows) {
      if (windowStartOf(now, w.windowMs) !== w.windowStart) continue;
      const current = this.#current(w.identity, w.role, w.windowMs, now, true);
      if (!current || current.windowStart !== w.windowStart) continue;
      if (asOthers) {
        const others: QuotaUsage = current.others ?? { queries: 0, rows: 0, bytes: 0, scanBytes: 0 };
        for (const metric of METRICS) others[metric] = amount(others[metric]) + amount(w.own[metric]) + amount(w.others?.[metric]);
        current.others = others;
        current.othersAt ??= now;
      } else {
        for (const metric of METRICS) current[metric] = amount(current[metric]) + amount(w.own[metric]);
      }
      added += 1;
    }
    return added;
  }

  /** Usage, limits and remaining budget for every identity (and role) with usage recorded, sorted by identity. */
  snapshot(): QuotaSnapshotEntry[] {
    return [...this.#usage.keys()].sort().map((key) => {
      const holder = this.#usage.get(key)!;
      return this.entry(holder.identity, holder.role);
    });
  }

  /** One identity's (role's) usage, limits, remaining budget and reset times (full budget if nothing recorded). */
  entry(identity: string, role?: string): QuotaSnapshotEntry {
    const now = this.#clock.now();
    return {
      identity,
      ...(role === undefined ? {} : { role }),
      windows: this.#rules(identity, role).map((rule) => {
        const own = this.#current(identity, role, rule.windowMs, now, false);
        // What governs: on a team hub, the team's usage (as checks read it while Redis does not answer too).
        const usage = withOthers(own);
        const used: QuotaUsage = { queries: usage?.queries ?? 0, rows: usage?.rows ?? 0, bytes: usage?.bytes ?? 0 };
        if (rule.scanBytes !== undefined) used.scanBytes = usage?.scanBytes ?? 0;
        // The window actually counted, and when it really ends (a step of the wall clock may have put it elsewhere).
        const start = own ? own.windowStart : windowStartOf(now, rule.windowMs);
        const resetsAt = own ? this.#resetsAt(own, rule.windowMs, now) : start + rule.windowMs;
        const limits: QuotaWindowSnapshot['limits'] = { queries: rule.queries ?? null, rows: rule.rows ?? null, bytes: rule.bytes ?? null };
        const remaining: QuotaWindowSnapshot['remaining'] = {
          queries: limits.queries === null ? null : Math.max(0, limits.queries - used.queries),
          rows: limits.rows === null ? null : Math.max(0, limits.rows - used.rows),
          bytes: limits.bytes === null ? null : Math.max(0, limits.bytes - used.bytes),
        };
        // Shown only where a scan budget is set, so snapshots of the other budgets read as before.
        if (rule.scanBytes !== undefined) {
          limits.scanBytes = rule.scanBytes;
          remaining.scanBytes = Math.max(0, rule.scanBytes - (used.scanBytes ?? 0));
        }
        const window: QuotaWindowSnapshot = { windowMs: rule.windowMs, windowStart: isoSeconds(start), resetsAt: isoSeconds(resetsAt), used, limits, remaining };
        if (own?.othersAt !== undefined) {
          const part: QuotaUsage = { queries: own.queries, rows: own.rows, bytes: own.bytes };
          if (rule.scanBytes !== undefined) part.scanBytes = own.scanBytes ?? 0;
          window.team = { seenAt: new Date(own.othersAt).toISOString(), own: part };
        }
        return window;
      }),
    };
  }

  #rules(identity: string, role: string | undefined): QuotaRule[] {
    const override = this.#rulesFor?.(identity, role);
    if (override === undefined) return this.#defaultRules;
    override.forEach((rule, i) => assertRule(rule, `rules for "${identity}"[${i}]`));
    return override;
  }

  /** The window lengths of the rules in force and those usage is kept for from earlier rules. */
  #windowsKept(identity: string, role: string | undefined): Set<number> {
    const windows = new Set(this.#rules(identity, role).map((rule) => rule.windowMs));
    for (const windowMs of this.#usage.get(holderKey(identity, role))?.windows.keys() ?? []) windows.add(windowMs);
    return windows;
  }

  /**
   * Usage of the current window, reset if the stored one has ended: by the wall clock, or on the monotonic clock
   * (see the top of this file). A wall clock stepped back keeps the stored window (no fresh budget) until then.
   */
  #current(identity: string, role: string | undefined, windowMs: number, now: number, create: boolean): WindowUsage | undefined {
    const start = windowStartOf(now, windowMs);
    const mono = monotonicOf(this.#clock);
    const key = holderKey(identity, role);
    let holder = this.#usage.get(key);
    let usage = holder?.windows.get(windowMs);
    if (usage && !isLive(usage, windowMs, now, mono)) {
      Object.assign(usage, opened(start, windowMs, now, mono));
      usage.queries = usage.rows = usage.bytes = usage.scanBytes = 0;
      delete usage.others;
      delete usage.othersAt;
    }
    // A holder already kept gets the window even on a read, so a new window length reads its carried-over usage.
    if (!usage && (create || holder)) {
      if (!holder) {
        holder = { identity, role, windows: new Map() };
        this.#usage.set(key, holder);
      }
      usage = { ...opened(start, windowMs, now, mono), queries: 0, rows: 0, bytes: 0, scanBytes: 0 };
      // A window length new to this holder (a reload changed `window`) starts from what it used in the windows
      // kept that lie wholly within this one (the most of them: they count the same calls), not from zero: a
      // stricter rule must not hand out a fresh budget. Usage older than any kept window is not known.
      for (const [otherMs, other] of holder.windows) {
        if (!isLive(other, otherMs, now, mono) || other.windowStart < start || other.windowStart + otherMs > start + windowMs) continue;
        for (const metric of METRICS) usage[metric] = Math.max(amount(usage[metric]), amount(other[metric]));
      }
      holder.windows.set(windowMs, usage);
    }
    return usage;
  }

  /** When a window that is live ends: at its wall-clock end or its monotonic end, whichever comes first, as a wall-clock time. */
  #resetsAt(usage: WindowUsage, windowMs: number, now: number): number {
    return Math.min(usage.windowStart + windowMs, now + Math.max(0, usage.endsAt + MONOTONIC_SLACK_MS - monotonicOf(this.#clock)));
  }

  /** Forgets identities whose every window has ended (their usage would read as zero anyway). */
  #sweep(now: number): void {
    const mono = monotonicOf(this.#clock);
    for (const [key, holder] of this.#usage) {
      const live = [...holder.windows].some(([windowMs, usage]) => isLive(usage, windowMs, now, mono));
      if (!live) this.#usage.delete(key);
    }
    this.#sweepAt = Math.max(SWEEP_FLOOR, this.#usage.size * 2);
  }
}

/** The map key of an identity's budget under a role (NUL cannot occur in either name). */
function holderKey(identity: string, role: string | undefined): string {
  return role === undefined ? identity : `${identity}\u0000${role}`;
}

/** The clock's monotonic time (its wall-clock time if it has none). */
function monotonicOf(clock: Clock): number {
  return clock.monotonic?.() ?? clock.now();
}

/** What is left of `inMs` counted from `mono` (the clock's monotonic time then), whenever it is asked. */
function countdown(clock: Clock, mono: number, inMs: number): () => number {
  return () => Math.max(0, inMs - (monotonicOf(clock) - mono));
}

/** A window opening at `now` (`mono` on the monotonic clock): its start, and its end on the monotonic clock. */
function opened(start: number, windowMs: number, now: number, mono: number): Pick<WindowUsage, 'windowStart' | 'openedAt' | 'endsAt'> {
  return { windowStart: start, openedAt: mono, endsAt: mono + (start + windowMs - now) };
}

/**
 * Whether a stored window still counts: neither has the wall clock passed its end, nor has the time it had left
 * when it opened elapsed. A wall clock behind its start (stepped back) keeps it, until the latter.
 */
function isLive(usage: WindowUsage, windowMs: number, now: number, mono: number): boolean {
  return now < usage.windowStart + windowMs && mono < usage.endsAt + MONOTONIC_SLACK_MS;
}

/** A window's usage with what the other replicas had used added (a team hub without Redis). */
function withOthers(usage: WindowUsage | undefined): QuotaUsage | undefined {
  if (!usage?.others) return usage;
  const sum: QuotaUsage = { queries: 0, rows: 0, bytes: 0, scanBytes: 0 };
  for (const metric of METRICS) sum[metric] = amount(usage[metric]) + amount(usage.others[metric]);
  return sum;
}

export function windowStartOf(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

function amount(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : 0;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/** A quota key as config.toml spells it. */
const QUOTA_KEYS: Record<QuotaMetric, string> = { queries: 'queries', rows: 'rows', bytes: 'bytes', scanBytes: 'scan_bytes' };

/**
 * What a caller whose budget under `role` is spent can do, and the rule that refused: when the window frees (from
 * now, not only as a UTC time), and which key of config.toml the hub's operator would raise.
 */
export function quotaAdvice(role: string, metric: QuotaMetric, retryAfterMs: number): string {
  return `Wait until then (in ${describeWait(Math.max(0, retryAfterMs))}), or ask the hub's operator to raise ${QUOTA_KEYS[metric]} in [roles.${role}.quota] (rule of role "${role}"; \`snowmux status\` shows what is left).`;
}

export function describeLimit(metric: QuotaMetric, limit: number): string {
  switch (metric) {
    case 'queries':
      return `${limit} ${limit === 1 ? 'query' : 'queries'}`;
    case 'rows':
      return `${limit} rows returned`;
    case 'bytes':
      return `${formatBytes(limit)} returned`;
    case 'scanBytes':
      return `${formatBytes(limit)} scanned (as estimated before each query ran)`;
  }
}

export function describeWindow(windowMs: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (windowMs % size === 0) {
      const n = windowMs / size;
      return n === 1 ? `per ${name}` : `per ${n} ${name}s`;
    }
  }
  return `per ${windowMs} ms`;
}

function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (bytes < 1024) return `${bytes} bytes`;
  let value = bytes;
  let unit = 'bytes';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${Math.round(value * 10) / 10} ${unit}`;
}

function assertRule(rule: QuotaRule, what: string): void {
  if (!Number.isInteger(rule.windowMs) || rule.windowMs < 1000) {
    throw new RangeError(`${what}: windowMs must be an integer number of milliseconds >= 1000, got ${String(rule.windowMs)}`);
  }
  for (const metric of METRICS) {
    const limit = rule[metric];
    if (limit !== undefined && (!Number.isFinite(limit) || limit < 0)) {
      throw new RangeError(`${what}: ${metric} must be a finite number >= 0, got ${String(limit)}`);
    }
  }
}

/**
 * The screen of `snowmux status --watch`: what matters about a hub, fitted to the terminal (80×24 when
 * its size is unknown) — every line cut to the width, long lists summarised with "+N more", sections
 * given rows in order of importance (the hub and its state, warehouses, totals, the queue and breakers,
 * then sessions and recent calls sharing what is left). Pure: the watch loop draws what this returns.
 */
import { escapeLine } from '../shown-text.js';
import type { HubStatus } from '../hub/hub.js';
import { poolLabels } from './pool-labels.js';

export interface ScreenSize {
  columns: number;
  rows: number;
}

export const DEFAULT_SCREEN: ScreenSize = { columns: 80, rows: 24 };

/** What the watch shows: the hub's status and how it is kept fresh, or that it is waiting for a hub. */
export type WatchFrame =
  | { kind: 'status'; status: HubStatus; freshness: string }
  | { kind: 'waiting'; reason: string; /** How long no hub has answered (monotonic). */ waitedMs: number; last: HubStatus | null };

/** The lines of one frame, none wider than the screen, no more of them than it has rows. */
export function watchScreen(frame: WatchFrame, size: ScreenSize = DEFAULT_SCREEN, now = Date.now()): string[] {
  const columns = Math.max(20, size.columns);
  const rows = Math.max(4, size.rows);
  const lines = frame.kind === 'waiting' ? waitingLines(frame) : statusLines(frame.status, frame.freshness, rows, columns, now);
  // Session, tool and SQL text is the clients': nothing in it may act on the terminal, nor a line break in
  // it add a line to the frame.
  return lines.slice(0, rows).map((l) => cut(escapeLine(l), columns));
}

function waitingLines(frame: Extract<WatchFrame, { kind: 'waiting' }>): string[] {
  const out = [`snowmux status --watch  waiting for the hub (${duration(frame.waitedMs)})`, '', frame.reason.replace(/\s+/g, ' ')];
  if (frame.last) out.push('', `last seen: hub ${frame.last.version} pid ${frame.last.pid}, ${frame.last.state}, ${frame.last.sessions.length} sessions`);
  out.push('', 'Retrying every second; the view comes back when a hub answers. Ctrl-C to quit.');
  return out;
}

/** Short names for the VIA column. */
const TRANSPORT_LABELS: Record<string, string> = { 'unix-socket': 'socket', websocket: 'ws', stdio: 'stdio', http: 'http' };

interface Governance {
  queue?: { maxConcurrent: number; maxQueued: number; running: number; queued: number };
  breakers?: { profile: string; warehouseId?: number; state: string }[];
}

function statusLines(s: HubStatus, freshness: string, rows: number, columns: number, now: number): string[] {
  const head: string[] = [];
  head.push(`snowmux hub ${s.version}  pid ${s.pid}  up ${duration(s.uptimeMs)}  ${s.state.toUpperCase()}`);
  head.push(freshness);
  const g = s.governance as Governance | undefined;
  const label = poolLabels(s.warehouses, g?.breakers);
  head.push(fitList(`warehouses (${s.warehouses.length}): `, s.warehouses.map((w) => `${w.kind}:${label.warehouse(w)}${w.problem ? ` DOWN(${w.problem.snowflakeCode ?? w.problem.code})` : ''}${heldSlots(w.detail)}`), columns, 'opens on first use'));
  // The hub's own judgement (status's health), on one line: the reasons in full are in `snowmux status`.
  if (s.health && !s.health.ok) head.push(cut(`UNHEALTHY: ${s.health.reasons.join('; ')}`, columns));
  head.push(`calls ${s.totals.calls}  errors ${s.totals.errors}  refused ${s.totals.refused}  cancelled ${s.totals.cancelled}  sessions opened ${s.totals.sessionsOpened}${s.totals.sessionsCut ? `  cut ${s.totals.sessionsCut}` : ''}${s.totals.answersCut ? `  HTTP answers cut ${s.totals.answersCut}` : ''}`);
  if (g?.queue) head.push(`queue running ${g.queue.running}/${g.queue.maxConcurrent}  waiting ${g.queue.queued}/${g.queue.maxQueued}`);
  if (g?.breakers && g.breakers.length > 0) {
    const notClosed = g.breakers.filter((b) => b.state !== 'closed');
    const closed = g.breakers.length - notClosed.length;
    head.push(fitList(`breakers: ${closed} closed${notClosed.length > 0 ? ', ' : ''}`, notClosed.map((b) => `${label.breaker(b)} ${b.state.toUpperCase()}`), columns, ''));
  }

  const team = s.team as { mode: string; replicas: { id: string; sessions: number; running: number }[] } | undefined;
  if (team) {
    const sessions = team.replicas.reduce((n, r) => n + r.sessions, 0);
    head.push(
      fitList(
        `team ${team.mode === 'connected' ? 'connected' : 'LOCAL LIMITS'}, ${team.replicas.length} replicas, ${sessions} sessions: `,
        // host:pid with the host's first label only: the screen is narrow. Sessions/running calls each.
        team.replicas.map((r) => `${r.id.replace(/\.[^:]*:/, ':')} ${r.sessions}s/${r.running}r`),
        columns,
        'none seen yet',
      ),
    );
  }

  const left = rows - head.length;
  const sessionRows = s.sessions.map((x) => [
    x.id.slice(0, 8),
    x.client?.name ?? '-',
    x.identity.name,
    TRANSPORT_LABELS[x.transport] ?? x.transport,
    duration(sessionUpMs(x, now)),
    String(x.calls),
    String(x.errors),
    String(x.running),
    x.lastTool ?? '-',
  ]);
  const callRows = s.recent.map((c) => [
    c.at.slice(11, 19),
    c.sessionId.slice(0, 8),
    c.tool,
    c.errorCode ? `${c.outcome}:${c.errorCode}` : c.outcome,
    c.ms < 10_000 ? c.ms.toFixed(0) : `${Math.round(c.ms / 1000)}s`,
    c.rows === null ? '-' : String(c.rows),
  ]);
  // Each section costs a blank line and a title, plus a header line when it has rows. Sessions come
  // first, but leave the recent calls room for a few rows.
  const recentNeed = callRows.length > 0 ? 3 + Math.min(callRows.length, 5) : 0;
  const sessionNeed = sessionRows.length > 0 ? 3 + sessionRows.length : 2;
  const sessionBudget = Math.min(sessionNeed, Math.max(left - recentNeed, Math.min(sessionNeed, 6)));
  const sessionTable = { headers: ['SESSION', 'CLIENT', 'IDENTITY', 'VIA', 'UP', 'CALLS', 'ERR', 'RUN', 'LAST TOOL'], flexible: [1, 2, 3, 8], columns };
  const sessions = section(`sessions (${s.sessions.length})`, sessionTable, sessionRows, sessionBudget, 'sessions');
  const callTable = { headers: ['AT', 'SESSION', 'TOOL', 'OUTCOME', 'MS', 'ROWS'], flexible: [2, 3], columns };
  const recent = section('recent calls', callTable, callRows, left - sessions.length, 'calls');
  return [...head, ...sessions, ...recent];
}

/**
 * A blank line, a title and a table in at most `budget` lines: rows that do not fit become "+N more".
 * Nothing when even the title does not fit.
 */
function section(title: string, shape: TableShape, rows: string[][], budget: number, noun: string): string[] {
  if (budget < 2) return [];
  if (rows.length === 0) return ['', title];
  if (budget < 4) return ['', `${title}: +${rows.length} ${noun} (enlarge the terminal to list them)`].slice(0, budget);
  const room = budget - 3;
  const shown = rows.length <= room ? rows : rows.slice(0, room - 1);
  const lines = ['', title, ...table(shape, shown)];
  if (shown.length < rows.length) lines.push(`+${rows.length - shown.length} more ${noun}`);
  return lines;
}

/** `prefix` then as many items as fit the width, the rest counted as "+N more". */
function fitList(prefix: string, items: string[], columns: number, empty: string): string {
  if (items.length === 0) return `${prefix}${empty}`;
  const more = (n: number) => (n > 0 ? ` +${n} more` : '');
  let line = prefix;
  let shown = 0;
  for (const item of items) {
    const candidate = `${line}${shown > 0 ? ', ' : ''}${item}`;
    if (candidate.length + more(items.length - shown - 1).length > columns) break;
    line = candidate;
    shown += 1;
  }
  if (shown > 0) return `${line}${more(items.length - shown)}`;
  // Not even the first fits: show what fits of it.
  const tail = more(items.length - 1);
  return `${cut(`${prefix}${items[0]}`, columns - tail.length)}${tail}`;
}

interface TableShape {
  headers: string[];
  /** Columns that give up width, widest first, when the table is wider than the screen. */
  flexible: number[];
  columns: number;
}

/**
 * Aligned columns that fit the width: flexible columns are narrowed (their cells cut with "…"). A cell is
 * often a client's text (a tool or client name): escaped, a line break in it cannot end its row and start
 * one that looks like another call.
 */
export function table(shape: TableShape, rows: string[][]): string[] {
  rows = rows.map((r) => r.map(escapeLine));
  const widths = shape.headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  for (let excess = total() - shape.columns; excess > 0; excess -= 1) {
    const widest = shape.flexible.reduce((a, b) => (widths[b]! > widths[a]! ? b : a));
    if (widths[widest]! <= MIN_FLEXIBLE_WIDTH) break;
    widths[widest]! -= 1;
  }
  const fmt = (cells: string[]) => cells.map((c, i) => clip(c, widths[i]!).padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(shape.headers), ...rows.map(fmt)];
}

const MIN_FLEXIBLE_WIDTH = 6;

/** A cell value no longer than `max`, marked when cut. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A line no wider than the screen (one column per character: what status prints is ASCII but for "…"). */
export function cut(line: string, columns: number): string {
  return line.length <= columns ? line : `${line.slice(0, columns - 1)}…`;
}

/**
 * How long a session has been connected: the hub's own measure (upMs, monotonic) when it gives one; an older
 * hub's only the difference of this machine's wall clock and its connectedAt, which a step or a skew distorts.
 */
export function sessionUpMs(session: { upMs?: number; connectedAt: string }, now: number): number {
  return session.upMs ?? now - Date.parse(session.connectedAt);
}

/** " SLOTS HELD(n)": statements that outlived their cancel hold n of an embedded warehouse's slots (status names them). */
function heldSlots(detail: Record<string, unknown>): string {
  const held = detail['outlivedStatements'];
  return Array.isArray(held) && held.length > 0 ? ` SLOTS HELD(${held.length})` : '';
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

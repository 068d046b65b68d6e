/**
 * What one caller of a shared hub may see of its status. The hub's own facts (state, warehouses, health,
 * breakers, totals, limits' shape) are everyone's; sessions, recent calls (their SQL), rate buckets, quota
 * usage and queue places are each identity's own — as `query_history` shows a caller only their own calls
 * unless their role says `query_history = "all"`. Over HTTP, every key holder reads /status and /events:
 * without this, any teammate's key showed everyone's SQL and session ids.
 */
import type { CallRecord } from '../observe/call-record.js';
import type { SessionSnapshot } from '../session/session.js';
import type { WarehouseInfo } from '../warehouse/types.js';
import type { HealthReport } from './hub-health.js';

export interface HubStatus {
  version: string;
  pid: number;
  startedAt: string;
  /** Since the hub started, on the monotonic clock (a step of the wall clock does not change it). */
  uptimeMs: number;
  home: string;
  /** The Unix socket, when the hub listens on one. */
  socket: string;
  state: 'running' | 'draining';
  warehouses: WarehouseInfo[];
  sessions: SessionSnapshot[];
  /** sessionsCut: sessions the hub ended itself (a client that did not read, kept sending malformed input, or a silent shim link); answersCut: HTTP answers it cut because their clients did not read them (absent until one was); lastCut says when and why, and for an answer whose it was (absent until one was cut; absent from hubs before 0.1). */
  totals: { sessionsOpened: number; sessionsCut?: number; answersCut?: number; lastCut?: { at: string; why: string; identity?: string }; calls: number; errors: number; refused: number; cancelled: number };
  recent: CallRecord[];
  /** Whether the hub can serve calls now (hub-health.ts): what /readyz and `snowmux status`'s exit code say. Absent from hubs before 0.1. */
  health?: HealthReport;
  /** The service manager that runs this hub (systemd, launchd, pm2), and its restart command: `hub --replace` from a terminal refuses such a hub. */
  service?: { manager: string; unit: string; restart: string };
  [section: string]: unknown;
}

/** Whose view a scoped status is, shown by `snowmux status --url`. */
export interface StatusView {
  identity: string;
  /** 'own': sessions, calls, buckets and quotas of other identities are left out. */
  scope: 'own';
}

type Governance = { queue?: { sessions?: { sessionKey: string }[] }; rateLimits?: { identity: string }[]; quotas?: { identity: string }[] };

/** `status` as `identity` may see it when their role may not see everyone's calls. */
export function ownStatus(status: HubStatus, identity: string): HubStatus {
  const sessions = status.sessions.filter((s) => s.identity.name === identity);
  const visible = new Set(sessions.map((s) => s.id));
  const scoped: HubStatus = {
    ...status,
    sessions,
    recent: status.recent.filter((c) => c.identity === identity),
    view: { identity, scope: 'own' } satisfies StatusView,
  };
  // The last cut is the hub's fact; whose answer it was, only its own identity's.
  const lastCut = status.totals.lastCut;
  if (lastCut?.identity !== undefined && lastCut.identity !== identity) scoped.totals = { ...status.totals, lastCut: { at: lastCut.at, why: 'an HTTP answer to another identity was cut (its client did not read it)' } };
  // A statement that outlived its cancel holds a slot everyone waits behind: its count and age are the hub's
  // facts, whose session it is only its own identity's.
  scoped.warehouses = status.warehouses.map((w) => {
    const held = w.detail['outlivedStatements'];
    if (!Array.isArray(held)) return w;
    const shown = held.map((entry) => {
      const e = entry as { sessionId?: string; stoppedBy?: string; sinceStopMs?: number; runningMs?: number };
      return e.sessionId !== undefined && visible.has(e.sessionId) ? entry : { stoppedBy: e.stoppedBy ?? null, sinceStopMs: e.sinceStopMs ?? null, runningMs: e.runningMs ?? null };
    });
    return { ...w, detail: { ...w.detail, outlivedStatements: shown } };
  });
  const governance = status.governance as Governance | undefined;
  if (governance && typeof governance === 'object') {
    scoped.governance = {
      ...governance,
      ...(governance.queue ? { queue: { ...governance.queue, ...(governance.queue.sessions ? { sessions: governance.queue.sessions.filter((s) => visible.has(s.sessionKey)) } : {}) } } : {}),
      ...(governance.rateLimits ? { rateLimits: governance.rateLimits.filter((r) => r.identity === identity) } : {}),
      ...(governance.quotas ? { quotas: governance.quotas.filter((q) => q.identity === identity) } : {}),
    };
  }
  return scoped;
}

/**
 * The warehouses as a remote reader (a key holder over HTTP) is shown them: a problem whose message names the
 * hub machine's files (callerMessage) says it without them. The socket's `snowmux status` and a hub without
 * keys are the operator's, and see the whole message. Undefined when nothing changes.
 */
export function callerWarehouses(warehouses: readonly WarehouseInfo[]): WarehouseInfo[] | undefined {
  if (!warehouses.some((w) => w.problem?.callerMessage !== undefined)) return undefined;
  return warehouses.map((w) => {
    if (w.problem?.callerMessage === undefined) return w;
    const { callerMessage, ...problem } = w.problem;
    return { ...w, problem: { ...problem, message: callerMessage } };
  });
}

/**
 * One MCP session: one shim connection (or one stdio client). Holds identity, client facts and counters
 * for status, and the abort controllers of its running calls so a vanished client frees everything.
 */
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import type { ParentInfo } from '../../wire/hello.js';
import { SnowmuxError } from '../../errors.js';

/** The one revision of the per-request era this hub (its SDK) serves. */
const MODERN_REVISION = '2026-07-28';

export interface ClientInfo {
  name: string;
  version: string;
}

export interface Identity {
  /** How the identity was proven: the Unix socket's peer is the same local user; stdio is the process owner. */
  kind: 'local-user' | 'api-key';
  name: string;
}

export interface SessionFacts {
  id: string;
  identity: Identity;
  transport: 'unix-socket' | 'stdio' | 'http' | 'websocket';
  shimPid?: number | undefined;
  parent?: ParentInfo | undefined;
  shimVersion?: string | undefined;
  profile?: string | undefined;
  /** The config file the editor's shim was given, when it named one (absolute). */
  config?: string | undefined;
  /** SNOWFLAKE_* settings handed over by the shim (never logged or shown). */
  env?: Record<string, string> | undefined;
  resumeOf?: string | undefined;
}

export interface SessionSnapshot {
  id: string;
  identity: Identity;
  transport: string;
  client: ClientInfo | null;
  protocolVersion: string | null;
  shimPid: number | null;
  parent: ParentInfo | null;
  shimVersion: string | null;
  profile: string | null;
  /** Wall-clock time the session connected, for display. */
  connectedAt: string;
  /**
   * How long it has been connected, on the hub's monotonic clock: what the UP column shows, never negative or
   * inflated by a wall-clock step, nor by a viewer whose clock differs from the hub's. Absent from older hubs.
   */
  upMs?: number;
  calls: number;
  errors: number;
  running: number;
  lastTool: string | null;
  lastCallAt: string | null;
  resumeOf: string | null;
}

export class Session {
  readonly connectedAt = new Date();
  /** When it connected on the monotonic clock (see SessionSnapshot.upMs). */
  readonly #connectedMono = performance.now();
  client: ClientInfo | null = null;
  protocolVersion: string | null = null;
  /** The client said who it is in `initialize`: the 2025 era, whose connection keeps that name. */
  initialized = false;
  calls = 0;
  errors = 0;
  lastTool: string | null = null;
  lastCallAt: Date | null = null;
  /**
   * Its client seems gone (an HTTP session whose client hung up on an answer and holds no stream open). It stays
   * a session, which its client may use again by its id, but fair shares (its identity's rate, the queue's kept
   * slot) do not count it until it sends again.
   */
  away = false;
  /**
   * Aborting these cancels the session's running calls (and their warehouse statements). One entry per
   * call, never keyed by the client's request id: ids are the client's to choose and may repeat (two HTTP
   * clients sharing a 2026-07-28 session, or one client reusing an id), and a call whose entry another
   * overwrote would outlive the session.
   */
  readonly running = new Set<AbortController>();
  private closedFlag = false;
  /** Why the session closed: what its calls report (set by close). */
  private closedWhy: Error | undefined;

  constructor(readonly facts: SessionFacts) {}

  get id(): string {
    return this.facts.id;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Name used in query tags, audit and logs: the client's own name when it told us. */
  get clientLabel(): string {
    return this.client ? `${this.client.name}/${this.client.version}` : 'unknown-client';
  }

  beginCall(tool: string): AbortController {
    const controller = new AbortController();
    // A call that begins once the session is closed (a request read as the hub's grace period ended, or as its
    // link closed) is stopped at once for the same reason: nothing would abort it later.
    if (this.closedWhy !== undefined) controller.abort(this.closedWhy);
    this.running.add(controller);
    this.calls += 1;
    this.lastTool = tool;
    this.lastCallAt = new Date();
    return controller;
  }

  endCall(controller: AbortController, failed: boolean): void {
    this.running.delete(controller);
    if (failed) this.errors += 1;
  }

  /**
   * Ends the session: every running call is aborted, which cancels its warehouse statement. `abortWith` is
   * the error those calls report when the hub, not the client, ended them (HUB_STOPPING); without it they
   * say the session ended, and why (its hub.log line: a shim killed, a socket closed, a link the hub cut).
   */
  close(reason: string, abortWith?: Error): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closedWhy = abortWith ?? new SnowmuxError('QUERY_CANCELLED', `The call was cancelled: its session ended (${reason}).`);
    for (const controller of this.running) controller.abort(this.closedWhy);
  }

  snapshot(): SessionSnapshot {
    return {
      id: this.id,
      identity: this.facts.identity,
      transport: this.facts.transport,
      client: this.client,
      protocolVersion: this.protocolVersion,
      shimPid: this.facts.shimPid ?? null,
      parent: this.facts.parent ?? null,
      shimVersion: this.facts.shimVersion ?? null,
      profile: this.facts.profile ?? null,
      connectedAt: this.connectedAt.toISOString(),
      upMs: Math.round(performance.now() - this.#connectedMono),
      calls: this.calls,
      errors: this.errors,
      running: this.running.size,
      lastTool: this.lastTool,
      lastCallAt: this.lastCallAt?.toISOString() ?? null,
      resumeOf: this.facts.resumeOf ?? null,
    };
  }
}

/** Learns the client's name/version and protocol from what it sends, in either protocol era. */
export function observeClientMessage(session: Session, message: unknown): void {
  // Raw client input, read before anything validated it (an HTTP DELETE has no body at all, a POST may be `null`).
  if (message === null || typeof message !== 'object') return;
  const m = message as { method?: string; params?: Record<string, unknown> };
  if (typeof m.method !== 'string' || m.params === null || typeof m.params !== 'object') return;
  if (m.method === 'initialize') {
    const info = m.params.clientInfo as { name?: unknown; version?: unknown } | undefined;
    if (info && typeof info.name === 'string') session.client = { name: info.name.slice(0, 200), version: String(info.version ?? '').slice(0, 100) };
    // The version the session speaks is the one the answer agrees on: the client's if the SDK serves it, else the
    // SDK's latest (its negotiation rule). The requested one was shown: status said 2099-01-01 for a session of 2025-11-25.
    if (typeof m.params.protocolVersion === 'string') session.protocolVersion = SUPPORTED_PROTOCOL_VERSIONS.includes(m.params.protocolVersion) ? m.params.protocolVersion : LATEST_PROTOCOL_VERSION;
    session.initialized = true;
    return;
  }
  // A 2025 connection's envelope claims (its requests of the other era, which are refused) rename nothing.
  if (session.initialized) return;
  const meta = m.params._meta as Record<string, unknown> | undefined;
  if (!meta) return;
  const info = meta['io.modelcontextprotocol/clientInfo'] as { name?: unknown; version?: unknown } | undefined;
  if (info && typeof info.name === 'string' && session.client?.name !== info.name) {
    session.client = { name: info.name.slice(0, 200), version: String(info.version ?? '').slice(0, 100) };
  }
  // Only a revision the hub serves: a request claiming another is refused (by the SDK, or on a pinned connection
  // by ConnectionEra), and read first it set an HTTP client's shared session to a version it never spoke.
  const version = meta['io.modelcontextprotocol/protocolVersion'];
  if (version === MODERN_REVISION) session.protocolVersion = version;
}

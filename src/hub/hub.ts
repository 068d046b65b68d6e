/**
 * A hub process's hub: the transport-free core (hub/core) with its Unix-socket face (hub/socket), which
 * also serves remote shims' links handed over by the HTTP face. One object for the composition root
 * (cli/commands/hub-command.ts) and the HTTP face to hold.
 */
import type { Duplex } from 'node:stream';
import { HubCore, type AttachedSession, type AttachedSessionHooks, type HubCoreOptions, type HubHealth, type HubStatus } from './core/hub-core.js';
import { SocketFace, type SocketFaceOptions, type SocketStartOptions } from './socket/socket-face.js';
import type { Identity, SessionFacts } from './session/session.js';
import type { Logger } from './observe/logger.js';

export type { AttachedSession, AttachedSessionHooks, HubEvents, HubStatus } from './core/hub-core.js';
export type HubStartOptions = SocketStartOptions;
export type HubOptions = HubCoreOptions & SocketFaceOptions;

export class Hub {
  readonly core: HubCore;
  private readonly socket: SocketFace;

  constructor(opts: HubOptions) {
    this.core = new HubCore(opts);
    this.socket = new SocketFace(this.core, opts);
  }

  get events(): HubCore['events'] {
    return this.core.events;
  }

  get stopped(): Promise<void> {
    return this.core.stopped;
  }

  get startedAt(): Date {
    return this.core.startedAt;
  }

  get logger(): Logger {
    return this.core.logger;
  }

  get isDraining(): boolean {
    return this.core.isDraining;
  }

  get openedSessions(): number {
    return this.core.openedSessions;
  }

  start(options: HubStartOptions = {}): Promise<void> {
    return this.socket.start(options);
  }

  /** Start-up is complete (after `start({ holdUntilReady: true })`): sessions are served. */
  ready(): void {
    this.socket.ready();
  }

  /** Start-up failed after the socket was bound: sessions are refused with this, not served. */
  failedToStart(message: string, handedBack = false): void {
    this.socket.failedToStart(message, handedBack);
  }

  /** Whether the socket path still names this hub's socket (false once a hand-back or take-over moved it). */
  ownsSocket(): boolean {
    return this.socket.ownsSocket();
  }

  attachSession(facts: Omit<SessionFacts, 'id'> & { id?: string }, hooks: AttachedSessionHooks): AttachedSession {
    return this.core.attachSession(facts, hooks);
  }

  /** A remote shim's link (the HTTP face's /shim WebSocket, already authenticated). */
  acceptRemoteLink(stream: Duplex, identity: string, profiles: readonly string[]): void {
    this.socket.acceptRemoteLink(stream, identity, profiles);
  }

  reload(): unknown {
    return this.core.reload();
  }

  status(): HubStatus {
    return this.core.status();
  }

  statusFor(viewer: Identity): HubStatus {
    return this.core.statusFor(viewer);
  }

  seesEveryone(viewer: Identity): boolean {
    return this.core.seesEveryone(viewer);
  }

  health(): HubHealth {
    return this.core.health();
  }

  noteAnswerCut(why: string, identity: string | undefined): void {
    this.core.noteAnswerCut(why, identity);
  }

  stop(reason: string): Promise<void> {
    return this.core.stop(reason);
  }
}

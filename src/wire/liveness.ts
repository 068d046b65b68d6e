/**
 * Dead-peer detection for a link, shared by the shim and the hub: ping when the peer has been quiet for a
 * while, declare it dead when it has been silent too long.
 *
 * Silence only counts while this process was running. When a check comes late (the machine slept, or this
 * process was stopped or blocked), the peer could not have been heard in the meantime, so it gets a fresh
 * budget and a ping instead of being declared dead: after a laptop resumes, live links stay up.
 */

export interface LivenessOptions {
  /** How often to check. */
  checkEveryMs: number;
  /** Silence after which a ping is sent (0: on every check). */
  pingAfterMs: number;
  /** Silence after which the peer is dead. */
  deadAfterMs: number;
  ping(): void;
  dead(silentMs: number): void;
  /**
   * The clock, in ms. Monotonic by default: a wall clock stepped back (NTP, a restored VM) would make
   * silence negative and switch dead-peer detection off for as long as the step.
   */
  now?: () => number;
}

export class Liveness {
  private readonly now: () => number;
  private lastHeard: number;
  private lastCheck: number;
  private stopped = false;
  private listening = true;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: LivenessOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.lastHeard = this.lastCheck = this.now();
    this.timer = setInterval(() => this.check(), opts.checkEveryMs);
    this.timer.unref();
  }

  /** Call on every byte received from the peer. */
  heard(): void {
    this.lastHeard = this.now();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /**
   * This side stopped reading the peer on purpose (its own reader is behind): the peer's answers wait in
   * the socket unread, so its silence means nothing. Pings still go out, so the peer keeps hearing us.
   */
  pauseListening(): void {
    this.listening = false;
  }

  /** Reading again: the peer gets a fresh budget. */
  resumeListening(): void {
    this.listening = true;
    this.lastHeard = this.now();
  }

  private check(): void {
    if (this.stopped) return;
    const now = this.now();
    const late = now - this.lastCheck > 2 * this.opts.checkEveryMs;
    this.lastCheck = now;
    if (late || !this.listening) {
      this.lastHeard = now;
      this.opts.ping();
      return;
    }
    const silent = now - this.lastHeard;
    if (silent > this.opts.deadAfterMs) {
      this.stop();
      this.opts.dead(silent);
    } else if (silent >= this.opts.pingAfterMs) {
      this.opts.ping();
    }
  }
}

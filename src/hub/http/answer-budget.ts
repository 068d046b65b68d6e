/**
 * The bytes of HTTP answers held for clients that have not read them yet, every connection together, against
 * one bound (MAX_HELD_ANSWER_BYTES). One budget is shared by the face, which charges what the MCP SDK's
 * streams have produced and not yet handed on (a 2025 session's batch answered over SSE queues every answer
 * there), and by the engine, which charges what its socket has not written out. Past the bound the answers
 * held longest are cut (a client that reads takes its bytes within milliseconds, so those are the ones not
 * read); an answer alone over the bound is cut too.
 */
import { SnowmuxError } from '../../errors.js';

/**
 * Answer bytes waiting for their clients to read them, all connections together. The stalled-output cut
 * alone let clients that never read make the hub hold an answer per connection for a minute each: 400 POSTs
 * for full-size answers, never read, grew the hub by 215 MiB, and one 2025 POST carrying a batch of 40
 * large queries, never read, held 367 MiB in the SDK's stream.
 */
export const MAX_HELD_ANSWER_BYTES = 128 * 1024 * 1024;

/** One answer's bytes, charged from when they are produced until its client takes them or it is cut. */
export interface HeldAnswer {
  /** More of its bytes are held. False once it is cut: its holder drops them (and they are not counted). */
  add(bytes: number): boolean;
  /** Some of its bytes were taken by the client (or dropped). */
  sub(bytes: number): void;
  /** Its response is over (finished, cut, or its client gone): nothing of it counts any more. */
  release(): void;
}

interface Entry {
  bytes: number;
  cut: boolean;
  onCut: (why: string) => void;
  /** Whose answer it is (the caller's identity, for status and the log), when known. */
  identity: string | undefined;
}

/** What a budget reports: to the hub's status (each cut, with whose answer it was) and its memory return. */
export interface AnswerBudgetObserver {
  /** An answer was cut for the bound: why, and whose it was. */
  cut?(why: string, identity: string | undefined): void;
  /** An answer was cut because its client took none of it for the stalled-output time (see stalled()). */
  stalled?(why: string, identity: string | undefined): void;
}

export class AnswerBudget {
  private held = 0;
  /** Of those, the bytes of answers not cut: what the bound is enforced on (a cut one is being let go of). */
  private live = 0;
  private cutCount = 0;
  /** Open answers, oldest first. */
  private readonly open = new Set<Entry>();
  constructor(
    readonly limit: number,
    private readonly observer: AnswerBudgetObserver = {},
  ) {}

  /** Bytes of answers held now, cut ones not yet let go of included. */
  get heldBytes(): number {
    return this.held;
  }

  /** Answers cut for this bound since the budget was made. */
  get cuts(): number {
    return this.cutCount;
  }

  /** An answer about to be produced: its bytes are charged with `add` as they are. `onCut` drops them. */
  begin(onCut: (why: string) => void, identity?: string): HeldAnswer {
    const entry: Entry = { bytes: 0, cut: false, onCut, identity };
    this.open.add(entry);
    return {
      add: (bytes) => {
        if (entry.cut || !this.open.has(entry)) return false;
        entry.bytes += bytes;
        this.held += bytes;
        this.live += bytes;
        this.enforce(entry);
        return !entry.cut;
      },
      sub: (bytes) => {
        if (!this.open.has(entry)) return;
        const taken = Math.min(bytes, entry.bytes);
        entry.bytes -= taken;
        this.held -= taken;
        if (!entry.cut) this.live -= taken;
      },
      release: () => {
        if (!this.open.delete(entry)) return;
        this.held -= entry.bytes;
        if (!entry.cut) this.live -= entry.bytes;
        entry.bytes = 0;
      },
    };
  }

  /** An answer of `bytes` bytes held at once (the engine's write its client has not taken). */
  take(bytes: number, onCut: (why: string) => void, identity?: string): HeldAnswer {
    const answer = this.begin(onCut, identity);
    answer.add(bytes);
    return answer;
  }

  /**
   * Over the bound: cuts the answers held longest, other than `growing`, until the rest fit; `growing`
   * itself only when it alone is over the bound. A cut answer counts until its holder lets go of it.
   */
  private enforce(growing: Entry): void {
    for (const oldest of this.open) {
      if (this.live <= this.limit) return;
      if (oldest === growing || oldest.cut || oldest.bytes === 0) continue;
      this.cut(oldest, `the hub holds ${this.live} bytes of answers its HTTP clients have not read (limit ${this.limit}); this one had waited longest`);
    }
    if (this.live > this.limit && growing.bytes > this.limit) {
      this.cut(growing, `the hub holds ${this.live} bytes of answers its HTTP clients have not read (limit ${this.limit}); this one alone holds ${growing.bytes}`);
    }
  }

  private cut(entry: Entry, why: string): void {
    entry.cut = true;
    this.live -= entry.bytes;
    this.cutCount += 1;
    this.observer.cut?.(why, entry.identity);
    entry.onCut(why);
  }

  /**
   * An engine cut a connection whose client took none of its answer for `stalledMs`: reported with the
   * bound's cuts, so `status` shows both, not only the hub's log.
   */
  stalled(stalledMs: number, identity: string | undefined): void {
    this.observer.stalled?.(`its client took none of it for ${stalledMs} ms`, identity);
  }
}

/**
 * What an engine aborts a request with when it cuts the answer its client did not read (for the bound, or
 * none of it taken for the stalled-output time): typed, so the face can tell the client's session why its
 * connection closed, apart from a client that went away by itself.
 */
export function answerNotRead(message: string): SnowmuxError {
  return new SnowmuxError('ANSWER_NOT_READ', message);
}

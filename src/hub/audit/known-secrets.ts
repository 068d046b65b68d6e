/**
 * The secrets the hub knows, by whose they are.
 *
 * Hub-wide: what the hub's own config and settings hold (profile passwords, tokens, passphrases, OTLP
 * headers). Scrubbed from every record, log line and view.
 *
 * A session's own: what a session's forwarded environment brought (an editor's SNOWFLAKE_PASSWORD handed
 * over by its shim). The value is the client's to choose, so it is scrubbed only from that session's own
 * records and log lines. Hub-wide, any client could name a word (an object name, `SELECT`, `"msg":`) its
 * "password" and erase it from every other session's audit records, or break every later hub.log line.
 *
 * hub.log lines are scrubbed value by value (`scrubLogLine`), never as text: a secret spelled differently
 * in JSON (`"`, `\`) was kept, and one that matched the line's structure made it invalid JSON.
 */
import { SecretScrubber, scrubPrivateKeys, type TextScrubber } from './audit-redact.js';

/** Ended sessions whose secrets are kept for their records still to come (a call cancelled by the close). */
const ENDED_SESSIONS_KEPT = 256;
/** Nesting deeper than this in a log line is kept as its scrubbed JSON text (bounds the walk). */
const MAX_LOG_DEPTH = 32;

export class KnownSecrets {
  /** The hub's own secrets: every record, line and view. */
  readonly hub = new SecretScrubber();
  private readonly sessions = new Map<string, SecretScrubber>();
  private readonly ended: string[] = [];

  /** Secrets `sessionId`'s own settings brought; those the hub holds itself stay hub-wide. */
  addSession(sessionId: string, secrets: readonly string[]): void {
    const own = secrets.filter((s) => !this.hub.knows(s));
    if (own.length === 0) return;
    let scrubber = this.sessions.get(sessionId);
    if (!scrubber) {
      scrubber = new SecretScrubber();
      this.sessions.set(sessionId, scrubber);
    }
    scrubber.add(own);
  }

  /** The session is gone: its secrets are kept a while for its last records, then forgotten. */
  sessionEnded(sessionId: string): void {
    if (!this.sessions.has(sessionId)) return;
    this.ended.push(sessionId);
    while (this.ended.length > ENDED_SESSIONS_KEPT) this.sessions.delete(this.ended.shift()!);
  }

  /** Text of `sessionId` as the audit log, hub.log and other viewers keep it: hub-wide and the session's secrets out. */
  forRecord(sessionId: string | undefined): TextScrubber {
    const own = sessionId === undefined ? undefined : this.sessions.get(sessionId);
    return own ? { scrub: (text) => own.scrub(this.hub.scrub(text)) } : this.hub;
  }

  /**
   * Text of `sessionId` as its own caller sees it: private keys and the session's own secrets out, the
   * hub-wide ones not — else the scrub tells a caller which of its strings are someone else's secret.
   */
  forCaller(sessionId: string): TextScrubber {
    return this.sessions.get(sessionId) ?? { scrub: scrubPrivateKeys };
  }

  /**
   * A text the hub wrote for `sessionId`'s caller (a failure's message: an unexpected error, a driver's or
   * a login's refusal) as that caller may see it: the hub's own secrets out unless the caller's own input
   * (`callerWrote`: its SQL and arguments) holds them, then as `forCaller` (private keys, the session's own).
   */
  forCallerText(sessionId: string, text: string, callerWrote: string): string {
    const out = this.hub.occursIn(text) ? this.hub.scrubExcept(text, callerWrote) : text;
    return this.forCaller(sessionId).scrub(out);
  }

  /**
   * A JSON view (status) with the hub's secrets out of every string, keys too; the view itself when none
   * occurs in it. What the hub says of itself there (a breaker's last failure, a refused reload, Redis's or
   * the trace exporter's last error) quotes drivers and connections, which may carry them.
   */
  scrubView<T>(view: T): T {
    const text = JSON.stringify(view);
    if (text === undefined || !(text.includes('PRIVATE KEY-----') || text.includes('smx_') || this.hub.occursIn(text))) return view;
    return JSON.parse(JSON.stringify(scrubStrings(JSON.parse(text), this.hub, 0))) as T;
  }

  /**
   * A finished hub.log line (pino's JSON plus newline) with secrets out of its string values and keys: the
   * hub's everywhere, a session's in the lines that carry its `session`. The line stays valid JSON.
   */
  scrubLogLine(line: string): string {
    if (!this.mayHold(line)) return line;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // Not pino's JSON (nothing writes such a line): scrubbed as text.
      return this.hub.scrub(line);
    }
    const session = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>).session : undefined;
    const scrubber = this.forRecord(typeof session === 'string' ? session : undefined);
    return `${JSON.stringify(scrubStrings(parsed, scrubber, 0))}${line.endsWith('\n') ? '\n' : ''}`;
  }

  /**
   * Cheap test first: most lines hold no secret and are written untouched. The secrets recognised by their
   * form (a PEM private key, a snowmux API key's `smx_` secret) count whatever the hub knows: an API key a
   * caller pasted into SQL came back in a driver's error text ("tool call failed") and was written whole.
   */
  private mayHold(line: string): boolean {
    if (line.includes('PRIVATE KEY-----') || line.includes('smx_') || this.hub.occursIn(line)) return true;
    for (const scrubber of this.sessions.values()) if (scrubber.occursIn(line)) return true;
    return false;
  }
}

/** A parsed JSON value with every string (keys too) scrubbed. */
function scrubStrings(value: unknown, scrubber: TextScrubber, depth: number): unknown {
  if (typeof value === 'string') return scrubber.scrub(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_LOG_DEPTH) return scrubber.scrub(JSON.stringify(value));
  if (Array.isArray(value)) return value.map((item) => scrubStrings(item, scrubber, depth + 1));
  // Null prototype: a "__proto__" key stays an ordinary member.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, member] of Object.entries(value)) out[scrubber.scrub(key)] = scrubStrings(member, scrubber, depth + 1);
  return out;
}

/**
 * What one session may make the hub hold, and the ceiling that follows (docs/security-model.md, "Memory
 * per session"). The line transport takes its defaults from here, so the documented ceiling is computed
 * from the very numbers that bound a session.
 */
import { MAX_HUB_LINE_BYTES } from '../../wire/framing.js';

const MIB = 1024 * 1024;

export const SESSION_BOUNDS = {
  /** Reading a client stops while this much output waits for it to read. */
  pauseAtBytes: 1 * MIB,
  /** Requests owed an answer at once, any method (open subscriptions included). */
  maxOutstanding: 256,
  /**
   * Open 2026-07-28 subscriptions (`subscriptions/listen`) at once: each stays unanswered for the session's
   * life, so without their own bound a client that re-subscribes on every change without cancelling filled
   * the request bound with them, and every later request was refused for good.
   */
  maxOpenListens: 16,
  /** Bytes of request lines owed an answer at once (one request of any accepted size always runs). */
  maxOutstandingBytes: 32 * MIB,
  /** Output waiting beyond max(this, answersAtCut × max_result_bytes) means a client that does not read: it is cut off. */
  minMaxBufferedBytes: 64 * MIB,
  answersAtCut: 8,
  /** Bytes one read from a socket brings at most (node's default high-water mark for sockets). */
  readChunkBytes: 64 * 1024,
  /** A running call holds its rows, its text table and its serialised answer: about this many results. */
  copiesPerResult: 3,
} as const;

/** Output a session may leave unread before it is cut off. */
export function maxBufferedBytes(maxResultBytes: number): number {
  return Math.max(SESSION_BOUNDS.minMaxBufferedBytes, SESSION_BOUNDS.answersAtCut * maxResultBytes);
}

export interface SessionMemoryCeiling {
  /** The sum: live bytes one session can make the hub hold, whatever the client does. */
  bytes: number;
  /** An unfinished line (up to max_line_bytes) and one read's worth of complete lines. */
  input: number;
  /** The requests owed an answer (their parsed arguments live until answered). */
  requests: number;
  /** Answers waiting for the client: up to the cut-off, overshot by at most one line. */
  output: number;
  /** Results being shaped by the calls running at once (bounded by the backend slots). */
  running: number;
}

export function sessionMemoryCeiling(limits: { maxLineBytes: number; maxResultBytes: number; maxConcurrentQueries: number }): SessionMemoryCeiling {
  const input = limits.maxLineBytes + SESSION_BOUNDS.readChunkBytes;
  const requests = Math.max(SESSION_BOUNDS.maxOutstandingBytes, limits.maxLineBytes);
  const output = maxBufferedBytes(limits.maxResultBytes) + MAX_HUB_LINE_BYTES;
  const running = limits.maxConcurrentQueries * SESSION_BOUNDS.copiesPerResult * limits.maxResultBytes;
  return { bytes: input + requests + output + running, input, requests, output, running };
}

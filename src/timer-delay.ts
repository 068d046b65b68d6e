/**
 * Timer delays as Node.js can hold them. Every layer arms timers (the audit log's fsync, the guard's clock,
 * a call's deadline), so this sits with the errors, below them all.
 */
/**
 * The longest delay a timer holds: Node.js arms a longer one (and anything but a finite number) for 1 ms,
 * with only a warning, so "wait 25 days" became "fail at once". Every *_ms setting is refused above it.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** `ms` as a timer can hold it: a delay computed from settings (a deadline, an interval) past the maximum waits the maximum, not 1 ms. */
export function timerDelay(ms: number): number {
  if (Number.isNaN(ms)) return 0;
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}

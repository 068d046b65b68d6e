/**
 * Gives memory back after a session that held a lot of it ends. What such a session held (answers it never
 * read, the results behind them) is garbage once it ends, but V8 frees large strings only in a full
 * collection, which it starts when the heap grows again or after several seconds of idleness: a hub that
 * keeps serving other editors could keep a flooder's hundreds of MiB in its RSS for minutes. One full,
 * compacting collection shortly after such a session ends returns them at once (without compaction the
 * pages stay committed, pinned by the few long-lived objects among the garbage). It pauses the hub for
 * tens of milliseconds, so it runs at most once per `MIN_INTERVAL_MS`, and only for sessions that held a
 * lot. Measured: docs/benchmarks.md, "A client that never reads".
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Long enough for the ended session's cancelled calls to let go of their results. */
const AFTER_MS = 500;
const MIN_INTERVAL_MS = 10_000;

let collect: (() => void) | null | undefined;
let timer: NodeJS.Timeout | null = null;
/** performance.now() of the last collection: the interval is measured on the monotonic clock. */
let lastAt = -Infinity;

/** V8's full collection: `gc` when node runs with --expose-gc, else exposed now (in a throwaway context). */
function fullCollection(): (() => void) | null {
  if (collect !== undefined) return collect;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return (collect = exposed as () => void);
  try {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  } catch {
    collect = null;
  }
  return collect;
}

/** A session that held a lot of memory ended: collect it soon (once for several sessions ending together). */
export function returnMemorySoon(): void {
  if (timer) return;
  const wait = Math.max(AFTER_MS, lastAt + MIN_INTERVAL_MS - performance.now());
  timer = setTimeout(() => {
    timer = null;
    lastAt = performance.now();
    const collectNow = fullCollection();
    if (!collectNow) return;
    // V8 compacts only some pages in a full collection; this one should release every page it can.
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      collectNow();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
  }, wait);
  timer.unref();
}

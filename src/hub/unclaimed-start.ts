/**
 * A hub a shim started for its editor stops by itself if that shim exits before any session ever opened.
 *
 * The shim starts a hub when none answers, then links to it. If the shim dies in between (its editor killed
 * while the previous hub was stopping: the drain notice had already set the start going), the new hub served
 * nobody and had no reason to end: it ran, logged in to Snowflake and held a pool until `snowmux stop`. A shim
 * that is still there, however slow, keeps its hub; so does any hub that ever had a session, or that a user or a
 * service manager started (no `shim:<pid>` in SNOWMUX_STARTED_BY).
 */
import { processAlive } from '../wire/process-alive.js';

export interface UnclaimedStartWatch {
  cancel(): void;
}

export interface UnclaimedStartOptions {
  /** SNOWMUX_STARTED_BY as the hub got it: `shim:<pid>` from a shim. */
  startedBy: string | undefined;
  /** Sessions this hub has opened so far. */
  sessionsOpened: () => number;
  /** Stops the hub, saying why. */
  stop: (reason: string) => void;
  /** How often the starter is looked for. Default 1 s. */
  everyMs?: number;
}

export function watchUnclaimedStart(o: UnclaimedStartOptions): UnclaimedStartWatch {
  const starter = /^shim:(\d+)$/.exec(o.startedBy ?? '');
  const pid = starter ? Number(starter[1]) : NaN;
  if (!Number.isSafeInteger(pid) || pid <= 0) return { cancel: () => undefined };
  const timer = setInterval(() => {
    if (o.sessionsOpened() > 0) {
      clearInterval(timer);
      return;
    }
    if (processAlive(pid)) return;
    clearInterval(timer);
    o.stop(`the shim that started it (pid ${pid}) exited before linking, and no editor has connected since`);
  }, o.everyMs ?? 1_000);
  // The hub's socket keeps the process alive; this only looks.
  timer.unref();
  return { cancel: () => clearInterval(timer) };
}

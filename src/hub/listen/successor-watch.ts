/**
 * Tells a draining hub when the next hub is up: a socket at the hub's socket path. A draining hub keeps
 * its TCP listeners (metrics, HTTP) so `/healthz` says "draining" until it exits; but the next hub — one
 * that took over (`hub --replace`, or a frozen hub's path), or one a shim started while this one drains —
 * wants the same fixed ports at once. When it appears, the draining hub lets go of them.
 *
 * Call it only after the draining hub released the path (it removes its own socket file when it stops
 * accepting, or leaves one that already names another hub): anything found there then is the next hub.
 */
import { lstatSync } from 'node:fs';

export interface SuccessorWatch {
  stop(): void;
}

export function watchForSuccessor(socketPath: string, onSuccessor: () => void, everyMs = 50): SuccessorWatch {
  let timer: NodeJS.Timeout | null = null;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const look = (): boolean => {
    if (!isSocket(socketPath)) return false;
    stop();
    onSuccessor();
    return true;
  };
  // A take-over: the next hub holds the path already.
  if (look()) return { stop };
  // Polled: the path's directory is shared with other files, and fs.watch is not dependable everywhere.
  timer = setInterval(look, everyMs);
  timer.unref();
  return { stop };
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

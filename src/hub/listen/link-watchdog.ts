/**
 * Dead-peer detection on the hub's side of a shim link. Shims ping every few seconds, so silence means a
 * frozen or vanished shim, or a socket cut by sleep. Halfway through the idle budget the hub asks with a
 * ping of its own (so a shim that does not ping is not dropped for being quiet); at the end it gives up.
 */
import type { Socket } from 'node:net';
import { encodeLine } from '../../wire/framing.js';

export interface LinkWatchdog {
  /** Call on every byte received from the peer. */
  heard(): void;
  stop(): void;
}

export function watchLink(socket: Socket, idleMs: number, onDead: (silentMs: number) => void): LinkWatchdog {
  let lastHeard = Date.now();
  let n = 0;
  const timer = setInterval(() => {
    const silent = Date.now() - lastHeard;
    if (silent >= idleMs) {
      stop();
      onDead(silent);
    } else if (silent >= idleMs / 2 && socket.writable) {
      socket.write(encodeLine({ snowmux: 'ping', n: ++n }));
    }
  }, Math.max(25, Math.floor(idleMs / 4)));
  timer.unref();
  const stop = () => clearInterval(timer);
  socket.once('close', stop);
  return {
    heard: () => {
      lastHeard = Date.now();
    },
    stop,
  };
}

/**
 * Dead-peer detection on the hub's side of a shim link. Shims ping every few seconds, so silence means a
 * frozen or vanished shim, or a socket cut by sleep. Halfway through the idle budget the hub asks with a
 * ping of its own (so a shim that does not ping is not dropped for being quiet); at the end it gives up.
 * Time the hub itself was not running (sleep, freeze) does not count against the shim.
 */
import type { Duplex } from 'node:stream';
import { encodeLine } from '../../wire/framing.js';
import { Liveness } from '../../wire/liveness.js';

export interface LinkWatchdog {
  /** Call on every byte received from the peer. */
  heard(): void;
  /** The hub stopped reading the link on purpose (its client is behind on answers): silence means nothing. */
  pauseListening(): void;
  resumeListening(): void;
  stop(): void;
}

export function watchLink(socket: Duplex, idleMs: number, onDead: (silentMs: number) => void): LinkWatchdog {
  let n = 0;
  const liveness = new Liveness({
    checkEveryMs: Math.max(25, Math.floor(idleMs / 4)),
    pingAfterMs: idleMs / 2,
    deadAfterMs: idleMs,
    ping: () => {
      if (socket.writable) socket.write(encodeLine({ snowmux: 'ping', n: ++n }));
    },
    dead: onDead,
  });
  socket.once('close', () => liveness.stop());
  return liveness;
}

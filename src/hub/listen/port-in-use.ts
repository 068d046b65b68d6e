/**
 * Whether a TCP address is held by a listener now: `hub --replace` asks before it takes over, so a port
 * another program holds stops the take-over (the running hub keeps serving) instead of leaving the new
 * hub waiting for a port that is not going to be let go of.
 */
import { createServer } from 'node:net';
import { parseListen } from './listen-address.js';

export function portInUse(address: string): Promise<boolean> {
  const { host, port } = parseListen(address);
  // Port 0 is any free port: never in use.
  if (port === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE'));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

/**
 * Why a TCP address cannot be listened on, other than being in use (portInUse says that): an address no
 * interface of this machine has, a port below 1024 without the privilege, a host name that does not resolve.
 * Null when it could be listened on now, or is in use. `hub --replace` asks before it takes over: after, a
 * failure leaves the replaced hub draining and the new one without its HTTP face.
 */
export function listenRefusal(address: string): Promise<string | null> {
  const { host, port } = parseListen(address);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE' ? null : `${err.message}${LISTEN_HINTS[err.code ?? ''] ?? ''}`));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRNOTAVAIL: ' (no network interface of this machine has that address)',
  EACCES: ' (ports below 1024 need privileges this user does not have)',
  ENOTFOUND: ' (the host name does not resolve)',
  EAI_AGAIN: ' (the host name could not be resolved now)',
};

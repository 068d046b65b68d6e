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

/**
 * A listener address, `host:port` (`[::1]:8765` for IPv6), and whether it is reachable only from this
 * machine. Shared by the HTTP engines and the config check that refuses `http_auth = false` off loopback.
 */
import { SnowmuxError } from '../../errors.js';

export function parseListen(address: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(address);
  if (!m) throw new SnowmuxError('CONFIG_INVALID', `"${address}" is not host:port.`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

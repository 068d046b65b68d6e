/**
 * A listener address, `host:port` (`[::1]:8765` for IPv6). Shared by the HTTP engines and the config check
 * (whether it is reachable only from this machine: wire/loopback.ts).
 */
import { SnowmuxError } from '../../errors.js';

export function parseListen(address: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(address);
  if (!m || !isListenAddress(address)) throw new SnowmuxError('CONFIG_INVALID', `"${address}" is not host:port (a port from 0 to 65535).`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

/**
 * Whether `address` is host:port with a port a socket can have (0 to 65535). One test for the config keys
 * and the --http flags: a larger port is not a typo to pass on, since an engine may wrap it around
 * (uWebSockets.js listened on 34463 for 99999) instead of refusing it.
 */
export function isListenAddress(address: string): boolean {
  const m = /^[\w.:[\]-]+:(\d{1,5})$/.exec(address);
  return m !== null && Number(m[1]) <= 65_535;
}


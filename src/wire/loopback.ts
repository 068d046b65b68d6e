/**
 * Whether a host name or address is this machine's loopback: where a listener without keys may listen and
 * where a key may travel unencrypted. One test for the hub's listeners, its config checks and the shim's
 * and status's --url (a URL's IPv6 host comes bracketed, `[::1]`).
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  // An address, not a name that starts like one: `127.example.com` resolves wherever its owner likes.
  return bare === 'localhost' || bare === '::1' || /^127(?:\.\d{1,3}){3}$/.test(bare);
}

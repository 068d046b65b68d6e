/**
 * A TCP proxy in front of a test's redis-server, for faults a real Redis cannot be made to show on demand:
 * connections that go silent without FIN or RST (a NAT or firewall that lost the flow), and a client's write
 * held back until the test lets it through (one operator's command landing between another's read and write).
 */
import { once } from 'node:events';
import net from 'node:net';
import { defer, type Cleanup } from './harness.js';

export interface RedisProxy {
  port: number;
  /** Silences every connection open now (no FIN, no RST), not later ones; returns how many. */
  blackhole(): number;
  /**
   * Holds the next client write that matches `pattern` (and everything its connection sends after it) until
   * `release()`; `held` resolves once it is held.
   */
  holdNextWrite(pattern: RegExp): { held: Promise<void>; release: () => void };
}

export async function redisProxy(t: Cleanup, redisPort: number): Promise<RedisProxy> {
  const open = new Set<{ silent: boolean }>();
  const sockets = new Set<net.Socket>();
  /** The hold asked for, until a write matches it; then `flush` lets that connection's writes through. */
  let hold: { pattern: RegExp; arrived: () => void; flush?: () => void } | undefined;
  const server = net.createServer((client) => {
    const flow = { silent: false };
    open.add(flow);
    const upstream = net.connect(redisPort, '127.0.0.1');
    for (const s of [client, upstream]) sockets.add(s);
    let held: Buffer[] | null = null;
    client.on('data', (d: Buffer) => {
      if (flow.silent) return;
      if (held !== null) return void held.push(d);
      if (hold !== undefined && hold.flush === undefined && hold.pattern.test(d.toString('latin1'))) {
        held = [d];
        hold.flush = () => {
          for (const chunk of held ?? []) upstream.write(chunk);
          held = null;
        };
        hold.arrived();
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => void (flow.silent || client.write(d)));
    const end = () => {
      open.delete(flow);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(t, async () => {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    blackhole: () => {
      for (const flow of open) flow.silent = true;
      return open.size;
    },
    holdNextWrite(pattern) {
      let arrived!: () => void;
      const held = new Promise<void>((resolve) => (arrived = resolve));
      const asked: NonNullable<typeof hold> = { pattern, arrived };
      hold = asked;
      return { held, release: () => asked.flush?.() };
    },
  };
}

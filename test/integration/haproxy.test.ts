/**
 * contrib/haproxy/snowmux.cfg in front of two replicas (a real haproxy): a 2025-era sessionful client is
 * pinned to the replica that holds its session (without the stick table, half its requests would reach the
 * other replica and get 404), 2026-07-28 clients are spread over both, and when a replica dies the
 * modern clients go on through the other with no call lost to the dead one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { repoRoot } from '../helpers/paths.js';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { NO_HAPROXY } from '../helpers/debian-tools.js';
import { startHaproxy } from '../helpers/haproxy.js';
import { defer, runCli, startHub, tempHome } from '../helpers/harness.js';


test('contrib/haproxy/snowmux.cfg is valid as shipped (haproxy -c), not a template that needs filling in first', { skip: NO_HAPROXY }, () => {
  const check = spawnSync('haproxy', ['-c', '-f', join(repoRoot, 'contrib', 'haproxy', 'snowmux.cfg')], { encoding: 'utf8' });
  assert.equal(check.status, 0, `haproxy -c:\n${check.stdout}${check.stderr}`);
});

test('haproxy routes 2025 sessions to their replica and spreads 2026 requests; a dead replica is routed around', { skip: NO_HAPROXY }, async (t) => {
  const homes = [tempHome(t), tempHome(t)];
  const hubs = [];
  for (const home of homes) {
    writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_auth = false\n');
    hubs.push(await startHub(t, home));
  }
  const addrs = hubs.map((h) => /HTTP on http:\/\/(\S+)/.exec(h.stderr())![1]!);
  const { front } = await startHaproxy(t, addrs);
  const url = new URL(`http://127.0.0.1:${front}/mcp`);
  // Wait until haproxy answers and both replicas passed a health check.
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${front}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
  }

  const legacy = new Client({ name: 'legacy-through-lb', version: '1' }, { versionNegotiation: { mode: 'legacy' } });
  await legacy.connect(new StreamableHTTPClientTransport(url));
  defer(t, () => legacy.close());
  for (let i = 0; i < 8; i++) {
    const r = await legacy.callTool({ name: 'execute_query', arguments: { query: `SELECT ${i} AS I` } });
    assert.notEqual(r.isError, true);
  }
  const statusOf = async (home: string) => JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { sessions: { client: { name: string } | null; calls: number }[] };
  const holders = [];
  for (const home of homes) holders.push((await statusOf(home)).sessions.filter((s) => s.client?.name === 'legacy-through-lb'));
  assert.equal(holders.flat().length, 1, 'one session, on one replica');
  assert.equal(holders.flat()[0]!.calls, 8, 'every call reached the replica holding the session');

  const modern = new Client({ name: 'modern-through-lb', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await modern.connect(new StreamableHTTPClientTransport(url));
  defer(t, () => modern.close());
  for (let i = 0; i < 8; i++) assert.notEqual((await modern.callTool({ name: 'list_databases', arguments: {} })).isError, true);
  const spread = [];
  for (const home of homes) spread.push((await statusOf(home)).sessions.filter((s) => s.client?.name === 'modern-through-lb').reduce((n, s) => n + s.calls, 0));
  assert.ok(spread[0]! > 0 && spread[1]! > 0, `modern calls spread over both replicas: ${spread.join(' + ')}`);

  // Replica 1 dies: once haproxy has seen it fail, every modern call goes to replica 2.
  hubs[0]!.proc.kill('SIGKILL');
  await once(hubs[0]!.proc, 'exit');
  let failures = 0;
  let successesInARow = 0;
  while (successesInARow < 6) {
    const r = await modern.callTool({ name: 'list_databases', arguments: {} }).catch(() => null);
    if (r && r.isError !== true) successesInARow += 1;
    else {
      failures += 1;
      successesInARow = 0;
    }
    assert.ok(failures < 50, 'haproxy never routed around the dead replica');
  }
});

/** GET /healthz on its own connection, closed after the answer (fetch would keep one open, which counts): the status line, or null. */
async function healthOnce(port: number): Promise<string | null> {
  const s = connect(port, '127.0.0.1');
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  s.on('error', () => {});
  s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  // Not events.once: it rejects on the 'error' (haproxy not listening yet) that comes before the close.
  await new Promise((resolve) => s.on('close', resolve));
  return /^HTTP\/1\.1 \d+/.exec(text)?.[0] ?? null;
}

test('one client address holds at most 200 connections through haproxy: the next is closed before it reaches a replica, and others are still served', { skip: NO_HAPROXY }, async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_auth = false\n');
  const hub = await startHub(t, home);
  const addr = /HTTP on http:\/\/(\S+)/.exec(hub.stderr())![1]!;
  const { front } = await startHaproxy(t, [addr]);
  while ((await healthOnce(front)) !== 'HTTP/1.1 200');
  const open: Socket[] = [];
  defer(t, () => open.forEach((s) => s.destroy()));
  let firstClosed: (s: Socket) => void = () => {};
  const closedOne = new Promise<Socket>((resolve) => (firstClosed = resolve));
  /** A connection that sends nothing; resolves once it is connected (or already closed by haproxy). */
  const idle = async (): Promise<void> => {
    const s = connect(front, '127.0.0.1');
    s.on('error', () => {});
    s.once('close', () => firstClosed(s));
    open.push(s);
    await new Promise((resolve) => {
      s.once('connect', resolve);
      s.once('close', resolve);
    });
  };
  // 201 connections from one address: haproxy closes one of them at once (the one it counts as the 201st:
  // with several threads accepting, not necessarily the last one opened), before it reaches a replica.
  for (let i = 0; i < 201; i++) await idle();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closedOne, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('haproxy closed none of 201 connections from one address within 10 s')), 10_000)))]);
  clearTimeout(timer);
  const held = open.filter((s) => !s.destroyed && s.readyState === 'open');
  assert.equal(held.length, 200, 'the other 200 connections are still open');
  // A request on one of those held connections is still answered: the bound refuses more, not what it holds.
  const answer = new Promise<string>((resolve) => {
    let text = '';
    held[0]!.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n')) resolve(text);
    });
  });
  held[0]!.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
  assert.match(await answer, /^HTTP\/1\.1 200/);
  // Once they are closed, the address may connect again.
  open.forEach((s) => s.destroy());
  let status: string | null = null;
  for (let i = 0; i < 100 && status !== 'HTTP/1.1 200'; i++) status = await healthOnce(front);
  assert.equal(status, 'HTTP/1.1 200', 'served again once its connections are closed');
});

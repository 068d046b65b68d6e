/**
 * A team hub as deployed: a real redis-server, three replicas, and a real haproxy running
 * contrib/haproxy/snowmux.cfg (its server line repeated for each replica). `snowmux status --url` through
 * the load balancer shows the whole team; under load, one replica is SIGKILLed: modern HTTP clients and
 * editors behind remote shims (whose links and sessions lived on any replica) go on through the others —
 * at most the call in flight on the dead replica fails, none hangs, no client is restarted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { connectClient, defer, freePort, runCli, startHub, tempHome, textOf, type AnyClient } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis-server.js';
import { NO_HAPROXY, NO_REDIS } from '../helpers/debian-tools.js';
import { startHaproxy } from '../helpers/haproxy.js';

const missing = NO_REDIS || NO_HAPROXY;

type TeamStatus = { team: { mode: string; replicas: { id: string; pid: number; sessions: number; breakers: unknown[] }[] } };

test('three replicas behind haproxy: status --url shows the team; a replica SIGKILLed under load loses at most its calls in flight, no call hangs, clients go on', { skip: missing, timeout: 120_000 }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const config = `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "lb${port}"\nhttp_listen = "127.0.0.1:0"\n\n[limits]\nrate = { per_second = 100000, burst = 100000 }\n`;
  const homes = [tempHome(t), tempHome(t), tempHome(t)];
  const hubs = [];
  for (const home of homes) {
    writeFileSync(join(home, 'config.toml'), config);
    hubs.push(await startHub(t, home));
  }
  // A team key (Redis), made on one replica's home, valid on all.
  for (const home of homes) {
    let st = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as TeamStatus;
    while (st.team.mode !== 'connected') st = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as TeamStatus;
  }
  const made = await runCli(['keys', 'create', '--identity', 'team-user', '--home', homes[0]!]);
  assert.equal(made.code, 0, made.stderr);
  const key = made.stdout.trim();
  const addrs = hubs.map((h) => /HTTP on http:\/\/(\S+)/.exec(h.stderr())![1]!);
  const { front } = await startHaproxy(t, addrs);
  const lb = `http://127.0.0.1:${front}`;
  while (!(await fetch(`${lb}/healthz`).then((r) => r.ok, () => false)));

  // Clients: two modern HTTP clients (any replica serves each request), two editors behind remote shims
  // (a WebSocket link, and its session, on whichever replica haproxy picked).
  const clients: AnyClient[] = [];
  for (let i = 0; i < 2; i++) {
    const c = new Client({ name: `modern-${i}`, version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${lb}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    defer(t, () => c.close());
    clients.push({ kind: 'v2-modern', listTools: () => c.listTools() as never, callTool: (n, a) => c.callTool({ name: n, arguments: a ?? {} }) as never, close: () => c.close(), pid: () => null });
  }
  for (let i = 0; i < 2; i++) clients.push(await connectClient(t, { home: tempHome(t), kind: i ? 'v1' : 'v2-legacy', name: `editor-${i}`, args: ['--url', `ws://127.0.0.1:${front}/shim`], env: { SNOWMUX_KEY: key } }));

  // The whole team through the load balancer, whichever replica answers.
  const teamStatus = async () => JSON.parse((await runCli(['status', '--json', '--url', lb], { SNOWMUX_KEY: key })).stdout) as TeamStatus;
  let s = await teamStatus();
  while (s.team.replicas.length < 3 || s.team.replicas.reduce((n, r) => n + r.sessions, 0) < 2) s = await teamStatus();
  assert.deepEqual(s.team.replicas.map((r) => r.pid).sort(), hubs.map((h) => h.pid).sort());
  const text = (await runCli(['status', '--url', lb], { SNOWMUX_KEY: key })).stdout;
  assert.match(text, /^team +connected/m);
  assert.match(text, /REPLICA +VERSION +STATE +SESS +RUN +QUEUED +BREAKERS/);
  assert.equal((text.match(/^\S+:\d+(?: \(this\))? +\S+ +running +\d+ +\d+ +\d+ +\S+/gm) ?? []).length, 3, text);

  // Load: every client calls in a closed loop.
  const progress = new EventEmitter();
  const done = clients.map(() => 0);
  const failures: string[][] = clients.map(() => []);
  let stop = false;
  const loops = clients.map(async (c, i) => {
    while (!stop) {
      const r = await c.callTool('execute_query', { query: `SELECT ${i} AS C` }).catch((err: Error) => ({ isError: true, content: [{ type: 'text', text: err.message }] }));
      if (r.isError) failures[i]!.push(textOf(r as never));
      done[i]! += 1;
      progress.emit('call');
    }
  });
  const everyClientCalls = async (n: number) => {
    const target = done.map((d) => d + n);
    while (done.some((d, i) => d < target[i]!)) await once(progress, 'call');
  };
  await everyClientCalls(5);

  // The replica holding the first editor's link dies (found by its session count) — or the first one.
  const victim = hubs.find((h) => s.team.replicas.find((r) => r.pid === h.pid)!.sessions > 0) ?? hubs[0]!;
  const failedBefore = failures.map((f) => f.length);
  victim.proc.kill('SIGKILL');
  await once(victim.proc, 'exit');
  // Everyone goes on: 20 more calls each, through the survivors.
  await everyClientCalls(20);
  stop = true;
  await Promise.all(loops);
  failures.forEach((f, i) => assert.ok(f.length <= 1, `client ${i} lost more than its call in flight: ${f.join(' | ')}`));
  assert.deepEqual(failedBefore, [0, 0, 0, 0], 'nothing failed before the kill');
  // The dead replica leaves the registry (its entry's TTL); the survivors carry every client.
  s = await teamStatus();
  while (s.team.replicas.length !== 2) s = await teamStatus();
  assert.ok(!s.team.replicas.some((r) => r.pid === victim.pid));
});

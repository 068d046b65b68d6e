/**
 * A team hub behind HAProxy (contrib/haproxy/snowmux.cfg) with 1, 2 and 3 replicas sharing a real
 * redis-server, and one replica without Redis behind the same proxy (the cost of the Redis round trips:
 * the team rate limit and quota check, the result owner record). 8 SDK v2 clients (2026-07-28, any replica
 * serves them) per setup call `execute_query SELECT 1` in a closed loop; setups alternate in each round.
 * Per setup: the replicas' CPU per call, and Redis's own count of commands and of its time per call
 * (INFO commandstats). Then memory per session: RSS of one replica before and after 50 sessionful
 * (2025-11-25) clients open a session each. Every process of every setup runs on this one machine, so
 * this measures the team machinery's cost, not scale-out (replicas on 2 cores share the same CPUs).
 *
 *   node dist/bench/replicas.js [seconds=3] [rounds=3]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { freePort } from '../test/helpers/harness.js';
import { connect } from 'node:net';
import { BENCH_CONFIG, benchHome, cpuMs, fmt, killHubs, machine, median, root, rssMiB, startHubProcess, summary, tempDir } from './lib.js';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/replicas.js [seconds=3] [rounds=3]';

const seconds = numberArg(2, 3, USAGE);
const rounds = numberArg(3, 3, USAGE);


async function waitForLine(proc: ChildProcess, pattern: RegExp): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (pattern.test(out)) resolve();
    });
    proc.once('exit', () => reject(new Error(`exited before ${pattern}:\n${out}`)));
  });
}

async function closedLoop(clients: Client[], untilMs: number, latencies: number[]): Promise<number> {
  let calls = 0;
  await Promise.all(clients.map(async (c) => {
    while (performance.now() < untilMs) {
      const t0 = performance.now();
      const r = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1' } });
      if (r.isError) throw new Error(JSON.stringify(r.content));
      latencies.push(performance.now() - t0);
      calls++;
    }
  }));
  return calls;
}

/** Redis's own totals over every command: how many it ran and the µs it spent (INFO commandstats). */
async function redisCommandTotals(port: number): Promise<{ calls: number; usec: number }> {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (c: Buffer) => {
      reply += c.toString('utf8');
      const header = /^\$(\d+)\r\n/.exec(reply);
      if (header && Buffer.byteLength(reply) >= header[0].length + Number(header[1])) {
        socket.end();
        resolve(reply);
      }
    });
    socket.on('error', reject);
    socket.write('*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n');
  });
  let calls = 0;
  let usec = 0;
  for (const m of text.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) {
    if (m[1] === 'info') continue;
    calls += Number(m[2]);
    usec += Number(m[3]);
  }
  return { calls, usec };
}

if (spawnSync('redis-server', ['--version']).status !== 0 || spawnSync('haproxy', ['-v']).status !== 0) {
  console.log('replicas bench skipped: needs redis-server and haproxy (Debian packages redis-server, haproxy)');
  process.exit(0);
}

const procs: ChildProcess[] = [];
const homes: string[] = [];
const dirs: string[] = [];
const clients: Client[] = [];
try {
  const redisPort = await freePort();
  const redisDir = tempDir('smx-bench-redis-');
  dirs.push(redisDir);
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir], { stdio: ['ignore', 'pipe', 'ignore'] });
  procs.push(redis);
  await waitForLine(redis, /Ready to accept connections/);

  const hubPids = new Map<string, number>();
  const hubAt = async (team: boolean): Promise<string> => {
    const home = benchHome(`${BENCH_CONFIG}\n[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_auth = false\n${team ? `redis_url = "redis://127.0.0.1:${redisPort}"\nteam_namespace = "bench${redisPort}"\n` : ''}`);
    homes.push(home);
    const hub = await startHubProcess(home);
    procs.push(hub);
    const status = JSON.parse(spawnSync(process.execPath, [join(root, 'bin', 'snowmux.js'), 'status', '--json', '--home', home], { encoding: 'utf8' }).stdout) as { pid: number; http: { url: string } };
    const host = new URL(status.http.url).host;
    hubPids.set(host, hub.pid!);
    return host;
  };
  const team = [await hubAt(true), await hubAt(true), await hubAt(true)];
  const solo = await hubAt(false);
  const template = readFileSync(join(root, 'contrib', 'haproxy', 'snowmux.cfg'), 'utf8');
  const proxied = async (servers: string[]): Promise<string> => {
    const front = await freePort();
    const dir = tempDir('smx-bench-haproxy-');
    dirs.push(dir);
    const lines = servers.map((s, i) => `  server replica${i + 1} ${s} check inter 500ms fall 2 rise 1`).join('\n');
    const cfg = template.replace('__FRONTEND_PORT__', String(front)).replace(/ {2}server replica1 __REPLICA1__.*\n {2}server replica2 __REPLICA2__.*\n?/, `${lines}\n`);
    writeFileSync(join(dir, 'haproxy.cfg'), cfg);
    procs.push(spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' }));
    for (;;) if (await fetch(`http://127.0.0.1:${front}/healthz`).then((r) => r.ok, () => false)) break;
    return `http://127.0.0.1:${front}/mcp`;
  };
  const setups = [
    { name: '1 replica, no Redis', url: await proxied([solo]), hubs: [solo] },
    { name: '1 replica + Redis', url: await proxied(team.slice(0, 1)), hubs: team.slice(0, 1) },
    { name: '2 replicas + Redis', url: await proxied(team.slice(0, 2)), hubs: team.slice(0, 2) },
    { name: '3 replicas + Redis', url: await proxied(team), hubs: team },
  ];
  const groups: Client[][] = [];
  for (const s of setups) {
    const g: Client[] = [];
    for (let i = 0; i < 8; i++) {
      const c = new Client({ name: `bench-${i}`, version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await c.connect(new StreamableHTTPClientTransport(new URL(s.url)));
      g.push(c);
      clients.push(c);
    }
    groups.push(g);
    await closedLoop(g, performance.now() + 500, []);
  }
  const cps = setups.map(() => [] as number[]);
  const lat = setups.map(() => [] as number[]);
  const hubCpu = setups.map(() => [] as number[]);
  const redisCmds = setups.map(() => [] as number[]);
  const redisUs = setups.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, g] of groups.entries()) {
      const pids = setups[i]!.hubs.map((h) => hubPids.get(h)!);
      const cpu0 = pids.reduce((a, p) => a + cpuMs(p), 0);
      const redis0 = await redisCommandTotals(redisPort);
      const started = performance.now();
      const calls = await closedLoop(g, started + seconds * 1000, lat[i]!);
      cps[i]!.push(calls / ((performance.now() - started) / 1000));
      hubCpu[i]!.push(((pids.reduce((a, p) => a + cpuMs(p), 0) - cpu0) * 1000) / calls);
      const redis1 = await redisCommandTotals(redisPort);
      redisCmds[i]!.push((redis1.calls - redis0.calls) / calls);
      redisUs[i]!.push((redis1.usec - redis0.usec) / calls);
    }
  }
  console.log(`machine: ${machine()}; HAProxy + redis-server on this machine, 8 SDK v2 clients (2026-07-28) per setup, ${rounds} interleaved rounds of ${seconds} s, medians`);
  console.log('| setup | SELECT 1 calls/s | p50 ms | p99 ms | replicas\' CPU µs/call | Redis commands/call | Redis µs/call |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [i, s] of setups.entries()) {
    const sum = summary(lat[i]!);
    console.log(`| ${s.name} | ${fmt(median(cps[i]!), 0)} | ${fmt(sum.p50, 2)} | ${fmt(sum.p99, 2)} | ${fmt(median(hubCpu[i]!), 0)} | ${fmt(median(redisCmds[i]!), 1)} | ${fmt(median(redisUs[i]!), 1)} |`);
  }
  const rss = procs.slice(1, 5).map((p) => (p.pid ? rssMiB(p.pid) : NaN));
  console.log(`hub RSS after the run (MiB): team replicas ${rss.slice(0, 3).map((m) => fmt(m, 0)).join(', ')}; solo ${fmt(rss[3]!, 0)}`);

  // Memory per session: sessionful clients straight to the first team replica, each with a session (one
  // identity holds at most 64 2025-era HTTP sessions).
  const HELD_SESSIONS = 50;
  const replicaPid = hubPids.get(team[0]!)!;
  const before = rssMiB(replicaPid);
  const held: Client[] = [];
  for (let i = 0; i < HELD_SESSIONS; i++) {
    const c = new Client({ name: `held-${i}`, version: '1' }, { versionNegotiation: { mode: 'legacy' } });
    await c.connect(new StreamableHTTPClientTransport(new URL(`http://${team[0]}/mcp`)));
    await c.listTools();
    held.push(c);
    clients.push(c);
  }
  const after = rssMiB(replicaPid);
  console.log(`memory per session: replica RSS ${fmt(before, 0)} → ${fmt(after, 0)} MiB with ${HELD_SESSIONS} more 2025-11-25 sessions (each listed its tools): ${fmt(((after - before) * 1024) / HELD_SESSIONS, 0)} KiB per session`);
} finally {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  for (const p of procs) p.kill('SIGKILL');
  for (const h of homes) {
    killHubs(h);
    rmSync(h, { recursive: true, force: true });
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/**
 * A team hub behind HAProxy (contrib/haproxy/snowmux.cfg) with 1, 2 and 3 replicas sharing a real
 * redis-server, and one replica without Redis behind the same proxy (the cost of the Redis round trips:
 * the team rate limit and quota check, the result owner record). 8 SDK v2 clients (2026-07-28, any replica
 * serves them) per setup call `execute_query SELECT 1` in a closed loop; setups alternate in each round.
 * Every process of every setup runs on this one machine, so this measures the team machinery's cost,
 * not scale-out (replicas on 2 cores share the same CPUs).
 *
 *   node dist/bench/replicas.js [seconds=3] [rounds=3]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { freePort } from '../test/helpers/harness.js';
import { BENCH_CONFIG, benchHome, fmt, killHubs, machine, median, root, rssMiB, startHubProcess, summary, tempDir } from './lib.js';

const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);


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

  const hubAt = async (team: boolean): Promise<string> => {
    const home = benchHome(`${BENCH_CONFIG}\n[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_auth = false\n${team ? `redis_url = "redis://127.0.0.1:${redisPort}"\nteam_namespace = "bench${redisPort}"\n` : ''}`);
    homes.push(home);
    procs.push(await startHubProcess(home));
    const status = JSON.parse(spawnSync(process.execPath, [join(root, 'bin', 'snowmux.js'), 'status', '--json', '--home', home], { encoding: 'utf8' }).stdout) as { pid: number; http: { url: string } };
    return new URL(status.http.url).host;
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
    { name: '1 replica, no Redis', url: await proxied([solo]) },
    { name: '1 replica + Redis', url: await proxied(team.slice(0, 1)) },
    { name: '2 replicas + Redis', url: await proxied(team.slice(0, 2)) },
    { name: '3 replicas + Redis', url: await proxied(team) },
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
  for (let r = 0; r < rounds; r++) {
    for (const [i, g] of groups.entries()) {
      const started = performance.now();
      const calls = await closedLoop(g, started + seconds * 1000, lat[i]!);
      cps[i]!.push(calls / ((performance.now() - started) / 1000));
    }
  }
  console.log(`machine: ${machine()}; HAProxy + redis-server on this machine, 8 SDK v2 clients (2026-07-28) per setup, ${rounds} interleaved rounds of ${seconds} s, medians`);
  console.log('| setup | SELECT 1 calls/s | p50 ms | p99 ms |');
  console.log('|---|---|---|---|');
  for (const [i, s] of setups.entries()) {
    const sum = summary(lat[i]!);
    console.log(`| ${s.name} | ${fmt(median(cps[i]!), 0)} | ${fmt(sum.p50, 2)} | ${fmt(sum.p99, 2)} |`);
  }
  const rss = procs.slice(1, 5).map((p) => (p.pid ? rssMiB(p.pid) : NaN));
  console.log(`hub RSS after the run (MiB): team replicas ${rss.slice(0, 3).map((m) => fmt(m, 0)).join(', ')}; solo ${fmt(rss[3]!, 0)}`);
} finally {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  for (const p of procs) p.kill('SIGKILL');
  for (const h of homes) {
    killHubs(h);
    rmSync(h, { recursive: true, force: true });
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

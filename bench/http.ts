/**
 * The HTTP face against the Unix socket, interleaved in one run on one hub: 8 SDK v2 clients (2026-07-28)
 * calling `execute_query SELECT 1` in a closed loop, over `/mcp` and through `snowmux shim`; and `/healthz`
 * requests per second from 8 concurrent fetch loops. Same client SDK on both paths, so the difference is
 * the transport.
 *
 *   node dist/bench/http.js [seconds=3] [rounds=3]
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { benchEnv, benchHome, cli, fmt, killHubs, machine, median, startHubProcess, summary } from './lib.js';

async function closedLoop(clients: Client[], seconds: number): Promise<{ latencies: number[]; elapsed: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(clients.map(async (c) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const r = await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1' } });
      if (r.isError) throw new Error(JSON.stringify(r.content));
      latencies.push(performance.now() - t0);
    }
  }));
  return { latencies, elapsed: (performance.now() - started) / 1000 };
}

async function healthLoop(url: string, seconds: number): Promise<number> {
  let n = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (performance.now() < until) {
      const res = await fetch(url);
      await res.arrayBuffer();
      n++;
    }
  }));
  return n / seconds;
}

export async function httpBench(seconds: number, rounds: number): Promise<void> {
  const home = benchHome();
  writeFileSync(join(home, 'config.toml'), `${readFileSync(join(home, 'config.toml'), 'utf8')}\n[hub]\nhttp_listen = "127.0.0.1:0"\n`);
  const hub = await startHubProcess(home);
  const clients: Client[] = [];
  try {
    const key = spawnSync(process.execPath, [cli, 'keys', 'create', '--identity', 'bench', '--home', home], { env: benchEnv(), encoding: 'utf8' }).stdout.trim();
    const status = JSON.parse(spawnSync(process.execPath, [cli, 'status', '--json', '--home', home], { env: benchEnv(), encoding: 'utf8' }).stdout) as { http: { url: string } };
    const base = status.http.url;
    const http: Client[] = [];
    const shim: Client[] = [];
    for (let i = 0; i < 8; i++) {
      const h = new Client({ name: `http-${i}`, version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await h.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
      const s = new Client({ name: `shim-${i}`, version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await s.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'shim', '--home', home], env: benchEnv(), stderr: 'ignore' }));
      http.push(h);
      shim.push(s);
      clients.push(h, s);
    }
    await closedLoop(http, 0.5);
    await closedLoop(shim, 0.5);
    const cells: Record<string, { cps: number[]; lat: number[] }> = { 'HTTP /mcp': { cps: [], lat: [] }, 'Unix socket via snowmux shim': { cps: [], lat: [] } };
    const health: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const [name, group] of [['HTTP /mcp', http], ['Unix socket via snowmux shim', shim]] as const) {
        const { latencies, elapsed } = await closedLoop(group, seconds);
        cells[name]!.cps.push(latencies.length / elapsed);
        cells[name]!.lat.push(...latencies);
      }
      health.push(await healthLoop(`${base}/healthz`, seconds));
    }
    console.log(`machine: ${machine()}; ${rounds} interleaved rounds of ${seconds} s, 8 SDK v2 clients (2026-07-28), medians`);
    console.log('| path | SELECT 1 calls/s | p50 ms | p99 ms |');
    console.log('|---|---|---|---|');
    for (const [name, c] of Object.entries(cells)) {
      const s = summary(c.lat);
      console.log(`| ${name} | ${fmt(median(c.cps), 0)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} |`);
    }
    console.log(`/healthz: ${fmt(median(health), 0)} requests/s (8 concurrent fetch loops, keep-alive)`);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    hub.kill('SIGKILL');
    killHubs(home);
    rmSync(home, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await httpBench(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 3));
}

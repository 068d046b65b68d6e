/**
 * The HTTP face on both engines (uWebSockets.js via hyper-express, and node:http) against the Unix socket,
 * interleaved in one run: 8 SDK v2 clients per path calling `execute_query SELECT 1` in a closed loop, over
 * each engine's `/mcp`, through `snowmux shim` (Unix socket), through a remote `snowmux shim --url` (the
 * WebSocket link), and through mcp-remote and supergateway in front of the same `/mcp` (what editors use
 * for a remote server today; 2025 protocol, which those bridges speak); and `/healthz` requests per second
 * from 8 concurrent fetch loops per engine. Same client SDK on every path, so the difference is the
 * transport.
 *
 *   node dist/bench/http.js [seconds=3] [rounds=3]
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { createRequire } from 'node:module';
import { benchEnv, benchHome, cli, fmt, killHubs, machine, median, startHubProcess, summary } from './lib.js';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/http.js [seconds=3] [rounds=3]';

/** Resolves the bridges' entry points (dev dependencies) the way Node would. */
const requireFrom = createRequire(import.meta.url);

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

/** One hub per HTTP engine, same config: the engines are compared in the same interleaved rounds. */
async function hubWithEngine(engine: 'uws' | 'node') {
  const home = benchHome();
  writeFileSync(join(home, 'config.toml'), `${readFileSync(join(home, 'config.toml'), 'utf8')}\n[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_engine = "${engine}"\n`);
  const proc = await startHubProcess(home);
  const key = spawnSync(process.execPath, [cli, 'keys', 'create', '--identity', 'bench', '--home', home], { env: benchEnv(), encoding: 'utf8' }).stdout.trim();
  const status = JSON.parse(spawnSync(process.execPath, [cli, 'status', '--json', '--home', home], { env: benchEnv(), encoding: 'utf8' }).stdout) as { http: { url: string; engine: string } };
  if (status.http.engine !== engine) throw new Error(`asked for the ${engine} engine, the hub serves ${status.http.engine}`);
  return { home, proc, key, base: status.http.url };
}

export async function httpBench(seconds: number, rounds: number): Promise<void> {
  const hubs = [await hubWithEngine('uws'), await hubWithEngine('node')];
  const clients: Client[] = [];
  try {
    const groups: [string, Client[]][] = [];
    for (const [i, h] of hubs.entries()) {
      const group: Client[] = [];
      for (let c = 0; c < 8; c++) {
        const client = new Client({ name: `http-${c}`, version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${h.base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${h.key}` } } }));
        group.push(client);
      }
      groups.push([`HTTP /mcp, ${i === 0 ? 'uWebSockets.js (hyper-express)' : 'node:http'}`, group]);
    }
    const shim: Client[] = [];
    for (let c = 0; c < 8; c++) {
      const s = new Client({ name: `shim-${c}`, version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await s.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'shim', '--home', hubs[1]!.home], env: benchEnv(), stderr: 'ignore' }));
      shim.push(s);
    }
    groups.push(['Unix socket via snowmux shim', shim]);
    // The same hub from another machine's point of view: a remote shim over the WebSocket link, and the two
    // stdio-to-HTTP bridges editors use for remote MCP servers, in front of the same /mcp (node:http).
    const node = hubs[1]!;
    const stdioGroup = async (label: string, args: string[], env: Record<string, string>, legacy: boolean) => {
      const group: Client[] = [];
      for (let c = 0; c < 8; c++) {
        const client = new Client({ name: `${label}-${c}`, version: '1' }, { versionNegotiation: { mode: legacy ? 'legacy' : { pin: '2026-07-28' } } });
        await client.connect(new StdioClientTransport({ command: process.execPath, args, env: { ...benchEnv(), ...env }, stderr: 'ignore' }));
        group.push(client);
      }
      return group;
    };
    groups.push(['WebSocket /shim via snowmux shim --url', await stdioGroup('ws-shim', [cli, 'shim', '--url', `${node.base.replace(/^http/, 'ws')}/shim`], { SNOWMUX_KEY: node.key }, false)]);
    groups.push([
      'mcp-remote → HTTP /mcp (node:http)',
      await stdioGroup('mcp-remote', [requireFrom.resolve('mcp-remote/dist/proxy.js'), `${node.base}/mcp`, '--transport', 'http-only', '--header', `Authorization:Bearer ${node.key}`], { MCP_REMOTE_CONFIG_DIR: node.home }, true),
    ]);
    groups.push([
      'supergateway → HTTP /mcp (node:http)',
      await stdioGroup('supergateway', [requireFrom.resolve('supergateway/dist/index.js'), '--streamableHttp', `${node.base}/mcp`, '--oauth2Bearer', node.key, '--logLevel', 'none'], {}, true),
    ]);
    for (const [, g] of groups) clients.push(...g);
    for (const [, g] of groups) await closedLoop(g, 0.5);
    const cells = new Map<string, { cps: number[]; lat: number[] }>(groups.map(([name]) => [name, { cps: [], lat: [] }]));
    const health = new Map<string, number[]>([['uWebSockets.js', []], ['node:http', []]]);
    for (let r = 0; r < rounds; r++) {
      for (const [name, group] of groups) {
        const { latencies, elapsed } = await closedLoop(group, seconds);
        cells.get(name)!.cps.push(latencies.length / elapsed);
        cells.get(name)!.lat.push(...latencies);
      }
      health.get('uWebSockets.js')!.push(await healthLoop(`${hubs[0]!.base}/healthz`, seconds));
      health.get('node:http')!.push(await healthLoop(`${hubs[1]!.base}/healthz`, seconds));
    }
    console.log(`machine: ${machine()}; ${rounds} interleaved rounds of ${seconds} s, 8 SDK v2 clients per path (2026-07-28; 2025 through the bridges), medians`);
    console.log('| path | SELECT 1 calls/s | p50 ms | p99 ms |');
    console.log('|---|---|---|---|');
    for (const [name, c] of cells) {
      const s = summary(c.lat);
      console.log(`| ${name} | ${fmt(median(c.cps), 0)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} |`);
    }
    for (const [name, h] of health) console.log(`/healthz, ${name}: ${fmt(median(h), 0)} requests/s (8 concurrent fetch loops, keep-alive)`);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    for (const h of hubs) {
      h.proc.kill('SIGKILL');
      killHubs(h.home);
      rmSync(h.home, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await httpBench(numberArg(2, 3, USAGE), numberArg(3, 3, USAGE));
}

/**
 * Round trip of a trivial tool call: v1 SDK client → `snowmux shim` → hub, against the same client →
 * `snowmux stdio` (tools in-process), in the same run. Also calls/s with 8 concurrent clients.
 *
 *   node dist/bench/roundtrip.js [calls=2000]
 */
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { join } from 'node:path';
import { benchEnv, cli, root, fmt, machine, median, percentile, rssMiB, removeHome, tempDir } from './lib.js';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/roundtrip.js [calls=2000]';

const calls = numberArg(2, 2000, USAGE);

async function client(command: 'shim' | 'stdio' | 'forwarder', home: string) {
  const args = command === 'forwarder' ? [join(root, 'bench', 'minimal-forwarder.cjs'), join(home, 'hub.sock')] : [cli, command, '--home', home];
  const transport = new StdioClientTransport({ command: process.execPath, args, env: benchEnv(), stderr: 'ignore' });
  const c = new Client({ name: `bench-${command}`, version: '1' });
  await c.connect(transport);
  return { c, pid: () => transport.pid };
}

async function latency(c: Client, n: number, tool: { name: string; arguments: Record<string, unknown> }): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await c.callTool(tool);
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

async function throughput(clients: Client[], perClient: number, tool: { name: string; arguments: Record<string, unknown> }): Promise<number> {
  const t0 = performance.now();
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < perClient; i++) await c.callTool(tool);
  }));
  return (clients.length * perClient) / ((performance.now() - t0) / 1000);
}

export async function roundtrip(n = calls) {
  const home = tempDir('smx-bench-');
  const hub = spawn(process.execPath, [cli, 'hub', '--home', home], { env: benchEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve) => hub.stderr!.on('data', (c: Buffer) => c.toString().includes('listening on') && resolve()));
  const trivial = { name: 'execute_query', arguments: { query: 'SELECT 1' } };
  const viaShim = await client('shim', home);
  const inProcess = await client('stdio', home);
  const viaForwarder = await client('forwarder', home);
  // Interleave many short blocks, rotating which path goes first, so noise hits every path alike; the
  // shim's cost over the forwarder is the median of the blocks' paired differences of p50.
  const shimUs: number[] = [];
  const stdioUs: number[] = [];
  const forwarderUs: number[] = [];
  const hopDiffs: number[] = [];
  const blocks = 20;
  for (const c of [viaShim.c, inProcess.c, viaForwarder.c]) for (let i = 0; i < 100; i++) await c.callTool(trivial); // warm-up
  for (let b = 0; b < blocks; b++) {
    const paths: [Client, number[]][] = [[viaShim.c, shimUs], [inProcess.c, stdioUs], [viaForwarder.c, forwarderUs]];
    const block = new Map<Client, number[]>();
    for (let k = 0; k < paths.length; k++) {
      const [c, into] = paths[(b + k) % paths.length]!;
      const us = await latency(c, Math.max(1, Math.round(n / blocks)), trivial);
      block.set(c, us);
      into.push(...us);
    }
    hopDiffs.push(median(block.get(viaShim.c)!) - median(block.get(viaForwarder.c)!));
  }
  await viaForwarder.c.close();
  const shimRss = rssMiB(viaShim.pid() ?? 0);
  const hubRssBefore = rssMiB(hub.pid!);
  const shims = [viaShim.c, ...(await Promise.all(Array.from({ length: 7 }, () => client('shim', home)))).map((x) => x.c)];
  const hubRssAfter = rssMiB(hub.pid!);
  const stdios = [inProcess.c, ...(await Promise.all(Array.from({ length: 7 }, () => client('stdio', home)))).map((x) => x.c)];
  const shimRate = await throughput(shims, 250, trivial);
  const stdioRate = await throughput(stdios, 250, trivial);
  await Promise.all([...shims, ...stdios].map((c) => c.close()));
  await removeHome(home, hub);
  return {
    calls: n,
    shim: { p50us: median(shimUs), p99us: percentile(shimUs, 99), rate8: shimRate },
    stdio: { p50us: median(stdioUs), p99us: percentile(stdioUs, 99), rate8: stdioRate },
    forwarder: { p50us: median(forwarderUs), p99us: percentile(forwarderUs, 99) },
    shimOverForwarderUs: median(hopDiffs),
    shimRssMiB: shimRss,
    hubRssPerSessionMiB: (hubRssAfter - hubRssBefore) / 7,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await roundtrip();
  console.log(`machine: ${machine()}`);
  console.log(`trivial call: execute_query "SELECT 1", ${r.calls} calls per path in 20 interleaved blocks (rotating order), v1 SDK client`);
  console.log(`| path | p50 µs | p99 µs | 8 clients, calls/s |`);
  console.log(`|---|---|---|---|`);
  console.log(`| client → \`snowmux shim\` → hub | ${fmt(r.shim.p50us, 0)} | ${fmt(r.shim.p99us, 0)} | ${fmt(r.shim.rate8, 0)} |`);
  console.log(`| client → 20-line forwarder → hub (the floor for any shim) | ${fmt(r.forwarder.p50us, 0)} | ${fmt(r.forwarder.p99us, 0)} | — |`);
  console.log(`| client → \`snowmux stdio\` (in-process) | ${fmt(r.stdio.p50us, 0)} | ${fmt(r.stdio.p99us, 0)} | ${fmt(r.stdio.rate8, 0)} (8 processes) |`);
  console.log(`the shim's hop over the forwarder: ${fmt(r.shimOverForwarderUs, 0)} µs at p50 (median of 20 blocks' paired differences)`);
  console.log(`shim RSS ${fmt(r.shimRssMiB)} MiB; hub RSS per added session ≈ ${fmt(r.hubRssPerSessionMiB, 2)} MiB`);
}

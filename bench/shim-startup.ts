/**
 * Shim start-up: spawn → first response (initialize) with the hub already warm, against a bare
 * `node -e ''` start (the floor) and against `snowmux stdio` (in-process server, cold), interleaved in
 * the same run so machine noise hits every path alike.
 *
 *   node dist/bench/shim-startup.js [runs=30]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { benchEnv, cli, root, fmt, machine, median, percentile, removeHome, tempDir, timeToExit, timeToFirstLine } from './lib.js';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/shim-startup.js [runs=30]';

const runs = numberArg(2, 30, USAGE);
const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }) + '\n';

export async function shimStartup(n = runs) {
  const home = tempDir('smx-bench-');
  const env = benchEnv({ SNOWMUX_HOME: home });
  const hub = spawn(process.execPath, [cli, 'hub', '--home', home], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve) => hub.stderr!.on('data', (c: Buffer) => c.toString().includes('listening on') && resolve()));
  // Warm the hub (and the OS file cache) once before measuring.
  await timeToFirstLine([cli, 'shim', '--home', home], init, env);
  const bare: number[] = [];
  const floor: number[] = [];
  const shim: number[] = [];
  const stdio: number[] = [];
  for (let i = 0; i < n; i++) {
    bare.push(await timeToExit(['-e', ''], env));
    floor.push(await timeToFirstLine([join(root, 'bench', 'minimal-forwarder.cjs'), join(home, 'hub.sock')], init, env));
    shim.push(await timeToFirstLine([cli, 'shim', '--home', home], init, env));
    stdio.push(await timeToFirstLine([cli, 'stdio', '--home', home], init, env));
  }
  await removeHome(home, hub);
  return {
    runs: n,
    bareNode: { p50: median(bare), p90: percentile(bare, 90) },
    minimalForwarder: { p50: median(floor), p90: percentile(floor, 90) },
    shimWarmHub: { p50: median(shim), p90: percentile(shim, 90) },
    stdioInProcess: { p50: median(stdio), p90: percentile(stdio, 90) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await shimStartup();
  console.log(`machine: ${machine()}`);
  console.log(`runs: ${r.runs} (interleaved)`);
  console.log(`| path | p50 ms | p90 ms | p50 over bare node |`);
  console.log(`|---|---|---|---|`);
  console.log(`| bare \`node -e ''\` (to exit) | ${fmt(r.bareNode.p50)} | ${fmt(r.bareNode.p90)} | — |`);
  console.log(`| 20-line \`node:net\` forwarder (bench/minimal-forwarder.cjs), warm hub (to initialize response) | ${fmt(r.minimalForwarder.p50)} | ${fmt(r.minimalForwarder.p90)} | +${fmt(r.minimalForwarder.p50 - r.bareNode.p50)} ms |`);
  console.log(`| \`snowmux shim\`, warm hub (to initialize response) | ${fmt(r.shimWarmHub.p50)} | ${fmt(r.shimWarmHub.p90)} | +${fmt(r.shimWarmHub.p50 - r.bareNode.p50)} ms |`);
  console.log(`| \`snowmux stdio\`, in-process (to initialize response) | ${fmt(r.stdioInProcess.p50)} | ${fmt(r.stdioInProcess.p90)} | +${fmt(r.stdioInProcess.p50 - r.bareNode.p50)} ms |`);
}

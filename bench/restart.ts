/**
 * Hub restart, as editors feel it: the time from the hub going away to the first successful call of every
 * connected shim, with N shims (v1 SDK clients, each with its own `snowmux shim`) on one hub.
 *  - SIGKILL: the hub dies; shims notice at once, one of them starts a new hub (node start + hub start +
 *    warehouse open), the others wait for it; then every shim re-creates its session.
 *  - graceful stop (`stop` control request, as `snowmux stop` sends): the hub drains and tells shims to
 *    move on; they start the next hub at once (make before break).
 *  - `hub --replace`: the new hub starts, takes the socket over atomically, the old one drains; measured
 *    from the spawn of `snowmux hub --replace` (its start-up included), so no call should wait at all.
 * Each editor calls `SELECT 1` back to back through the restart (retrying an error, as an editor would a
 * retryable one). The figure per run is the time from the restart until the new hub's status shows a
 * served call from every shim (polled every 5 ms); also the slowest single call and the failed calls.
 * Median (and worst) over runs.
 *
 *   node dist/bench/restart.js [runs=5] [sizes=10,50]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest } from '../src/cli/control-client.js';
import { benchEnv, benchHome, cli, closeShimClients, connectShimClient, fmt, killHubs, machine, median, startHubProcess, waitForExit, type BenchClient } from './lib.js';
import { numberArg, numberListArg } from './args.js';

const USAGE = 'node dist/bench/restart.js [runs=5] [sizes=10,50]';

const TRIVIAL = { name: 'execute_query', arguments: { query: 'SELECT 1' } };
/** Hubs started by `hub --replace` runs (our children). */
const replacements: ChildProcess[] = [];

export type RestartMode = 'SIGKILL' | 'graceful stop' | 'hub --replace';

export interface RestartResult {
  shims: number;
  mode: RestartMode;
  runs: number;
  /** Per run: ms from the restart until the new hub had served a call of every shim. */
  allMs: number[];
  /** Per run: the slowest single call issued around the restart (ms). */
  worstCallMs: number[];
  /** Per run: calls that failed (SIGKILL: the ones in flight; a graceful stop should have none). */
  failed: number[];
}

interface HubSnapshot {
  pid: number;
  sessions: { shimPid: number | null; calls: number }[];
}

/** Editors calling `SELECT 1` back to back, retrying failures as an editor would a retryable error. */
function callLoops(clients: BenchClient[]) {
  let stopped = false;
  const latencies: number[] = [];
  let failed = 0;
  const loops = clients.map(async (c) => {
    while (!stopped) {
      const t0 = performance.now();
      try {
        const r = await c.client.callTool(TRIVIAL, undefined, { timeout: 60_000 });
        if (r.isError) failed += 1;
      } catch {
        failed += 1;
        // A client whose shim is gone fails at once: yield instead of spinning on microtasks.
        await new Promise((r) => setImmediate(r));
      }
      latencies.push(performance.now() - t0);
    }
  });
  return {
    reset() {
      latencies.length = 0;
      failed = 0;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { worst: Math.max(...latencies), failed };
    },
  };
}

async function snapshot(home: string): Promise<HubSnapshot | null> {
  try {
    return await controlRequest<HubSnapshot>(join(home, 'hub.sock'), 'status', 2_000, home);
  } catch {
    return null;
  }
}

async function oneRestart(home: string, clients: BenchClient[], mode: RestartMode): Promise<{ all: number; worst: number; failed: number }> {
  const before = await snapshot(home);
  if (!before) throw new Error('no hub answers before the restart');
  const shimPids = clients.map((c) => c.pid());
  const loops = callLoops(clients);
  await new Promise((r) => setTimeout(r, 100)); // steady state
  loops.reset();
  const t0 = performance.now();
  if (mode === 'SIGKILL') process.kill(before.pid, 'SIGKILL');
  else if (mode === 'graceful stop') await controlRequest(join(home, 'hub.sock'), 'stop', undefined, home);
  else replacements.push(spawn(process.execPath, [cli, 'hub', '--replace', '--home', home], { env: benchEnv(), stdio: 'ignore' }));
  let all = NaN;
  for (;;) {
    const s = await snapshot(home);
    if (s && s.pid !== before.pid && shimPids.every((pid) => s.sessions.some((x) => x.shimPid === pid && x.calls > 0))) {
      all = performance.now() - t0;
      break;
    }
    if (performance.now() - t0 > 60_000) {
      const missing = shimPids.filter((pid) => !s?.sessions.some((x) => x.shimPid === pid && x.calls > 0));
      throw new Error(`the new hub did not serve every shim within 60 s (hub ${s?.pid ?? 'none'}; shims not served: ${missing.join(', ')}; sessions: ${JSON.stringify(s?.sessions.map((x) => [x.shimPid, x.calls]))})`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const { worst, failed } = await loops.stop();
  await waitForExit(before.pid);
  if (process.env.BENCH_DEBUG) process.stderr.write(`${mode}: hub ${before.pid}: all served after ${Math.round(all)} ms, worst call ${Math.round(worst)} ms, ${failed} failed\n`);
  return { all, worst, failed };
}

export async function restart(runs = 5, sizes = [10, 50]): Promise<RestartResult[]> {
  const results: RestartResult[] = [];
  for (const n of sizes) {
    const home = benchHome();
    const hub = await startHubProcess(home);
    const clients = await Promise.all(Array.from({ length: n }, (_, i) => connectShimClient(home, `bench-${i}`)));
    try {
      await Promise.all(clients.map((c) => c.client.callTool(TRIVIAL)));
      for (const mode of ['SIGKILL', 'graceful stop', 'hub --replace'] as const) {
        const r: RestartResult = { shims: n, mode, runs, allMs: [], worstCallMs: [], failed: [] };
        for (let i = 0; i < runs; i++) {
          const { all, worst, failed } = await oneRestart(home, clients, mode);
          r.allMs.push(all);
          r.worstCallMs.push(worst);
          r.failed.push(failed);
        }
        results.push(r);
      }
    } finally {
      await closeShimClients(clients);
      hub.kill('SIGKILL');
      for (const p of replacements.splice(0)) p.kill('SIGKILL');
      killHubs(home);
      rmSync(home, { recursive: true, force: true });
    }
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = numberArg(2, 5, USAGE);
  const sizes = numberListArg(3, '10,50', USAGE);
  const results = await restart(runs, sizes);
  console.log(`machine: ${machine()}`);
  console.log(`hub restart → the new hub has served a call of every shim (v1 SDK clients calling \`SELECT 1\` back to back, one \`snowmux shim\` each; embedded warehouse; ${runs} runs each)`);
  console.log('| shims | restart | every shim served on the new hub: median ms (worst run) | slowest call during the restart: median ms | failed calls per run |');
  console.log('|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.shims} | ${r.mode} | ${fmt(median(r.allMs), 0)} (${fmt(Math.max(...r.allMs), 0)}) | ${fmt(median(r.worstCallMs), 0)} | ${r.failed.join(', ')} |`);
  }
}

/**
 * Throughput and latency with 1, 10 and 100 shims on one hub against the embedded warehouse, and memory:
 * one shim's resident set, and the hub's resident set per added session.
 *
 * Each editor (a v1 SDK client with its own `snowmux shim`) calls in a closed loop for a fixed time:
 *  - mixed: the tool mix of an exploring agent — a literal query, a NATION lookup by key, describe_table,
 *    list_tables and a row-capped SELECT — in turn;
 *  - trivial: `SELECT 1`, the path's own cost.
 * The clients all live in this process (as editors would each in theirs), so at 100 shims part of the
 * machine goes to them: the figures are for the whole system on one box, not the hub alone.
 *
 *   node dist/bench/load.js [seconds=3] [sizes=1,10,100]
 */
import { rmSync } from 'node:fs';
import { benchHome, closeShimClients, connectShimClient, fmt, killHubs, machine, median, rssMiB, startHubProcess, summary, type BenchClient } from './lib.js';
import { numberArg, numberListArg } from './args.js';

const USAGE = 'node dist/bench/load.js [seconds=3] [sizes=1,10,100]';

type Call = { name: string; arguments: Record<string, unknown> };

const TABLES = ['NATION', 'REGION', 'ORDERS', 'CUSTOMER'];

function mixedCall(client: number, n: number): Call {
  switch (n % 5) {
    case 0:
      return { name: 'execute_query', arguments: { query: `SELECT ${client} AS CLIENT, ${n} AS N` } };
    case 1:
      return { name: 'execute_query', arguments: { query: `SELECT N_NAME FROM NATION WHERE N_NATIONKEY = ${client % 25}` } };
    case 2:
      return { name: 'describe_table', arguments: { table_name: TABLES[client % TABLES.length]! } };
    case 3:
      return { name: 'list_tables', arguments: { schema: 'TPCH' } };
    default:
      return { name: 'execute_query', arguments: { query: 'SELECT O_ORDERKEY, O_TOTALPRICE FROM ORDERS ORDER BY O_ORDERKEY', limit: 20 } };
  }
}

const trivialCall = (): Call => ({ name: 'execute_query', arguments: { query: 'SELECT 1' } });

export interface LoadRow {
  shims: number;
  workload: 'mixed' | 'trivial';
  calls: number;
  errors: number;
  callsPerSecond: number;
  p50ms: number;
  p99ms: number;
}

export interface LoadResult {
  seconds: number;
  rows: LoadRow[];
  shimRssMiB: number;
  hubRssMiB: { sessions: number; afterConnect: number }[];
  hubRssPerSessionMiB: number;
  hubRssAfterLoadMiB: number;
}

async function closedLoop(clients: BenchClient[], seconds: number, next: (client: number, n: number) => Call): Promise<{ latencies: number[]; errors: number; elapsed: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(clients.map(async (c, i) => {
    for (let n = 0; performance.now() < until; n++) {
      const t0 = performance.now();
      try {
        const r = await c.client.callTool(next(i, n), undefined, { timeout: 60_000 });
        if (r.isError) errors += 1;
      } catch {
        errors += 1;
      }
      latencies.push(performance.now() - t0);
    }
  }));
  return { latencies, errors, elapsed: (performance.now() - started) / 1000 };
}

export async function load(seconds = 3, sizes = [1, 10, 100]): Promise<LoadResult> {
  const home = benchHome();
  const hub = await startHubProcess(home);
  const clients: BenchClient[] = [];
  const rows: LoadRow[] = [];
  const hubRss: { sessions: number; afterConnect: number }[] = [];
  try {
    for (const n of sizes) {
      const added = await Promise.all(Array.from({ length: n - clients.length }, (_, i) => connectShimClient(home, `bench-${clients.length + i}`)));
      clients.push(...added);
      // One call each so every session is fully set up (server instance, warehouse handle) before measuring.
      await Promise.all(added.map((c) => c.client.callTool(trivialCall())));
      hubRss.push({ sessions: clients.length, afterConnect: rssMiB(hub.pid!) });
      for (const [workload, next] of [['mixed', mixedCall], ['trivial', trivialCall]] as const) {
        await closedLoop(clients, 0.5, next); // warm-up
        const { latencies, errors, elapsed } = await closedLoop(clients, seconds, next);
        const s = summary(latencies);
        rows.push({ shims: clients.length, workload, calls: latencies.length, errors, callsPerSecond: latencies.length / elapsed, p50ms: s.p50, p99ms: s.p99 });
      }
    }
    // Between the last two sizes: by then the warehouse and its caches are warm, so the growth is sessions.
    const first = hubRss[Math.max(0, hubRss.length - 2)]!;
    const last = hubRss[hubRss.length - 1]!;
    return {
      seconds,
      rows,
      shimRssMiB: median(clients.map((c) => rssMiB(c.pid() ?? 0)).filter(Number.isFinite)),
      hubRssMiB: hubRss,
      hubRssPerSessionMiB: (last.afterConnect - first.afterConnect) / Math.max(1, last.sessions - first.sessions),
      hubRssAfterLoadMiB: rssMiB(hub.pid!),
    };
  } finally {
    await closeShimClients(clients);
    hub.kill('SIGKILL');
    killHubs(home);
    rmSync(home, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = numberArg(2, 3, USAGE);
  const sizes = numberListArg(3, '1,10,100', USAGE);
  const r = await load(seconds, sizes);
  console.log(`machine: ${machine()}`);
  console.log(`closed loop, ${r.seconds} s per cell, v1 SDK clients each with its own \`snowmux shim\`, one hub, embedded warehouse, default limits except the per-user rate limit (lifted)`);
  console.log('| shims | workload | calls | errors | calls/s | p50 ms | p99 ms |');
  console.log('|---|---|---|---|---|---|---|');
  for (const x of r.rows) {
    console.log(`| ${x.shims} | ${x.workload} | ${x.calls} | ${x.errors} | ${fmt(x.callsPerSecond, 0)} | ${fmt(x.p50ms, 2)} | ${fmt(x.p99ms, 2)} |`);
  }
  console.log(`shim RSS (median over ${sizes[sizes.length - 1]} shims): ${fmt(r.shimRssMiB)} MiB`);
  console.log(`hub RSS after connecting: ${r.hubRssMiB.map((x) => `${x.sessions} sessions ${fmt(x.afterConnect)} MiB`).join(', ')}; ≈ ${fmt(r.hubRssPerSessionMiB, 2)} MiB per added session (between the last two sizes); ${fmt(r.hubRssAfterLoadMiB)} MiB after the load`);
}

/**
 * The shared metadata cache: N editors browsing the same schema (list_tables, list_views, describe_table on
 * each table, in a closed loop) on one hub backed by the Snowflake double, with the cache on (the default
 * 60 s TTL) and off (`metadata_cache_ttl = "0s"`), alternating in one run on two hubs. Reports calls/s and
 * the statements that reached Snowflake per 100 calls (counted by the double).
 *
 *   node dist/bench/metadata-cache.js [seconds=3] [rounds=3] [editors=8]
 */
import { profileEnv, startSnowflakeDouble } from '../test/doubles/snowflake/index.js';
import { BENCH_CONFIG, benchHome, closeShimClients, connectShimClient, fmt, killHubs, machine, median, startHubProcess, type BenchClient } from './lib.js';
import { rmSync } from 'node:fs';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/metadata-cache.js [seconds=3] [rounds=3] [editors=8]';

const seconds = numberArg(2, 3, USAGE);
const rounds = numberArg(3, 3, USAGE);
const editors = numberArg(4, 8, USAGE);
const SCHEMA = { database: 'SNOWFLAKE_SAMPLE_DATA', schema: 'TPCH_SF1' };
const TABLES = ['CUSTOMER', 'NATION', 'ORDERS', 'REGION'];

async function browse(clients: BenchClient[], untilMs: number): Promise<number> {
  let calls = 0;
  await Promise.all(clients.map(async ({ client }, i) => {
    let step = i;
    while (performance.now() < untilMs) {
      const k = step++ % (TABLES.length + 2);
      const call = k === 0
        ? { name: 'list_tables', arguments: SCHEMA }
        : k === 1
          ? { name: 'list_views', arguments: SCHEMA }
          : { name: 'describe_table', arguments: { ...SCHEMA, table_name: TABLES[k - 2]! } };
      const r = await client.callTool(call);
      if (r.isError) throw new Error(JSON.stringify(r.content));
      calls++;
    }
  }));
  return calls;
}

const double = await startSnowflakeDouble({ users: [{ name: 'BENCH', password: 'bench-pw', roles: ['PUBLIC'] }] });
const sf = profileEnv(double, { user: 'bench', password: 'bench-pw' }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH' });
const setups = [
  { name: 'cache on (60 s TTL)', home: benchHome(BENCH_CONFIG.replace('[limits]\n', '[limits]\nmetadata_cache_ttl = "60s"\n')) },
  { name: 'cache off (TTL 0)', home: benchHome(BENCH_CONFIG.replace('[limits]\n', '[limits]\nmetadata_cache_ttl = "0s"\n')) },
];
const hubs = [];
const groups: BenchClient[][] = [];
try {
  for (const s of setups) {
    hubs.push(await startHubProcess(s.home, sf));
    const group: BenchClient[] = [];
    for (let i = 0; i < editors; i++) group.push(await connectShimClient(s.home, `browser-${i}`, sf));
    groups.push(group);
  }
  for (const g of groups) await browse(g, performance.now() + 500);
  const cps = setups.map(() => [] as number[]);
  const perHundred = setups.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, g] of groups.entries()) {
      const before = double.queries.length;
      const started = performance.now();
      const calls = await browse(g, started + seconds * 1000);
      const elapsed = (performance.now() - started) / 1000;
      cps[i]!.push(calls / elapsed);
      perHundred[i]!.push(((double.queries.length - before) / calls) * 100);
    }
  }
  console.log(`machine: ${machine()}; ${editors} editors (shims) browsing one schema on the Snowflake double, ${rounds} interleaved rounds of ${seconds} s, medians`);
  console.log('| metadata cache | calls/s | statements reaching Snowflake per 100 calls |');
  console.log('|---|---|---|');
  for (const [i, s] of setups.entries()) console.log(`| ${s.name} | ${fmt(median(cps[i]!), 0)} | ${fmt(median(perHundred[i]!), 1)} |`);
} finally {
  for (const g of groups) await closeShimClients(g);
  for (const h of hubs) h.kill('SIGKILL');
  for (const s of setups) {
    killHubs(s.home);
    rmSync(s.home, { recursive: true, force: true });
  }
  await double.close();
}

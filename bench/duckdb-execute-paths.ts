/**
 * DuckDB's own cost of one trivial statement, by how it is run through the Node binding: how much of the
 * embedded `SELECT 1` is the engine and its worker-thread trips, below the hub. Interleaved rounds, process
 * CPU (every thread) and wall time per run, medians.
 *
 *   node dist/bench/duckdb-execute-paths.js [rounds=3] [runs=3000]
 */
import { DuckDBInstance, DuckDBMaterializedResult, DuckDBPendingResultState, type DuckDBPreparedStatement, type DuckDBResult } from '@duckdb/node-api';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/duckdb-execute-paths.js [rounds=3] [runs=3000]';

const rounds = numberArg(2, 3, USAGE);
const runs = numberArg(3, 3000, USAGE);

const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const connection = await instance.connect();
const prepared = await connection.prepare('SELECT 1');

/** The materialised result behind a pending result's answer (node-api gives it as a plain DuckDBResult). */
const materialised = (result: DuckDBResult): DuckDBMaterializedResult => new DuckDBMaterializedResult((result as unknown as { result: ConstructorParameters<typeof DuckDBMaterializedResult>[0] }).result);

const variants: Record<string, (p: DuckDBPreparedStatement) => Promise<void>> = {
  // node-api's one-liner: the run, then chunk reads until the empty one.
  'runAndReadAll()': async (p) => {
    (await p.runAndReadAll()).getRows();
  },
  // Two trips to the worker thread: the run, and one chunk fetch.
  'run() + fetchChunk()': async (p) => {
    (await (await p.run()).fetchChunk())?.getRows();
  },
  // One trip, what the hub does for a bounded SELECT: the run, then the materialised chunk read in place.
  'run() + getChunk(0)': async (p) => {
    (await p.run()).getChunk(0).getRows();
  },
  // The statement's tasks stepped on this thread, then one trip for the materialised result.
  'start(), tasks stepped here': async (p) => {
    const pending = p.start();
    while (pending.runTask() === DuckDBPendingResultState.RESULT_NOT_READY);
    materialised(await pending.getResult()).getChunk(0).getRows();
  },
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpu: Record<string, number[]> = {};
const wall: Record<string, number[]> = {};
for (const run of Object.values(variants)) for (let i = 0; i < 300; i++) await run(prepared);
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(variants)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await run(prepared);
    const elapsed = performance.now() - t0;
    const used = process.cpuUsage(c0);
    (cpu[name] ??= []).push((used.user + used.system) / runs);
    (wall[name] ??= []).push((elapsed * 1000) / runs);
  }
}
console.log(`DuckDB SELECT 1, ${runs} runs × ${rounds} interleaved rounds, medians per run`);
for (const name of Object.keys(variants)) {
  console.log(`  ${name.padEnd(28)} ${median(cpu[name]!).toFixed(1).padStart(7)} µs CPU  ${median(wall[name]!).toFixed(1).padStart(7)} µs wall  (CPU rounds: ${cpu[name]!.map((x) => x.toFixed(0)).join(', ')})`);
}
prepared.destroySync();
connection.closeSync();
instance.closeSync();

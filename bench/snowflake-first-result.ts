/**
 * Issue 3's promise, measured against the local Snowflake double with an injected login latency
 * (default 500 ms, like a real Snowflake login):
 *  - time to first result for a brand-new editor: `snowmux shim` on a warm hub vs a one-process-per-editor
 *    server that logs in itself (`snowmux stdio`, same tools, same double);
 *  - how many logins N editors cause in each design.
 *
 *   node dist/bench/snowflake-first-result.js [editors=8] [loginLatencyMs=500] [runs=5]
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { profileEnv, startSnowflakeDouble } from '../test/doubles/snowflake/index.js';
import { benchEnv, cli, fmt, machine, median, removeHome, tempDir } from './lib.js';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/snowflake-first-result.js [editors=8] [loginLatencyMs=500] [runs=5]';

const editors = numberArg(2, 8, USAGE);
const loginLatencyMs = numberArg(3, 500, USAGE);
const runs = numberArg(4, 5, USAGE);

async function firstResult(command: 'shim' | 'stdio', home: string, env: Record<string, string>): Promise<{ ms: number; client: Client }> {
  const t0 = performance.now();
  const c = new Client({ name: `bench-${command}`, version: '1' });
  await c.connect(new StdioClientTransport({ command: process.execPath, args: [cli, command, '--home', home], env: benchEnv(env), stderr: 'ignore' }));
  const r = (await c.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1 AS ONE' } })) as { isError?: boolean; content: { text?: string }[] };
  if (r.isError) throw new Error(`call failed: ${r.content[0]?.text}`);
  return { ms: performance.now() - t0, client: c };
}

export async function snowflakeFirstResult() {
  const double = await startSnowflakeDouble({ users: [{ name: 'BENCH', password: 'bench-pw' }], loginLatencyMs });
  const sf = profileEnv(double, { user: 'bench', password: 'bench-pw' });
  const hubFirst: number[] = [];
  const perEditor: number[] = [];
  let hubLogins = 0;
  let perEditorLogins = 0;
  for (let run = 0; run < runs; run++) {
    // Hub design: one hub, warmed by a first editor; then N new editors arrive one after another.
    const home = tempDir('smx-bench-');
    const hub = spawn(process.execPath, [cli, 'hub', '--home', home], { env: benchEnv(sf), stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve) => hub.stderr!.on('data', (c: Buffer) => c.toString().includes('listening on') && resolve()));
    const before = double.counters.logins;
    const warm = await firstResult('shim', home, sf);
    const clients: Client[] = [warm.client];
    for (let i = 0; i < editors; i++) {
      const r = await firstResult('shim', home, sf);
      hubFirst.push(r.ms);
      clients.push(r.client);
    }
    hubLogins += double.counters.logins - before;
    await Promise.all(clients.map((c) => c.close()));
    await removeHome(home, hub);

    // Per-editor design: every editor starts its own server, which logs in itself.
    const home2 = tempDir('smx-bench-');
    const before2 = double.counters.logins;
    const own: Client[] = [];
    for (let i = 0; i < editors; i++) {
      const r = await firstResult('stdio', home2, sf);
      perEditor.push(r.ms);
      own.push(r.client);
    }
    perEditorLogins += double.counters.logins - before2;
    await Promise.all(own.map((c) => c.close()));
    // The per-editor servers ran in their own processes (closed above); nothing serves this home now.
    rmSync(home2, { recursive: true, force: true });
  }
  await double.close();
  return {
    editors,
    runs,
    loginLatencyMs,
    hubFirstResultMs: median(hubFirst),
    perEditorFirstResultMs: median(perEditor),
    hubLoginsPerRun: hubLogins / runs,
    perEditorLoginsPerRun: perEditorLogins / runs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await snowflakeFirstResult();
  console.log(`machine: ${machine()}`);
  console.log(`Snowflake double, login latency ${r.loginLatencyMs} ms; ${r.editors} new editors per run, ${r.runs} runs; median over all editors`);
  console.log(`| design | first result p50 (spawn → first execute_query result) | logins for ${r.editors} editors (+1 warm-up editor for the hub) |`);
  console.log(`|---|---|---|`);
  console.log(`| snowmux hub (shim → warm hub) | ${fmt(r.hubFirstResultMs, 0)} ms | ${fmt(r.hubLoginsPerRun, 1)} |`);
  console.log(`| one server per editor (\`snowmux stdio\`, logs in itself) | ${fmt(r.perEditorFirstResultMs, 0)} ms | ${fmt(r.perEditorLoginsPerRun, 1)} |`);
  console.log(`ratio: per-editor / hub = ${fmt(r.perEditorFirstResultMs / r.hubFirstResultMs, 1)}×`);
}

/**
 * `snowmux stdio` is its editor's whole MCP server: when the editor shuts it down (stdin closed, then
 * SIGTERM, as MCP clients do) or dies, a Snowflake statement still running is cancelled in Snowflake and
 * recorded as cancelled in its audit chain, as through a shim. Before, the signal's default action ended the
 * process with the statement left running (and billed) and no record of the call, and an editor that died
 * left it running to its end, after which the process crashed on EPIPE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { profileEnv, startSnowflakeDouble, type AbortLogEntry, type QueryLogEntry, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { waitForEvent } from '../doubles/snowflake/fixtures.js';
import { cliEnv, defer, killAtEnd, tempHome, type Cleanup } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

const PASSWORD = 'alice-secret-pw';
const WAIT_SQL = "select system$wait(120, 'SECONDS')";

async function double(t: Cleanup): Promise<SnowflakeDouble> {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['ANALYST', 'PUBLIC'] }], syncWaitMs: 50 });
  defer(t, () => d.close());
  return d;
}

const requests = (query: string): string =>
  [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'editor', version: '1' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } },
  ]
    .map((m) => JSON.stringify(m))
    .join('\n') + '\n';

/** The records of the home's one stdio audit chain. */
function stdioRecords(home: string): Array<Record<string, unknown>> {
  const root = join(home, 'audit', 'stdio');
  const [chain] = readdirSync(root);
  return readFileSync(join(root, chain!, 'audit-000001.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const statementStarted = (d: SnowflakeDouble) => waitForEvent<QueryLogEntry>(d.events, 'queryStarted', (q) => q.sql.toUpperCase().includes('SYSTEM$WAIT(120'), 60_000);

async function gone(pid: number, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (performance.now() > deadline) throw new Error(`process ${pid} still runs ${withinMs} ms after its editor went`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function killPidAtEnd(t: Cleanup, pid: number): void {
  defer(t, () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`snowmux stdio on ${signal} cancels the running Snowflake statement, records the call as cancelled and exits 128+n`, async (t) => {
    const d = await double(t);
    const home = tempHome(t);
    const proc: ChildProcess = spawn(process.execPath, [cliPath, 'stdio', '--home', home], {
      env: cliEnv(profileEnv(d, { user: 'alice', password: PASSWORD }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH' })),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    killAtEnd(t, proc);
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.stdout!.resume();
    const started = statementStarted(d);
    // An editor's shutdown: stdin closed after its last request, then the signal.
    proc.stdin!.end(requests(WAIT_SQL));
    await started;
    const aborted = waitForEvent<AbortLogEntry>(d.events, 'abort', () => true, 30_000);
    const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    proc.kill(signal);
    const [code, bySignal] = await exited;
    assert.equal(bySignal, null, `ended by the signal's default action, not by snowmux: ${stderr}`);
    assert.equal(code, signal === 'SIGTERM' ? 143 : 130, stderr);
    assert.equal((await aborted).matched, true, 'the statement was aborted in Snowflake');
    const records = stdioRecords(home);
    const call = records.find((r) => r['kind'] === 'tool_call');
    assert.equal(call?.['outcome'], 'cancelled', JSON.stringify(records));
    assert.equal(call?.['sql'], WAIT_SQL);
    assert.equal(records.at(-1)?.['kind'], 'hub_stop', 'the chain was closed');
  });
}

test('snowmux stdio whose editor died mid-call cancels the statement and leaves, without waiting for it or crashing on EPIPE', async (t) => {
  const d = await double(t);
  const home = tempHome(t);
  // A stand-in editor: starts `snowmux stdio`, sends the call, says the server's pid, then waits to be killed.
  const editorScript = `
    const { spawn } = require('node:child_process');
    const p = spawn(process.execPath, [${JSON.stringify(cliPath)}, 'stdio', '--home', ${JSON.stringify(home)}], { stdio: ['pipe', 'pipe', 'inherit'] });
    p.stdout.resume();
    p.stdin.write(${JSON.stringify(requests(WAIT_SQL))});
    process.stdout.write('server ' + p.pid + '\\n');
    setInterval(() => {}, 1000);
  `;
  const editor = spawn(process.execPath, ['-e', editorScript], {
    env: cliEnv(profileEnv(d, { user: 'alice', password: PASSWORD }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH' })),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killAtEnd(t, editor);
  let said = '';
  let stderr = '';
  editor.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const serverPid = new Promise<number>((resolve) => {
    editor.stdout.on('data', (c: Buffer) => {
      said += c.toString();
      const m = /server (\d+)/.exec(said);
      if (m) resolve(Number(m[1]));
    });
  });
  const started = statementStarted(d);
  const pid = await serverPid;
  killPidAtEnd(t, pid);
  await started;
  const aborted = waitForEvent<AbortLogEntry>(d.events, 'abort', () => true, 30_000);
  editor.kill('SIGKILL');
  // The statement would run 120 s: the server leaves well before, once it sees its editor gone.
  await gone(pid, 30_000);
  assert.equal((await aborted).matched, true, 'the statement was aborted in Snowflake');
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/, stderr);
  const call = stdioRecords(home).find((r) => r['kind'] === 'tool_call');
  assert.equal(call?.['outcome'], 'cancelled');
});

/**
 * A hub that takes over while the previous one still drains (and so still writes the audit log) holds its
 * records in a side file in the audit directory. Records it answered must survive what happens to it
 * before it may write the chain: a SIGKILL (the next hub to open the log chains them in), and a stop or a
 * second take-over (it waits for the hand-over and writes them). Two successors never both write: the
 * chain keeps one seq per record and verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/harness.js';
import { ChaosHome, FOREVER_QUERY, LOAD_CONFIG, exitOf, outputMatches, runningCalls, statusUntil } from './chaos-support.js';

interface Line { kind: string; seq: number; sql?: string; client?: { name?: string }; detail?: Record<string, unknown> }

function auditLines(home: string): Line[] {
  const dir = join(home, 'audit');
  return readdirSync(dir)
    .filter((f) => /^audit-\d+\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Line);
}

const heldFiles = (home: string) => readdirSync(join(home, 'audit')).filter((f) => f.startsWith('held-'));
const CONFIG = `[hub]\nshutdown_grace_ms = 120000\n\n${LOAD_CONFIG}`;

/** The old hub runs a call it drains after `--replace`: it keeps the audit writer until that call ends. */
async function drainingHub(rig: ChaosHome): Promise<{ pid: number; end(): Promise<void> }> {
  const old = await rig.startHub();
  const editor = await rig.client('v2-legacy', { name: 'editor' });
  const blocker = new AbortController();
  const blocked = editor.callTool('execute_query', { query: FOREVER_QUERY }, { signal: blocker.signal, timeout: 120_000 }).catch(() => null);
  await statusUntil(rig.home, 'a call in flight', (s) => runningCalls(s) === 1);
  return {
    pid: old.pid,
    async end() {
      blocker.abort();
      await blocked;
      // Its shim goes too: left connected, it starts a hub of its own once this one exits.
      await editor.close();
      await exitOf(old.pid);
    },
  };
}

async function replace(rig: ChaosHome): Promise<ReturnType<ChaosHome['spawnCli']>> {
  const next = rig.spawnCli(['hub', '--replace']);
  await outputMatches(next.proc, next.output, /listening on/);
  return next;
}

async function answeredBy(rig: ChaosHome, name: string, sql: string): Promise<void> {
  const c = await rig.client('v2-legacy', { name });
  const r = await c.callTool('execute_query', { query: sql });
  assert.notEqual(r.isError, true, JSON.stringify(r.content));
  // Gone before any hub is killed or stopped: its shim would start a hub of its own.
  await c.close();
}

test('calls a hub answered while it waited for the audit writer survive its SIGKILL: the next hub to open the log chains them in', async (t) => {
  const rig = await ChaosHome.create(t, CONFIG);
  const old = await drainingHub(rig);
  const next = await replace(rig);
  await answeredBy(rig, 'late-editor', 'SELECT 4242 AS answered_while_held');
  const waiting = JSON.parse((await runCli(['status', '--json', '--home', rig.home])).stdout) as { audit?: { waitingForPid?: number; waitingUntil?: string; heldRecords?: number } };
  assert.equal(waiting.audit?.waitingForPid, old.pid);
  assert.ok((waiting.audit?.heldRecords ?? 0) >= 2, JSON.stringify(waiting.audit)); // hub_start and the call
  assert.ok(Date.parse(waiting.audit?.waitingUntil ?? '') - Date.now() > 60_000, 'the wait bound status gives is the real one');
  assert.equal(heldFiles(rig.home).length, 1, 'held in a side file in the audit directory');

  next.proc.kill('SIGKILL');
  await next.exited;
  await old.end();
  // The next hub to open the log writes what the killed hub held, before its own records: ours, or one the
  // first editor's shim started when the killed hub went (then it held its own records until now).
  await rig.startHub().catch((err: unknown) => assert.match(String(err), /already running/));
  // Until every held file is chained in, not only the killed hub's: a hub the first editor's shim started
  // claims the log by writing the killed hub's records, then its own (CI once stopped it between the two).
  const deadline = Date.now() + 20_000;
  while (!auditLines(rig.home).some((r) => r.client?.name === 'late-editor') || heldFiles(rig.home).length > 0) {
    assert.ok(Date.now() < deadline, `the held call was not chained in: ${heldFiles(rig.home).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await runCli(['stop', '--home', rig.home])).code, 0);

  const lines = auditLines(rig.home);
  const killedStart = lines.findIndex((r) => r.kind === 'hub_start' && r.detail?.pid === next.proc.pid);
  const call = lines.findIndex((r) => r.kind === 'tool_call' && r.client?.name === 'late-editor');
  const lastStart = lines.findLastIndex((r) => r.kind === 'hub_start');
  assert.ok(killedStart >= 0, "the killed hub's hub_start is in the chain");
  assert.ok(call > killedStart && call < lastStart, `its call (${call}) follows its hub_start (${killedStart}), before the next hub's (${lastStart})`);
  assert.equal(typeof lines[call]!.detail?.heldFrom, 'string');
  assert.deepEqual(heldFiles(rig.home), []);
  const verified = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(verified.code, 0, `${verified.stdout}${verified.stderr}`);
});

test('two take-overs in a row while the first hub drains: the replaced waiter writes its records before it exits, the last one after it; one seq per record', async (t) => {
  const rig = await ChaosHome.create(t, CONFIG);
  const old = await drainingHub(rig);
  const second = await replace(rig);
  await answeredBy(rig, 'second-editor', 'SELECT 2 AS on_second');
  const third = await replace(rig);
  await answeredBy(rig, 'third-editor', 'SELECT 3 AS on_third');
  // The second hub was replaced before it could write anything: it waits for the hand-over (not exit).
  assert.doesNotThrow(() => process.kill(second.proc.pid!, 0), 'the replaced waiter waits to write what it holds');
  await old.end();
  assert.equal(await second.exited, 0);
  assert.equal((await runCli(['stop', '--home', rig.home])).code, 0);
  assert.equal(await third.exited, 0);

  const lines = auditLines(rig.home);
  const at = (pred: (r: Line) => boolean, what: string) => {
    const i = lines.findIndex(pred);
    assert.ok(i >= 0, `${what} is in the chain`);
    return i;
  };
  const order = [
    at((r) => r.kind === 'hub_stop' && r.detail?.pid === old.pid, 'the first hub_stop'),
    at((r) => r.kind === 'hub_start' && r.detail?.pid === second.proc.pid, "the second hub's hub_start"),
    at((r) => r.client?.name === 'second-editor', "the second hub's call"),
    at((r) => r.kind === 'hub_stop' && r.detail?.pid === second.proc.pid, "the second hub's hub_stop"),
    at((r) => r.kind === 'hub_start' && r.detail?.pid === third.proc.pid, "the third hub's hub_start"),
    at((r) => r.client?.name === 'third-editor', "the third hub's call"),
  ];
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'written in the order the hubs took over');
  const seqs = lines.map((r) => r.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'no seq twice (a forked chain)');
  assert.deepEqual(heldFiles(rig.home), []);
  const verified = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(verified.code, 0, `${verified.stdout}${verified.stderr}`);
});

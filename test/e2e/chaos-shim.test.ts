/**
 * The other side: a shim (an editor) that vanishes, freezes, or loses its socket. The hub frees what the
 * session held — the session ends and its running warehouse call is cancelled — within a bound, and other
 * sessions never notice. A shim that comes back re-creates its session without the editor's involvement.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { HubStatus } from '../../src/hub/hub.js';
import { processAlive } from '../../src/wire/process-alive.js';
import { cliEnv } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import { ChaosHome, FOREVER_QUERY, checkNation, control, nationQuery, rpcError, status, statusUntil } from './chaos-support.js';

/** The hub drops a link silent for this long (the shim pings every 5 s; the hub pings at half of it). */
const LINK_IDLE = { SNOWMUX_LINK_IDLE_MS: '1000' };

const sessionOf = (s: HubStatus, name: string) => s.sessions.find((x) => x.client?.name === name);

test('a shim killed mid-call: its session closes and its running call is cancelled; the other session carries on', async (t) => {
  const rig = await ChaosHome.create(t);
  await rig.startHub(LINK_IDLE);
  const victim = await rig.client('v1', { name: 'victim' });
  const bystander = await rig.client('v2-modern', { name: 'bystander' });
  assert.equal(checkNation(await bystander.callTool('execute_query', { query: nationQuery(3) }), 3), null);
  void victim.callTool('execute_query', { query: FOREVER_QUERY }, { timeout: 60_000 }).catch(() => {});
  const before = await statusUntil(rig.home, 'the victim\'s call running', (s) => sessionOf(s, 'victim')?.running === 1);

  process.kill(victim.pid()!, 'SIGKILL');
  const after = await statusUntil(rig.home, 'the victim\'s session gone and its call cancelled', (s) => !sessionOf(s, 'victim') && s.totals.cancelled === before.totals.cancelled + 1);
  assert.equal(after.sessions.reduce((n, x) => n + x.running, 0), 0, 'nothing left running');
  assert.equal(after.sessions.length, 1);
  assert.equal(sessionOf(after, 'bystander')?.id, sessionOf(before, 'bystander')?.id, 'the other session was not touched');
  assert.equal(checkNation(await bystander.callTool('execute_query', { query: nationQuery(4) }), 4), null);
});

test('a frozen shim: the hub drops its silent link within the idle timeout and cancels its call; resumed, the shim re-creates its session', async (t) => {
  const rig = await ChaosHome.create(t);
  await rig.startHub(LINK_IDLE);
  const frozen = await rig.client('v2-legacy', { name: 'frozen' });
  const quiet = await rig.client('v1', { name: 'quiet' });
  t.after(() => {
    try {
      process.kill(frozen.pid()!, 'SIGCONT');
    } catch {
      /* gone */
    }
  });
  assert.equal(checkNation(await quiet.callTool('execute_query', { query: nationQuery(1) }), 1), null);
  const longCall = rpcError(frozen.callTool('execute_query', { query: FOREVER_QUERY }, { timeout: 60_000 }));
  const before = await statusUntil(rig.home, 'the frozen editor\'s call running', (s) => sessionOf(s, 'frozen')?.running === 1);
  const frozenSession = sessionOf(before, 'frozen')!.id;

  process.kill(frozen.pid()!, 'SIGSTOP');
  const freedAt = Date.now();
  const after = await statusUntil(rig.home, 'the frozen shim\'s session freed', (s) => !s.sessions.some((x) => x.id === frozenSession) && s.totals.cancelled === before.totals.cancelled + 1);
  assert.ok(Date.now() - freedAt < 10_000, 'freed within the idle timeout (1 s) plus a busy machine');
  assert.equal(after.sessions.reduce((n, x) => n + x.running, 0), 0);
  // A quiet but healthy shim answers the hub's pings: idle longer than the timeout, still connected.
  assert.equal(sessionOf(after, 'quiet')?.id, sessionOf(before, 'quiet')?.id);

  process.kill(frozen.pid()!, 'SIGCONT');
  const lost = await longCall;
  assert.equal(lost.code, -32001, lost.message);
  assert.equal(checkNation(await frozen.callTool('execute_query', { query: nationQuery(2) }, { timeout: 30_000 }), 2), null);
  const resumed = sessionOf(await status(rig.home), 'frozen');
  assert.equal(resumed?.resumeOf, frozenSession, 'the shim re-created its session (initialize replayed) on its own');
  assert.equal(checkNation(await quiet.callTool('execute_query', { query: nationQuery(5) }), 5), null);
});

test('a cut socket: the running call is cancelled and answered with a retryable error; the shim reconnects and the editor carries on', async (t) => {
  const rig = await ChaosHome.create(t);
  await rig.startHub();
  const editor = await rig.client('v2-legacy', { name: 'cut' });
  const other = await rig.client('v2-modern', { name: 'other' });
  assert.equal(checkNation(await other.callTool('execute_query', { query: nationQuery(7) }), 7), null);
  const longCall = rpcError(editor.callTool('execute_query', { query: FOREVER_QUERY }, { timeout: 60_000 }));
  const before = await statusUntil(rig.home, 'the call running', (s) => sessionOf(s, 'cut')?.running === 1);
  const cutSession = sessionOf(before, 'cut')!.id;

  const reply = await control(rig.home, { op: 'disconnect', session: cutSession.slice(0, 8) });
  assert.deepEqual(reply, { id: 1, ok: true, result: { disconnected: [cutSession] } });
  const lost = await longCall;
  assert.equal(lost.code, -32001, lost.message);
  const after = await statusUntil(rig.home, 'the call cancelled', (s) => s.totals.cancelled === before.totals.cancelled + 1);
  assert.equal(after.sessions.reduce((n, x) => n + x.running, 0), 0);
  assert.equal(checkNation(await editor.callTool('execute_query', { query: nationQuery(8) }), 8), null);
  const s = await status(rig.home);
  assert.equal(sessionOf(s, 'cut')?.resumeOf, cutSession);
  assert.equal(sessionOf(s, 'other')?.id, sessionOf(before, 'other')?.id, 'the other session was not touched');
  const refused = await control(rig.home, { op: 'disconnect', session: 'x' });
  assert.equal(refused.ok, false);
  assert.match(refused.error!.message, /prefix of at least 4 characters/);
});

test('an editor that crashes mid-call (stdin closes, no SIGTERM follows): the shim leaves at once and its call is cancelled', async (t) => {
  const rig = await ChaosHome.create(t);
  await rig.startHub();
  // The editor: a process that starts the shim on pipes, asks for a call that runs for ever, and is then
  // SIGKILLed, as a crashing editor is; its end of both pipes closes with it.
  const editorScript = `
    const { spawn } = require('node:child_process');
    const shim = spawn(process.execPath, [${JSON.stringify(cliPath)}, 'shim', '--home', ${JSON.stringify(rig.home)}], { stdio: ['pipe', 'pipe', 'ignore'] });
    const send = (m) => shim.stdin.write(JSON.stringify(m) + '\\n');
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'crashing', version: '1' } } });
    shim.stdout.once('data', () => {
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: ${JSON.stringify(FOREVER_QUERY)} } } });
      process.stdout.write(shim.pid + '\\n');
    });
  `;
  const editor = spawn(process.execPath, ['-e', editorScript], { env: cliEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  let shimPid = 0;
  t.after(() => {
    editor.kill('SIGKILL');
    if (shimPid > 0 && processAlive(shimPid)) process.kill(shimPid, 'SIGKILL');
  });
  shimPid = Number((await once(editor.stdout, 'data'))[0].toString().trim());
  const before = await statusUntil(rig.home, 'the crashing editor\'s call running', (s) => sessionOf(s, 'crashing')?.running === 1);

  editor.kill('SIGKILL');
  const after = await statusUntil(rig.home, 'its session gone and its call cancelled', (s) => !sessionOf(s, 'crashing') && s.totals.cancelled === before.totals.cancelled + 1);
  assert.equal(after.sessions.reduce((n, x) => n + x.running, 0), 0, 'nothing left running');
  // The shim closed its link (that ended the session); its process follows a moment later.
  const deadline = Date.now() + 5_000;
  while (running(shimPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(running(shimPid), false, 'the shim is gone');
});

/** Alive and not a zombie (a re-parented child may wait a moment to be reaped). */
function running(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A wide answer (~0.5 MB): twelve of them are more than the pipe, the shim, both socket buffers and the hub's pause threshold hold. */
const WIDE = `SELECT ${Array.from({ length: 10 }, (_, i) => `repeat('x', 118) AS c${i}`).join(', ')} FROM range(200)`;

interface Answer {
  id: number;
  result?: { isError?: boolean };
  error?: { message: string };
}

/**
 * An editor on pipes that initializes, stops reading its stdout, and sends twelve wide calls; `readAll`
 * reads again and gathers the twelve answers.
 */
async function stalledEditor(t: { after(fn: () => void): void }, home: string, name: string): Promise<{ readAll(): Promise<Answer[]> }> {
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'ignore'] });
  t.after(() => void shim.kill('SIGKILL'));
  const send = (m: unknown) => shim.stdin.write(`${JSON.stringify(m)}\n`);
  send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name, version: '1' } } });
  await once(shim.stdout, 'data');
  shim.stdout.pause();
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  for (let id = 2; id <= 13; id++) send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query: WIDE } } });
  return {
    async readAll() {
      let text = '';
      shim.stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
      shim.stdout.resume();
      const answers = new Map<number, Answer>();
      while (answers.size < 12) {
        await once(shim.stdout, 'data');
        for (const line of text.split('\n').slice(0, -1)) {
          const m = JSON.parse(line) as Answer;
          if (m.id !== undefined) answers.set(m.id, m);
        }
        text = text.slice(text.lastIndexOf('\n') + 1);
      }
      return [...answers.values()];
    },
  };
}

test('an editor that stops reading for longer than the link idle timeout gets every answer once it reads again: the hub does not take the silence of a link it stopped reading for a dead shim', async (t) => {
  const rig = await ChaosHome.create(t);
  await rig.startHub({ ...LINK_IDLE, SNOWMUX_STALLED_OUTPUT_MS: '60000' });
  const editor = await stalledEditor(t, rig.home, 'slow-reader');
  await statusUntil(rig.home, 'every call answered into the stalled link', (s) => (sessionOf(s, 'slow-reader')?.calls ?? 0) >= 2);
  // Three idle timeouts of the editor not reading. Before, the hub paused its own reading of the link,
  // heard no pings, cut the session after ~1 s, and the shim told the editor "the hub restarted".
  await new Promise((r) => setTimeout(r, 3_000));
  assert.ok(sessionOf(await status(rig.home), 'slow-reader'), 'the session is still there');
  for (const m of await editor.readAll()) assert.ok(m.result && m.result.isError !== true, `call ${m.id}: ${JSON.stringify(m).slice(0, 300)}`);
});

test('an editor that does not read for longer than the stall bound: the calls it never got are answered with why, not "the hub restarted"', async (t) => {
  const rig = await ChaosHome.create(t);
  await rig.startHub({ SNOWMUX_STALLED_OUTPUT_MS: '1000' });
  const editor = await stalledEditor(t, rig.home, 'no-reader');
  await statusUntil(rig.home, 'the session cut for not reading', (s) => s.totals.lastCut?.why?.startsWith('the client did not read its answers') === true);
  // The hub ends a cut session's socket after what it had queued (within a bound), so an editor that reads
  // soon after gets some answers whole; every other call is answered with why.
  const answers = await editor.readAll();
  assert.equal(answers.length, 12);
  const errors = answers.filter((m) => m.error).map((m) => m.error!.message);
  for (const message of errors) {
    assert.doesNotMatch(message, /hub (restarted|went away)/);
    assert.match(message, /not read/);
  }
});

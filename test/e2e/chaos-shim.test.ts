/**
 * The other side: a shim (an editor) that vanishes, freezes, or loses its socket. The hub frees what the
 * session held — the session ends and its running warehouse call is cancelled — within a bound, and other
 * sessions never notice. A shim that comes back re-creates its session without the editor's involvement.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HubStatus } from '../../src/hub/hub.js';
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

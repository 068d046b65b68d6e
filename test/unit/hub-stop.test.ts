/**
 * How a stop ends the calls still running. A plain stop gives them hub.shutdown_grace_ms, then cancels
 * them with HUB_STOPPING (the hub ended them, not the client). A replaced hub (`hub --replace`) has a
 * successor serving new calls: its calls run to their own deadline, until a plain stop (a signal) follows.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { HubCore, type AttachedSession } from '../../src/hub/core/hub-core.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { cancellationError as engineCancellation } from '../../src/hub/guard/failure-kind.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import type { ToolBody } from '../../src/hub/pipeline/call-pipeline.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { cancellationError as duckdbCancellation } from '../../src/hub/warehouse/duckdb/call-scope.js';

/** A core whose one session runs calls that end only when the test finishes them or the hub aborts them. */
function rig(shutdownGraceMs: number) {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'), logger });
  // The bodies below never reach it: they wait, as a running statement does.
  const open = async (): Promise<never> => {
    throw new Error('not opened in this test');
  };
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance, shutdownGraceMs });
  let attached: AttachedSession | undefined;
  let draining = false;
  const detachIfDone = () => {
    if (draining && attached!.session.snapshot().running === 0) attached!.detach('drained');
  };
  // As the socket face does: a draining session closes once it is owed nothing.
  const hooks = {
    drain: () => {
      draining = true;
      detachIfDone();
    },
    outstanding: () => attached!.session.snapshot().running,
    close: (why: string) => attached!.detach(why),
  };
  attached = core.attachSession({ identity: { kind: 'local-user', name: 'me' }, transport: 'stdio' }, hooks);
  let n = 0;
  /** A call whose body waits: `finish()` answers it; an abort rejects it as the given engine would. */
  const call = (engine: 'duckdb' | 'snowflake') => {
    let finish!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const body: ToolBody = ({ ctx }) =>
      new Promise((resolve, reject) => {
        finish = () => resolve({ content: [{ type: 'text', text: 'done' }] });
        ctx.signal.addEventListener('abort', () => reject(engine === 'duckdb' ? duckdbCancellation(ctx.signal) : engineCancellation(ctx.signal, 'The statement')), { once: true });
        started();
      });
    const result = attached!.env.pipeline.run(attached!.session, 'execute_query', { id: String(++n), signal: new AbortController().signal }, {}, body).then((r) => {
      detachIfDone();
      return r;
    });
    return { result, running, finish: () => finish() };
  };
  return { core, governance, call };
}

const codeOf = (r: CallToolResult) => (r._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');

/** Lets the stop's poll (mocked setTimeout) and what it resolves run. */
async function advance(t: TestContext, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 20) {
    t.mock.timers.tick(20);
    await new Promise((r) => setImmediate(r));
  }
}

test('a plain stop cancels what still runs after the grace period with HUB_STOPPING, on every engine, never as a client cancel', async () => {
  const { core, governance, call } = rig(0);
  const calls = [call('duckdb'), call('snowflake')];
  await Promise.all(calls.map((c) => c.running));
  await core.stop('snowmux stop');
  for (const r of await Promise.all(calls.map((c) => c.result))) {
    assert.equal(r.isError, true);
    assert.equal(codeOf(r), 'HUB_STOPPING', textOf(r));
    assert.match(textOf(r), /hub stopped while this call ran.*shutdown_grace_ms.*Run it again/);
    assert.doesNotMatch(textOf(r), /client/);
  }
  governance.close();
});

test('a replaced hub lets its calls run past the grace period; a stop that follows (a signal) brings the grace period back', async (t) => {
  const { core, governance, call } = rig(0);
  const survivor = call('duckdb');
  const lingering = call('snowflake');
  await Promise.all([survivor.running, lingering.running]);
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  const stopped = core.stop('replaced by another hub (snowmux hub --replace)', { replaced: true });
  await advance(t, 60_000);
  survivor.finish();
  const done = await survivor.result;
  assert.equal(done.isError, undefined, `the call finished on the replaced hub: ${textOf(done)}`);

  // Still running a minute later, below the call timeout: an operator's SIGTERM to the draining hub.
  void core.stop('SIGTERM');
  await advance(t, 20);
  const cut = await lingering.result;
  assert.equal(codeOf(cut), 'HUB_STOPPING', textOf(cut));
  assert.match(textOf(cut), /SIGTERM/);
  await advance(t, 1_000);
  await stopped;
  governance.close();
});

/** Steps what Date.now() answers by `stepMs` from now on, as NTP or a resumed VM would; performance.now() runs on. */
function stepWallClock(t: TestContext, stepMs: number): void {
  const real = Date.now.bind(Date);
  t.mock.method(Date, 'now', () => real() + stepMs);
}

test('the grace period is measured on the monotonic clock: a wall clock stepped back during the drain does not stretch it', { timeout: 20_000 }, async (t) => {
  const { core, governance, call } = rig(200);
  const running = call('duckdb');
  await running.running;
  const stopped = core.stop('snowmux stop');
  // An hour back, just after the stop: with a wall-clock deadline the hub waited for the call's own timeout.
  stepWallClock(t, -3_600_000);
  const r = await running.result;
  assert.equal(codeOf(r), 'HUB_STOPPING', textOf(r));
  await stopped;
  governance.close();
});

test('a wall clock stepped forward during the drain does not cut the grace period short', { timeout: 20_000 }, async (t) => {
  const { core, governance, call } = rig(30_000);
  const running = call('duckdb');
  await running.running;
  const stopped = core.stop('snowmux stop');
  stepWallClock(t, 3_600_000);
  // Several of the drain's 20 ms polls go by: with a wall-clock deadline the first one cancelled the call.
  await new Promise((r) => setTimeout(r, 200));
  running.finish();
  const r = await running.result;
  assert.equal(r.isError, undefined, `the call finished within the grace period: ${textOf(r)}`);
  await stopped;
  governance.close();
});

test('uptime is measured on the monotonic clock: never negative after a step back, never inflated by a step forward', async (t) => {
  const { core, governance } = rig(0);
  stepWallClock(t, -7_200_000);
  const back = core.health().body.uptimeMs;
  assert.ok(back >= 0 && back < 60_000, `uptime after a step back: ${back}`);
  t.mock.restoreAll();
  stepWallClock(t, 7_200_000);
  const ahead = core.status().uptimeMs;
  assert.ok(ahead >= 0 && ahead < 60_000, `uptime after a step forward: ${ahead}`);
  await core.stop('test');
  governance.close();
});

/**
 * `/healthz` through a drain (issue 13): from the moment a hub starts draining until it exits, every
 * listener that serves /healthz (the metrics port and the HTTP face) stays up and answers 503 saying so;
 * after the exit the ports are closed. When the next hub comes up while the old one drains, the old one
 * lets go of its fixed ports at once and the new one takes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, initialize, rawLink, runCli, startHub, tempHome, type HubProcess, type RawLink } from '../helpers/harness.js';
import { FOREVER_QUERY, alive, runningCalls, statusUntil } from './chaos-support.js';

/** Both HTTP engines: they keep connections alive differently, and let go of a port differently. */
const ENGINES = ['uws', 'node'] as const;
type Engine = (typeof ENGINES)[number];

interface Health {
  status: number;
  body: { status: string; message?: string; pid: number };
}

async function health(url: string): Promise<Health> {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: (await res.json()) as Health['body'] };
}

/** Asks until the answer is the wanted one (the drain and the port hand-over are asynchronous). */
async function healthUntil(url: string, what: string, ok: (h: Health) => boolean, deadlineMs = 15_000): Promise<Health> {
  const deadline = Date.now() + deadlineMs;
  let last: Health | string = 'no answer';
  for (;;) {
    try {
      const h = await health(url);
      if (ok(h)) return h;
      last = h;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url}/healthz: ${what} not seen within ${deadlineMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`);
    return false;
  } catch (err) {
    return /ECONNREFUSED/.test(String((err as { cause?: { code?: string } }).cause?.code ?? err));
  }
}

/** A hub with both listeners, and a call that runs until the test lets it go (by closing its link). */
async function drainingRig(t: Parameters<typeof tempHome>[0], listen: { metrics: string; http: string; engine: Engine }): Promise<{ home: string; hub: HubProcess; metricsUrl: string; httpUrl: string; call: RawLink }> {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nmetrics_listen = "${listen.metrics}"\nhttp_listen = "${listen.http}"\nhttp_engine = "${listen.engine}"\nshutdown_grace_ms = 120000\n`);
  const hub = await startHub(t, home);
  const httpUrl = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())?.[1];
  assert.ok(httpUrl, hub.stderr());
  const st = await statusUntil(home, 'metrics served', (s) => Boolean(s.metrics));
  const metricsUrl = (st.metrics as { url: string }).url.replace(/\/metrics$/, '');
  for (const url of [metricsUrl, httpUrl]) {
    const h = await health(url);
    assert.equal(h.status, 200, url);
    assert.equal(h.body.status, 'running');
  }
  const call = await rawLink(t, join(home, 'hub.sock'));
  await initialize(call);
  call.send(`${JSON.stringify({ jsonrpc: '2.0', id: 'slow', method: 'tools/call', params: { name: 'execute_query', arguments: { query: FOREVER_QUERY } } })}\n`);
  await statusUntil(home, 'the slow call running', (s) => runningCalls(s) === 1);
  return { home, hub, metricsUrl, httpUrl, call };
}

for (const engine of ENGINES) {
  test(`[${engine}] SIGTERM with a call in flight: /healthz answers 503 "draining" on the metrics and HTTP listeners until the hub exits; then both ports are closed`, async (t) => {
    const rig = await drainingRig(t, { metrics: '127.0.0.1:0', http: '127.0.0.1:0', engine });
    const exited = once(rig.hub.proc, 'exit') as Promise<[number | null]>;
    rig.hub.proc.kill('SIGTERM');
    for (const url of [rig.metricsUrl, rig.httpUrl]) {
      const h = await healthUntil(url, '503', (x) => x.status === 503);
      assert.equal(h.body.status, 'draining', url);
      assert.match(h.body.message ?? '', /draining \(SIGTERM\).*finishes the calls it has, then exits/, url);
      assert.equal(h.body.pid, rig.hub.pid);
    }
    assert.equal(rig.hub.proc.exitCode, null, 'the call in flight keeps the drain open');
    // Still answering, still 503, while the call runs.
    assert.equal((await health(rig.metricsUrl)).status, 503);
    assert.equal((await health(rig.httpUrl)).status, 503);

    rig.call.close();
    const [code] = await exited;
    assert.equal(code, 0);
    assert.ok(await refused(rig.metricsUrl), 'the metrics port is closed after the exit');
    assert.ok(await refused(rig.httpUrl), 'the HTTP port is closed after the exit');
  });

  test(`[${engine}] snowmux stop, then the next hub starts while the old one drains: the old one says 503 until the new one is up, which then takes the fixed ports at once`, async (t) => {
    const ports = { metrics: await freePort(), http: await freePort() };
    const rig = await drainingRig(t, { metrics: `127.0.0.1:${ports.metrics}`, http: `127.0.0.1:${ports.http}`, engine });
    const exited = once(rig.hub.proc, 'exit') as Promise<[number | null]>;
    assert.equal((await runCli(['stop', '--home', rig.home])).code, 0);
    for (const url of [rig.metricsUrl, rig.httpUrl]) {
      const h = await healthUntil(url, '503', (x) => x.status === 503);
      assert.equal(h.body.status, 'draining');
      assert.match(h.body.message ?? '', /snowmux stop/);
    }

    // What a shim does when it finds no hub at the socket: start one.
    const next = await startHub(t, rig.home);
    for (const url of [rig.metricsUrl, rig.httpUrl]) {
      const h = await healthUntil(url, 'the next hub', (x) => x.status === 200 && x.body.pid === next.pid);
      assert.equal(h.body.status, 'running');
    }
    assert.ok(alive(rig.hub.pid), 'the old hub is still draining its call while the new one serves the ports');

    rig.call.close();
    assert.equal((await exited)[0], 0);
    assert.equal((await health(rig.metricsUrl)).body.pid, next.pid);
    assert.equal(await next.stop(), 0);
    assert.ok(await refused(rig.metricsUrl));
    assert.ok(await refused(rig.httpUrl));
  });
}

/** The reachability probes that end a statement waiting on an unreachable Snowflake (outage-watch.ts). */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { OutageWatch, probeEndpoint, watchLogin, type Outage, type ProbeResult } from '../../src/hub/warehouse/snowflake/outage-watch.js';
import { freePort } from '../helpers/harness.js';

/** A probe answering from a script, telling the test when each probe has been answered. */
function scripted(results: ProbeResult[]): { probe: () => Promise<ProbeResult>; probed: () => Promise<number> } {
  let count = 0;
  let wake: (() => void) | undefined;
  return {
    probe: () => {
      const result = results[Math.min(count, results.length - 1)]!;
      count++;
      queueMicrotask(() => wake?.());
      return Promise.resolve(result);
    },
    probed: () => new Promise<number>((resolve) => (wake = () => resolve(count))),
  };
}

const quick = { graceMs: 0, intervalMs: 1, probeTimeoutMs: 1_000, strikes: 2 };

describe('OutageWatch', () => {
  it('ends a waiting statement after two failed probes in a row, naming what they met; one answer in between resets the count', async () => {
    const fails: ProbeResult = { ok: false, reason: 'connection refused' };
    const { probe } = scripted([fails, { ok: true }, fails, fails]);
    const watch = new OutageWatch(probe, quick);
    const outage = await new Promise<Outage>((resolve) => watch.watch(resolve));
    assert.equal(outage.reason, 'connection refused');
    assert.ok(watch.failingNow() !== null);
    watch.answered();
    assert.equal(watch.failingNow(), null);
  });

  it('leaves a statement alone while Snowflake answers, and stops probing once nothing waits', async () => {
    const { probe, probed } = scripted([{ ok: true }]);
    const watch = new OutageWatch(probe, quick);
    let ended = false;
    const stop = watch.watch(() => (ended = true));
    while ((await probed()) < 3);
    stop();
    assert.equal(ended, false);
    assert.equal(watch.failingNow(), null);
  });

  it('does not probe for a statement that has not waited its grace', async () => {
    let probes = 0;
    const watch = new OutageWatch(() => {
      probes++;
      return Promise.resolve({ ok: false, reason: 'x' });
    }, { ...quick, graceMs: 60_000 });
    const stop = watch.watch(() => assert.fail('ended before its grace'));
    await new Promise((r) => setImmediate(r));
    stop();
    assert.equal(probes, 0);
  });
});

describe('probeEndpoint', () => {
  it('counts any HTTP answer but a gateway failure as reachable, and names refused connections', async () => {
    let status = 404;
    const server = createServer((_req, res) => res.writeHead(status).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const proxy = { useEnvProxy: false };
      assert.deepEqual(await probeEndpoint(url, proxy, 2_000), { ok: true });
      status = 302;
      assert.deepEqual(await probeEndpoint(url, proxy, 2_000), { ok: true });
      status = 503;
      assert.deepEqual(await probeEndpoint(url, proxy, 2_000), { ok: false, reason: 'HTTP 503' });
    } finally {
      await new Promise((r) => server.close(r));
    }
    const closed = `http://127.0.0.1:${await freePort()}`;
    assert.deepEqual(await probeEndpoint(closed, { useEnvProxy: false }, 2_000), { ok: false, reason: 'connection refused' });
  });

  it('fails on a gateway failure of the statement endpoint while the front page answers; a refusal there or a slow answer is Snowflake answering', async () => {
    let statementStatus = 200;
    let hangStatements = false;
    const hung: (() => void)[] = [];
    const server = createServer((req, res) => {
      if (req.method === 'HEAD' && req.url === '/') return void res.writeHead(200).end();
      if (req.method === 'POST' && req.url === '/queries/v1/query-request') {
        if (hangStatements) return void hung.push(() => res.writeHead(200).end());
        // Snowflake refuses a statement without a session with HTTP 200 success:false (or 401): an answer.
        return void res.writeHead(statementStatus, { 'content-type': 'application/json' }).end('{"success":false,"code":"390101"}');
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const proxy = { useEnvProxy: false };
      assert.deepEqual(await probeEndpoint(url, proxy, 2_000), { ok: true });
      statementStatus = 401;
      assert.deepEqual(await probeEndpoint(url, proxy, 2_000), { ok: true });
      for (const status of [502, 503, 504]) {
        statementStatus = status;
        assert.deepEqual(await probeEndpoint(url, proxy, 2_000), { ok: false, reason: `HTTP ${status} from the statement endpoint` });
      }
      statementStatus = 500;
      assert.deepEqual(await probeEndpoint(url, proxy, 2_000), { ok: true }, 'a 500 is Snowflake itself answering, not a gateway');
      hangStatements = true;
      assert.deepEqual(await probeEndpoint(url, proxy, 200), { ok: true }, 'whether the account answers is the front page\'s to say');
    } finally {
      for (const release of hung) release();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('watchLogin', () => {
  const timings = { graceMs: 0, intervalMs: 1, probeTimeoutMs: 1_000, strikes: 2 };

  it('ends a login after two failed checks in a row, once, with what they met', async () => {
    let probes = 0;
    const dead = await new Promise<{ reason: string }>((resolve) => {
      watchLogin(() => {
        probes++;
        return Promise.resolve({ ok: false, reason: 'connection refused' });
      }, timings, resolve);
    });
    assert.equal(dead.reason, 'connection refused');
    assert.equal(probes, 2);
  });

  it('stops checking at the first answer: a live host is left to the login\'s own timeout', async () => {
    let probes = 0;
    const answered = new Promise<void>((resolve) => {
      watchLogin(() => {
        probes++;
        if (probes === 2) setImmediate(resolve);
        return Promise.resolve(probes === 2 ? { ok: true } : { ok: false, reason: 'connection reset' });
      }, { ...timings, intervalMs: 0 }, () => assert.fail('a live host ended the login'));
    });
    await answered;
    // A further check would have been scheduled with a zero delay, ahead of this one.
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(probes, 2, 'no check after the answer');
  });

  it('checks nothing for a login that finishes within its grace', async () => {
    let probes = 0;
    const stop = watchLogin(() => {
      probes++;
      return Promise.resolve({ ok: false, reason: 'x' });
    }, { ...timings, graceMs: 60_000 }, () => assert.fail('ended'));
    stop();
    await new Promise((r) => setImmediate(r));
    assert.equal(probes, 0);
  });
});

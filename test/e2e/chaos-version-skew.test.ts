/**
 * Version skew between a shim and a hub. The handshake carries both versions; a hub refuses a shim it
 * cannot serve and says what to do, and the shim passes that on to the editor (as the answer to each
 * call, never a hang) and to its log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { WIRE_VERSION, checkHello, makeHello, type Hello } from '../../src/wire/hello.js';
import { cliPath } from '../helpers/paths.js';
import { INIT_PARAMS, cliEnv, rawLink } from '../helpers/harness.js';
import { ChaosHome } from './chaos-support.js';

test('the hub refuses a newer shim (run `snowmux hub --replace`) and an older one (upgrade), and closes the link', async (t) => {
  const rig = await ChaosHome.create(t);
  await rig.startHub();
  const socketPath = join(rig.home, 'hub.sock');
  for (const [wire, code, advice] of [
    // The hub to replace is this home's: the advice names it (without --home it would start one in ~/.snowmux).
    [WIRE_VERSION + 1, 'HUB_TOO_OLD', new RegExp(`Run \`snowmux hub --replace --home ${rig.home}\` to start the newer hub; editors stay connected`)],
    [0, 'SHIM_TOO_OLD', /Upgrade the snowmux your editor launches/],
  ] as const) {
    const link = await rawLink(t, socketPath, { hello: false });
    link.send(JSON.stringify({ ...makeHello({ role: 'shim', pid: process.pid }), wire, version: wire === 0 ? '0.0.1' : '9.9.9' }) + '\n');
    const refusal = await link.next();
    assert.equal(refusal.snowmux, 'refused');
    assert.equal(refusal.code, code);
    assert.match(String(refusal.message), advice);
    await once(link.socket, 'close');
  }
  // The hub is unharmed and still serves a shim of its own version.
  const ok = await rawLink(t, socketPath);
  const init = await ok.request(1, 'initialize', INIT_PARAMS);
  assert.ok(init.result);
});

test('a shim refused for version skew answers the editor\'s calls with the advice, logs it once, and starts no hub', async (t) => {
  const rig = await ChaosHome.create(t);
  // A hub of an older wire version, as the real hub answers a shim newer than itself.
  const hellos: Hello[] = [];
  const fake = createServer((socket) => {
    socket.once('data', (c: Buffer) => {
      const hello = JSON.parse(c.toString('utf8').split('\n')[0]!) as Hello;
      hellos.push(hello);
      socket.end(JSON.stringify(checkHello({ ...hello, wire: WIRE_VERSION + 1, version: '9.9.9' })) + '\n');
    });
  });
  await new Promise<void>((r) => fake.listen(join(rig.home, 'hub.sock'), r));
  t.after(() => fake.close());

  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', rig.home], { env: cliEnv({ SNOWMUX_SHIM_QUIET: '0' }), stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => shim.kill('SIGKILL'));
  let out = '';
  let err = '';
  shim.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const answers: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  shim.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      answers.push(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
      out = out.slice(nl + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const answerTo = async (id: number) => {
    for (;;) {
      const a = answers.find((x) => x.id === id);
      if (a) return a as { error?: { code: number; message: string; data?: { retryable?: boolean } } };
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  const first = await answerTo(1);
  assert.equal(first.error?.code, -32002);
  assert.match(first.error!.message, /older than this shim.*snowmux hub --replace/);
  assert.equal(first.error?.data?.retryable, false);
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }) + '\n');
  assert.match((await answerTo(2)).error!.message, /snowmux hub --replace/);
  shim.stdin.end();
  const [code] = await once(shim, 'exit');
  assert.equal(code, 0, 'the shim still exits when the editor closes stdin');
  assert.equal(err.match(/snowmux hub --replace/g)?.length, 1, `logged once:\n${err}`);
  assert.equal(hellos[0]?.wire, WIRE_VERSION, 'the shim said which version it speaks');
  assert.equal(existsSync(join(rig.home, 'hub-stderr.log')), false, 'a refusing hub is not a missing one: no hub was started');
  assert.ok(answers.every((a) => a.jsonrpc === '2.0'), 'stdout carried only JSON-RPC');
});

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
import { VERSION } from '../../src/version.js';
import { INIT_PARAMS, cliEnv, rawLink, runCli } from '../helpers/harness.js';
import { ChaosHome, outputMatches } from './chaos-support.js';

test('the hub refuses a newer shim (run `snowmux hub --replace`) and an older one (upgrade), closes the link, and status warns of it with the fix', async (t) => {
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
  // Status says so to the operator (the editors' calls fail while the hub itself looks healthy), with the fix.
  const status = await runCli(['status', '--home', rig.home]);
  assert.equal(status.code, 0, 'a warning: the hub still serves');
  const said = status.stdout.replace(/\s+/g, ' ');
  assert.match(said, /warning: a snowmux 0\.0\.1 shim was refused at \d\d:\d\d:\d\d UTC \[SHIM_TOO_OLD\].*its editor's calls fail \(2 shims refused since the hub started\)\. Upgrade the snowmux that editor launches/);
  const json = JSON.parse((await runCli(['status', '--home', rig.home, '--json'])).stdout) as { refusedShims: { count: number; last: { code: string; shimVersion: string } }; health: { warnings: string[] } };
  assert.deepEqual([json.refusedShims.count, json.refusedShims.last.code, json.refusedShims.last.shimVersion], [2, 'SHIM_TOO_OLD', '0.0.1']);
  assert.ok(!JSON.stringify(json.refusedShims).includes(rig.home), 'no path of the hub in what a key holder sees too');
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
  // The advice names this shim's own snowmux (a bare `snowmux` may be an older install first on PATH).
  const ownCommand = `${process.execPath} ${cliPath} hub --replace --home ${rig.home}`;
  assert.ok(first.error!.message.includes(`older than this shim (snowmux 9.9.9). Run \`${ownCommand}\` (the snowmux this editor launches) to start the newer hub`), first.error!.message);
  assert.equal(first.error?.data?.retryable, false);
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }) + '\n');
  assert.ok((await answerTo(2)).error!.message.includes(ownCommand));
  shim.stdin.end();
  const [code] = await once(shim, 'exit');
  // It never served: exit 1, as for every shim that could not (operations.md), once the editor leaves.
  assert.equal(code, 1, 'the shim still exits when the editor closes stdin, with 1');
  assert.equal(err.split(ownCommand).length - 1, 1, `logged once:\n${err}`);
  assert.equal(hellos[0]?.wire, WIRE_VERSION, 'the shim said which version it speaks');
  assert.equal(existsSync(join(rig.home, 'hub-stderr.log')), false, 'a refusing hub is not a missing one: no hub was started');
  assert.ok(answers.every((a) => a.jsonrpc === '2.0'), 'stdout carried only JSON-RPC');
});

test('hub --replace from an older snowmux refuses to downgrade a newer hub (version or link version) unless --allow-downgrade says so', async (t) => {
  const rig = await ChaosHome.create(t);
  let welcome = { version: '99.0.0', wire: WIRE_VERSION };
  const ops: string[] = [];
  const fake = createServer((socket) => {
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('utf8');
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, at)) as { snowmux?: string; op?: string; id?: number };
        buffered = buffered.slice(at + 1);
        if (line.snowmux === 'hello') socket.write(JSON.stringify({ snowmux: 'welcome', ...welcome, hubPid: 4242, sessionId: 'control' }) + '\n');
        else if (line.op) {
          ops.push(line.op);
          socket.write(JSON.stringify({ id: line.id, ok: true, result: { releasing: true, pid: 4242 } }) + '\n');
        }
      }
    });
  });
  await new Promise<void>((r) => fake.listen(join(rig.home, 'hub.sock'), r));
  t.after(() => fake.close());

  for (const newer of [{ version: '99.0.0', wire: WIRE_VERSION }, { version: '0.0.1', wire: WIRE_VERSION + 1 }]) {
    welcome = newer;
    const refused = rig.spawnCli(['hub', '--replace']);
    // Without the refusal it takes over and runs on: that must fail the test, not hang it.
    const exited = refused.exited.then((code) => `exit ${code}`);
    const outcome = await outputMatches(refused.proc, refused.output, /took over/).then(() => 'took over', () => exited);
    assert.equal(outcome, 'exit 1', refused.output());
    assert.match(refused.output(), /The running hub \(pid 4242\) is newer than this snowmux .*replacing it would downgrade it.*--allow-downgrade/s);
    assert.match(refused.output(), newer.version === '99.0.0' ? /snowmux 99\.0\.0/ : new RegExp(`link version ${WIRE_VERSION + 1}`));
    assert.deepEqual(ops, [], 'the newer hub was not asked to hand over');
  }

  welcome = { version: '99.0.0', wire: WIRE_VERSION };
  const rollback = rig.spawnCli(['hub', '--replace', '--allow-downgrade']);
  await outputMatches(rollback.proc, rollback.output, /took over from hub pid 4242[\s\S]*listening on/);
  // Its status is asked first (the ports it serves, whether a service manager runs it), then it is told a
  // successor is coming (it serves on until that one is ready), then the hand-over.
  assert.deepEqual(ops, ['status', 'prepare-replace', 'replace']);
  const stop = await runCli(['stop', '--home', rig.home]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(await rollback.exited, 0, rollback.output());
});

test('a shim of another snowmux on the same link version is served, and status, its health and the shim\'s log say so with what to do', async (t) => {
  const rig = await ChaosHome.create(t);
  await rig.startHub();
  const socketPath = join(rig.home, 'hub.sock');
  // Same link version, other snowmux versions: served (working calls), as before.
  const sessions: string[] = [];
  for (const [version, client] of [['9.9.9', 'newer-editor'], ['0.0.1', 'older-editor']] as const) {
    const link = await rawLink(t, socketPath, { hello: false });
    link.send(JSON.stringify({ ...makeHello({ role: 'shim', pid: process.pid }), version }) + '\n');
    const welcome = await link.next();
    assert.equal(welcome.snowmux, 'welcome');
    sessions.push(String(welcome.sessionId).slice(0, 8));
    const init = await link.request(1, 'initialize', { ...INIT_PARAMS, clientInfo: { name: client, version: '1' } });
    assert.ok(init.result, 'served');
  }
  const status = await runCli(['status', '--home', rig.home]);
  assert.equal(status.code, 0, 'a warning, not unhealthy');
  const text = status.stdout.replace(/\s+/g, ' ');
  assert.ok(text.includes(`1 session (${sessions[0]} (newer-editor)) came through a snowmux 9.9.9 shim, newer than this hub (${VERSION})`), status.stdout);
  assert.ok(text.includes(`Run \`snowmux hub --replace --home ${rig.home}\` with the newer snowmux`), status.stdout);
  assert.ok(text.includes(`1 session (${sessions[1]} (older-editor)) came through a snowmux 0.0.1 shim, older than this hub (${VERSION})`), status.stdout);
  const json = JSON.parse((await runCli(['status', '--home', rig.home, '--json'])).stdout) as { health: { warnings: string[] } };
  assert.equal(json.health.warnings.filter((w) => w.includes('came through a snowmux')).length, 2);

  // The shim side: a hub of another snowmux (same link version) is said once in the shim's log, and calls work.
  const other = await ChaosHome.create(t);
  const fake = createServer((socket) => {
    let buf = '';
    socket.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as { snowmux?: string; id?: unknown; method?: string; n?: number };
        buf = buf.slice(nl + 1);
        if (msg.snowmux === 'hello') socket.write(JSON.stringify({ snowmux: 'welcome', wire: WIRE_VERSION, version: '0.0.1', hubPid: 4242, sessionId: 's1' }) + '\n');
        else if (msg.snowmux === 'ping') socket.write(JSON.stringify({ snowmux: 'pong', n: msg.n }) + '\n');
        else if (msg.id !== undefined) socket.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: {} }) + '\n');
      }
    });
  });
  await new Promise<void>((r) => fake.listen(join(other.home, 'hub.sock'), r));
  t.after(() => fake.close());
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', other.home], { env: cliEnv({ SNOWMUX_SHIM_QUIET: '0' }), stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => shim.kill('SIGKILL'));
  let err = '';
  let out = '';
  shim.stderr.on('data', (c: Buffer) => (err += c.toString()));
  shim.stdout.on('data', (c: Buffer) => (out += c.toString()));
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) + '\n');
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) + '\n');
  await outputMatches(shim, () => out, /"id":2/);
  shim.stdin.end();
  await once(shim, 'exit');
  const said = `hub pid 4242 runs snowmux 0.0.1, older than this shim (${VERSION}): calls get 0.0.1's behaviour. Run \`${process.execPath} ${cliPath} hub --replace --home ${other.home}\` (the snowmux this editor launches) to move the hub to it`;
  assert.equal(err.split(said).length - 1, 1, `said once:\n${err}`);
});

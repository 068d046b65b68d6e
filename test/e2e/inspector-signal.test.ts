/**
 * SIGUSR1 does not open Node's inspector in any snowmux process. Node's default action for it listens on
 * loopback TCP with no authentication for the rest of the process's life: another local user could run
 * code as the hub (or an editor's shim) with its credentials. The process ignores it and goes on serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, freePort, INIT_PARAMS, killAtEnd, runCli, startHub, tempHome, type Cleanup } from '../helpers/harness.js';

/** `snowmux <args>` under a node told which port its inspector would open on: a free one, not 9229. */
function spawnWithInspectorPort(t: Cleanup, port: number, args: string[]): ChildProcessWithoutNullStreams & { stderrText: () => string } {
  const proc = spawn(process.execPath, [`--inspect-port=127.0.0.1:${port}`, cliPath, ...args], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, proc);
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return Object.assign(proc, { stderrText: () => err });
}

/** Resolves with the stderr text once it matches `pattern` (rejects if the process exits first). */
function stderrMatching(proc: ChildProcessWithoutNullStreams & { stderrText: () => string }, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!pattern.test(proc.stderrText())) return;
      proc.stderr.off('data', check);
      resolve(proc.stderrText());
    };
    proc.stderr.on('data', check);
    proc.once('exit', (code) => reject(new Error(`exited (${code}) before stderr matched ${pattern}:\n${proc.stderrText()}`)));
    check();
  });
}

/** The JSON-RPC answer with this id, read from the process's stdout. */
function answerTo(proc: ChildProcessWithoutNullStreams, id: number): Promise<Record<string, unknown>> {
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      for (const line of out.split('\n').slice(0, -1)) {
        const message = JSON.parse(line) as Record<string, unknown>;
        if (message['id'] !== id) continue;
        proc.stdout.off('data', onData);
        resolve(message);
      }
    };
    proc.stdout.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`exited (${code}) before answering request ${id}`)));
  });
}

function request(proc: ChildProcessWithoutNullStreams, id: number, method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const answer = answerTo(proc, id);
  proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
  return answer;
}

/** Whether anything accepts a TCP connection on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Sends SIGUSR1 and waits for what it did: the inspector's "Debugger listening" line, or snowmux's
 * "SIGUSR1 ignored". Then nothing listens on the inspector's port.
 */
async function signalAndCheck(proc: ChildProcessWithoutNullStreams & { stderrText: () => string }, port: number): Promise<void> {
  proc.kill('SIGUSR1');
  const stderr = await stderrMatching(proc, /SIGUSR1 ignored|Debugger listening/);
  assert.doesNotMatch(stderr, /Debugger listening/);
  assert.match(stderr, /SIGUSR1 ignored: snowmux does not open Node's inspector/);
  assert.equal(await listening(port), false, `something listens on the inspector port ${port}`);
  assert.equal(proc.exitCode, null, 'the process lives on');
}

test('SIGUSR1 to a hub opens no inspector; the hub says so in hub.log, once, and goes on serving', async (t) => {
  const home = tempHome(t);
  const port = await freePort();
  const hub = spawnWithInspectorPort(t, port, ['hub', '--home', home]);
  await stderrMatching(hub, /listening on/);
  await signalAndCheck(hub, port);
  hub.kill('SIGUSR1');
  // SIGHUP's own line is written after the second SIGUSR1 was handled (signals are handled in order).
  hub.kill('SIGHUP');
  await stderrMatching(hub, /SIGHUP: configuration reloaded/);
  const status = await runCli(['status', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  // hub.log is written asynchronously; a stopped hub has flushed it.
  const exited = once(hub, 'exit');
  hub.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null]);
  const warned = readFileSync(join(home, 'hub.log'), 'utf8').split('\n').filter((l) => l.includes('SIGUSR1 ignored'));
  assert.equal(warned.length, 1, warned.join('\n'));
  assert.equal((JSON.parse(warned[0]!) as { level: number }).level, 40, 'a warn line');
  assert.equal(hub.stderrText().match(/SIGUSR1 ignored/g)?.length, 1, 'said once on stderr too');
});

test('SIGUSR1 to an editor\'s shim opens no inspector, and the shim goes on forwarding', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const port = await freePort();
  const shim = spawnWithInspectorPort(t, port, ['shim', '--home', home]);
  const init = await request(shim, 1, 'initialize', INIT_PARAMS);
  assert.ok(init['result'], JSON.stringify(init));
  await signalAndCheck(shim, port);
  assert.deepEqual((await request(shim, 2, 'ping'))['result'], {});
});

test('SIGUSR1 to `snowmux stdio` opens no inspector, and it goes on serving', async (t) => {
  const home = tempHome(t);
  const port = await freePort();
  const stdio = spawnWithInspectorPort(t, port, ['stdio', '--home', home]);
  const init = await request(stdio, 1, 'initialize', INIT_PARAMS);
  assert.ok(init['result'], JSON.stringify(init));
  await signalAndCheck(stdio, port);
  assert.deepEqual((await request(stdio, 2, 'ping'))['result'], {});
});

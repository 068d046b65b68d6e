/**
 * Only the owner reaches the hub. A home path too long for a Unix socket puts the socket in the user's
 * private runtime directory; another local user who creates that directory (and a socket in it) first
 * must receive nothing: the shim verifies directory and socket before it sends its hello.
 * Runs as root (it creates a second local user); skipped with a message otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, defer, INIT_PARAMS, tempHome } from '../helpers/harness.js';
import { socketPathFor } from '../../src/wire/home.js';

const RIVAL = 'smxrival';
const asRoot = process.getuid?.() === 0;

function ensureRival(): boolean {
  try {
    execFileSync('id', ['-u', RIVAL], { stdio: 'ignore' });
    return true;
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', RIVAL], { stdio: 'ignore' });
    return false;
  }
}

test('another local user racing for the socket receives nothing; the editor is told why', { skip: !asRoot && 'needs root to create a second local user (CI runs as root)' }, async (t) => {
  const existed = ensureRival();
  defer(t, () => {
    if (!existed) execFileSync('userdel', [RIVAL], { stdio: 'ignore' });
  });
  // A shared temp directory, sticky and world-writable like /tmp.
  const shared = mkdtempSync(join(tmpdir(), 'smx-shared-'));
  chmodSync(shared, 0o1777);
  defer(t, () => rmSync(shared, { recursive: true, force: true }));
  const base = tempHome(t);
  const home = join(base, 'a-very-long-directory-name-'.repeat(4));
  const env = cliEnv({ SNOWMUX_RUNTIME_BASE: shared });
  const socketPath = socketPathFor(home, env);
  assert.equal(dirname(dirname(socketPath)), shared, 'the long home moves the socket to the runtime directory');

  // The rival creates the victim's runtime directory (open to all) and listens where the socket will be.
  const rivalScript = `
    const fs = require('node:fs'); const net = require('node:net');
    fs.mkdirSync(${JSON.stringify(dirname(socketPath))}, { mode: 0o777 }); fs.chmodSync(${JSON.stringify(dirname(socketPath))}, 0o777);
    net.createServer((s) => s.on('data', (d) => process.stdout.write('GOT ' + d.length + '\\n'))).listen(${JSON.stringify(socketPath)}, () => process.stdout.write('READY\\n'));`;
  const rival = spawn('runuser', ['-u', RIVAL, '--', process.execPath, '-e', rivalScript], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  defer(t, async () => {
    // runuser does not pass a SIGKILL on to its child: end the whole process group.
    const exited = rival.exitCode === null && rival.signalCode === null ? once(rival, 'exit') : null;
    try {
      process.kill(-rival.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await exited;
    rival.stdout.destroy();
    rival.stderr.destroy();
  });
  let rivalOut = '';
  let rivalErr = '';
  rival.stderr.on('data', (c: Buffer) => (rivalErr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    rival.stdout.on('data', (c: Buffer) => {
      rivalOut += c.toString();
      if (rivalOut.includes('READY')) resolve();
    });
    rival.once('exit', (code) => reject(new Error(`rival exited ${code}: ${rivalErr}`)));
  });

  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: { ...env, SNOWFLAKE_PASSWORD: 'victim-secret' }, stdio: ['pipe', 'pipe', 'pipe'] });
  defer(t, async () => {
    if (shim.exitCode === null && shim.signalCode === null) {
      shim.kill('SIGKILL');
      await once(shim, 'exit');
    }
  });
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  let out = '';
  const answer = await new Promise<Record<string, unknown>>((resolve) => {
    shim.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
    });
  });
  const error = answer.error as { message: string } | undefined;
  assert.ok(error, JSON.stringify(answer));
  assert.match(error.message, /belongs to another user|open to other users/);
  assert.match(error.message, /rm -rf|chmod 700/);
  assert.equal(rivalOut.includes('GOT'), false, 'the rival received bytes from the shim');
  // No hub was started into the rival's directory either.
  assert.equal(existsSync(join(home, 'hub.pid')), false);
});

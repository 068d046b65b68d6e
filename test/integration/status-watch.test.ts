/**
 * `snowmux status --watch` follows the hub's `/events` (issue 10): a call redraws the screen at once —
 * with a re-read period of an hour, nothing else could have — within 80×24 (piped, as here, each frame
 * is plain text under a dated header; the terminal's in-place drawing is test/unit/watch-writer's); a hub restart is waited through with a visible state, and the watch comes
 * back on the new hub by itself. On the socket without an HTTP listener it polls, as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, connectClient, defer, freePort, runCli, startHub, tempHome, type Cleanup } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import { PLAIN_FRAME_HEADER as HEADER } from '../../src/cli/watch-writer.js';

interface Watcher {
  proc: ChildProcess;
  /** Everything written so far. */
  output(): string;
  /**
   * Resolves with the first frame written after `from` (an offset in output()) that matches, without its
   * header line.
   */
  frame(what: RegExp, from: number): Promise<{ frame: string; end: number }>;
}

/** Starts the watch as a user would, in its own process; ended with the test. */
function watch(t: Cleanup, args: string[], env: Record<string, string> = {}): Watcher {
  const proc = spawn(process.execPath, [cliPath, 'status', '--watch', ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(proc, 'exit');
  defer(t, async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await exited;
    }
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    for (const w of [...waiters]) w();
  });
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return {
    proc,
    output: () => out,
    frame(what, from) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => {
          waiters.delete(look);
          reject(new Error(`no frame matching ${what} after offset ${from} within 20 s; output since:\n${out.slice(from)}\nstderr: ${err}`));
        }, 20_000);
        function look(): void {
          // Piped, the watch writes plain frames, each under a dated header line; a write (< 4 KiB) is
          // never split, so the last frame read is whole too.
          const starts: number[] = [];
          for (let at = out.indexOf(HEADER, from); at >= 0; at = out.indexOf(HEADER, at + 1)) starts.push(at);
          for (const [i, at] of starts.entries()) {
            const end = starts[i + 1] ?? out.length;
            const frame = out.slice(out.indexOf('\n', at) + 1, end).replace(/\n$/, '');
            if (what.test(frame)) {
              clearTimeout(deadline);
              waiters.delete(look);
              resolve({ frame, end });
              return;
            }
          }
        }
        waiters.add(look);
        look();
      });
    },
  };
}

function assertFits80x24(frame: string): void {
  const lines = frame.split('\n');
  assert.ok(lines.length <= 24, `${lines.length} rows:\n${lines.join('\n')}`);
  for (const l of lines) assert.ok(l.length <= 80, `wider than 80: ${JSON.stringify(l)}`);
}

test('status --watch --url follows /events: a call redraws at once, a restart is waited through and the watch resumes on the new hub', async (t) => {
  const home = tempHome(t);
  const port = await freePort();
  // The watcher sees every identity's calls, as an operator's role does (a key holder sees only their own otherwise).
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:${port}"\n\n[roles.ops]\nidentities = ["watcher"]\nquery_history = "all"\n`);
  let hub = await startHub(t, home);
  const created = await runCli(['keys', 'create', '--identity', 'watcher', '--home', home]);
  assert.equal(created.code, 0, created.stderr);
  const key = created.stdout.trim();

  // An hour between re-reads: every redraw below is one an event caused.
  const w = watch(t, ['--url', `http://127.0.0.1:${port}`, '--interval', '3600000'], { SNOWMUX_KEY: key });
  const live = await w.frame(/^live: redrawn on each hub event \(http:\/\/127\.0\.0\.1:\d+\/events\)$/m, 0);
  assertFits80x24(live.frame);
  assert.match(live.frame, new RegExp(`^snowmux hub \\S+  pid ${hub.pid}  up \\S+  RUNNING`, 'm'));
  assert.match(live.frame, /^sessions \(0\)$/m);
  assert.ok(!w.output().includes('\x1b'), 'piped: plain frames, no cursor codes');

  const editor = await connectClient(t, { home, kind: 'v2-legacy', name: 'watched-editor' });
  await editor.callTool('execute_query', { query: 'SELECT 42 AS answer' });
  const after = await w.frame(/execute_query\s+ok/, live.end);
  assertFits80x24(after.frame);
  assert.match(after.frame, /^sessions \(1\)$/m);
  assert.match(after.frame, /watched-editor/);
  assert.match(after.frame, /^calls 1 /m);

  // The hub goes away: the watch says it is waiting, and keeps at it.
  await editor.close();
  assert.equal(await hub.stop(), 0);
  const waiting = await w.frame(new RegExp(`waiting for the hub[^]*No hub answered at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`), after.end);
  assertFits80x24(waiting.frame);
  assert.match(waiting.frame, new RegExp(`last seen: hub \\S+ pid ${hub.pid}`));
  assert.equal(w.proc.exitCode, null, 'still watching');

  // A new hub on the same address: the watch comes back by itself, live again.
  const old = hub.pid;
  hub = await startHub(t, home);
  assert.notEqual(hub.pid, old);
  const back = await w.frame(new RegExp(`pid ${hub.pid} .*\\n(?:.*\\n)?live: redrawn on each hub event`), waiting.end);
  assertFits80x24(back.frame);
  const editor2 = await connectClient(t, { home, kind: 'v2-modern', name: 'second-editor' });
  await editor2.callTool('list_databases', {});
  await w.frame(/list_databases\s+ok/, back.end);
  await editor2.close();
});

test('status --watch on the socket of a hub without an HTTP listener polls, and says so', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const w = watch(t, ['--home', home, '--interval', '200']);
  const first = await w.frame(/^re-read every 0\.2s \(no \/events to follow/m, 0);
  assertFits80x24(first.frame);
  const editor = await connectClient(t, { home, kind: 'v2-legacy', name: 'polled-editor' });
  await editor.callTool('execute_query', { query: 'SELECT 1' });
  await w.frame(/execute_query\s+ok/, first.end);
  await editor.close();
});

test('status --watch on a home no hub has made yet waits for one, says why, and follows it once it starts', async (t) => {
  const home = join(tempHome(t), 'not-yet');
  const w = watch(t, ['--home', home, '--interval', '200']);
  const waiting = await w.frame(/No snowmux hub has run in/, 0);
  assert.equal(w.proc.exitCode, null, 'the watch is still running');
  await startHub(t, home);
  await w.frame(/^re-read every 0\.2s/m, waiting.end);
});

test('status --watch on the socket follows the local hub\'s /events when its HTTP listener is usable (auth off on loopback)', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_auth = false\n');
  await startHub(t, home);
  const w = watch(t, ['--home', home, '--interval', '3600000']);
  const live = await w.frame(/^live: redrawn on each hub event \(http:\/\/127\.0\.0\.1:\d+\/events\)$/m, 0);
  const editor = await connectClient(t, { home, kind: 'v2-legacy', name: 'socket-editor' });
  await editor.callTool('execute_query', { query: 'SELECT 1' });
  await w.frame(/execute_query\s+ok/, live.end);
  await editor.close();
});

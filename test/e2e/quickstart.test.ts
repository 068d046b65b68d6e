/**
 * The README's quick start, `npm run demo` (examples/quickstart.ts), as a new user runs it: it succeeds on a
 * fresh machine and leaves no hub and no directory behind; and with SNOWMUX_HOME pointing at a home whose
 * hub already serves editors, it joins that hub and leaves it running instead of stopping it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, defer, killEveryHub, runCli, startHub, tempHome } from '../helpers/harness.js';
import { repoRoot } from '../helpers/paths.js';

const demo = join(repoRoot, 'dist', 'examples', 'quickstart.js');

async function runDemo(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const proc = spawn(process.execPath, [demo], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, out };
}

function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('npm run demo on a fresh machine: both clients share one hub, the write is refused, and nothing is left behind', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const r = await runDemo({ PATH: process.env.PATH ?? '', HOME: userHome });
  const home = /home: (\S+)\)/.exec(r.out)?.[1];
  assert.ok(home, r.out);
  defer(t, () => killEveryHub(home));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /statement type DELETE is not allowed/);
  assert.match(r.out, /sessions \(2\)/);
  assert.match(r.out, /is stopping/);
  assert.equal(existsSync(home), false, 'the demo removes its home');
  // The stopped hub drains and exits; wait for that (bounded), then nothing may mention the home.
  for (const deadline = Date.now() + 10_000; processesMentioning(home).length > 0 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(processesMentioning(home), [], 'no hub or shim of the demo is left');
});

test('npm run demo with SNOWMUX_HOME at a running hub joins it and leaves it running (it used to stop your hub)', async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home);
  const r = await runDemo({ ...cliEnv(), SNOWMUX_HOME: home });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /A hub is already running in .*: the demo joins it and leaves it running/);
  assert.doesNotMatch(r.out, /is stopping/);
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, hub.pid, 'the same hub still serves');
  assert.equal(await hub.stop(), 0);
});

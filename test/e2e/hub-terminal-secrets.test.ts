/**
 * What the hub writes where it was started (a terminal; for a hub a shim started, <home>/hub-stderr.log) is
 * scrubbed of the hub's secrets as hub.log is: an uncaught error quoting one is shown without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startHub, tempHome } from '../helpers/harness.js';

test("the hub's terminal lines keep none of its secrets: an uncaught error quoting them is scrubbed there as in hub.log", async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), ['[profiles.other]', 'account = "acme-x1"', 'user = "SVC"', "password = 'S3CR3T-PW-4242'", ''].join('\n'), { mode: 0o600 });
  // A fault from outside the code, to reach the uncaught-exception handler: thrown once the hub said it listens.
  const preload = join(home, 'throw-after-listening.cjs');
  writeFileSync(
    preload,
    [
      'const write = process.stderr.write.bind(process.stderr);',
      'process.stderr.write = (chunk, ...rest) => {',
      "  if (String(chunk).includes('listening on')) setImmediate(() => { throw new Error('boom S3CR3T-PW-4242 via PROXY-PW-6363 tail'); });",
      '  return write(chunk, ...rest);',
      '};',
      '',
    ].join('\n'),
  );
  const hub = await startHub(t, home, [], { NODE_OPTIONS: `--require ${preload}`, HTTPS_PROXY: 'http://proxyuser:PROXY-PW-6363@127.0.0.1:9' });
  const said = 'snowmux hub: uncaught exception (a snowmux bug; the hub goes on): boom [REDACTED] via [REDACTED] tail\n';
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (hub.stderr().includes('uncaught exception')) resolve();
    };
    hub.proc.stderr!.on('data', check);
    hub.proc.once('exit', (code) => reject(new Error(`the hub exited (${code}): ${hub.stderr()}`)));
    check();
  });
  assert.ok(hub.stderr().includes(said), hub.stderr());
  for (const secret of ['S3CR3T-PW-4242', 'PROXY-PW-6363']) assert.equal(hub.stderr().includes(secret), false, secret);
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(await hub.stop(), 0);
  const log = readFileSync(join(home, 'hub.log'), 'utf8');
  assert.match(log, /boom \[REDACTED\] via \[REDACTED\] tail/);
  assert.match(hub.stderr(), /snowmux hub: stopped\n/);
});

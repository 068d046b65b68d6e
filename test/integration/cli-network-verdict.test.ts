/**
 * A CLI network check ends with a verdict: `doctor` and `status --url` against an address that accepts
 * the connection and closes it (Node 20's fetch then never settles) or that never answers print a failure
 * and exit 1, never nothing and 0 ("healthy", "all checks passed").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { defer, runCli, tempHome, type Cleanup } from '../helpers/harness.js';

type Peer = 'accepts-and-closes' | 'never-answers' | 'closes-after-request';

async function listen(t: Cleanup, peer: Peer): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    if (peer === 'accepts-and-closes') s.destroy();
    // Reads the request, then closes without a word: fetch always sees this one (undici's "other side closed").
    else if (peer === 'closes-after-request') s.once('data', () => s.destroy()).on('error', () => {});
    else sockets.add(s.on('close', () => sockets.delete(s)).on('error', () => {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function homeWithAccount(t: Cleanup, accessUrl: string): string {
  const home = tempHome(t);
  mkdirSync(join(home, 'sf'), { mode: 0o700 });
  writeFileSync(join(home, 'config.toml'), `[hub]\ndefault_profile = "x"\n[profiles.x]\naccount = "fakeacct"\nuser = "alice"\npassword = "pw-123456"\naccess_url = "${accessUrl}"\n`, { mode: 0o600 });
  return home;
}

for (const peer of ['accepts-and-closes', 'never-answers', 'closes-after-request'] as const) {
  test(`status --url and doctor fail with a message, exit 1, when the address ${peer}`, async (t) => {
    const url = await listen(t, peer);
    const home = homeWithAccount(t, url);
    const env = { SNOWMUX_KEY: 'x', SNOWFLAKE_HOME: join(home, 'sf') };
    const [status, statusJson, doctor, doctorJson] = await Promise.all([
      runCli(['status', '--url', url], env),
      runCli(['status', '--url', url, '--json'], env),
      runCli(['doctor', '--home', home], env),
      runCli(['doctor', '--home', home, '--json'], env),
    ]);
    // A closed connection usually leaves Node 20's fetch waiting (then the 5 s bound speaks), but now and then
    // it sees the reset or undici's "other side closed" (CI, twice): each is a verdict that names what happened.
    const closed = 'the connection was closed before any answer';
    const why = { 'accepts-and-closes': `(?:no answer within 5 s|${closed}, (?:ECONNRESET|UND_ERR_SOCKET))`, 'never-answers': 'no answer within 5 s', 'closes-after-request': `${closed}, (?:ECONNRESET|UND_ERR_SOCKET)` }[peer];
    const doctorWhy = { 'accepts-and-closes': `(?:no answer within 5 s|${closed})`, 'never-answers': 'no answer within 5 s', 'closes-after-request': closed }[peer];
    assert.equal(status.code, 1, `status: ${status.stdout}${status.stderr}`);
    assert.match(status.stderr, new RegExp(`No hub answered at http://127\\.0\\.0\\.1:\\d+ \\(${why}\\)`));
    assert.equal(statusJson.code, 1);
    assert.equal((JSON.parse(statusJson.stdout) as { running: boolean }).running, false);

    assert.equal(doctor.code, 1, `doctor: ${doctor.stdout}${doctor.stderr}`);
    assert.match(doctor.stdout, new RegExp(`✗ reach x[\\s\\S]*${doctorWhy}`));
    assert.equal(doctorJson.code, 1);
    const reach = (JSON.parse(doctorJson.stdout) as { check: string; status: string }[]).find((c) => c.check === 'reach x');
    assert.equal(reach?.status, 'fail');
  });
}

/**
 * A hello with wrongly typed fields is refused with a reason and leaves no session behind: a session
 * built from it would outlive its link and make `snowmux stop` wait its whole grace period.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { connectClient, runCli, startHub, tempHome, defer, type Cleanup } from '../helpers/harness.js';

async function sendHello(t: Cleanup, sock: string, hello: Record<string, unknown>): Promise<Record<string, unknown>> {
  const socket = connect(sock);
  defer(t, () => socket.destroy());
  await once(socket, 'connect');
  socket.write(JSON.stringify(hello) + '\n');
  let buf = '';
  for await (const chunk of socket) {
    buf += (chunk as Buffer).toString('utf8');
    const nl = buf.indexOf('\n');
    if (nl >= 0) return JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
  }
  throw new Error(`hub closed without an answer; got ${JSON.stringify(buf)}`);
}

test('malformed hellos are refused field by field and leave no session; stop does not wait for them', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nshutdown_grace_ms = 30000\n', { mode: 0o600 });
  const hub = await startHub(t, home);
  const sock = join(home, 'hub.sock');
  const base = { snowmux: 'hello', wire: 1, version: '0.1.0', role: 'shim', pid: process.pid };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ caps: 'drain-ack' }, /caps/],
    [{ env: { SNOWFLAKE_PASSWORD: 12 } }, /env\.SNOWFLAKE_PASSWORD/],
    [{ env: 'SNOWFLAKE_USER=x' }, /env/],
    [{ profile: ['dev'] }, /profile/],
    [{ parent: 1 }, /parent/],
    [{ pid: 'me' }, /pid/],
  ];
  for (const [patch, reason] of cases) {
    const answer = await sendHello(t, sock, { ...base, ...patch });
    assert.equal(answer.snowmux, 'refused', JSON.stringify(answer));
    assert.equal(answer.code, 'BAD_HELLO');
    assert.match(String(answer.message), reason);
  }
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { sessions: unknown[] };
  assert.equal(status.sessions.length, 0, JSON.stringify(status.sessions));
  const started = Date.now();
  const stop = await runCli(['stop', '--home', home]);
  assert.equal(stop.code, 0, stop.stderr);
  // No session to drain: stop returns well before a 30 s grace period would end.
  assert.ok(Date.now() - started < 20_000);
  if (hub.proc.exitCode === null) await once(hub.proc, 'exit');
});

// Editor configs carry "" placeholders, and empty variables count as unset (docs/configuration.md). The shim
// sent SNOWMUX_PROFILE="" as an empty profile name (and SNOWMUX_CONFIG="" as the editor's working directory),
// and the hub refused the hello blaming the installation; SNOWMUX_LOG_LEVEL="" stopped the hub at start.
test('empty SNOWMUX_PROFILE, SNOWMUX_CONFIG and SNOWMUX_LOG_LEVEL count as unset; a hello with an empty profile is told so plainly', async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home, [], { SNOWMUX_LOG_LEVEL: '' });
  const empty = { SNOWMUX_PROFILE: '', SNOWMUX_CONFIG: '', SNOWMUX_LOG_LEVEL: '' };
  for (const command of ['shim', 'stdio'] as const) {
    const client = await connectClient(t, { home, kind: 'v2-legacy', command, env: empty });
    const r = await client.callTool('execute_query', { query: 'SELECT 1 AS ONE' });
    assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[1]], command);
    await client.close();
  }
  for (const [patch, reason] of [[{ profile: '' }, /an empty profile name/], [{ config: '' }, /an empty config file path/]] as const) {
    const answer = await sendHello(t, join(home, 'hub.sock'), { snowmux: 'hello', wire: 1, version: '0.1.0', role: 'shim', pid: process.pid, ...patch });
    assert.equal(answer.code, 'BAD_HELLO');
    assert.match(String(answer.message), reason);
    assert.doesNotMatch(String(answer.message), /same snowmux installation/);
  }
  assert.equal(hub.proc.exitCode, null, hub.stderr());
});

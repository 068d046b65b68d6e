/**
 * No CLI command prints an API key whole, whatever path it takes there: an argument typed in the wrong
 * place, a path, an environment or config value, a hub's answer, a log line. Only the new key `keys create`
 * and `keys rotate` show, once, on stdout. Before, `keys create --identity <key>`, `setup <key>` and
 * `stop --home <key>` (among others) quoted it back whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { defer, runCli, tempHome } from '../helpers/harness.js';

const SECRET = 'Pasted0Secret0Of0The0Key0xyz';
const KEY = `smx_0123456789ab_${SECRET}`;

test('every CLI command hides an API key it would print (argument, path, env, config, hub answer, log), and keys create still shows its new key once', async (t) => {
  const home = tempHome(t);
  // A hub's HTTP face that quotes the key it was sent back in its refusal and in its answers.
  const server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `refused ${auth.replace(/^Bearer /, '')} (for ${KEY}).` }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(t, () => new Promise<void>((r) => server.close(() => r())));
  const hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A log line that holds a key (a client sent one where a name was expected).
  writeFileSync(join(home, 'hub.log'), `${JSON.stringify({ level: 30, time: Date.now(), msg: `client named ${KEY} connected` })}\n`);
  const shapes: { args: string[]; env?: Record<string, string> }[] = [
    { args: ['keys', 'create', '--identity', KEY, '--home', home] },
    { args: ['keys', 'create', '--identity', 'bob', '--expires', KEY, '--home', home] },
    { args: ['keys', 'revoke', KEY, '--home', home] },
    { args: ['keys', 'rotate', KEY, '--home', home] },
    { args: ['keys', 'rotate', 'abc', '--overlap', KEY, '--home', home] },
    { args: ['keys', KEY, '--home', home] },
    { args: ['setup', KEY] },
    { args: ['setup', 'claude-code', '--profile', KEY, '--home', home] },
    { args: ['stop', '--home', join(home, KEY)] },
    { args: ['status', '--home', join(home, KEY)] },
    { args: ['reload', '--home', join(home, KEY)] },
    { args: ['status', '--url', KEY] },
    { args: ['status', '--url', `${hubUrl}/`], env: { SNOWMUX_KEY: KEY } },
    { args: ['status', '--url', `${hubUrl}/`, '--json'], env: { SNOWMUX_KEY: KEY } },
    { args: ['status', '--url', `${hubUrl}/`, '--key-file', KEY] },
    { args: ['doctor', '--home', home, '--profile', KEY], env: { SNOWMUX_KEY: KEY } },
    { args: ['logs', '--home', home] },
    { args: ['logs', '--home', home, '--level', KEY] },
    { args: ['audit', 'verify', KEY] },
    { args: ['service', 'install', 'systemd', '--print', '--http', KEY, '--home', home] },
    { args: ['shim', '--url', `${hubUrl}/${KEY}`, '--home', home] },
    { args: ['shim', '--key-file', KEY, '--url', `${hubUrl}/shim`, '--home', home] },
    { args: [KEY] },
    { args: ['help', KEY] },
  ];
  const leaks: string[] = [];
  let created: string | undefined;
  for (const { args, env } of shapes) {
    const { stdout, stderr } = await runCli(args, { SNOWMUX_HOME: home, ...env });
    if (args[1] === 'create' && args[3] === KEY) {
      // The new key, whole, once on stdout; the identity that looked like a key, hidden on stderr.
      created = stdout.trim();
      assert.match(created, /^smx_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}$/, stdout);
      assert.ok(!created.includes('[REDACTED]'));
      assert.match(stderr, /smx_0123456789ab_\[REDACTED\]/);
    }
    for (const [name, out] of [['stdout', stdout], ['stderr', stderr]] as const) {
      if (out.includes(SECRET)) leaks.push(`snowmux ${args.join(' ')} printed the key on ${name}:\n${out}`);
    }
  }
  assert.ok(created, 'keys create ran');
  assert.deepEqual(leaks, []);
});

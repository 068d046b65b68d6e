/**
 * Every hub.log line carries pino's base fields (pid, hostname, time, level, msg). A log call that passes
 * one of them as its own field writes the key twice, and readers (`snowmux logs`, jq, log shippers) keep
 * the last: a line written by the new hub showed the old hub's pid. Checked over the source text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { isSecretLookingKey } from '../../src/hub/audit/audit-redact.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { repoRoot } from '../helpers/paths.js';

const BASE_FIELDS = ['pid', 'hostname', 'time', 'level', 'msg'];
/** A logger call (or child logger) whose first argument is an object literal: the literal's text. */
const LOG_CALL = /\.(?:trace|debug|info|warn|error|fatal|child)\(\s*(\{[^}]*\})/g;
const KEY = new RegExp(`[{,]\\s*['"]?(${BASE_FIELDS.join('|')})['"]?\\s*[:,}]`);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

test('no log call passes a field pino already writes on every line (pid, hostname, time, level, msg)', () => {
  const shadowing: string[] = [];
  for (const file of sources(join(repoRoot, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(LOG_CALL)) {
      const key = KEY.exec(m[1]!)?.[1];
      if (key) shadowing.push(`${relative(repoRoot, file)}:${text.slice(0, m.index).split('\n').length} passes "${key}": ${m[0].replace(/\s+/g, ' ')}`);
    }
  }
  assert.deepEqual(shadowing, [], 'rename the field (e.g. previousPid, reason)');
});

test('the check sees a shadowing field, shorthand or not', () => {
  for (const call of ["logger.info({ pid: other }, 'x')", 'log.warn({ a: 1, time }, "x")', "logger.child({ 'msg': m })"]) {
    const literal = [...call.matchAll(LOG_CALL)][0]?.[1];
    assert.ok(literal && KEY.test(literal), call);
  }
  for (const call of ["logger.info({ previousPid: other }, 'x')", "logger.info({ at: time }, 'x')", "logger.info({ shimPid }, 'x')"]) {
    const literal = [...call.matchAll(LOG_CALL)][0]?.[1];
    assert.ok(literal && !KEY.test(literal), call);
  }
});

test("a log line hides the value of every key the audit log redacts, at any depth, in errors and child bindings too", async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const logger = createLogger({ destination: out, level: 'info' });
  // Keys the audit's list names, spelled as drivers and configs spell them; none of them was in the logger's list.
  const keys = ['private_key_passphrase', 'privateKeyFile_pwd', 'api_key', 'Authorization', 'client_secret', 'oauthToken', 'x-api-key', 'aws_credentials', 'Cookie', 'proxyPassword', 'passcode'];
  for (const key of keys) assert.equal(isSecretLookingKey(key), true, `the audit redacts ${key}`);
  const values = keys.map((key, i) => `value-${i}-of-${key}`);
  const fields = Object.fromEntries(keys.map((key, i) => [key, values[i]]));
  const err = Object.assign(new Error('login refused'), { options: { account: 'xy', ...fields } });
  logger.child({ conn: { apiKey: 'child-binding-secret' } }).warn({ config: { deep: { list: [fields] } }, err, env: { HOME: '/home/u' } }, 'login failed');
  logger.info({ account: 'xy', rows: 3, database: 'KEYS' }, 'plain line');
  await new Promise((r) => setImmediate(r));
  for (const value of [...values, 'child-binding-secret', '/home/u']) assert.equal(text.includes(value), false, `hub.log keeps ${value}`);
  const [first, second] = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal((first!.err as { message: string }).message, 'login refused', 'the rest of the line is kept');
  assert.equal(((first!.err as { options: Record<string, unknown> }).options).private_key_passphrase, '[redacted]');
  assert.equal(((first!.err as { options: Record<string, unknown> }).options).account, 'xy');
  assert.deepEqual([second!.account, second!.rows, second!.database, second!.msg], ['xy', 3, 'KEYS', 'plain line']);
});

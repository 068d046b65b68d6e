/**
 * Every hub.log line carries pino's base fields (pid, hostname, time, level, msg). A log call that passes
 * one of them as its own field writes the key twice, and readers (`snowmux logs`, jq, log shippers) keep
 * the last: a line written by the new hub showed the old hub's pid. Checked over the source text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
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

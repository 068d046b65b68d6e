/**
 * Every config key the docs quote in prose is one the config schema has: an operator who copies
 * `limits.max_rows` or `[audit] on_failure` from a page into config.toml must not get a key the hub refuses
 * (config-docs.test.ts holds the other direction: every key the schema has is documented). The forms read
 * are the ones the docs use: `[section] key`, `[table]`, and dotted `section.key` (`hub.call_timeout_ms`,
 * `profiles.dev.account`, `pool.max`). TOML blocks are checked whole by docs-snippets.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KNOWN_KEYS } from '../../src/hub/config/config-schema.js';
import { repoRoot } from '../helpers/paths.js';

/** Dotted words the docs use that are not config keys, each with what it is. */
const NOT_CONFIG = new Map([
  ['hub.log', 'the hub log file'],
  ['hub.sock', 'the socket file'],
  ['hub.pid', 'the home claim file'],
  ['hub.ts', 'a source file'],
  ['policy.ts', 'a source file'],
  ['audit.externalChange', 'a `snowmux status --json` field'],
]);

/** The table a top-level section's entries are, and the tables below each kind of table. */
const SECTION_KIND: Record<string, { kind: string; named: boolean }> = {
  hub: { kind: 'hub', named: false },
  policy: { kind: 'policy', named: false },
  limits: { kind: 'limits', named: false },
  audit: { kind: 'audit', named: false },
  breaker: { kind: 'breaker', named: false },
  profiles: { kind: 'profile', named: true },
  roles: { kind: 'role', named: true },
  tools: { kind: 'tool', named: true },
};
const SUBTABLE: Record<string, Record<string, string>> = {
  profile: { pool: 'pool' },
  role: { rate: 'rate', quota: 'quota' },
  limits: { rate: 'rate' },
  tool: { params: 'param' },
};
/** Keys whose value is a table of the user's own names (`[hub.otel_headers]`), so anything may follow. */
const FREE_TABLES = new Set(['hub.otel_headers']);

/** Why a dotted key path is not one config.toml can hold, or undefined when it is. */
function unknownPath(segments: string[], startKind?: string): string | undefined {
  let kind: string;
  let i = 0;
  if (startKind !== undefined) kind = startKind;
  else {
    const top = SECTION_KIND[segments[0]!];
    if (top === undefined || !KNOWN_KEYS['']!.includes(segments[0]!)) return `no section [${segments[0]}]`;
    kind = top.kind;
    i = top.named ? 2 : 1; // [profiles.<name>]: the name is the user's own
    if (segments.length < i) return undefined;
  }
  for (; i < segments.length; i++) {
    const key = segments[i]!;
    if (FREE_TABLES.has(`${kind}.${key}`)) return undefined;
    if (!KNOWN_KEYS[kind]?.includes(key)) return `no key ${key} in a ${kind} table`;
    const below = SUBTABLE[kind]?.[key];
    if (below === undefined) return i === segments.length - 1 ? undefined : `${key} is a value, not a table`;
    kind = below;
  }
  return undefined;
}

function docs(): Array<{ file: string; text: string }> {
  const files = ['README.md', join('contrib', 'README.md'), ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  return files.map((file) => ({ file, text: readFileSync(join(repoRoot, file), 'utf8') }));
}

/** Every config key path quoted in prose, with its file, as the segments a config.toml would nest. */
function quotedKeys(text: string): Array<{ quoted: string; segments: string[]; startKind?: string }> {
  const out: Array<{ quoted: string; segments: string[]; startKind?: string }> = [];
  const seg = (path: string) => path.split('.');
  // `[section] key` and `[section]` (a table)
  for (const m of text.matchAll(/`\[([a-z_][a-z_.<>*-]*)\](?: ([a-z_]+))?[^`]*`/g)) {
    const table = seg(m[1]!);
    if (SECTION_KIND[table[0]!] === undefined && !KNOWN_KEYS['']!.includes(table[0]!)) continue; // [dev], [connections.<name>]: another file's tables
    out.push({ quoted: m[0], segments: m[2] === undefined ? table : [...table, m[2]] });
  }
  // `section.key…` and a profile's `pool.key`
  for (const m of text.matchAll(/`((?:hub|policy|limits|audit|breaker|profiles|roles|tools|pool)\.[A-Za-z_.<>*-]*[A-Za-z_>*])[^`]*`/g)) {
    const path = m[1]!;
    if (NOT_CONFIG.has(path) || /^hub\.log\.\d|^hub\.log\.\w+$/.test(path)) continue;
    if (path.startsWith('pool.')) out.push({ quoted: m[0], segments: seg(path).slice(1), startKind: 'pool' });
    else out.push({ quoted: m[0], segments: seg(path) });
  }
  return out;
}

test('every config key the docs quote (`[section] key`, `section.key`, `[table]`) is one the schema has', () => {
  const wrong: string[] = [];
  let seen = 0;
  for (const { file, text } of docs()) {
    for (const q of quotedKeys(text)) {
      seen++;
      const why = unknownPath(q.segments, q.startKind);
      if (why !== undefined) wrong.push(`${file}: ${q.quoted} (${why})`);
    }
  }
  assert.deepEqual(wrong, [], 'keys the config schema does not have: fix the docs, or the schema');
  assert.ok(seen > 50, `only ${seen} quoted keys found: the patterns no longer match how the docs quote keys`);
});

test('the checker itself tells keys the hub has from keys it does not', () => {
  assert.equal(unknownPath(['hub', 'call_timeout_ms']), undefined);
  assert.equal(unknownPath(['profiles', 'dev', 'pool', 'max']), undefined);
  assert.equal(unknownPath(['roles', '<name>', 'quota', 'rows']), undefined);
  assert.equal(unknownPath(['limits', 'rate', 'per_second']), undefined);
  assert.equal(unknownPath(['hub', 'otel_headers', 'x-api-key']), undefined);
  assert.equal(unknownPath(['max_age_hours'], 'pool'), undefined);
  assert.match(unknownPath(['limits', 'max_rows']) ?? '', /no key max_rows in a limits table/);
  assert.match(unknownPath(['hub', 'max_rows', 'x']) ?? '', /a value, not a table/);
  assert.match(unknownPath(['profile', 'x']) ?? '', /no section \[profile\]/);
  assert.deepEqual(
    quotedKeys('`[audit] on_failure = "refuse"`, `limits.max_rows`, `[roles.<name>.rate]`, `hub.log`, `[dev]`').map((q) => q.segments.join('.')),
    ['audit.on_failure', 'roles.<name>.rate', 'limits.max_rows'],
  );
});

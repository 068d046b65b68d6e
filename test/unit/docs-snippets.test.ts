/**
 * Every config snippet in README.md and docs/*.md works when pasted. Each ```toml block is a whole
 * snowmux config.toml: it must pass what a hub checks before it starts (TOML, schema, roles, team tools,
 * the profiles roles name, HTTP keys — src/hub/config-check.ts), on a machine with no Snowflake
 * connection files. Each ```json block must parse.
 *
 * A block that is deliberately something else says so on the line right above its fence:
 *   <!-- snippet: fragment -->    part of a config.toml (it names a profile, tool or role defined
 *                                 elsewhere): checked against the schema only
 *   <!-- snippet: not-config -->  TOML that is not a snowmux config.toml (e.g. Snowflake's
 *                                 connections.toml): checked as TOML only
 * and a ```json block marked `fragment` is an elided example (a record with "…"), not parsed.
 * The markers are HTML comments, so readers of the rendered page do not see them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText, parseTomlText } from '../../src/hub/config/config-file.js';
import { checkHubConfig } from '../../src/hub/config-check.js';
import { repoRoot } from '../helpers/paths.js';

interface Snippet {
  where: string;
  lang: string;
  marker: string | undefined;
  text: string;
}

const MARKERS = new Set(['fragment', 'not-config']);

function snippets(): Snippet[] {
  const files = ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const out: Snippet[] = [];
  for (const file of files) {
    const lines = readFileSync(join(repoRoot, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(toml|json)\s*$/.exec(lines[i]!);
      if (!open) continue;
      const end = lines.indexOf('```', i + 1);
      assert.ok(end > i, `${file}:${i + 1}: unclosed code block`);
      const marker = /^<!-- snippet: ([a-z-]+) -->$/.exec(lines[i - 1] ?? '')?.[1];
      out.push({ where: `${file}:${i + 1}`, lang: open[1]!, marker, text: lines.slice(i + 1, end).join('\n') });
      i = end;
    }
  }
  return out;
}

test('every ```toml block in the docs is a config the hub accepts (or is marked as a fragment or another file)', () => {
  const found = snippets().filter((s) => s.lang === 'toml');
  assert.ok(found.length >= 8, 'the docs have config snippets');
  const problems: string[] = [];
  for (const s of found) {
    try {
      if (s.marker !== undefined && !MARKERS.has(s.marker)) throw new Error(`unknown marker "${s.marker}" (use ${[...MARKERS].join(' or ')})`);
      if (s.marker === 'not-config') parseTomlText(s.text, s.where);
      else {
        const config = parseConfigText(s.text, s.where);
        if (s.marker !== 'fragment') {
          checkHubConfig({ path: s.where, shownPath: s.where, exists: true, config, warnings: [] }, { env: { HOME: '/nonexistent-home' }, homedir: '/nonexistent-home' });
        }
      }
    } catch (err) {
      problems.push(`${s.where}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(problems, [], 'fix the snippet, or mark it (see the header of test/unit/docs-snippets.test.ts)');
});

test('every ```json block in the docs parses', () => {
  const problems: string[] = [];
  for (const s of snippets().filter((x) => x.lang === 'json' && x.marker !== 'fragment')) {
    try {
      JSON.parse(s.text);
    } catch (err) {
      problems.push(`${s.where}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the checker itself refuses what a hub refuses, so a passing snippet means something', () => {
  const bad = '[roles.me]\nidentities = ["*"]\nprofile = "dev"\n';
  assert.throws(() => checkHubConfig({ path: 'x', shownPath: 'x', exists: true, config: parseConfigText(bad, 'x'), warnings: [] }, { env: { HOME: '/nonexistent-home' }, homedir: '/nonexistent-home' }), /roles\.me\.profile/);
  assert.throws(() => parseConfigText('[limits]\nmax_concurent_queries = 4\n', 'x'), /did you mean "max_concurrent_queries"/);
});

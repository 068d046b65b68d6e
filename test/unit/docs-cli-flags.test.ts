/**
 * Every option the docs show on a `snowmux <command>` line is one that command's --help names: a user who
 * types a command from README.md or docs/ as shown must not meet "Unknown option". (The options a command
 * takes and its --help are held together by cli-help-options.test.ts; this holds the docs to --help.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const bin = join(repoRoot, 'bin', 'snowmux.js');
const COMMANDS = ['hub', 'shim', 'stdio', 'status', 'reload', 'stop', 'logs', 'doctor', 'keys', 'service', 'setup', 'audit'];

/** Options the docs show on purpose although the command does not take them, each with why. */
const NOT_OPTIONS = new Map([['status --jsn', "README's example of a mistyped option and what snowmux answers"]]);

/** Each `snowmux <command> …` the docs show (inline code and code-block lines), with the options on it. */
function shownCommands(text: string): Array<{ command: string; flags: string[]; line: string }> {
  const lines = [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  for (const block of text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) lines.push(...block[1]!.split('\n').map((l) => l.replace(/\s#\s.*$/, '')));
  const out: Array<{ command: string; flags: string[]; line: string }> = [];
  for (const line of lines) {
    for (const m of line.matchAll(/\bsnowmux ([a-z]+)([^;|&`]*)/g)) {
      if (!COMMANDS.includes(m[1]!)) continue;
      out.push({ command: m[1]!, flags: [...m[2]!.matchAll(/(?<![\w-])(--[a-z][a-z-]*)/g)].map((f) => f[1]!), line });
    }
  }
  return out;
}

test('every option the docs show on a snowmux command line is one its --help names', () => {
  const help = new Map<string, string>();
  for (const command of COMMANDS) {
    const r = spawnSync(process.execPath, [bin, command, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `${command} --help: ${r.stderr}`);
    help.set(command, `${r.stdout}${r.stderr}`); // the shim's help goes to stderr: its stdout is the editor's
  }
  const files = ['README.md', join('contrib', 'README.md'), ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  const wrong: string[] = [];
  let seen = 0;
  for (const file of files) {
    for (const shown of shownCommands(readFileSync(join(repoRoot, file), 'utf8'))) {
      for (const flag of shown.flags) {
        seen++;
        if (NOT_OPTIONS.has(`${shown.command} ${flag}`)) continue;
        if (!new RegExp(`(?<![\\w-])${flag}(?![\\w-])`).test(help.get(shown.command)!)) wrong.push(`${file}: snowmux ${shown.command} ${flag} (in: ${shown.line.trim()})`);
      }
    }
  }
  assert.deepEqual(wrong, [], 'options the command does not name in --help: fix the docs, or the command');
  assert.ok(seen > 40, `only ${seen} options found on snowmux lines: the patterns no longer match how the docs show commands`);
});

test('the reader finds the options of a command as the docs show them', () => {
  assert.deepEqual(
    shownCommands('Run `snowmux hub --replace --allow-downgrade`; then\n```sh\nsnowmux keys rotate 3f2a [--overlap 1h]   # not --this\n```\n').map((c) => [c.command, c.flags]),
    [['hub', ['--replace', '--allow-downgrade']], ['keys', ['--overlap']]],
  );
  assert.deepEqual(shownCommands('`snowmux status --json | jq` and `snowmux stop; snowmux hub --http-engine node`').map((c) => [c.command, c.flags]), [['status', ['--json']], ['stop', []], ['hub', ['--http-engine']]]);
});

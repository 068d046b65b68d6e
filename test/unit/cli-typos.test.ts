/**
 * A mistyped option, subcommand or value on the command line is refused (exit 2) saying what was wrong and,
 * when one is near, what was meant, for every command: a new user's typo is answered with the fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const bin = join(repoRoot, 'bin', 'snowmux.js');

test('typos on the command line get exit 2, what was wrong and what was meant', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-typos-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const cases: Array<{ args: string[]; expect: RegExp }> = [
    { args: ['status', '--jsn'], expect: /snowmux status: Unknown option '--jsn' \(did you mean `--json`\?\)\. Run `snowmux status --help` for the options\. \[USAGE\]/ },
    // parseArgs reads "-json" as the short option -j: the word as typed is named.
    { args: ['status', '-json'], expect: /Unknown option '-json' \(did you mean `--json`\?\)/ },
    { args: ['doctor', '--ofline'], expect: /Unknown option '--ofline' \(did you mean `--offline`\?\)/ },
    { args: ['hub', '--acount=x'], expect: /Unknown option '--acount' \(did you mean `--account`\?\)/ },
    // The shim's bundle stays without the edit-distance code: it names the option and where the options are.
    { args: ['shim', '--hom', home], expect: /snowmux shim: Unknown option '--hom'\. Run `snowmux shim --help` for the options\. \[USAGE\]/ },
    // With positionals allowed, parseArgs' own hint about "--" is not what went wrong.
    { args: ['keys', 'create', '--identiy', 'a'], expect: /snowmux keys: Unknown option '--identiy' \(did you mean `--identity`\?\)\. Run/ },
    { args: ['keys', 'lst'], expect: /Unknown subcommand "lst" of snowmux keys \(did you mean `snowmux keys list`\?\): one of create, list, revoke, rotate\.\n\nUsage:/ },
    { args: ['keys'], expect: /Name what to do: snowmux keys create\|list\|revoke\|rotate\./ },
    { args: ['audit', 'verfy'], expect: /Unknown subcommand "verfy" of snowmux audit \(did you mean `snowmux audit verify`\?\)/ },
    { args: ['audit', 'verify', '--jsn'], expect: /unknown argument: --jsn \(did you mean --json\?\)/ },
    { args: ['service', 'instal', 'systemd'], expect: /Unknown action "instal" \(did you mean "install"\?\): install or uninstall\./ },
    { args: ['service', 'install', 'sytemd'], expect: /Unknown service manager "sytemd" \(did you mean "systemd"\?\)/ },
    { args: ['logs', '--level', 'warning'], expect: /got "warning" \(did you mean "warn"\?\)\. \[USAGE\]/ },
    // A hub's value too (README: "a mistyped … value is named with the one it most likely meant").
    // Options that only qualify --replace: given alone they were passed over, and a hub started as if unsaid.
    { args: ['hub', '--force'], expect: /snowmux hub: --force applies only with --replace: run `snowmux hub --replace --force[^`]*`[^\n]*\[USAGE\]/ },
    { args: ['hub', '--allow-downgrade'], expect: /snowmux hub: --allow-downgrade applies only with --replace: run `snowmux hub --replace --allow-downgrade[^`]*`/ },
    { args: ['hub', '--http-engine', 'uwss'], expect: /--http-engine must be auto, uws or node; got "uwss" \(did you mean "uws"\?\)\. \[USAGE\]/ },
  ];
  for (const c of cases) {
    const r = spawnSync(process.execPath, [bin, ...c.args], { encoding: 'utf8', timeout: 30_000, input: '', env: { ...process.env, SNOWMUX_HOME: home } });
    assert.equal(r.status, 2, `${c.args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, c.expect, c.args.join(' '));
    assert.doesNotMatch(r.stderr, /\.\. Run|place it at the end of the command/, c.args.join(' '));
  }
  // Nothing near: no guess.
  const far = spawnSync(process.execPath, [bin, 'status', '--zzzzzzzz'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SNOWMUX_HOME: home } });
  assert.equal(far.status, 2);
  assert.match(far.stderr, /Unknown option '--zzzzzzzz'\. Run `snowmux status --help`/);
});

test('status --interval is a whole number of milliseconds a timer can wait, or a usage error', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-interval-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  // 99999999999 ms was armed by Node as 1 ms: the watch re-read the hub a thousand times a second.
  for (const given of ['99999999999', 'abc', '5', '1.5', '-1000', '']) {
    for (const args of [['status', `--interval=${given}`], ['status', '--watch', `--interval=${given}`]]) {
      const r = spawnSync(process.execPath, [bin, ...args, '--home', home], { encoding: 'utf8', timeout: 15_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}${r.stdout.slice(0, 300)}`);
      assert.match(r.stderr, /snowmux status: --interval must be a whole number of milliseconds from 200 to 2147483647; got ".*"\. \[USAGE\]/);
    }
  }
});

test('keys: an --expires or --overlap past the last date a clock can show is a usage error, not "Invalid time value"', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-keys-far-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'keys', ...args, '--home', home], { encoding: 'utf8', timeout: 15_000 });
  const far = run('create', '--identity', 'alice', '--expires', '99999999d');
  assert.equal(far.status, 2, far.stderr);
  assert.match(far.stderr, /snowmux keys: --expires "99999999d" ends after the last date a clock can show; give a shorter one, or leave --expires out for a key that does not expire\. \[USAGE\]/);
  const made = run('create', '--identity', 'alice');
  assert.equal(made.status, 0, made.stderr);
  const id = /Key (\S+) /.exec(made.stderr)?.[1] ?? '';
  assert.notEqual(id, '', made.stderr);
  const overlap = run('rotate', id, '--overlap', '99999999d');
  assert.equal(overlap.status, 2, overlap.stderr);
  assert.match(overlap.stderr, /--overlap "99999999d" ends after the last date a clock can show; give a shorter one\. \[USAGE\]/);
});

test('audit verify reads every argument it is given: with --redis a typo or a file option is refused, not passed over', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-audit-args-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  // A port nothing listens on: a refused argument must be refused before any connection is tried.
  const redis = 'redis://127.0.0.1:1';
  const cases: Array<{ args: string[]; expect: RegExp }> = [
    // --jsn with --redis was passed over: a script that asked for JSON got text (or, here, a connection error).
    { args: ['--redis', redis, '--stream', 'snowmux:audit', '--jsn'], expect: /^snowmux audit verify: unknown argument: --jsn \(did you mean --json\?\)\n/ },
    // --dir with --redis was passed over: the files it named were never verified, without a word.
    { args: ['--redis', redis, '--stream', 'snowmux:audit', '--dir', home], expect: /^snowmux audit verify: --dir names a hub's own audit files, which --redis does not read \(it checks the team's stream\): give one or the other\n/ },
    { args: ['--home', home, '--redis', redis, '--stream', 'snowmux:audit'], expect: /^snowmux audit verify: --home names a hub's own audit files/ },
    { args: ['--redis', redis, '--stream'], expect: /^snowmux audit verify: --stream needs the key of \[audit\] redis_stream\n/ },
    // --stream alone was "unknown argument: --stream (did you mean --stream?)".
    { args: ['--stream', 'snowmux:audit'], expect: /^snowmux audit verify: --stream names the Redis stream that --redis reads \(a team hub's central copy\): snowmux audit verify --redis \[URL\] --stream KEY\n/ },
    // --home or --config without its value verified the default home's log instead.
    { args: ['--home'], expect: /^snowmux audit verify: --home needs a directory\n/ },
    { args: ['--config', '--json'], expect: /^snowmux audit verify: --config needs a file\n/ },
  ];
  for (const c of cases) {
    const r = spawnSync(process.execPath, [bin, 'audit', 'verify', ...c.args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SNOWMUX_HOME: home } });
    assert.equal(r.status, 2, `${c.args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, c.expect, c.args.join(' '));
    assert.match(r.stderr, /\nUsage: snowmux audit verify/, c.args.join(' '));
    assert.equal(r.stdout, '', c.args.join(' '));
  }
  // --home=DIR is read as every other command reads it; --redis --help is the usage.
  const inline = spawnSync(process.execPath, [bin, 'audit', 'verify', `--home=${home}`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(inline.status, 2, inline.stderr);
  assert.match(inline.stderr, new RegExp(`no audit directory at ${join(home, 'audit').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const help = spawnSync(process.execPath, [bin, 'audit', 'verify', '--redis', redis, '--help'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: snowmux audit verify/);
});

/**
 * `snowmux service install`: definitions with absolute paths (a service manager's PATH has no node),
 * written where each manager reads them, and one of them actually run: the systemd ExecStart line (and
 * the pm2 file's interpreter + script) start a working hub with no node on PATH.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { cliEnv, runCli, defer, killAtEnd, startHub, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

test('systemd, launchd and pm2 definitions: absolute paths, written and removed; the systemd command starts a hub with an empty PATH', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const home = tempHome(t);
  const r = await runCli(['service', 'install', 'systemd', '--home', home], { HOME: userHome });
  assert.equal(r.code, 0, r.stderr);
  const unit = join(userHome, '.config', 'systemd', 'user', 'snowmux-hub.service');
  const text = readFileSync(unit, 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(text)![1]!.split(' ');
  assert.equal(exec[0], process.execPath, 'absolute node');
  assert.match(exec[1]!, /^\/.*bin\/snowmux\.js$/);
  assert.deepEqual(exec.slice(2), ['hub', '--replace', '--home', home]);
  assert.match(r.stdout, /systemctl --user daemon-reload && systemctl --user enable --now snowmux-hub/);

  // An editor's shim started a hub before the service did: the service's hub takes it over, not refuses.
  const editorsHub = await startHub(t, home);
  // Run exactly that command line with no node on PATH, as a service manager would.
  const hub = spawn(exec[0]!, exec.slice(1), { env: { PATH: '/nonexistent', HOME: userHome }, stdio: ['ignore', 'ignore', 'pipe'] });
  defer(t, async () => {
    if (hub.exitCode === null) {
      hub.kill('SIGKILL');
      await once(hub, 'exit');
    }
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    hub.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('listening on')) resolve();
    });
    hub.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0);
  assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, hub.pid, 'the service\'s hub serves the home');
  assert.equal(await editorsHub.stop('SIGCONT'), 0, 'the hub it replaced drained and exited');
  hub.kill('SIGTERM');
  assert.equal((await once(hub, 'exit'))[0], 0);

  const plist = await runCli(['service', 'install', 'launchd', '--print', '--http', '127.0.0.1:8765'], { HOME: userHome });
  assert.match(plist.stdout, new RegExp(`<string>${process.execPath.replace(/[/.]/g, '\\$&')}</string><string>/[^<]*snowmux\\.js</string><string>hub</string><string>--replace</string><string>--http</string><string>127\\.0\\.0\\.1:8765</string>`));
  assert.equal(existsSync(join(userHome, 'Library')), false, '--print writes nothing');

  // A systemctl of our own first on PATH: it notes each call and whether the unit file was still there.
  const bin = tempHome(t, 'smx-bin-');
  const calls = join(bin, 'calls.log');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$* unit=$(test -e '${unit}' && echo present || echo gone)" >> '${calls}'\n`, { mode: 0o755 });
  const un = await runCli(['service', 'uninstall', 'systemd'], { HOME: userHome, PATH: `${bin}:${process.env.PATH}` });
  assert.equal(un.code, 0, un.stderr);
  assert.match(un.stdout, /^Ran systemctl --user disable --now snowmux-hub\nRemoved [^\n]*snowmux-hub\.service\nRan systemctl --user daemon-reload\n$/);
  assert.equal(existsSync(unit), false);
  // Stopped while the manager could still find the unit by its file (before, the file went first).
  assert.equal(readFileSync(calls, 'utf8'), '--user disable --now snowmux-hub unit=present\n--user daemon-reload unit=gone\n');
  // A manager that is not there: the file still goes, and the output says what to run where it is.
  writeFileSync(unit, '[Unit]\n');
  const without = await runCli(['service', 'uninstall', 'systemd'], { HOME: userHome, PATH: bin.replace(/$/, '/none') });
  assert.equal(without.code, 0, without.stderr);
  assert.match(without.stdout, /Could not run systemctl --user disable --now snowmux-hub: systemctl is not installed here\.\nRemoved [^\n]*\nIf the service still runs, stop it with: systemctl --user disable --now snowmux-hub\n/);
  assert.equal(existsSync(unit), false);
});

test('systemd: $, %, backslashes and double quotes in a path reach the hub as written (systemd expands $x and %h even in quotes); the unit goes under $XDG_CONFIG_HOME', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const xdg = join(tempHome(t, 'smx-xdg-'), 'conf');
  const home = join(tempHome(t), 'a %h $USER ${HOME} "q" \\b');
  const env = { HOME: userHome, XDG_CONFIG_HOME: xdg };
  const r = await runCli(['service', 'install', 'systemd', '--home', home], env);
  assert.equal(r.code, 0, r.stderr);
  const unit = join(xdg, 'systemd', 'user', 'snowmux-hub.service');
  assert.match(r.stdout, new RegExp(`^Wrote ${unit.replace(/[/.]/g, '\\$&')}$`, 'm'), 'where systemd --user reads it with XDG_CONFIG_HOME set');
  assert.equal(existsSync(join(userHome, '.config')), false);
  const execStart = /^ExecStart=(.*)$/m.exec(readFileSync(unit, 'utf8'))![1]!;
  assert.ok(execStart.endsWith(` --home "${home.replace(/%/g, '%%').replace(/\$/g, '$$$$').replace(/["\\]/g, '\\$&')}"`), execStart);
  assert.deepEqual(systemdWords(execStart).slice(-2), ['--home', home], 'read back as systemd reads it');

  // Removed from there too, the recording systemctl told as before.
  const bin = tempHome(t, 'smx-bin-');
  const calls = join(bin, 'calls.log');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${calls}'\n`, { mode: 0o755 });
  const un = await runCli(['service', 'uninstall', 'systemd'], { ...env, PATH: `${bin}:${process.env.PATH}` });
  assert.equal(un.code, 0, un.stderr);
  assert.equal(existsSync(unit), false);
  assert.equal(readFileSync(calls, 'utf8'), '--user disable --now snowmux-hub\n--user daemon-reload\n');

  // launchd's plist: the same path as XML text.
  const plist = await runCli(['service', 'install', 'launchd', '--print', '--home', join(userHome, 'a&b<c>')], env);
  assert.match(plist.stdout, /<string>--home<\/string><string>[^<]*\/a&amp;b&lt;c&gt;<\/string>/);
});

/** An ExecStart line's words as systemd reads them: "%%" and "$$" are one character, quotes group, "\" escapes. */
function systemdWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const word = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
    words.push(word.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

test('pm2: never written into a directory others may write, nor through a name planted there', async (t) => {
  const home = tempHome(t);
  const shared = tempHome(t, 'smx-shared-');
  chmodSync(shared, 0o777);
  const refused = await runCli(['service', 'install', 'pm2', '--home', home], {}, undefined, shared);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /may be written by other users \(mode 0777\), who could replace the service definition .*--print/s);
  assert.deepEqual(readdirSync(shared), []);

  const own = tempHome(t, 'smx-own-');
  const precious = join(tempHome(t, 'smx-precious-'), 'precious');
  writeFileSync(precious, 'mine\n');
  symlinkSync(precious, join(own, 'snowmux.ecosystem.config.cjs'));
  const written = await runCli(['service', 'install', 'pm2', '--home', home], {}, undefined, own);
  assert.equal(written.code, 0, written.stderr);
  assert.equal(readFileSync(precious, 'utf8'), 'mine\n', 'the planted link was replaced, not written through');
  assert.ok(lstatSync(join(own, 'snowmux.ecosystem.config.cjs')).isFile());
  assert.deepEqual(readdirSync(own), ['snowmux.ecosystem.config.cjs'], 'no temp file left');
  // As pm2 reads it: restarted after a crash, left stopped after the clean exit of a stop or a replace
  // (pm2 7 checked by hand: an app exiting 0 stays stopped with this, one exiting 1 is restarted).
  const [app] = (createRequire(import.meta.url)(join(own, 'snowmux.ecosystem.config.cjs')) as { apps: Array<{ autorestart: boolean; stop_exit_codes: number[] }> }).apps;
  assert.equal(app!.autorestart, true);
  assert.deepEqual(app!.stop_exit_codes, [0]);
});

test('systemd: the unit directory is made 0700 whatever the umask; one other users may write is refused with a fix a systemd user can apply', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const home = tempHome(t);
  const before = process.umask(0o000);
  const pending = runCli(['service', 'install', 'systemd', '--home', home], { HOME: userHome });
  process.umask(before);
  const r = await pending;
  assert.equal(r.code, 0, r.stderr);
  const unitDir = join(userHome, '.config', 'systemd', 'user');
  for (const dir of [join(userHome, '.config'), join(userHome, '.config', 'systemd'), unitDir]) {
    assert.equal(statSync(dir).mode & 0o777, 0o700, `${dir} is closed to others`);
  }

  chmodSync(unitDir, 0o777);
  const refused = await runCli(['service', 'install', 'systemd', '--home', home], { HOME: userHome });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /may be written by other users \(mode 0777\)/);
  assert.match(refused.stderr, /chmod go-w .*systemd\/user/);
  assert.doesNotMatch(refused.stderr, /current directory/, 'the pm2 advice is not given to a systemd user');
});

test('hub --replace over a hub a service manager runs is refused, naming the manager\'s restart command; --force takes it over', async (t) => {
  const home = tempHome(t);
  // What systemd (before v248, without SYSTEMD_EXEC_PID) gives the process it starts for a unit: an
  // INVOCATION_ID, and the manager as its parent (MANAGERPID); here the test process is that parent.
  const managed = await startHub(t, home, [], { INVOCATION_ID: '0123456789abcdef0123456789abcdef', MANAGERPID: String(process.pid) });
  const status = await runCli(['status', '--home', home]);
  assert.match(status.stdout, /run by systemd \(\S+\.service\); restart it with:\s+(sudo\s+)?systemctl\s+(--user\s+)?restart\s+\S+\.service/);

  // Bounded: without the refusal the new hub would take over and serve until killed.
  const proc = spawn(process.execPath, [cliPath, 'hub', '--replace', '--home', home], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  killAtEnd(t, proc);
  const replace = { stderr: '' };
  proc.stderr.on('data', (c: Buffer) => (replace.stderr += c.toString()));
  const [refusedCode] = (await once(proc, 'exit')) as [number | null];
  assert.equal(refusedCode, 1, replace.stderr);
  assert.match(replace.stderr, new RegExp(`The running hub \\(pid ${managed.pid}\\) is run by systemd \\(unit \\S+\\.service\\): replaced from here, it exits 0, which systemd takes as the service stopping`));
  assert.match(replace.stderr, /Nothing was taken over\. Restart it through its manager instead \(after an upgrade too\): (sudo )?systemctl (--user )?restart \S+\.service\. To take it over from here anyway, add --force\./);
  assert.doesNotMatch(replace.stderr, /took over/);
  const still = await runCli(['status', '--json', '--home', home]);
  assert.equal((JSON.parse(still.stdout) as { pid: number }).pid, managed.pid, 'the managed hub keeps serving');

  // The same manager starting its unit again (its own restart) is not refused; --force takes over from a terminal.
  const forced = await startHub(t, home, ['--replace', '--force']);
  assert.match(forced.stderr(), new RegExp(`took over from hub pid ${managed.pid}`));
  const [code] = (await once(managed.proc, 'exit')) as [number | null];
  assert.equal(code, 0);
  assert.equal(await forced.stop(), 0);
});

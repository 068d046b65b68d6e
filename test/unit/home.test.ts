import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { checkHome, checkHomeOfHub, checkSocketPath, ensureHome, ensureRuntimeDir, resolveHome, runtimeDir, socketPathFor, verifyRuntimeBase } from '../../src/wire/home.js';
import { isSnowmuxError } from '../../src/errors.js';

test('a home others could write is closed, then refused while it holds an entry another user owns', { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, (t) => {
  const home = tmp(t);
  mkdirSync(join(home, 'warehouse'), { mode: 0o700 });
  writeFileSync(join(home, 'warehouse', 'mine.db'), '');
  chmodSync(home, 0o777);
  ensureHome(home);
  assert.equal(statSync(home).mode & 0o777, 0o700, 'only our own entries: tightened and used');
  const planted = join(home, 'warehouse', 'planted.db');
  writeFileSync(planted, '');
  chownSync(planted, 12345, 12345);
  chmodSync(home, 0o770);
  assert.throws(() => ensureHome(home), (e) => isSnowmuxError(e, 'HOME_NOT_OWNED') && e.message.includes(`holds ${planted}, owned by another user (uid 12345)`) && /rm -r /.test(e.message));
  assert.equal(statSync(home).mode & 0o777, 0o700, 'closed before it was searched');
  // Readable by others but never writable: nothing could have been put there, nothing is searched.
  chmodSync(home, 0o755);
  ensureHome(home);
});

test('a refused home stays refused on every later start until the foreign entry is gone (it was closed to 700 at the first)', { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, (t) => {
  const base = tmp(t);
  const home = join(base, 'home');
  mkdirSync(home, { mode: 0o777 });
  chmodSync(home, 0o777);
  const planted = join(home, 'config.toml');
  writeFileSync(planted, '[roles.w]\nclients = ["*"]\nwrite = true\n');
  chownSync(planted, 65534, 65534);
  const refused = (e: unknown) => isSnowmuxError(e, 'HOME_NOT_OWNED') && e.message.includes(`holds ${planted}, owned by another user (uid 65534)`);
  assert.throws(() => ensureHome(home), refused);
  assert.equal(statSync(home).mode & 0o777, 0o700);
  assert.throws(() => ensureHome(home), refused, 'the second start (a shim, the hub run again) refuses too');
  assert.throws(() => checkHome(home), refused, 'and so do the commands that only read the home (doctor, status)');
  rmSync(planted);
  ensureHome(home);
  assert.deepEqual(readdirSync(home), [], 'once it passed, the home holds nothing of the search');
  // A name planted where the search leaves its mark is not written through (a link to a file of ours).
  const ours = join(base, 'ours');
  writeFileSync(ours, 'mine');
  const link = join(home, 'home-was-open');
  symlinkSync(ours, link);
  lchownSync(link, 65534, 65534);
  chmodSync(home, 0o777);
  assert.throws(() => ensureHome(home), (e) => isSnowmuxError(e, 'HOME_NOT_OWNED') && e.message.includes(`holds ${link}`));
  assert.equal(readFileSync(ours, 'utf8'), 'mine');
  rmSync(link);
  rmSync(ours);
  ensureHome(home);
  // A foreign entry in a home that was never open to writes (a container's bind mount) is not searched for.
  writeFileSync(planted, '');
  chownSync(planted, 65534, 65534);
  ensureHome(home);
});

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-home-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('home resolution: flag, then SNOWMUX_HOME, then ~/.snowmux', () => {
  assert.equal(resolveHome({ flag: '/x/flag', env: { SNOWMUX_HOME: '/x/env' } }), '/x/flag');
  assert.equal(resolveHome({ env: { SNOWMUX_HOME: '/x/env' } }), '/x/env');
  assert.equal(resolveHome({ env: {} }), join(homedir(), '.snowmux'));
  assert.equal(resolveHome({ flag: 'relative/dir', env: {} }), join(process.cwd(), 'relative/dir'));
});

test('home resolution expands a leading ~ as a shell would (editors start the shim without one), and refuses ~name', () => {
  assert.equal(resolveHome({ flag: '~/.snowmux-work', env: {} }), join(homedir(), '.snowmux-work'));
  assert.equal(resolveHome({ env: { SNOWMUX_HOME: '~/.snowmux-env' } }), join(homedir(), '.snowmux-env'));
  assert.equal(resolveHome({ flag: '~', env: {} }), homedir());
  assert.equal(resolveHome({ flag: 'dir/~/x', env: {} }), join(process.cwd(), 'dir/~/x'), 'only a leading ~ is the home directory');
  assert.throws(() => resolveHome({ flag: '~bob/.snowmux', env: {} }), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && /--home ~bob\/\.snowmux starts with "~name".*Write the path out in full/.test(e.message));
  assert.throws(() => resolveHome({ env: { SNOWMUX_HOME: '~bob' } }), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && e.message.startsWith('$SNOWMUX_HOME ~bob '));
});

test('ensureHome creates the directory 0700', (t) => {
  const home = join(tmp(t), 'a', 'b');
  ensureHome(home);
  assert.equal(statSync(home).mode & 0o777, 0o700);
});

test('ensureHome says a home under a path that cannot hold directories cannot be made, at once (a path under /proc spun for ever)', { timeout: 10_000 }, () => {
  assert.throws(() => ensureHome('/proc/1/snowmux-home-test/home'), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && /Cannot create the snowmux home \/proc\/1\/snowmux-home-test\/home/.test(e.message));
});

test('ensureHome tightens an existing home that others can read', (t) => {
  const home = tmp(t);
  chmodSync(home, 0o755);
  ensureHome(home);
  assert.equal(statSync(home).mode & 0o777, 0o700);
});

test('checkHome refuses an open home, a file, and a missing directory, with what to do', (t) => {
  const base = tmp(t);
  chmodSync(base, 0o755);
  assert.throws(() => checkHome(base), (e) => isSnowmuxError(e, 'HOME_TOO_OPEN') && /chmod 700/.test(e.message));
  const file = join(base, 'file');
  writeFileSync(file, 'x');
  assert.throws(() => checkHome(file), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && /not a directory/.test(e.message));
  assert.throws(() => checkHome(join(base, 'missing')), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && /--home/.test(e.message));
});

test('socket path lives in the home, or in the per-user runtime directory when the home path is too long', (t) => {
  assert.equal(socketPathFor('/home/u/.snowmux'), '/home/u/.snowmux/hub.sock');
  const base = tmp(t);
  const env = { SNOWMUX_RUNTIME_BASE: base };
  const long = '/tmp/' + 'x'.repeat(120);
  const p = socketPathFor(long, env);
  assert.equal(dirname(p), runtimeDir(env));
  assert.equal(runtimeDir(env), join(base, `snowmux-${process.getuid!()}`));
  assert.ok(Buffer.byteLength(p) < 100);
  assert.equal(socketPathFor(long, env), p, 'stable for the same home');
  assert.notEqual(socketPathFor(long + 'y', env), p, 'distinct per home');
});

test('a runtime base too long for the socket path is refused, naming the variable and the room left: never a path the system cuts short', (t) => {
  const base = join(tmp(t), 'b'.repeat(80));
  const long = '/tmp/' + 'x'.repeat(120);
  assert.throws(() => socketPathFor(long, { SNOWMUX_RUNTIME_BASE: base }), (err: unknown) => {
    assert.ok(isSnowmuxError(err));
    assert.equal(err.code, 'RUNTIME_DIR_UNSAFE');
    assert.match(err.message, /SNOWMUX_RUNTIME_BASE/);
    assert.match(err.message, /at most 100 bytes/);
    assert.match(err.message, /to a directory of at most \d+ bytes/);
    assert.match(err.message, /shorter --home/);
    return true;
  });
  // A base that fits still works, and so does a short home under the long base (its socket stays in the home).
  assert.ok(Buffer.byteLength(socketPathFor(long, { SNOWMUX_RUNTIME_BASE: tmp(t) })) <= 100);
  assert.equal(socketPathFor('/home/u/.snowmux', { SNOWMUX_RUNTIME_BASE: base }), '/home/u/.snowmux/hub.sock');
});

test('a long home has one socket whatever TMPDIR or XDG_RUNTIME_DIR say: /tmp/snowmux-<uid>', () => {
  // Editors, terminals and service managers disagree on TMPDIR: a socket under it let two hubs run on one home.
  const long = '/tmp/' + 'x'.repeat(120);
  const expected = join('/tmp', `snowmux-${process.getuid!()}`);
  for (const env of [{}, { TMPDIR: '/var/folders/ab/T' }, { TMPDIR: '/tmp/other', XDG_RUNTIME_DIR: '/run/user/1000' }, { SNOWMUX_RUNTIME_BASE: '' }]) {
    assert.equal(runtimeDir(env), expected, JSON.stringify(env));
    assert.equal(dirname(socketPathFor(long, env)), expected, JSON.stringify(env));
  }
  assert.throws(() => runtimeDir({ SNOWMUX_RUNTIME_BASE: 'relative/dir' }), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && /absolute/.test(e.message));
});

test('the runtime directory is created 0700 and verified: never a symlink, never open, never foreign', (t) => {
  const base = tmp(t);
  const dir = join(base, 'rt');
  ensureRuntimeDir(dir);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  ensureRuntimeDir(dir); // idempotent
  chmodSync(dir, 0o755);
  assert.throws(() => ensureRuntimeDir(dir), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && /chmod 700/.test(e.message));
  const target = join(base, 'target');
  mkdirSync(target, { mode: 0o700 });
  const link = join(base, 'link');
  symlinkSync(target, link);
  assert.throws(() => ensureRuntimeDir(link), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && /symbolic link/.test(e.message));
  const file = join(base, 'file');
  writeFileSync(file, '');
  assert.throws(() => ensureRuntimeDir(file), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && /not a directory/.test(e.message));
  // A socket outside a home is checked with its directory before the shim sends anything.
  assert.throws(() => checkSocketPath(join(link, 'abc.sock')), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE'));
  checkSocketPath(join(base, 'missing-dir', 'abc.sock')); // no hub yet: fine
});

test('the runtime directory must sit where no other user can swap it: not in a directory writable by others without the sticky bit', (t) => {
  const base = tmp(t);
  const open = join(base, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const dir = join(open, 'rt');
  assert.throws(() => ensureRuntimeDir(dir), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && /without the sticky bit \(mode 777\)/.test(e.message) && /SNOWMUX_RUNTIME_BASE/.test(e.message));
  assert.equal(existsSync(dir), false, 'the base is judged before the directory is made: a refused base is left as it was');
  assert.throws(() => verifyRuntimeBase(dir), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && /without the sticky bit/.test(e.message), 'doctor judges it while the directory does not exist');
  mkdirSync(dir, { mode: 0o700 });
  assert.throws(() => checkSocketPath(join(dir, 'abc.sock')), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE'), 'the shim checks it too before sending anything');
  chmodSync(open, 0o1777); // as /tmp is
  ensureRuntimeDir(dir);
  checkSocketPath(join(dir, 'abc.sock'));
});

test('a directory or socket owned by another user is refused', { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, (t) => {
  const base = tmp(t);
  const dir = join(base, 'rt');
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, 12345, 12345);
  assert.throws(() => ensureRuntimeDir(dir), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && /another user \(uid 12345\)/.test(e.message));
  chownSync(dir, 0, 0);
  const sock = join(dir, 'abc.sock');
  writeFileSync(sock, '');
  chownSync(sock, 12345, 12345);
  assert.throws(() => checkSocketPath(sock), (e) => isSnowmuxError(e, 'SOCKET_NOT_OWNED') && /uid 12345/.test(e.message));
  // A runtime base another user owns: they may rename entries there even with the sticky bit.
  const theirs = join(base, 'theirs');
  mkdirSync(theirs, { mode: 0o1777 });
  chownSync(theirs, 12345, 12345);
  const inTheirs = join(theirs, 'rt');
  mkdirSync(inTheirs, { mode: 0o700 });
  assert.throws(() => ensureRuntimeDir(inTheirs), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && /belongs to another user \(uid 12345\), who could replace it/.test(e.message));
});

test('an empty $HOME is unset (the passwd entry\'s home), never a relative .snowmux in the current directory; a relative one is refused', (t) => {
  const saved = process.env.HOME;
  t.after(() => {
    process.env.HOME = saved;
  });
  process.env.HOME = '';
  const home = resolveHome({ env: { HOME: '' } });
  assert.ok(isAbsolute(home), home);
  assert.equal(home, join(userInfo().homedir, '.snowmux'));
  assert.equal(resolveHome({}), home, 'the process\'s own $HOME by default');
  process.env.HOME = 'relative-home';
  assert.throws(() => resolveHome({ env: { HOME: 'relative-home' } }), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && /\$HOME is a relative path \("relative-home"\).*--home DIR or SNOWMUX_HOME/.test(e.message));
  // --home and SNOWMUX_HOME do not need $HOME at all.
  assert.equal(resolveHome({ flag: '/x/flag', env: {} }), '/x/flag');
  assert.equal(resolveHome({ env: { SNOWMUX_HOME: '/x/env' } }), '/x/env');
});

test('one home, one socket name, however it is spelled: a symlink and the real path give the same socket, long or short, made yet or not', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'smx-spell-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const long = join(base, 'a'.repeat(60), 'b'.repeat(60));
  mkdirSync(long, { recursive: true });
  symlinkSync(long, join(base, 's'));
  const env = { SNOWMUX_RUNTIME_BASE: base };
  // Long real path: the private directory, under one name for both spellings (the short one fitted in the home).
  const viaLink = socketPathFor(join(base, 's', 'home'), env);
  assert.equal(viaLink, socketPathFor(join(long, 'home'), env));
  assert.notEqual(dirname(viaLink), join(base, 's', 'home'));
  // Also before the home exists, and after it is made.
  mkdirSync(join(long, 'home'));
  assert.equal(socketPathFor(join(base, 's', 'home'), env), viaLink);
  assert.equal(socketPathFor(join(base, 's', '.', 'home'), env), viaLink);
  // Short real path: the socket in the home, named by its real path under both spellings.
  const short = join(base, 'h');
  mkdirSync(short);
  symlinkSync(short, join(base, 't'));
  assert.equal(socketPathFor(join(base, 't'), env), join(short, 'hub.sock'));
  assert.equal(socketPathFor(short, env), join(short, 'hub.sock'));
});

test('a home another user could replace through its path is refused before anything is written through it: their symlink in a sticky directory, a directory of theirs, one every user may write', { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, (t) => {
  const base = tmp(t);
  // /tmp/x -> a directory of ours: ours at the check, theirs (with their socket, and our hub.log written into it) a moment later.
  const sticky = join(base, 'sticky');
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  const real = join(base, 'real');
  mkdirSync(real, { mode: 0o700 });
  const link = join(sticky, 'home');
  symlinkSync(real, link);
  lchownSync(link, 12345, 12345);
  const refused = (e: unknown, named: string): boolean => isSnowmuxError(e, 'HOME_NOT_OWNED') && e.message.includes(`The snowmux home ${named}`) && /another user \(uid 12345\)/.test(e.message) && /in a directory of your own/.test(e.message);
  assert.throws(() => ensureHome(link), (e) => refused(e, link));
  assert.throws(() => checkHome(link), (e) => refused(e, link), 'doctor, stop and status judge it the same way');
  assert.deepEqual(readdirSync(real), [], 'nothing was written through it');
  lchownSync(link, 0, 0);
  ensureHome(link);

  // A directory on the way that another user owns: they may rename the home and put theirs in its place.
  const theirs = join(base, 'theirs');
  mkdirSync(theirs, { mode: 0o755 });
  const inTheirs = join(theirs, 'home');
  mkdirSync(inTheirs, { mode: 0o700 });
  chownSync(theirs, 12345, 12345);
  assert.throws(() => ensureHome(inTheirs), (e) => refused(e, inTheirs) && (e as Error).message.includes(`${theirs}, on its path, belongs to another user`));

  // One every user may write without the sticky bit: anyone may.
  const open = join(base, 'open');
  mkdirSync(open, { mode: 0o755 });
  const inOpen = join(open, 'home');
  mkdirSync(inOpen, { mode: 0o700 });
  chmodSync(open, 0o777);
  assert.throws(() => ensureHome(inOpen), (e) => isSnowmuxError(e, 'HOME_NOT_OWNED') && e.message.includes(`its path goes through ${open}, which is writable by others without the sticky bit`) && e.message.includes(`chmod o-w ${open}`));
  chmodSync(open, 0o755);
  ensureHome(inOpen);
});

test('the runtime directory\'s whole way is judged, not only the directory holding it: a base under a directory every user may write is refused', (t) => {
  const base = tmp(t);
  const open = join(base, 'open');
  mkdirSync(open, { mode: 0o755 });
  const runBase = join(open, 'run');
  mkdirSync(runBase, { mode: 0o755 });
  chmodSync(open, 0o777);
  const dir = join(runBase, 'rt');
  assert.throws(() => ensureRuntimeDir(dir), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && e.message.includes(`its path goes through ${open}, which is writable by others without the sticky bit`) && /SNOWMUX_RUNTIME_BASE/.test(e.message));
  assert.equal(existsSync(dir), false, 'judged before it is made');
  chmodSync(open, 0o755);
  ensureRuntimeDir(dir);
  checkSocketPath(join(dir, 'abc.sock'));
});

test('a runtime directory (or symlink) another user squats in a sticky directory is refused with a way out that works: only they or root may remove it, so SNOWMUX_RUNTIME_BASE is named', { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, (t) => {
  const base = tmp(t);
  const sticky = join(base, 'tmp');
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  chownSync(sticky, 0, 0);
  const dir = join(sticky, 'snowmux-1000');
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, 12345, 12345);
  const squatted = (e: unknown): boolean => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && (e as Error).message.includes(`It belongs to uid 12345 and ${sticky} is sticky, so only its owner, that directory's owner or root may remove it: ask them to (sudo rm -rf ${dir})`) && /Meanwhile set SNOWMUX_RUNTIME_BASE to a directory of your own/.test((e as Error).message) && !/Remove it if it is not yours/.test((e as Error).message);
  assert.throws(() => ensureRuntimeDir(dir), squatted);
  assert.throws(() => checkSocketPath(join(dir, 'abc.sock')), squatted, 'the shim is told the same before it sends anything');
  rmSync(dir, { recursive: true });
  symlinkSync(base, dir);
  lchownSync(dir, 12345, 12345);
  assert.throws(() => ensureRuntimeDir(dir), (e) => squatted(e) && /is a symbolic link/.test((e as Error).message));
  // One of ours: removing it is ours to do, and said so.
  lchownSync(dir, 0, 0);
  assert.throws(() => ensureRuntimeDir(dir), (e) => isSnowmuxError(e, 'RUNTIME_DIR_UNSAFE') && new RegExp(`Remove it if it is not yours to trust \\(rm -rf ${dir}\\)`).test(e.message));
});

test("a home refused as soon as it is made (root's `sudo -E snowmux hub` in a user's home) is not left behind to lock that user out", { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, (t) => {
  // The user's home directory, theirs: root may not keep a home in it (they could replace it).
  const userHome = join(tmp(t), 'alice');
  mkdirSync(userHome, { mode: 0o755 });
  chownSync(userHome, 65534, 65534);
  for (const home of [join(userHome, '.snowmux'), join(userHome, 'state', 'deeper', '.snowmux')]) {
    assert.throws(() => ensureHome(home), (e) => isSnowmuxError(e, 'HOME_NOT_OWNED') && e.message.includes(`${userHome}, on its path, belongs to another user`));
    assert.deepEqual(readdirSync(userHome), [], 'nothing made for the refused home is left behind');
  }
  // A home that was there already is never removed by a refusal.
  mkdirSync(join(userHome, '.snowmux'), { mode: 0o700 });
  assert.throws(() => ensureHome(join(userHome, '.snowmux')), (e) => isSnowmuxError(e, 'HOME_NOT_OWNED'));
  assert.ok(existsSync(join(userHome, '.snowmux')));
});

test("a home another user owns in a directory of the user's own (left by snowmux run with sudo) says how to take it back, not only \"use a home of your own\"", { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, (t) => {
  const mine = tmp(t);
  const home = join(mine, '.snowmux');
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, 65534, 65534);
  const me = userInfo().username;
  assert.throws(() => checkHome(home), (e) => {
    assert.ok(isSnowmuxError(e, 'HOME_NOT_OWNED'));
    assert.match(e.message, /belongs to another user, (\S+ \()?uid 65534\)?; a hub there is not yours\./);
    assert.ok(e.message.includes(`It sits in ${mine}, which is yours: it was most likely made by snowmux run as that user with your HOME (sudo -E, or a sudo that keeps HOME).`), e.message);
    assert.match(e.message, new RegExp(`Stop a hub running there as that user \\(sudo -u \\S+ snowmux stop --home ${home}\\), then take the home back \\(sudo chown -R ${me} ${home}\\) or remove it \\(sudo rm -rf ${home}\\); or use another home with --home or SNOWMUX_HOME`));
    return true;
  });
  // In someone else's directory: not the user's to take back.
  chownSync(mine, 12345, 12345);
  assert.throws(() => checkHome(home), (e) => isSnowmuxError(e, 'HOME_NOT_OWNED') && /Use a home of your own: another home with --home or SNOWMUX_HOME/.test(e.message) && !e.message.includes('sudo chown'));
});

test('status and reload in a home that does not exist and cannot be made say so, instead of "start a hub there"', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'smx-home-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  assert.throws(() => checkHomeOfHub(join(file, 'snowmux', 'home')), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && e.message.includes(`none can: ${file} is not a directory, so that home cannot be created`) && !/Start a hub/.test(e.message));
  // A home that can be made is still one where no hub has run yet, with the command that starts one.
  assert.throws(() => checkHomeOfHub(join(dir, 'new', 'home')), (e) => isSnowmuxError(e, 'HUB_NOT_RUNNING') && /that home does not exist yet\. Start a hub with/.test(e.message));
  if (process.getuid?.() !== 0) {
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    assert.throws(() => checkHomeOfHub(join(locked, 'home')), (e) => isSnowmuxError(e, 'HOME_UNUSABLE') && e.message.includes(`you may not create directories in ${locked}`));
  }
});

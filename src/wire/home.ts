/**
 * Where a hub keeps its state (socket, logs, audit, config), and the permissions that make the socket
 * a same-user channel. Shared by shim, hub and CLI; no dependencies beyond node builtins.
 */
import { accessSync, chmodSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmdirSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { SnowmuxError } from '../errors.js';
import { mkdirParentsSync } from '../mkdir-below.js';
import { shellWord } from '../shell-word.js';
import { snowmuxCommand } from '../snowmux-command.js';
import { resolveUserPath, userHome } from '../user-path.js';
import { pathTrust } from './file-trust.js';
import { describeUser } from './account-names.js';

export const SOCKET_NAME = 'hub.sock';
/** sun_path is 108 bytes on Linux and 104 on macOS; stay under both. */
const MAX_SOCKET_PATH = 100;

export interface HomeSource {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** `--home DIR`, else `$SNOWMUX_HOME`, else `~/.snowmux`; a leading `~/` is the user's home directory. */
export function resolveHome(source: HomeSource = {}): string {
  const env = source.env ?? process.env;
  if (source.flag) return resolveUserPath(source.flag, '--home', 'HOME_UNUSABLE', undefined, env);
  if (env.SNOWMUX_HOME) return resolveUserPath(env.SNOWMUX_HOME, '$SNOWMUX_HOME', 'HOME_UNUSABLE', undefined, env);
  return join(userHome('the default snowmux home (~/.snowmux)', 'give the home with --home DIR or SNOWMUX_HOME', env), '.snowmux');
}

/**
 * The socket lives in the home (0700, verified) unless that path is too long for a Unix socket; then it
 * moves to the user's private runtime directory (see runtimeDir), under a per-home name. Never a shared
 * directory: whoever could create the socket name first would receive every editor's hello and SQL.
 */
export function socketPathFor(home: string, env: NodeJS.ProcessEnv = process.env): string {
  // One home, one socket name, however it is spelled: from its real path, resolved once here and used for
  // both the length test and the name. Spelled through a symlink and as its real path, a long home hashed
  // to two names (or fitted in the home under one spelling only), and two hubs served the same home.
  const real = realHomePath(home);
  const inHome = join(real, SOCKET_NAME);
  if (Buffer.byteLength(inHome) <= MAX_SOCKET_PATH) return inHome;
  const path = join(runtimeDir(env), `${fnv1a64(real)}.sock`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH) {
    // The system cuts a longer path short without a word, on bind and on connect alike: the hub listened
    // on a name nobody checked (outside the private directory when the base alone was too long), failed at
    // the chmod, and shims reached it half-started.
    const base = runtimeBase(env);
    const room = MAX_SOCKET_PATH - (bytes - Buffer.byteLength(base));
    const where = env[RUNTIME_BASE_ENV] ? `$${RUNTIME_BASE_ENV} (${base})` : base;
    throw new SnowmuxError(
      'RUNTIME_DIR_UNSAFE',
      `No socket path fits: the home ${home} is too long to hold its socket (a Unix socket path may have at most ${MAX_SOCKET_PATH} bytes), and the private directory under ${where} it moves to makes it ${bytes} bytes (${path}). ` +
        `Set ${RUNTIME_BASE_ENV} to a directory of at most ${Math.max(room, 1)} bytes (the same for every editor, terminal and service), or use a shorter --home (or SNOWMUX_HOME).`,
    );
  }
  return path;
}

/**
 * The home's real path (every symlink on the way resolved): realpath of the home, or, before it exists, of
 * its nearest existing ancestor with the rest of the path appended (what the home will be once made).
 */
function realHomePath(home: string): string {
  const rest: string[] = [];
  for (let at = resolve(home); ; at = dirname(at)) {
    try {
      return join(realpathSync(at), ...rest.reverse());
    } catch {
      if (dirname(at) === at) return resolve(home);
      rest.push(basename(at));
    }
  }
}

/** Whether the socket lives outside the home, in the private runtime directory (a home too long for it). */
export function socketOutsideHome(socketPath: string): boolean {
  return basename(socketPath) !== SOCKET_NAME;
}

/**
 * `/tmp/snowmux-<uid>`: one directory per user, created 0700 and verified before every use (ensureRuntimeDir,
 * checkSocketPath). The socket name is how every process of the user finds the home's hub, so all must
 * compute the same one: not TMPDIR (macOS gives each login session its own, service managers and sudo unset
 * it) nor XDG_RUNTIME_DIR (unset under cron, ssh without a session manager, containers), either of which sent
 * editors to a second hub on the same home (now refused by the home's claim, hub.pid: still no hub for them). $SNOWMUX_RUNTIME_BASE replaces /tmp on a host
 * without a usable one; it is handed to the hubs shims start, and must be the same for every process.
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(runtimeBase(env), `snowmux-${currentUid() ?? 'user'}`);
}

export const RUNTIME_BASE_ENV = 'SNOWMUX_RUNTIME_BASE';

function runtimeBase(env: NodeJS.ProcessEnv): string {
  const named = env[RUNTIME_BASE_ENV];
  if (!named) return process.platform === 'win32' ? tmpdir() : '/tmp';
  if (!isAbsolute(named)) {
    throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `$${RUNTIME_BASE_ENV} is "${named}", not an absolute path: the socket's directory must not depend on where a process starts. Set it to an absolute directory (the same for every editor, terminal and service), or unset it to use /tmp.`);
  }
  return named;
}

function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * Creates the runtime directory when missing, then verifies it: a real directory, ours, closed to others.
 * The directory holding it is judged first, so a base the hub refuses is not left with a directory in it.
 */
export function ensureRuntimeDir(dir: string): void {
  verifyRuntimeBase(dir);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `Cannot create the private socket directory ${dir}: ${(err as Error).message}. Use a shorter --home (or SNOWMUX_HOME) so the socket fits in the home.`, { cause: err });
    }
  }
  verifyRuntimeDir(dir);
}

/**
 * Throws RUNTIME_DIR_UNSAFE unless `dir` is a directory (not a symlink) owned by us with mode 0700 or
 * tighter, in a directory no other user can rename it in (ours or root's; sticky if others may write).
 */
export function verifyRuntimeDir(dir: string): void {
  const st = lstatSync(dir);
  const uid = currentUid();
  // Another user's entry in a sticky directory (/tmp) is not ours to remove: `rm -rf` failed with "Operation
  // not permitted", and the only way left unsaid (a base of our own) is the one that works at once.
  const held = lstatOrUndefined(dirname(dir));
  const onlyTheirs = uid !== undefined && st.uid !== uid && held !== undefined && (held.mode & 0o1000) !== 0;
  const fix = onlyTheirs
    ? `It belongs to uid ${st.uid} and ${dirname(dir)} is sticky, so only its owner, that directory's owner or root may remove it: ask them to (sudo rm -rf ${shellWord(dir)}). Meanwhile set ${RUNTIME_BASE_ENV} to a directory of your own (the same for every editor, terminal and service), or use a shorter --home (or SNOWMUX_HOME) so the socket fits in the home.`
    : `Remove it if it is not yours to trust (rm -rf ${shellWord(dir)}), or use a shorter --home (or SNOWMUX_HOME) so the socket fits in the home.`;
  if (st.isSymbolicLink()) throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `The private socket directory ${dir} is a symbolic link; snowmux never follows one there. ${fix}`);
  if (!st.isDirectory()) throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `The private socket directory ${dir} is not a directory. ${fix}`);
  if (uid !== undefined && st.uid !== uid) {
    throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `The private socket directory ${dir} belongs to another user (uid ${st.uid}), who could read everything an editor sends. ${fix}`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `The private socket directory ${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}). Run: chmod 700 ${dir}`);
  }
  verifyRuntimeBase(dir);
}

/**
 * Throws RUNTIME_DIR_UNSAFE unless the directory that holds (or is to hold) the runtime directory `dir`
 * is one no other user can rename entries in — judged whether or not `dir` exists yet.
 */
export function verifyRuntimeBase(dir: string): void {
  const uid = currentUid();
  // Whoever may rename entries of the directory holding it could swap ours for theirs between this check
  // and the connect: its owner (if not us or root), or anyone when it is writable without the sticky bit.
  const parent = dirname(dir);
  const elsewhere = `Use a shorter --home (or SNOWMUX_HOME) so the socket fits in the home, or set ${RUNTIME_BASE_ENV} to a directory of your own, the same for every editor, terminal and service.`;
  let held;
  try {
    held = statSync(parent);
  } catch (err) {
    throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `The private socket directory ${dir} cannot be made in ${parent}: ${(err as Error).message}. ${elsewhere}`, { cause: err });
  }
  if (uid !== undefined && held.uid !== uid && held.uid !== 0) {
    throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `The private socket directory ${dir} sits in ${parent}, which belongs to another user (uid ${held.uid}), who could replace it. ${elsewhere}`);
  }
  if ((held.mode & 0o022) !== 0 && (held.mode & 0o1000) === 0) {
    throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `The private socket directory ${dir} sits in ${parent}, which others may write to without the sticky bit (mode ${(held.mode & 0o7777).toString(8)}), so they could replace it. ${elsewhere}`);
  }
  // And the way to that directory: whoever may replace a directory above it (or a symlink on the way) puts
  // a tree of theirs, socket included, where the shim connects after these checks.
  if (uid === undefined) return;
  const onPath = pathTrust(parent, held, { what: `The private socket directory ${dir} receives every editor's settings and SQL`, noun: `the socket's directory (${RUNTIME_BASE_ENV})` }, uid);
  if (onPath.refuse !== undefined) throw new SnowmuxError('RUNTIME_DIR_UNSAFE', `${onPath.refuse} ${elsewhere}`);
}

/**
 * Verifies, before anything is sent, that the socket path is one only we control: a socket outside a home
 * (any name but hub.sock, see socketPathFor) must sit in a directory that passes verifyRuntimeDir (the home
 * itself is verified by checkHome); an existing socket must be ours. A missing path is fine (no hub yet).
 * Throws SOCKET_NOT_OWNED / RUNTIME_DIR_UNSAFE.
 */
export function checkSocketPath(socketPath: string): void {
  const dir = dirname(socketPath);
  if (basename(socketPath) !== SOCKET_NAME) {
    try {
      verifyRuntimeDir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
  }
  let st;
  try {
    st = lstatSync(socketPath);
  } catch {
    return;
  }
  const uid = currentUid();
  if (uid !== undefined && st.uid !== uid) {
    throw new SnowmuxError('SOCKET_NOT_OWNED', `The hub socket ${socketPath} belongs to another user (uid ${st.uid}); snowmux will not send your settings or SQL to it. Remove it (as its owner or root) and retry.`);
  }
  if (st.isSymbolicLink()) {
    throw new SnowmuxError('SOCKET_NOT_OWNED', `The hub socket ${socketPath} is a symbolic link; snowmux never follows one. Remove it and retry.`);
  }
}

/**
 * 64-bit FNV-1a of the path, as 16 hex digits: a stable, distinct-enough name per home. Not security:
 * the socket's protection is the private directory it lives in. (node:crypto would cost the shim ms to load.)
 */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/** Creates the home (0700) or checks an existing one: ours, a directory, not open to others. */
export function ensureHome(home: string): void {
  const made = missingDirectories(home);
  try {
    mkdirParentsSync(home, 0o700);
  } catch (err) {
    throw new SnowmuxError('HOME_UNUSABLE', `Cannot create the snowmux home ${home}: ${(err as Error).message}. Choose another with --home or SNOWMUX_HOME.`, { cause: err });
  }
  try {
    checkHome(home, true);
  } catch (err) {
    // A home refused as soon as it was made (in a directory another user could replace it in: root's
    // `sudo -E snowmux hub` in the user's home) is not left behind: that empty directory, owned by whoever
    // ran the refused command, then locked the home's own user out with HOME_NOT_OWNED.
    for (const dir of made.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        break;
      }
    }
    throw err;
  }
}

/** The directories `mkdir -p home` would create, outermost first. */
function missingDirectories(home: string): string[] {
  const missing: string[] = [];
  for (let at = resolve(home); lstatOrUndefined(at) === undefined; at = dirname(at)) {
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  return missing;
}

/**
 * Why `mkdir -p home` would fail, from its nearest existing ancestor, or null: telling a user to start a hub
 * in a home that cannot be made sends them to a second error.
 */
function whyHomeCannotBeMade(home: string): string | null {
  const outermost = missingDirectories(home)[0];
  const parent = outermost === undefined ? undefined : dirname(outermost);
  if (parent === undefined || parent === outermost) return null;
  try {
    if (!statSync(parent).isDirectory()) return `${parent} is not a directory`;
    accessSync(parent, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? `you may not create directories in ${parent}` : `${parent} cannot be read (${code ?? (err as Error).message})`;
  }
  return null;
}

/**
 * checkHome for a command that talks to the hub of `home` (status, reload): a home that does not exist
 * is not an unreadable one but one where no hub has run yet, said as such, with what to do.
 */
export function checkHomeOfHub(home: string): void {
  if (!existsSync(home)) {
    const blocked = whyHomeCannotBeMade(home);
    if (blocked !== null) {
      throw new SnowmuxError('HOME_UNUSABLE', `No snowmux hub has run in ${home}, and none can: ${blocked}, so that home cannot be created. Name the home your hub uses with --home or SNOWMUX_HOME.`);
    }
    throw new SnowmuxError(
      'HUB_NOT_RUNNING',
      `No snowmux hub has run in ${home}: that home does not exist yet. Start a hub with \`${snowmuxCommand('hub', home)}\` (an editor's shim starts one by itself), ` +
        'or name the home your hub uses with --home or SNOWMUX_HOME.',
    );
  }
  checkHome(home);
}

export function checkHome(home: string, fix = false): void {
  let st;
  try {
    st = statSync(home);
  } catch (err) {
    throw new SnowmuxError('HOME_UNUSABLE', `The snowmux home ${home} is not readable: ${(err as Error).message}. Choose another with --home or SNOWMUX_HOME.`, { cause: err });
  }
  if (!st.isDirectory()) {
    throw new SnowmuxError('HOME_UNUSABLE', `The snowmux home ${home} is not a directory. Choose another with --home or SNOWMUX_HOME.`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) {
    throw new SnowmuxError('HOME_NOT_OWNED', `The snowmux home ${home} belongs to another user, ${describeUser(st.uid)}; a hub there is not yours. ${takeBackAdvice(home, st.uid, uid)}`);
  }
  if (uid !== undefined) refuseReplaceableHome(home, st, uid);
  const marker = join(home, OPEN_HOME_MARKER);
  if ((st.mode & 0o077) !== 0) {
    if (!fix) {
      throw new SnowmuxError('HOME_TOO_OPEN', `The snowmux home ${home} is accessible to other users (mode ${(st.mode & 0o777).toString(8)}). Run: chmod 700 ${home}`);
    }
    chmodSync(home, 0o700);
    // Others could write here until now: what they put in meanwhile (a socket to squat, a config, an audit
    // file) is not ours to use. The door is closed first, then the home is searched; the marker (written
    // once the door is closed, so no one else can remove it) keeps later starts searching until a search
    // passes: the mode alone would tell the next start nothing.
    if (uid !== undefined && (st.mode & 0o022) !== 0) {
      markOpenHome(marker, st.mode & 0o777);
      refuseForeignEntries(home, uid, `was writable by other users (mode ${(st.mode & 0o777).toString(8)}; now 700)`);
      rmSync(marker, { force: true });
    }
    return;
  }
  // One lstat on a normal start: the marker is there only while a home once open to others has not passed.
  if (uid !== undefined && lstatOrUndefined(marker) !== undefined) {
    refuseForeignEntries(home, uid, 'was writable by other users (it is 700 now)');
    if (fix) rmSync(marker, { force: true });
  }
}

/**
 * What to do about a home another user owns. One in a directory of the user's own (their ~/.snowmux) was
 * almost always made by snowmux run as that other user with the user's HOME (`sudo -E`, a sudo that keeps
 * HOME): "use a home of your own" named no way back to the default one.
 */
function takeBackAdvice(home: string, owner: number, uid: number): string {
  const elsewhere = 'another home with --home or SNOWMUX_HOME (and the same in your editors\' entries: `snowmux setup <client>`).';
  if (lstatOrUndefined(dirname(home))?.uid !== uid) return `Use a home of your own: ${elsewhere}`;
  const as = owner === 0 ? 'sudo ' : `sudo -u ${shellWord(accountName(owner) ?? `#${owner}`)} `;
  const me = accountName(uid) ?? String(uid);
  return (
    `It sits in ${dirname(home)}, which is yours: it was most likely made by snowmux run as ${owner === 0 ? 'root' : 'that user'} with your HOME (sudo -E, or a sudo that keeps HOME). ` +
    `Stop a hub running there as that user (${as}snowmux stop --home ${shellWord(home)}), then take the home back (sudo chown -R ${shellWord(me)} ${shellWord(home)}) or remove it (sudo rm -rf ${shellWord(home)}); or use ${elsewhere}`
  );
}

/** The login name of `uid` from the local user database, or undefined. */
function accountName(uid: number): string | undefined {
  const described = describeUser(uid);
  return described.startsWith('uid ') ? undefined : described.slice(0, described.lastIndexOf(' (uid '));
}

/**
 * Throws HOME_NOT_OWNED when another user could put a directory of theirs where the home's path leads: a
 * symlink of theirs on the way in a sticky directory every user may write (`/tmp/x -> ~/.snowmux`), a
 * directory on the way they own, or one every user may write without the sticky bit (wire/file-trust.ts,
 * the walk the config file gets). The home is then ours when checked, and theirs a moment later: the
 * shim's lock and hub-stderr.log, the hub's hub.log (its SQL), keys.json and hub.pid went through the path
 * as spelled into whatever it named then, while the owner and mode checks above passed.
 */
function refuseReplaceableHome(home: string, st: Stats, uid: number): void {
  const label = { what: `The snowmux home ${home} holds the hub's socket, logs, keys and audit log`, noun: 'the snowmux home (--home or SNOWMUX_HOME)' };
  const onPath = pathTrust(home, st, label, uid);
  if (onPath.refuse !== undefined) throw new SnowmuxError('HOME_NOT_OWNED', onPath.refuse);
}

/** In the home while a search for entries other users put there (when they could write it) has not passed. */
const OPEN_HOME_MARKER = 'home-was-open';

/**
 * Creates the marker, never through what is already at its name: a name others planted while they could
 * write the home (a symlink to a file of ours) is left alone, and the search names it.
 */
function markOpenHome(marker: string, wasMode: number): void {
  if (lstatOrUndefined(marker) !== undefined) return;
  try {
    writeFileSync(marker, `This snowmux home was writable by other users (mode ${wasMode.toString(8)}). Each start searches it for entries they own until none is left; then this file is removed.\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new SnowmuxError('HOME_UNUSABLE', `Cannot write ${marker}: ${(err as Error).message}. Choose another home with --home or SNOWMUX_HOME.`, { cause: err });
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Stops at the first entry under `home` (not following symlinks) that another user owns. */
function refuseForeignEntries(home: string, uid: number, was: string): void {
  let entries: string[];
  try {
    entries = readdirSync(home, { recursive: true, encoding: 'utf8' });
  } catch (err) {
    throw new SnowmuxError('HOME_UNUSABLE', `The snowmux home ${home} could not be searched: ${(err as Error).message}. Choose another with --home or SNOWMUX_HOME.`, { cause: err });
  }
  for (const entry of entries) {
    const path = join(home, entry);
    const owner = lstatOrUndefined(path)?.uid;
    if (owner !== undefined && owner !== uid) {
      throw new SnowmuxError(
        'HOME_NOT_OWNED',
        `The snowmux home ${home} ${was} and holds ${path}, owned by another user (uid ${owner}), ` +
          `who may have put it there. Remove it (rm -r ${shellWord(path)}) after checking what it is, then start again.`,
      );
    }
  }
}

/**
 * API keys for the hub's HTTP face: `<home>/keys.json`, holding for each key its id, identity, expiry,
 * revocation and the SHA-256 of its secret — never the secret, which is shown once at creation. The key a
 * client sends is `smx_<id>_<secret>`: the id finds the record, the secret is compared by hash in
 * constant time. The secret is 192 random bits, so a plain hash is enough (no password-style KDF).
 *
 * The hub re-reads the file when it changes (a stat per check), so `snowmux keys revoke` takes effect on
 * the next request. The file must be the user's own, not a symlink, and closed to others.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { SnowmuxError } from '../../errors.js';
import { shownText } from '../../shown-text.js';
import { shellWord } from '../../shell-word.js';
import { stateFileFix } from '../../wire/bounded-read.js';
import { snowmuxCommand, type HubPlace } from '../../snowmux-command.js';

export const KEYS_FILE = 'keys.json';

export interface ApiKeyRecord {
  id: string;
  identity: string;
  /** sha256 of the secret part, hex. */
  hash: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export type KeyCheck =
  | { ok: true; id: string; identity: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired'; id?: string; identity?: string }
  /** The key may be valid, but the keys it would be checked against are not loaded yet (a team's Redis). */
  | { ok: false; reason: 'unavailable'; id?: string; why: string };

/** What the audit log keeps of a refused authentication: never the key's secret. */
export interface AuthRefusal {
  reason: Extract<KeyCheck, { ok: false }>['reason'] | 'throttled';
  route: string;
  remote: string;
  /** The key's id (its public part) when the request sent a well-formed key. */
  keyId?: string | undefined;
  /** The key's identity, when the key exists (revoked, expired). */
  identity?: string | undefined;
  /** Refusals not audited since the last record (the per-minute bound). */
  suppressed?: number | undefined;
}

const KEY_PATTERN = /^smx_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;
/** A key's stored hash: the SHA-256 of its secret, lower-case hex (as sha256() writes it). */
const HASH_PATTERN = /^[0-9a-f]{64}$/;
/** What checkKey can compare: 32 bytes of hex in either case (a team's records are not file-checked). */
const COMPARABLE_HASH = /^[0-9a-f]{64}$/i;
const IDENTITY_PATTERN = /^[A-Za-z0-9_.@+-]{1,64}$/;

export function keysPath(home: string): string {
  return join(home, KEYS_FILE);
}

/** Reads the key file after checking it is a regular file of ours, closed to others (never through a symlink). */
export function readKeys(path: string): { records: ApiKeyRecord[]; stat: Stats | null } {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO there opens at once (and is refused below as not a regular file) instead of blocking.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { records: [], stat: null };
    if (code === 'ELOOP') throw new SnowmuxError('CONFIG_INVALID', `${path} is a symlink; snowmux reads API keys only from a regular file of its own. Replace it with the file itself.`);
    throw new SnowmuxError('CONFIG_UNREADABLE', `Cannot read ${path}: ${(err as Error).message}.`, { cause: err });
  }
  try {
    const stat = fstatSync(fd);
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if (!stat.isFile()) throw new SnowmuxError('CONFIG_INVALID', `${path} is not a regular file, so no API key can be read from it; ${stateFileFix(path)} Then create the keys again (snowmux keys create).`);
    if (uid !== undefined && stat.uid !== uid) {
      throw new SnowmuxError(
        'CONFIG_INVALID',
        `${path} belongs to another user (uid ${stat.uid}), who could add keys of their own to it; snowmux will not trust keys from it. ` +
          `Have it removed (by its owner or root: sudo rm ${shellWord(path)}), then create the keys you need again with snowmux keys create.`,
      );
    }
    if ((stat.mode & 0o077) !== 0) throw new SnowmuxError('CONFIG_INVALID', `${path} is readable or writable by others (mode ${(stat.mode & 0o777).toString(8)}). Run: chmod 600 ${path}`);
    const text = readFileSync(fd, 'utf8');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new SnowmuxError('CONFIG_INVALID', `${path} is not valid JSON (${(err as Error).message}). Restore it, or delete it and create the keys again.`);
    }
    const keys = (data as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) throw new SnowmuxError('CONFIG_INVALID', `${path} does not hold a valid key list. Restore it, or delete it and create the keys again.`);
    for (const [i, key] of keys.entries()) {
      const problem = recordProblem(key);
      if (problem) throw new SnowmuxError('CONFIG_INVALID', `${path}: key ${i + 1} ${problem}. Fix that entry, or delete it and create a new key; until then no key in the file is accepted.`);
    }
    return { records: keys as ApiKeyRecord[], stat };
  } finally {
    closeSync(fd);
  }
}

/**
 * What is wrong with one entry of the key file, or undefined. A file edited by hand is checked as strictly
 * as one `snowmux keys` wrote: an expiry that is not a date read as "never expires" before.
 */
function recordProblem(x: unknown): string | undefined {
  const r = x as Partial<Record<keyof ApiKeyRecord, unknown>>;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'is not an object';
  const named = typeof r.id === 'string' ? `(id ${JSON.stringify(r.id.slice(0, 20))}) ` : '';
  if (typeof r.id !== 'string' || !/^[0-9a-f]{12}$/.test(r.id)) return `${named}has no valid "id" (12 hex digits)`;
  if (typeof r.identity !== 'string' || !IDENTITY_PATTERN.test(r.identity)) return `${named}has no valid "identity" (1–64 letters, digits or _ . @ + -)`;
  if (typeof r.hash !== 'string' || !HASH_PATTERN.test(r.hash)) return `${named}has no valid "hash"`;
  for (const field of ['expiresAt', 'revokedAt'] as const) {
    const v = r[field];
    if (v !== null && v !== undefined && (typeof v !== 'string' || Number.isNaN(Date.parse(v)))) {
      return `${named}has "${field}": ${JSON.stringify(v).slice(0, 40)}, which is not a date (write one such as "2026-01-31T00:00:00Z", or null)`;
    }
  }
  return undefined;
}

/**
 * Replaces the key file atomically (a temp file renamed over it). On failure the temp file is removed (a full
 * disk left one 0-byte `keys.json.<pid>.tmp` per attempt) and KEYS_WRITE_FAILED says, in `notDone`, that the
 * change was not made: keys.json is as it was.
 */
function writeKeys(path: string, records: ApiKeyRecord[], notDone: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify({ version: 1, keys: records }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* nothing more can be done here; the message below names the file */
    }
    throw new SnowmuxError('KEYS_WRITE_FAILED', `${notDone}: ${path} could not be written (${writeProblem(err)}); it is unchanged. ${writeFix(err)}`, { cause: err });
  }
}

function writeProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'no space left on the home\'s disk';
  if (code === 'EROFS') return 'the home\'s filesystem is mounted read-only';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (err as Error).message;
}

function writeFix(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'Free space on that disk, then run the command again.';
  if (code === 'EROFS') return 'Remount it read-write (or use a home on a writable filesystem), then run the command again.';
  return 'Fix that, then run the command again.';
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Creates a key; returns the full key (shown once) and its record. */
export function createKey(home: string, identity: string, expiresAt: Date | null, now = new Date()): { key: string; record: ApiKeyRecord } {
  const path = keysPath(home);
  const { records } = readKeys(path);
  const made = newKey(identity, expiresAt, now);
  writeKeys(path, [...records, made.record], `Key ${made.record.id} for identity "${made.record.identity}" was NOT created`);
  return made;
}

/** The one record whose id starts with `prefix` (at least 4 characters). */
export function findKey(records: ApiKeyRecord[], prefix: string): ApiKeyRecord {
  if (prefix.length < 4) throw new SnowmuxError('USAGE', 'Name the key by its id (at least 4 characters; see `snowmux keys list`).');
  const matches = records.filter((r) => r.id.startsWith(prefix));
  if (matches.length === 0) throw new SnowmuxError('INVALID_ARGUMENT', `No key id starts with "${shownText(prefix)}" (see \`snowmux keys list\`).`);
  if (matches.length > 1) throw new SnowmuxError('INVALID_ARGUMENT', `"${shownText(prefix)}" matches ${matches.length} keys; give more of the id.`);
  return matches[0]!;
}

/** Revokes the key whose id starts with `prefix` (at least 4 characters, exactly one match). */
export function revokeKey(home: string, prefix: string, now = new Date()): ApiKeyRecord {
  const path = keysPath(home);
  const { records } = readKeys(path);
  const target = findKey(records, prefix);
  if (target.revokedAt === null) target.revokedAt = now.toISOString();
  writeKeys(path, records, `Key ${target.id} (${target.identity}) was NOT revoked: the hub still accepts it`);
  return target;
}

/**
 * A rotation: a new key for the same identity, and the old key's expiry brought forward to `overlapEnds`
 * (never pushed later), so clients can move to the new key while the old one still works. Pure: the
 * caller stores both records together (one file write, or one Redis HSET).
 */
export function rotation(
  records: ApiKeyRecord[],
  prefix: string,
  overlapEnds: Date,
  expiresAt: Date | null | undefined,
  now = new Date(),
  place?: HubPlace,
): { key: string; record: ApiKeyRecord; old: ApiKeyRecord } {
  const found = findKey(records, prefix);
  // The advice names the home and config the command was run with: pasted bare, it acted on ~/.snowmux.
  const create = place === undefined ? `snowmux keys create --identity ${shellWord(found.identity)}` : snowmuxCommand(`keys create --identity ${shellWord(found.identity)}`, place);
  if (found.revokedAt) throw new SnowmuxError('INVALID_ARGUMENT', `Key ${found.id} is revoked: there is nothing to rotate. Create a new one: ${create}`);
  if (found.expiresAt && !(Date.parse(found.expiresAt) > now.getTime())) {
    throw new SnowmuxError('INVALID_ARGUMENT', `Key ${found.id} has expired: there is nothing to rotate. Create a new one: ${create}`);
  }
  // Without --expires the new key lives as long as the old one was made to (none: no expiry either).
  const lifetime = found.expiresAt ? Date.parse(found.expiresAt) - Date.parse(found.createdAt) : undefined;
  const newExpiry = expiresAt !== undefined ? expiresAt : lifetime !== undefined && lifetime > 0 ? new Date(now.getTime() + lifetime) : null;
  const made = newKey(found.identity, newExpiry, now);
  const oldEnds = found.expiresAt && Date.parse(found.expiresAt) < overlapEnds.getTime() ? found.expiresAt : overlapEnds.toISOString();
  return { ...made, old: { ...found, expiresAt: oldEnds } };
}

/** Rotates the key whose id starts with `prefix` in this home's file (see `rotation`). */
export function rotateKey(home: string, prefix: string, overlapEnds: Date, expiresAt: Date | null | undefined, now = new Date(), config?: string): { key: string; record: ApiKeyRecord; old: ApiKeyRecord } {
  const path = keysPath(home);
  const { records } = readKeys(path);
  const rotated = rotation(records, prefix, overlapEnds, expiresAt, now, { home, config });
  writeKeys(path, [...records.map((r) => (r.id === rotated.old.id ? rotated.old : r)), rotated.record], `Key ${rotated.old.id} (${rotated.old.identity}) was NOT rotated: it works as before, and no new key exists`);
  return rotated;
}

/**
 * The hub's view of the key file: re-read whenever the file changes. A file that is gone holds no key, and
 * one that became untrustworthy (a symlink, an open mode, broken JSON) authenticates no one; a read that
 * fails for any other reason (too many open files, an I/O error) is not a verdict on the keys: the keys
 * read last stay in force, and the read is tried again on the next check. A hub short of descriptors
 * dropped every key and told clients with valid keys "not valid" (401, which they do not retry).
 */
export class ApiKeyStore {
  #records: Map<string, ApiKeyRecord> = new Map();
  #seen = '';
  /** Whether the file (or its absence) has been read once: until then, a failed read refuses nobody for good. */
  #loaded = false;
  #problem: string | null = null;

  /**
   * `onProblem` hears, once each time it changes, why the file can no longer be used — `kept` false: every
   * key is refused then (a hand edit that broke it, an open mode, a symlink), and the clients only see "not
   * valid"; `kept` true: it could not be read, and the keys read last are used (none yet: every request is
   * answered 503, retry) — and null when it is usable again.
   */
  constructor(
    private readonly path: string,
    private readonly clock: () => number = Date.now,
    private readonly onProblem: (problem: string | null, kept: boolean) => void = () => {},
  ) {
    try {
      this.reload();
    } catch (err) {
      // An untrustworthy file stops the hub at its start; a failed read is tried again on the first check.
      if (!isFailedRead(err)) throw err;
      this.failedRead(err);
    }
  }

  /** Number of keys that can authenticate now. */
  get activeCount(): number {
    const now = this.clock();
    return [...this.#records.values()].filter((r) => !r.revokedAt && !(r.expiresAt && Date.parse(r.expiresAt) <= now)).length;
  }

  private reload(): void {
    const { records, stat } = readKeys(this.path);
    this.#records = new Map(records.map((r) => [r.id, r]));
    this.#seen = stat ? signatureOf(stat) : 'none';
    this.#loaded = true;
  }

  private failedRead(err: unknown): void {
    const problem = err instanceof Error ? err.message : String(err);
    if (problem !== this.#problem) this.onProblem((this.#problem = problem), true);
  }

  private refresh(): void {
    // By path: no descriptor is needed to see whether the file changed (the check runs on every request).
    let signature: string;
    try {
      const st = lstatSync(this.path, { throwIfNoEntry: false });
      signature = st ? signatureOf(st) : 'none';
    } catch (err) {
      this.failedRead(new SnowmuxError('CONFIG_UNREADABLE', `Cannot read ${this.path}: ${(err as Error).message}.`, { cause: err }));
      return;
    }
    if (signature === this.#seen && this.#loaded) return;
    try {
      this.reload();
      if (this.#problem !== null) this.onProblem((this.#problem = null), false);
    } catch (err) {
      if (isFailedRead(err)) {
        this.failedRead(err);
        return;
      }
      // A file that became untrustworthy (symlink, open mode, broken JSON) authenticates no one.
      this.#records = new Map();
      this.#seen = signature;
      this.#loaded = true;
      const problem = err instanceof Error ? err.message : String(err);
      if (problem !== this.#problem) this.onProblem((this.#problem = problem), false);
    }
  }

  check(token: string | undefined): KeyCheck {
    if (token === undefined || token === '') return { ok: false, reason: 'missing' };
    if (!KEY_PATTERN.test(token)) return { ok: false, reason: 'malformed' };
    this.refresh();
    if (!this.#loaded) return { ok: false, reason: 'unavailable', why: `the API key file has not been read yet (${this.#problem ?? 'unknown error'})` };
    return checkKey(token, (id) => this.#records.get(id), this.clock());
  }

  /** The records as read now (for stores that add keys from elsewhere). */
  records(): ApiKeyRecord[] {
    this.refresh();
    return [...this.#records.values()];
  }
}

/** What a change of the file shows in: its content, and its mode and owner (a chmod or chown changes neither the content nor mtime). */
function signatureOf(stat: Stats): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.mode}:${stat.uid}`;
}

/** A read of the key file that failed (too many open files, an I/O error), as opposed to a file that is not to be trusted. */
function isFailedRead(err: unknown): boolean {
  return !(err instanceof SnowmuxError && err.code === 'CONFIG_INVALID');
}

/** What checks a bearer key: the local file, or the team's keys in Redis as well. */
export interface KeyChecker {
  check(token: string | undefined): KeyCheck;
  readonly activeCount: number;
  /** Calls `listener` whenever the keys may have changed (a team's pub/sub), to recheck open connections at once. */
  onChange?(listener: () => void): void;
  /** Why some keys cannot be checked yet (a team replica that has not read Redis since it started), or null. */
  unavailable?(): string | null;
}

/** Checks a key against the record its id names: hash in constant time, then revocation and expiry. */
export function checkKey(token: string, recordOf: (id: string) => ApiKeyRecord | undefined, now: number): KeyCheck {
  const m = KEY_PATTERN.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const found = recordOf(m[1]!);
  // A record whose hash is no SHA-256 (a team's Redis holds what anyone with its password wrote) authenticates
  // no one: compared as it was, its other length made timingSafeEqual throw, and the request failed as
  // "Malformed request: Input buffers must have the same byte length" instead of being refused.
  const record = found !== undefined && typeof found.hash === 'string' && COMPARABLE_HASH.test(found.hash) ? found : undefined;
  const given = Buffer.from(sha256(m[2]!), 'hex');
  const expected = Buffer.from(record?.hash ?? '0'.repeat(64), 'hex');
  const same = timingSafeEqual(given, expected);
  // The id is the key's public part: it names, in the audit record of a refusal, which key was tried.
  if (!record || !same) return { ok: false, reason: 'unknown', id: m[1]! };
  if (record.revokedAt) return { ok: false, reason: 'revoked', id: record.id, identity: record.identity };
  // An expiry that is not a date counts as passed: never "no expiry" (a team's records are not file-checked).
  if (record.expiresAt && !(Date.parse(record.expiresAt) > now)) return { ok: false, reason: 'expired', id: record.id, identity: record.identity };
  return { ok: true, id: record.id, identity: record.identity };
}

/** A new key and its record, not stored anywhere yet. */
export function newKey(identity: string, expiresAt: Date | null, now = new Date()): { key: string; record: ApiKeyRecord } {
  if (!IDENTITY_PATTERN.test(identity)) {
    throw new SnowmuxError('USAGE', `--identity must be 1–64 letters, digits or _ . @ + -; got "${identity}". It names the caller in roles, limits and the audit log.`);
  }
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  return { key: `smx_${id}_${secret}`, record: { id, identity, hash: sha256(secret), createdAt: now.toISOString(), expiresAt: expiresAt?.toISOString() ?? null, revokedAt: null } };
}

/**
 * Turns schema issues into the sentences users read:
 * `Config error in ~/.snowmux/config.toml at profiles.dev.pool.max: expected a positive integer, got "lots". Fix the value or remove the key.`
 * The value of a key that may hold a secret (SECRET_BEARING_FILE_KEYS) is never echoed, and unknown keys get a
 * "did you mean" hint.
 */
import type { z } from 'zod';
import { KNOWN_KEYS, SECRET_BEARING_FILE_KEYS } from './config-schema.js';
import { closestName } from '../../closest-name.js';
import { shownUrl } from '../../shown-text.js';

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/** Renders a key path the way it would be written in TOML (quoting keys that are not bare keys). */
export function renderKeyPath(path: readonly PathKey[]): string {
  return path
    .map((key) => {
      const text = String(key);
      return /^[A-Za-z0-9_-]+$/.test(text) ? text : JSON.stringify(text);
    })
    .join('.');
}

/** A short, human description of a value ("\"lots\"", "12", "a table", "an array"). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') {
    // A URL's user and password (redis_url, a proxy) and a `?password=` are hidden before anything is cut:
    // a value is shown to whoever reads the error, and a refused reload's reason reaches every key holder's /events.
    const shown = shownUrl(value);
    return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) {
    // smol-toml dates are objects too; anything else here is a TOML table.
    return value.constructor?.name === 'TomlDate' ? 'a date' : 'a table';
  }
  return typeof value;
}

function valueKind(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number' || typeof value === 'bigint') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return describeValue(value);
}

function valueAt(data: unknown, path: readonly PathKey[]): unknown {
  let cursor: unknown = data;
  for (const key of path) {
    if (cursor === null || typeof cursor !== 'object') return undefined;
    cursor = (cursor as Record<PropertyKey, unknown>)[key];
  }
  return cursor;
}

/** Top-level sections that are one table each, named like their KNOWN_KEYS list. */
const SINGLE_TABLE_SECTIONS: ReadonlySet<string> = new Set(['hub', 'policy', 'limits', 'audit', 'breaker']);

/** The keys allowed in the table at `path` (profile and role names are the variable second key). */
function knownKeysAt(path: readonly PathKey[]): readonly string[] | undefined {
  const [section, second, third] = path;
  if (path.length === 0) return KNOWN_KEYS[''];
  if (path.length === 1 && typeof section === 'string' && SINGLE_TABLE_SECTIONS.has(section)) return KNOWN_KEYS[section];
  if (path.length === 2 && section === 'limits' && second === 'rate') return KNOWN_KEYS.rate;
  if (path.length === 2 && section === 'profiles') return KNOWN_KEYS.profile;
  if (path.length === 3 && section === 'profiles' && third === 'pool') return KNOWN_KEYS.pool;
  if (path.length === 2 && section === 'roles') return KNOWN_KEYS.role;
  if (path.length === 3 && section === 'roles' && (third === 'rate' || third === 'quota')) return KNOWN_KEYS[third];
  if (path.length === 2 && section === 'tools') return KNOWN_KEYS.tool;
  if (path.length === 4 && section === 'tools' && third === 'params') return KNOWN_KEYS.param;
  return undefined;
}

/** Names other Snowflake tools use for keys snowmux spells differently. */
const KEY_ALIASES: Record<string, string> = {
  username: 'user',
  private_key_file: 'private_key_path',
  private_key_file_pwd: 'private_key_passphrase',
  private_key_pwd: 'private_key_passphrase',
  private_key_raw: 'private_key',
  statement_timeout_ms: 'statement_timeout_s',
  statement_timeout: 'statement_timeout_s',
  max_connection_age_hours: 'max_age_hours',
  conn_refresh_hours: 'max_age_hours',
  validate_on_borrow: 'validate',
};

/** Best guess for a misspelt key among the allowed ones, or undefined. */
export function suggestKey(unknownKey: string, known: readonly string[]): string | undefined {
  const snake = unknownKey.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  for (const candidate of [unknownKey, snake]) {
    const alias = KEY_ALIASES[candidate];
    if (alias !== undefined && known.includes(alias)) return alias;
    if (candidate !== unknownKey && known.includes(candidate)) return candidate;
  }
  return closestName(snake, known);
}

/** The table a sub-table's keys sit beside (its parent's path and key list), for a key written under the wrong header. */
function parentTable(path: readonly PathKey[]): { path: readonly PathKey[]; known: readonly string[] } | undefined {
  const [section, , third] = path;
  if (path.length === 3 && section === 'profiles' && third === 'pool') return { path: path.slice(0, 2), known: KNOWN_KEYS.profile ?? [] };
  if (path.length === 3 && section === 'roles' && (third === 'rate' || third === 'quota')) return { path: path.slice(0, 2), known: KNOWN_KEYS.role ?? [] };
  if (path.length === 2 && section === 'limits' && path[1] === 'rate') return { path: ['limits'], known: KNOWN_KEYS.limits ?? [] };
  return undefined;
}

/** The one-table sections whose keys a top-level key may be meant for, as their headers. */
const TOP_LEVEL_HOMES = ['hub', 'policy', 'limits', 'audit', 'breaker'] as const;

/**
 * TOML puts a key in the last [table] header above it: a profile's `role` written after `[profiles.dev.pool]`
 * is the pool's, and a `max_rows` above every header is at the top level. Says where such a key belongs.
 */
function misplacedHint(key: string, path: readonly PathKey[]): string | undefined {
  const parent = parentTable(path);
  if (parent?.known.includes(key)) {
    return ` "${key}" is a key of [${renderKeyPath(parent.path)}]: a key belongs to the last [table] header above it, so write it above the [${renderKeyPath(path)}] header.`;
  }
  if (path.length === 0) {
    const homes = TOP_LEVEL_HOMES.filter((section) => KNOWN_KEYS[section]?.includes(key));
    if (homes.length > 0) {
      const headers = homes.map((h) => `[${h}]`).join(' or ');
      return ` "${key}" is a key of ${headers}: above every [table] header a key is at the top level, which holds tables only, so write it under the ${headers} header.`;
    }
  }
  return undefined;
}

function where(path: readonly PathKey[]): string {
  return path.length === 0 ? 'the top level' : renderKeyPath(path);
}

/**
 * Whether the value at `path` may be a secret: a secret-bearing key's, an entry of one's list
 * (http_allowed_origins), or an OTLP header (whose values are the collector's API key as often as not).
 */
function holdsSecret(path: readonly PathKey[]): boolean {
  const names = path.filter((key): key is string => typeof key === 'string');
  const last = names[names.length - 1];
  return (last !== undefined && SECRET_BEARING_FILE_KEYS.has(last)) || names[names.length - 2] === 'otel_headers';
}

function issueLines(issue: Issue, data: unknown, fileLabel: string): string[] {
  const prefix = `Config error in ${fileLabel} at`;
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(issue.path) ?? [];
    return issue.keys.map((key) => {
      const misplaced = misplacedHint(key, issue.path);
      if (misplaced !== undefined) return `${prefix} ${where(issue.path)}: unknown key "${key}".${misplaced}`;
      const suggestion = suggestKey(key, known);
      const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
      const allowed = suggestion === undefined && known.length > 0 ? ` Allowed keys here: ${known.join(', ')}.` : '';
      return `${prefix} ${where(issue.path)}: unknown key "${key}"${hint}. Remove it or correct its spelling.${allowed}`;
    });
  }
  const value = valueAt(data, issue.path);
  const got = holdsSecret(issue.path) ? `${valueKind(value)} (value hidden)` : describeValue(value);
  // A key that must be there cannot be removed: say to add it.
  const advice = value === undefined ? 'Add the key.' : 'Fix the value or remove the key.';
  return [`${prefix} ${where(issue.path)}: ${issue.message}, got ${got}. ${advice}`];
}

/** All issues of one parse, one self-contained line each, in file order of discovery. */
export function formatConfigIssues(issues: readonly Issue[], data: unknown, fileLabel: string): string {
  return issues.flatMap((issue) => issueLines(issue, data, fileLabel)).join('\n');
}

/**
 * Identity and safe display of a resolved profile.
 * - profileFingerprint: the pool key. Same connection settings → same fingerprint (one shared pool);
 *   any difference, including a different secret, → a different one. The secret enters only through an
 *   HMAC keyed per process, so a fingerprint shown in status or logs cannot be used to guess a password.
 *   Consequence: fingerprints are stable within one hub process, not across restarts (pools do not outlive it).
 * - redactProfile: what logs and status may show — everything but secrets; auth is reduced to its method.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { shownUrl } from '../../shown-text.js';
import type { SnowflakeAuth, SnowflakeProfile } from './profile-types.js';

const SECRET_KEY = randomBytes(32);

function secretMaterial(auth: SnowflakeAuth): string[] {
  switch (auth.method) {
    case 'password':
      return ['password', auth.password, auth.mfa?.passcode ?? '', String(auth.mfa?.passcodeInPassword ?? false)];
    case 'mfa':
      return ['mfa', auth.password, auth.passcode ?? ''];
    case 'keypair':
      return ['keypair', auth.privateKeyPem, auth.passphrase ?? ''];
    case 'oauth':
      return ['oauth', auth.token];
    case 'pat':
      return ['pat', auth.token];
    case 'externalbrowser':
      return ['externalbrowser'];
  }
}

/**
 * Identity (per process) of what a profile logs in with: its method and secret — the password, the key's
 * PEM text and passphrase, the token, as resolved (a key or token file's content, read again when the file
 * changes). Two profiles with the same value log in with the same credentials; a refused login is worth
 * trying again once this differs. Cheap (one HMAC), and safe to show: it reveals nothing of the secret.
 */
export function credentialsFingerprint(profile: SnowflakeProfile): string {
  return createHmac('sha256', SECRET_KEY).update(JSON.stringify(secretMaterial(profile.auth))).digest('hex');
}

/** Stable (per process) identity of a profile's connection settings; the profile name is deliberately excluded. */
export function profileFingerprint(profile: SnowflakeProfile): string {
  const secret = credentialsFingerprint(profile);
  const identity = [
    profile.account.toLowerCase(),
    // Snowflake login names are case-insensitive.
    profile.user.toLowerCase(),
    profile.auth.method,
    secret,
    profile.role ?? null,
    profile.warehouse ?? null,
    profile.database ?? null,
    profile.schema ?? null,
    profile.host ?? null,
    profile.accessUrl ?? null,
    profile.statementTimeoutMs,
    profile.pool.min,
    profile.pool.max,
    profile.pool.acquireTimeoutMs,
    profile.pool.idleTimeoutMs,
    profile.pool.validateOnBorrow,
    profile.pool.maxConnectionAgeMs,
  ];
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 32);
}

export type RedactedProfile = Omit<SnowflakeProfile, 'auth'> & { auth: { method: SnowflakeAuth['method'] } };

/** A copy safe for logs and status: no secret, no key material; auth shows only its method. */
export function redactProfile(profile: SnowflakeProfile): RedactedProfile {
  return {
    name: profile.name,
    account: profile.account,
    user: profile.user,
    auth: { method: profile.auth.method },
    role: profile.role,
    warehouse: profile.warehouse,
    database: profile.database,
    schema: profile.schema,
    // user:password@ is refused at resolution; a token in the query is hidden here.
    accessUrl: profile.accessUrl === undefined ? undefined : shownUrl(profile.accessUrl),
    host: profile.host,
    pool: { ...profile.pool },
    statementTimeoutMs: profile.statementTimeoutMs,
    sources: { ...profile.sources },
  };
}

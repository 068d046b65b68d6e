/**
 * What the pools of one hub that log in with the same credentials at the same Snowflake share: the login
 * in flight that the others wait for (its refusal is their answer too), and the back-off after Snowflake
 * refused those credentials.
 *
 * A pool is per connection identity (profileFingerprint): editors whose settings differ only in database,
 * schema, warehouse, role or pool size get pools of their own, with the same user and secret. Kept per pool,
 * each pool's first login asked the person again at the same moment (two MFA pushes, two browser sign-ins,
 * where the second would have used the token the first caches), and each pool sent a refused password once
 * more — five such editors locked the Snowflake user. Keyed per process (like the driver's own token cache
 * and sign-in coordination): the key holds no secret, only credentialsFingerprint's HMAC.
 */
import type { SnowmuxError } from '../../../errors.js';
import type { SnowflakeProfile } from '../../config/profile-types.js';
import { credentialsFingerprint } from '../../config/profile-identity.js';
import { accessUrlOf } from './connection-options.js';

/** A driver error kept to tell another profile's callers what Snowflake said, in their profile's words. */
export interface RawLoginError {
  code?: string | undefined;
  message?: string | undefined;
  sqlState?: string | undefined;
}

/** What a finished lead login answers those waiting for it: undefined when it succeeded. */
export interface LeadAnswer {
  error: SnowmuxError;
  raw: RawLoginError | undefined;
  /** The pool (an opaque owner) whose login it was. */
  owner: object;
  /** Who else it answers: everyone with these credentials, those with the same Snowflake role, or only its pool. */
  scope: RefusalScope | 'pool';
}

/** '' for credentials Snowflake refused; `role:<ROLE>` for a role it refused for this user (390189). */
export type RefusalScope = string;

export interface Refusal {
  error: SnowmuxError;
  raw: RawLoginError | undefined;
  owner: object;
  /** No login before this (monotonic ms). */
  until: number;
  refusals: number;
}

export class SharedLogin {
  /** The login the others wait for while it runs: its answer (undefined: it succeeded). */
  leading: Promise<LeadAnswer | undefined> | null = null;
  /** Refusals by scope (see RefusalScope); cleared by a login that succeeds. */
  readonly refused = new Map<RefusalScope, Refusal>();
  /** Pools open with these credentials. */
  users = 0;
  /** When it was last used (monotonic ms), for pruning. */
  touched = 0;
}

/** Shared states kept beyond the open pools' (those with a refusal, for its back-off), oldest dropped first. */
const MAX_KEPT = 256;
/** Per loaded driver (one per hub process; a test's scripted driver has its own). */
const byDriver = new WeakMap<object, Map<string, SharedLogin>>();

/** The same server, account, user, method and secret (as resolved: a key or token file's content). */
function loginKey(profile: SnowflakeProfile): string {
  return JSON.stringify([
    accessUrlOf(profile)?.toLowerCase() ?? '',
    profile.account.toLowerCase(),
    profile.user.toLowerCase(),
    profile.auth.method,
    credentialsFingerprint(profile),
  ]);
}

/** The shared state of this profile's credentials with this driver; release() it when the pool closes. */
export function sharedLogin(driver: object, profile: SnowflakeProfile, now: number): { state: SharedLogin; release: () => void } {
  let shared = byDriver.get(driver);
  if (shared === undefined) {
    shared = new Map();
    byDriver.set(driver, shared);
  }
  const key = loginKey(profile);
  let state = shared.get(key);
  if (state === undefined) {
    prune(shared, now);
    state = new SharedLogin();
    shared.set(key, state);
  }
  state.users++;
  state.touched = now;
  const held = state;
  let released = false;
  return {
    state: held,
    release: () => {
      if (released) return;
      released = true;
      held.users--;
    },
  };
}

/** Drops states no pool uses whose back-off is over; past MAX_KEPT, the least recently used unused ones. */
function prune(shared: Map<string, SharedLogin>, now: number): void {
  for (const [key, state] of shared) {
    if (state.users > 0 || state.leading !== null) continue;
    if ([...state.refused.values()].every((r) => r.until <= now)) shared.delete(key);
  }
  if (shared.size <= MAX_KEPT) return;
  const idle = [...shared].filter(([, s]) => s.users === 0 && s.leading === null).sort((a, b) => a[1].touched - b[1].touched);
  for (const [key] of idle.slice(0, shared.size - MAX_KEPT)) shared.delete(key);
}

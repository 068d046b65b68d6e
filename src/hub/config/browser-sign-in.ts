/**
 * Browser SSO (EXTERNALBROWSER) and a pool of connections: every connection is a login of its own. The hub
 * logs them in one at a time and asks snowflake-sdk to cache the SSO token of the first sign-in
 * (clientStoreTemporaryCredential), so the others sign in with it instead of a browser window — but Snowflake
 * hands out that token only where the account allows it (ALLOW_ID_TOKEN, off unless an administrator turns
 * it on). Without it each new pooled connection opens another browser window, and nothing said why.
 */
import type { SnowflakeProfile } from './profile-types.js';

/** What to tell the user of a browser-SSO profile that may open more than one connection; undefined otherwise. */
export function browserSignInNote(profile: SnowflakeProfile): string | undefined {
  if (profile.auth.method !== 'externalbrowser' || profile.pool.max <= 1) return undefined;
  const source = profile.sources['pool.max'];
  const where = profile.name === 'env' ? '[profiles.<name>.pool] in config.toml, selected with SNOWMUX_PROFILE' : `[profiles.${profile.name}.pool]`;
  return (
    `Snowflake profile "${profile.name}" signs in with a browser (EXTERNALBROWSER) and may open up to ${profile.pool.max} connections. ` +
    'The hub caches the SSO token of the first sign-in for the others, but Snowflake issues that token only where the account allows it ' +
    '(ALLOW_ID_TOKEN, off by default): without it each new connection opens another browser window. ' +
    `To avoid that, have an administrator run ALTER ACCOUNT SET ALLOW_ID_TOKEN = TRUE, or set pool.max to 1 for this profile ` +
    `(now ${profile.pool.max}, ${source === undefined ? 'the default' : `set by ${source}`}; max = 1 in ${where}, or --pool-max 1).`
  );
}

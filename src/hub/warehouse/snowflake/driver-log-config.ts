/**
 * Keeps snowflake-sdk's own log off whatever the user's Snowflake client config says. The hub logs through
 * its own scrubbed logger and turns the driver's off (sdk-loader.ts), but the driver's "easy logging" reads
 * `sf_client_config.json` (from $SF_CLIENT_CONFIG_FILE, the driver's directory or the home directory —
 * shared by every Snowflake driver, so a user who once turned it on for the Python connector or JDBC has it
 * on here too) at each first connect and switches a file log back on, unscrubbed: it wrote the hub's proxy
 * password. A connection's `clientConfigFile` comes before all of those, so the hub hands every connection
 * a config of its own that says OFF. (A malformed, group-writable or foreign user's file there also failed
 * every login; the hub's own is neither.)
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SfConnectionOptions } from './sdk-types.js';

export const DRIVER_CONFIG_FILE = 'client-config.json';

/**
 * Writes `<dir>/client-config.json` (0600, the directory 0700: the driver refuses a file its group or
 * others may change, or that another user or group owns) and returns its path; undefined when it cannot
 * be written or would not be accepted, with why (the connection then goes without it, as before).
 */
export function driverLogConfig(dir: string): { path: string } | { path?: undefined; problem: string } {
  const path = join(dir, DRIVER_CONFIG_FILE);
  // The driver creates `<log_path>/nodejs` for the log it will not write: keep it inside this directory.
  const text = `${JSON.stringify({ common: { log_level: 'OFF', log_path: dir } })}\n`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== text) writeFileSync(path, text, { mode: 0o600 });
    chmodSync(path, 0o600);
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    const stats = statSync(path);
    // A setgid directory gives new files its group; the driver wants the user's own.
    if (uid !== undefined && gid !== undefined && stats.gid !== gid) chownSync(path, uid, gid);
    return { path };
  } catch (err) {
    return { problem: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The connection options that keep the driver's own files in `dir` (`<home>/snowflake-driver`, 0700): its
 * client config (log off, above) and its MFA / SSO token cache. Left to itself the driver keeps those tokens
 * in $SF_TEMPORARY_CREDENTIAL_CACHE_DIR, $XDG_CACHE_HOME/snowflake or ~/.cache/snowflake whoever owns them (it
 * only warns, into the log the hub turns off) and opens its cache file there following symlinks: another user
 * who owned that directory had the hub overwrite any 0600 file of its user with the token. When `dir` cannot
 * be prepared, no token is cached at all (each login of an MFA profile asks again) rather than kept there.
 */
export function driverFiles(dir: string): { options: Partial<SfConnectionOptions>; problem?: string } {
  const config = driverLogConfig(dir);
  if (config.path !== undefined) return { options: { clientConfigFile: config.path, credentialCacheDir: dir } };
  // Both off: the driver writes an MFA token it asked for through its token store, which it has only when storing is on.
  return { options: { clientStoreTemporaryCredential: false, clientRequestMFAToken: false }, problem: config.problem };
}

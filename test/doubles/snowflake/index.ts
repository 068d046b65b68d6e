/**
 * The Snowflake test double: a local server speaking the REST protocol snowflake-sdk uses, backed by DuckDB.
 * Start it with startSnowflakeDouble(), point a profile's accessUrl at `double.url`.
 */
import { generateKeyPairSync } from 'node:crypto';

export { startSnowflakeDouble } from './server.js';
export type {
  AbortLogEntry,
  LoginLogEntry,
  QueryLogEntry,
  SnowflakeDouble,
  SnowflakeDoubleCounters,
  SnowflakeDoubleOptions,
} from './server.js';
export type { DoubleUser } from './auth.js';
export { publicKeyFingerprint } from './auth.js';
export type { Endpoint, SnowflakeFault } from './faults.js';
export type { CortexLogEntry, DoubleAnalystAnswer, DoubleCortexOptions, DoubleSearchService } from './cortex.js';

/** An RSA key pair for key-pair login tests; the private key is PKCS#8 PEM, encrypted when a passphrase is given. */
export function makeRsaKeyPair(passphrase?: string): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding:
      passphrase === undefined
        ? { type: 'pkcs8', format: 'pem' }
        : { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/**
 * The SNOWFLAKE_* environment of a password profile pointed at this double (as an editor's MCP config
 * would set it); `extra` adds or overrides settings (warehouse, database, schema…).
 */
export function profileEnv(double: { url: string; account: string }, login: { user: string; password: string }, extra: Record<string, string> = {}): Record<string, string> {
  const url = new URL(double.url);
  return {
    SNOWFLAKE_ACCOUNT: double.account,
    SNOWFLAKE_USER: login.user,
    SNOWFLAKE_PASSWORD: login.password,
    SNOWFLAKE_HOST: url.hostname,
    SNOWFLAKE_PORT: url.port,
    SNOWFLAKE_PROTOCOL: 'http',
    ...extra,
  };
}

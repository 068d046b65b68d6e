/**
 * A resolved Snowflake connection profile: what the Snowflake backend needs to build its pool.
 * Produced by profile resolution (CLI flags > environment > snowmux config file > ~/.snowflake/connections.toml).
 * Secrets live only in `auth`; use redactProfile() before logging or showing a profile.
 */

export type SnowflakeAuth =
  | { method: 'password'; password: string; /** MFA: passcode or push (authenticator USERNAME_PASSWORD_MFA). */ mfa?: { passcode?: string; passcodeInPassword?: boolean } }
  | { method: 'keypair'; /** PEM text of the (possibly encrypted) PKCS#8 private key. */ privateKeyPem: string; passphrase?: string; source: string }
  | { method: 'oauth'; token: string }
  | { method: 'pat'; token: string }
  | { method: 'externalbrowser' }
  | { method: 'mfa'; password: string; passcode?: string };

export interface PoolSettings {
  min: number;
  max: number;
  /** How long a call waits for a free connection before "all N connections busy". */
  acquireTimeoutMs: number;
  /** Idle connections older than this are closed (down to min). */
  idleTimeoutMs: number;
  /** Validate idle connections (heartbeat) before handing them out. */
  validateOnBorrow: boolean;
  /** Reconnect connections older than this (legacy SNOWFLAKE_CONN_REFRESH_HOURS). 0 = never. */
  maxConnectionAgeMs: number;
}

export interface SnowflakeProfile {
  /** Profile name (connections.toml section, config file key, or "env"). */
  name: string;
  account: string;
  user: string;
  auth: SnowflakeAuth;
  role?: string | undefined;
  warehouse?: string | undefined;
  database?: string | undefined;
  schema?: string | undefined;
  /** Override of the server URL, e.g. http://127.0.0.1:PORT for the test double. */
  accessUrl?: string | undefined;
  host?: string | undefined;
  pool: PoolSettings;
  /** Per-statement timeout applied server-side (STATEMENT_TIMEOUT_IN_SECONDS) and by the hub. */
  statementTimeoutMs: number;
  /** Where each setting came from, for error messages: key → "flag --account" | "env SNOWFLAKE_ACCOUNT" | "~/.snowflake/connections.toml [dev]" … */
  sources: Record<string, string>;
}

/**
 * The part of a shim's environment it may hand the hub over the local socket, so an editor config written for
 * the Python server (SNOWFLAKE_* variables in the MCP server's "env") keeps working when the shim replaces it.
 * Only variables that profile resolution reads are passed; nothing else from the editor's environment
 * (tokens for other services, PATH, …) ever leaves the shim.
 */
// Dependency-free on purpose: the shim imports this, and every module it loads costs start-up time.

/** Variables outside the SNOWFLAKE_ prefix that resolution also reads. */
const EXTRA_NAMES: ReadonlySet<string> = new Set([
  'SNOWMUX_PROFILE',
  // The Snowflake CLI's passphrase variable for encrypted keys.
  'PRIVATE_KEY_PASSPHRASE',
  // The Python connector's switch for the config-file permission warning.
  'SF_SKIP_WARNING_FOR_READ_PERMISSIONS_ON_CONFIG_FILE',
]);

/** Selects SNOWFLAKE_* (and SNOWMUX_PROFILE, PRIVATE_KEY_PASSPHRASE) with non-empty values. */
export function shimEnvironmentForHub(env: NodeJS.ProcessEnv): Record<string, string> {
  const selected: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (name.startsWith('SNOWFLAKE_') || EXTRA_NAMES.has(name)) selected[name] = value;
  }
  return selected;
}

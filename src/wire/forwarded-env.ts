/**
 * Which of an editor's environment variables leave the shim, and for what. Dependency-free: the shim
 * imports it, and every module it loads costs start-up time.
 *
 * - forwardedEnvironment: the settings a shim hands its hub in the hello (same-user socket only), so an
 *   editor config written for the Python server (SNOWFLAKE_* in the MCP server's "env") keeps working. They
 *   belong to that editor's session alone.
 * - hubStartEnvironment: what a hub started by a shim inherits. A hub outlives the editor that started it and
 *   serves every other editor, so it gets only what any process of the user needs to run (paths, locale,
 *   proxy and CA settings, snowmux's own knobs) — never the editor's Snowflake settings (a later editor
 *   without settings would be served with them) nor unrelated secrets (tokens for other services).
 */

/** Variables outside the SNOWFLAKE_ prefix that profile resolution also reads. */
export const FORWARDED_EXTRA_NAMES: readonly string[] = [
  'SNOWMUX_PROFILE',
  // The Snowflake CLI's passphrase variable for encrypted keys.
  'PRIVATE_KEY_PASSPHRASE',
  // The Python connector's switch for the config-file permission warning.
  'SF_SKIP_WARNING_FOR_READ_PERMISSIONS_ON_CONFIG_FILE',
];

const FORWARDED_EXTRA = new Set(FORWARDED_EXTRA_NAMES);

/** SNOWFLAKE_* and FORWARDED_EXTRA_NAMES with non-empty values. */
export function forwardedEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const selected: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (name.startsWith('SNOWFLAKE_') || FORWARDED_EXTRA.has(name)) selected[name] = value;
  }
  return selected;
}

/**
 * What a shim-started hub inherits, by name: what any process of the user needs (its desktop session too), and the SNOWMUX_* knobs the
 * hub itself reads (config-env.test.ts checks that every one the hub reads is here). Not the editor's
 * profile choice (SNOWMUX_PROFILE), nor the credentials other snowmux commands take from the environment
 * (SNOWMUX_KEY, a remote hub's API key; SNOWMUX_REDIS_URL, which may carry a password).
 */
export const HUB_START_NAMES: readonly string[] = [
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'TZ',
  'TMPDIR', 'TEMP', 'TMP', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME',
  'SYSTEMROOT', 'USERPROFILE', 'APPDATA', 'LOCALAPPDATA',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'NODE_EXTRA_CA_CERTS',
  // The desktop session a browser sign-in (EXTERNALBROWSER) opens its page in: without them a hub an editor
  // started on a Linux desktop took itself for a server and refused the sign-in.
  'DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY', 'DBUS_SESSION_BUS_ADDRESS', 'BROWSER', 'WSL_DISTRO_NAME', 'WSL_INTEROP',
  'SNOWMUX_HOME', 'SNOWMUX_CONFIG', 'SNOWMUX_LOG_LEVEL', 'SNOWMUX_LOG_MAX_BYTES', 'SNOWMUX_LINK_IDLE_MS',
  'SNOWMUX_STALLED_OUTPUT_MS', 'SNOWMUX_TEAM_LEASE_MS', 'SNOWMUX_RUNTIME_BASE',
];

const HUB_START = new Set(HUB_START_NAMES);

export function hubStartEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const selected: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (HUB_START.has(name)) selected[name] = value;
  }
  return selected;
}

/**
 * Warnings for credential files that other users could read or change, worded like the Snowflake
 * connectors' own warning (and silenced by the same variable they honour).
 */
import { statSync } from 'node:fs';
import { shellWord } from '../../shell-word.js';

/** The Snowflake Python connector's switch for this warning; honoured so users need to learn only one. */
export const SKIP_PERMISSION_WARNING_ENV = 'SF_SKIP_WARNING_FOR_READ_PERMISSIONS_ON_CONFIG_FILE';

const GROUP_OR_OTHERS_READ = 0o044;
const GROUP_OR_OTHERS_WRITE = 0o022;

export interface PermissionCheckOptions {
  env: NodeJS.ProcessEnv;
  /** Path as shown to the user (with "~"). */
  shownPath: string;
  platform?: NodeJS.Platform;
  /** The current uid; injectable for tests. */
  uid?: number;
}

/** A warning string when `path` is readable or writable by group/others or owned by someone else; else undefined. */
export function credentialFileWarning(path: string, options: PermissionCheckOptions): string | undefined {
  const platform = options.platform ?? process.platform;
  if (platform === 'win32') return undefined;
  if ((options.env[SKIP_PERMISSION_WARNING_ENV] ?? '').toLowerCase() === 'true') return undefined;
  let mode: number;
  let owner: number;
  try {
    const stats = statSync(path);
    mode = stats.mode;
    owner = stats.uid;
  } catch {
    return undefined;
  }
  const uid = options.uid ?? (typeof process.getuid === 'function' ? process.getuid() : undefined);
  const problems: string[] = [];
  if ((mode & GROUP_OR_OTHERS_WRITE) !== 0) problems.push('writable by group or others');
  if ((mode & GROUP_OR_OTHERS_READ) !== 0) problems.push('readable by group or others');
  if (uid !== undefined && owner !== 0 && owner !== uid) problems.push('owned by another user');
  if (problems.length === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(3, '0');
  return (
    `Bad owner or permissions on ${options.shownPath} (${problems.join(', ')}; mode ${octal}): it may hold secrets. ` +
    `Run \`chmod 0600 ${shellWord(path)}\` (and chown it to yourself), or set ${SKIP_PERMISSION_WARNING_ENV}=true to silence this warning.`
  );
}

/** `path` as one shell word a user can paste: the real path (a "~" inside quotes is not expanded), quoted only when it needs it. */

/**
 * Paths the user types as a shell would take them. Editors and service managers start snowmux without a
 * shell, so a `~` in an editor's entry (`"--home", "~/.snowmux-work"`) reaches snowmux as it is; taken
 * literally it named `<cwd>/~/...`, another home (and hub) per directory the editor starts in.
 * Node builtins only: the shim uses it.
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { SnowmuxError } from './errors.js';
import type { ErrorCode } from './error-codes.js';

/** Expands a leading "~" or "~/" the way shells (and the Snowflake connectors) do. */
export function expandHome(path: string, home: string | undefined): string {
  if (home && (path === '~' || path.startsWith('~/'))) return home + path.slice(1);
  return path;
}

/** "~name/..." is another user's home to a shell; snowmux does not look users up. */
export function namesUsersHome(path: string): boolean {
  return /^~[^/]/.test(path);
}

/**
 * A path setting (`what`, e.g. "--home" or "$SNOWMUX_CONFIG") made absolute: a leading "~" or "~/" is the
 * user's home directory, anything else relative is read from `cwd`. "~name/" is refused with `code`.
 */
export function resolveUserPath(value: string, what: string, code: ErrorCode, cwd = process.cwd()): string {
  if (namesUsersHome(value)) {
    throw new SnowmuxError(code, `${what} ${value} starts with "~name", another user's home, which snowmux does not look up (only "~/" is expanded, to your home directory). Write the path out in full.`);
  }
  return resolve(cwd, expandHome(value, homedir()));
}

/**
 * The user's home directory, and paths the user types as a shell would take them. Editors and service
 * managers start snowmux without a shell, so a `~` in an editor's entry (`"--home", "~/.snowmux-work"`)
 * reaches snowmux as it is; taken literally it named `<cwd>/~/...`, another home (and hub) per directory
 * the editor starts in. Every path derived from the home directory — the snowmux home, `--home ~/x`,
 * `private_key_file = "~/..."`, Snowflake's connections.toml, service definitions, editor configs — takes
 * it from here, so an empty or relative $HOME is resolved (or refused) the same way everywhere.
 * Node builtins only: the shim uses it.
 */
import { userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { SnowmuxError } from './errors.js';
import type { ErrorCode } from './error-codes.js';

/**
 * The user's home directory, absolute, or undefined when there is none. Node takes $HOME as it is: set but
 * empty (an editor or service config's "" placeholder), it gave "", and every path joined to it was
 * relative: read from whatever directory snowmux ran in. Empty counts as unset (the system's user
 * database says, as for an unset HOME); a relative $HOME is refused (HOME_UNUSABLE) rather than guessed at.
 */
export function userHomeIfAny(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return homeOrRefusal(env, 'every path under ~', '');
}

/**
 * The user's home directory, absolute; `needs` says what wanted it ("the default snowmux home
 * (~/.snowmux)", "--home ~/work"), and `otherwise` what else the user may do, for the refusal
 * (HOME_UNUSABLE) when there is none.
 */
export function userHome(needs: string, otherwise = '', env: NodeJS.ProcessEnv = process.env): string {
  const home = homeOrRefusal(env, needs, otherwise);
  if (home !== undefined) return home;
  throw new SnowmuxError(
    'HOME_UNUSABLE',
    `$HOME is ${env.HOME === undefined ? 'unset' : 'empty'} and this user has no home directory in the system's user database, so there is no ~ for ${needs}. ` +
      `Set HOME to your home directory${otherwise ? `, or ${otherwise}` : ''}.`,
  );
}

function homeOrRefusal(env: NodeJS.ProcessEnv, needs: string, otherwise: string): string | undefined {
  const fromEnv = env.HOME;
  if (fromEnv) {
    if (isAbsolute(fromEnv)) return fromEnv;
    throw new SnowmuxError(
      'HOME_UNUSABLE',
      `$HOME is a relative path ("${fromEnv}"), so ${needs} would depend on the directory this runs in. Set HOME to your home directory (absolute)${otherwise ? `, or ${otherwise}` : ''}.`,
    );
  }
  let passwd: string | undefined;
  try {
    passwd = userInfo().homedir;
  } catch {
    passwd = undefined; // no passwd entry for this uid (a container run with an arbitrary user)
  }
  return passwd && isAbsolute(passwd) ? passwd : undefined;
}

/**
 * Expands a leading "~" or "~/" the way shells (and the Snowflake connectors) do, with `home` (the user's
 * home directory; when not given, userHome's from `env`, refused when there is none). `what` names the
 * setting for that refusal. Anything else is returned as it is.
 */
export function expandHome(path: string, home?: string, what = `"${path}"`, env: NodeJS.ProcessEnv = process.env): string {
  if (path !== '~' && !path.startsWith('~/')) return path;
  return (home || userHome(what, 'write the path out in full', env)) + path.slice(1);
}

/** "~name/..." is another user's home to a shell; snowmux does not look users up. */
export function namesUsersHome(path: string): boolean {
  return /^~[^/]/.test(path);
}

/**
 * A path setting (`what`, e.g. "--home" or "$SNOWMUX_CONFIG") made absolute: a leading "~" or "~/" is the
 * user's home directory (from `env`), anything else relative is read from `cwd`. "~name/" is refused with `code`.
 */
export function resolveUserPath(value: string, what: string, code: ErrorCode, cwd?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (namesUsersHome(value)) {
    throw new SnowmuxError(code, `${what} ${value} starts with "~name", another user's home, which snowmux does not look up (only "~/" is expanded, to your home directory). Write the path out in full.`);
  }
  // The working directory is read only for a relative path: an editor's directory deleted under it made every
  // absolute --home fail too (uv_cwd ENOENT), and the editor got no answer at all.
  const path = expandHome(value, undefined, `${what} ${value}`, env);
  if (isAbsolute(path)) return resolve(path);
  return resolve(cwd ?? workingDirectoryFor(`${what} ${value}`, code), path);
}

/**
 * This process's working directory, for a relative path (`names`); refused with `code` when it was deleted
 * (a terminal left in a removed directory): Node's own "ENOENT: uv_cwd" said neither which path needed it
 * nor what to do.
 */
function workingDirectoryFor(names: string, code: ErrorCode): string {
  try {
    return process.cwd();
  } catch {
    throw new SnowmuxError(code, `${names} is a relative path, and the directory snowmux was started in no longer exists (it was deleted), so it names nothing. Give an absolute path, or run the command again from a directory that exists.`);
  }
}

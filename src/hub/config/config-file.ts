/**
 * Finding, reading and validating snowmux's own config file (`<home>/config.toml`, or --config PATH,
 * or $SNOWMUX_CONFIG). A missing default file is fine (all defaults); a missing explicit file is an error.
 */
import { closeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { SnowmuxError } from '../../errors.js';
import { formatConfigIssues } from './config-issues.js';
import { configFileSchema, toHubConfig, type HubConfig } from './config-schema.js';
import { credentialFileWarning } from './file-permissions.js';
import { openRegularFile, readOpened, readProblem } from './bounded-read.js';
import { pathSteps, type PathStep } from './path-steps.js';
import { displayPath } from './profile-settings.js';
import { resolveUserPath } from '../../user-path.js';

export const CONFIG_FILE_NAME = 'config.toml';
export const CONFIG_PATH_ENV = 'SNOWMUX_CONFIG';

export interface LoadedConfig {
  /** Absolute path of the file that was (or would have been) read. */
  path: string;
  /** The same path with the home directory shown as "~", for source labels. */
  shownPath: string;
  exists: boolean;
  /** The file exists and holds nothing but white space (a failed copy, a tool that truncates first). */
  blank?: boolean;
  config: HubConfig;
  /** Non-fatal findings (e.g. a file holding secrets that others can read). */
  warnings: string[];
}

export interface ConfigLocation {
  path: string;
  /** True when the user named the file (--config or SNOWMUX_CONFIG): then it must exist. */
  explicit: boolean;
}

/** --config PATH > $SNOWMUX_CONFIG > <home>/config.toml. A leading `~/` is the user's home directory; other relative paths resolve against `cwd`. */
export function resolveConfigPath(options: {
  home: string;
  explicitPath?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
}): ConfigLocation {
  const cwd = options.cwd ?? process.cwd();
  if (options.explicitPath !== undefined) return { path: resolveUserPath(options.explicitPath, '--config', 'CONFIG_INVALID', cwd), explicit: true };
  const named = options.env?.[CONFIG_PATH_ENV] || undefined;
  if (named !== undefined) return { path: resolveUserPath(named, `$${CONFIG_PATH_ENV}`, 'CONFIG_INVALID', cwd), explicit: true };
  return { path: join(options.home, CONFIG_FILE_NAME), explicit: false };
}

/** The configuration used when no file exists. */
export function defaultHubConfig(): HubConfig {
  return toHubConfig({});
}

function tomlErrorMessage(err: TomlError, path: string): string {
  // Only the first line: smol-toml appends a code excerpt that could show a secret on the failing line.
  const reason = (err.message.split('\n')[0] ?? 'invalid TOML').replace(/^Invalid TOML document:\s*/, '');
  return `Config error in ${path} at line ${err.line}, column ${err.column}: ${reason}. Fix the TOML syntax.`;
}

/** Parses TOML text into raw data, reporting syntax errors with file, line and column. */
export function parseTomlText(text: string, path: string): Record<string, unknown> {
  try {
    return parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) throw new SnowmuxError('CONFIG_INVALID', tomlErrorMessage(err, path));
    throw new SnowmuxError('CONFIG_INVALID', `Config error in ${path}: the file is not valid TOML. Fix the TOML syntax.`);
  }
}

/** Validates config text; throws CONFIG_INVALID naming the file and every offending key. */
export function parseConfigText(text: string, path: string): HubConfig {
  const data = parseTomlText(text, path);
  const result = configFileSchema.safeParse(data);
  if (!result.success) {
    throw new SnowmuxError('CONFIG_INVALID', formatConfigIssues(result.error.issues, data, path), {
      details: { path, keys: result.error.issues.map((issue) => issue.path.map(String).join('.')) },
    });
  }
  return toHubConfig(result.data);
}

function holdsSecrets(config: HubConfig): boolean {
  return Object.values(config.profiles).some(
    (p) => p.password !== undefined || p.passcode !== undefined || p.privateKey !== undefined ||
      p.privateKeyPassphrase !== undefined || p.token !== undefined,
  );
}

function ioProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return readProblem(err) ?? code ?? 'read failed';
}

/** Reads and validates the config file; defaults when the default-location file does not exist. */
export function loadConfigFile(options: {
  home: string;
  explicitPath?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  homedir?: string | undefined;
  cwd?: string | undefined;
}): LoadedConfig {
  const location = resolveConfigPath(options);
  const shownPath = displayPath(location.path, options.homedir);
  let text: string;
  const warnings: string[] = [];
  try {
    // A regular file only, read up to a bound: a FIFO or device there froze or swelled the hub.
    const { fd, stat } = openRegularFile(location.path);
    try {
      // The file decides every session's role and which account a profile logs in to: taken only from a
      // file no other user can change (checked on what was opened, so a swap after the check reads nothing).
      const trust = trustProblems(location.path, stat);
      if (trust.refuse) throw new SnowmuxError('CONFIG_UNSAFE', trust.refuse);
      warnings.push(...(trust.warn ?? []));
      text = readOpened(fd, location.path);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof SnowmuxError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !location.explicit) {
      return { path: location.path, shownPath, exists: false, config: defaultHubConfig(), warnings: [] };
    }
    if (code === 'ENOENT') {
      throw new SnowmuxError(
        'CONFIG_NOT_FOUND',
        `Config file ${location.path} does not exist. Create it, or drop --config/${CONFIG_PATH_ENV} to use ${CONFIG_FILE_NAME} in the snowmux home.`,
      );
    }
    throw new SnowmuxError(
      'CONFIG_UNREADABLE',
      `Cannot read config file ${location.path}: ${ioProblem(err)}. Check the path and its permissions.`,
      { cause: err },
    );
  }
  const config = parseConfigText(text, location.path);
  if (holdsSecrets(config)) {
    const warning = credentialFileWarning(location.path, { env: options.env ?? {}, shownPath });
    if (warning !== undefined) warnings.push(warning);
  }
  return { path: location.path, shownPath, exists: true, ...(text.trim() === '' ? { blank: true } : {}), config, warnings };
}

const WRITABLE_BY_OTHERS = 0o002;
const WRITABLE_BY_GROUP = 0o020;
const STICKY = 0o1000;

/**
 * Who besides us could change what this config says. Refused: anyone, when others may write the file, or
 * may write without the sticky bit any directory the path goes through (each ancestor of the name, of each
 * symlink's target and of the real file: whoever may rename an entry there can put a tree of their own in
 * its place); another user than us, root or the file's owner, when they own such a directory, or own an
 * entry of a sticky directory every user may write (they may replace their entry). Warned: the file's
 * owner when not us or root (a container's config is bind-mounted from its host user, who runs the
 * container anyway), and a group that may write the file or a directory (with a private group per user,
 * as umask 002 gives, the group is the user alone). Not checked where there are no uids (Windows).
 */
function trustProblems(path: string, file: Stats): { refuse?: string; warn?: string[] } {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid === undefined) return { warn: [] };
  const what = `Config file ${path} decides every session's role and profile`;
  if ((file.mode & WRITABLE_BY_OTHERS) !== 0) {
    return { refuse: `${what}, and every user may write it (mode ${(file.mode & 0o777).toString(8)}). Run: chmod o-w ${path}` };
  }
  const warn = new Set<string>();
  if (file.uid !== uid && file.uid !== 0) warn.add(`${what}, and it belongs to another user (uid ${file.uid}), who could change them. Unless that user is who runs this hub (a container's bind mount), read it, and write the rules you mean to keep into a config file you own (such as ~/.snowmux/config.toml): copied as it is, it would keep whatever that user put in it.`);
  if ((file.mode & WRITABLE_BY_GROUP) !== 0) warn.add(`${what}, and its group (gid ${file.gid}) may write it (mode ${(file.mode & 0o777).toString(8)}). Unless that group is you alone, run: chmod g-w ${path}`);
  // The file's owner is warned of above; anyone else who could replace it is not the bind-mount case.
  const trusted = (owner: number) => owner === uid || owner === 0 || owner === file.uid;
  let steps: PathStep[];
  try {
    steps = pathSteps(path);
  } catch (err) {
    return { refuse: `${what}, and the way to it could not be checked (${ioProblem(err)}): it changed while it was read, or a directory on it cannot be searched. Try again; if it persists, keep the config in a directory of your own.` };
  }
  for (const step of steps) {
    const refuse = stepProblem(step, trusted);
    if (refuse !== undefined) return { refuse: `${what}, and ${refuse}` };
    const { dir, dirStats } = step;
    if ((dirStats.mode & STICKY) === 0 && (dirStats.mode & WRITABLE_BY_GROUP) !== 0) warn.add(`${what}, and the group (gid ${dirStats.gid}) of ${dir}, on its path, may replace it (mode ${(dirStats.mode & 0o7777).toString(8)}). Unless that group is you alone, run: chmod g-w ${dir}`);
  }
  // What was opened must be what the checked path names now: a symlink switched to another tree for the
  // open and back for the check would otherwise pass.
  const last = steps.at(-1)?.entryStats;
  if (last === undefined || last.dev !== file.dev || last.ino !== file.ino) {
    return { refuse: `${what}, and it changed while it was read (the path now names another file). Try again; if it persists, someone is switching it: keep the config in a directory of your own.` };
  }
  return { warn: [...warn] };
}

/** Why another user could replace what this lookup finds, if they could. */
function stepProblem(step: PathStep, trusted: (uid: number) => boolean): string | undefined {
  const { dir, dirStats, entry, entryStats } = step;
  const mode = (dirStats.mode & 0o7777).toString(8);
  const sticky = (dirStats.mode & STICKY) !== 0;
  if (!sticky && (dirStats.mode & WRITABLE_BY_OTHERS) !== 0) {
    return `every user may replace it: its path goes through ${dir}, which is writable by others without the sticky bit (mode ${mode}). Run: chmod o-w ${dir}, or keep the config elsewhere.`;
  }
  if (!trusted(dirStats.uid)) {
    return `${dir}, on its path, belongs to another user (uid ${dirStats.uid}), who could replace it. Keep the config in a directory of your own (or root's).`;
  }
  if (sticky && (dirStats.mode & WRITABLE_BY_OTHERS) !== 0 && !trusted(entryStats.uid)) {
    return `${entry}, on its path, belongs to another user (uid ${entryStats.uid}), who may replace it in ${dir} (every user may write there). Keep the config, and any link to it, in a directory of your own.`;
  }
  return undefined;
}

/**
 * `snowmux setup <client>` — prints the MCP config entry for one editor, with absolute paths to this Node
 * and this snowmux (GUI editors often start with a minimal PATH), and where the editor keeps it. With
 * `--write` it merges the entry into that file, keeping everything else and a backup of the old file.
 */
import { existsSync, lstatSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnowmuxError, isSnowmuxError, type ErrorCode } from '../../errors.js';
import { checkHubConfig, definedProfiles } from '../../hub/config-check.js';
import { loadConfigFile, type LoadedConfig } from '../../hub/config/config-file.js';
import { shellWord } from '../../shell-word.js';
import { closestName } from '../../closest-name.js';
import { shownText } from '../../shown-text.js';
import { resolveUserPath } from '../../user-path.js';
import { closeQuietly, ioProblem, openRegularFile, readOpened } from '../../wire/bounded-read.js';
import { resolveHome } from '../../wire/home.js';
import { parseCommandArgs } from '../args.js';
import type { CommandIo } from '../command-io.js';
import { directoryRisk, mkdirPrivateSync } from '../own-directory.js';
import { CLIENTS, claudeCodeCommand, configFileFor, isClientId, mergeIntoConfig, snippetFor, type ClientId, type ShimLaunch } from '../editor-configs.js';

const USAGE = `Usage: snowmux setup <client> [--write] [--name NAME] [--home DIR] [--config PATH] [--profile NAME]

Prints the MCP server entry that launches \`snowmux shim\` for one editor, with absolute paths, and the
file the editor reads it from. --write merges it into that file (other servers are kept; the file it
changes is saved as <file>.bak, or .bak.2, .bak.3… when earlier backups exist; an entry already there
as written is left alone).

Clients:
${Object.entries(CLIENTS).map(([id, c]) => `  ${id.padEnd(15)} ${c.title}`).join('\n')}

Options:
  --write        merge the entry into the editor's config file
  --name NAME    the server's name in the editor (default: snowflake)
  --home DIR     a snowmux home other than the default, passed to the shim (default: $SNOWMUX_HOME
                 when set, since an editor does not see your shell's environment)
  --config PATH  a config file other than <home>/config.toml, passed to the shim for the hub it starts
                 (default: $SNOWMUX_CONFIG when set); it must exist, and pass the hub's checks
  --profile NAME the Snowflake profile this editor uses (default: $SNOWMUX_PROFILE when set); it must
                 be defined in the config file or in Snowflake's connections.toml
Paths go into the entry absolute. Other SNOWMUX_* variables of this shell are not carried (the entry
names what it needs in its arguments); \`snowmux doctor\` checks the config and profiles.
`;

export async function setupCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('setup', argv, {
    write: { type: 'boolean' },
    name: { type: 'string' },
    home: { type: 'string' },
    config: { type: 'string' },
    profile: { type: 'string' },
    help: { type: 'boolean' },
  }, true);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [client, ...extra] = positionals;
  if (client === undefined || extra.length > 0 || !isClientId(client)) {
    io.stderr.write(`${client === undefined ? 'Name the editor to set up.' : extra.length > 0 ? `One editor at a time (got ${positionals.join(', ')}).` : `Unknown client "${shownText(client, 40)}".${unknownClientHint(client)}`}\n\n${USAGE}`);
    return 2;
  }
  const name = values.name ?? 'snowflake';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new SnowmuxError('USAGE', `--name must be 1–64 letters, digits, '_', '.' or '-'; got "${name}".`);
  const settings = settingsForEditors(values, process.env);
  for (const warning of checkHubWouldServe(settings, process.env)) io.stderr.write(`warning: ${warning}\n`);
  const launch = shimLaunch(settings);
  // Only --write needs the file itself; printed, a home directory there is none of is shown as "~".
  const file = configFileFor(client, process.platform, process.env, values.write !== true);
  for (const [flag, variable] of settings.fromEnv) io.stderr.write(`(the entry passes ${flag}, from $${variable}: an editor does not see your shell's environment)\n`);

  if (client === 'claude-code') {
    if (values.write) io.stderr.write('Claude Code keeps its own config file; run this command to add the server:\n');
    io.stdout.write(`${claudeCodeCommand(name, launch)}\n`);
    return values.write ? 2 : 0;
  }
  if (!values.write || file === undefined) {
    if (values.write) {
      io.stderr.write(`There is no one file for ${CLIENTS[client].title}; paste the entry below into its MCP config.\n`);
    }
    io.stdout.write(`${JSON.stringify(snippetFor(client, name, launch), null, 2)}\n`);
    if (file !== undefined) io.stderr.write(`\n${CLIENTS[client].title} reads this from ${file} (merge it there, or run again with --write).\n`);
    if (CLIENTS[client].note) io.stderr.write(`${CLIENTS[client].note}\n`);
    return values.write ? 2 : 0;
  }
  const written = writeEntry(client, file, name, launch);
  if (written.warning !== undefined) io.stderr.write(`warning: ${written.warning}\n`);
  if (written.unchanged) io.stdout.write(`snowmux: ${written.path} already has this "${name}" entry; nothing written\n`);
  else io.stdout.write(`snowmux: ${written.replaced ? `replaced the "${name}" entry in` : `added "${name}" to`} ${written.path}${written.backup ? ` (previous file saved as ${written.backup})` : ''}${written.kept.length > 0 ? `; kept its ${written.kept.join(', ')}` : ''}\n`);
  if (CLIENTS[client].note) io.stdout.write(`${CLIENTS[client].note}\n`);
  return 0;
}

/** What an editor's entry (or a service) must carry so its shim and hub are the ones this shell meant. */
export interface EditorSettings {
  home: string | undefined;
  config: string | undefined;
  profile: string | undefined;
  /** [the argument as it goes into the entry, the variable it came from] for each taken from the shell. */
  fromEnv: [string, string][];
}

/**
 * The home, config file and profile the entry (or a service) should use: the flag, else this shell's
 * $SNOWMUX_HOME / $SNOWMUX_CONFIG / $SNOWMUX_PROFILE — editors and service managers start without the
 * shell's environment, so a setting made only there would otherwise be lost: another hub than the one
 * `snowmux status` in this shell reads, or a hub with the default config. Paths are made absolute (an
 * editor starts in a directory of its own choosing, and no shell expands its "~/"); a named config file
 * must exist (else every hub the entry starts would refuse to run).
 */
export function settingsForEditors(flags: { home?: string; config?: string; profile?: string }, env: NodeJS.ProcessEnv): EditorSettings {
  const fromEnv: [string, string][] = [];
  const pick = (flag: string | undefined, variable: string, option: string, path?: ErrorCode): string | undefined => {
    if (flag !== undefined) return path ? resolveUserPath(flag, option, path) : flag;
    const value = env[variable];
    if (!value) return undefined;
    const taken = path ? resolveUserPath(value, `$${variable}`, path) : value;
    fromEnv.push([`${option} ${taken}`, variable]);
    return taken;
  };
  const home = pick(flags.home, 'SNOWMUX_HOME', '--home', 'HOME_UNUSABLE');
  const config = pick(flags.config, 'SNOWMUX_CONFIG', '--config', 'CONFIG_INVALID');
  const profile = pick(flags.profile, 'SNOWMUX_PROFILE', '--profile');
  if (config !== undefined && !existsSync(config)) {
    throw new SnowmuxError('CONFIG_NOT_FOUND', `The config file ${config}${fromEnv.some(([, v]) => v === 'SNOWMUX_CONFIG') ? ' (from $SNOWMUX_CONFIG)' : ''} does not exist: a hub started with it would refuse to run. Create it, or give the right path.`);
  }
  return { home, config, profile, fromEnv };
}

/**
 * What the entry sets up must work as pasted: the config file the hub it starts reads passes the hub's own
 * start-up checks (schema, file trust, roles, tools: the file and key that is wrong, with the hub's code),
 * and a profile it names is defined (in that file, or in Snowflake's connections.toml) — else every call of
 * an editor set up with it would fail, and the editor would be the first to say so. Returns the file's
 * warnings (a secret others can read …), which do not stop a hub.
 */
function checkHubWouldServe(settings: EditorSettings, env: NodeJS.ProcessEnv): string[] {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile({ home: resolveHome({ flag: settings.home }), explicitPath: settings.config, env });
    checkHubConfig(loaded, { env });
  } catch (err) {
    if (!isSnowmuxError(err)) throw err;
    throw new SnowmuxError(err.code, `${err.message}\nA hub started for this editor would refuse to run with this config, so nothing was set up: fix it (\`snowmux doctor\` checks it again), then run setup again.`, { cause: err });
  }
  if (settings.profile === undefined) return loaded.warnings;
  const defined = definedProfiles(loaded, { env });
  if (defined === undefined || defined.names.has(settings.profile)) return loaded.warnings;
  const from = settings.fromEnv.some(([, v]) => v === 'SNOWMUX_PROFILE') ? ' (from $SNOWMUX_PROFILE)' : '';
  const near = closestName(settings.profile, defined.names);
  throw new SnowmuxError(
    'CONFIG_INVALID',
    `Snowflake profile "${settings.profile}"${from} is not defined${near === undefined ? '' : ` (did you mean "${near}"?)`}, so every call of an editor set up with it would fail. ` +
      `Add [profiles.${settings.profile}] to ${loaded.shownPath} or [${settings.profile}] to ${defined.connectionsFile}` +
      (defined.names.size > 0 ? `, or name a defined profile: ${[...defined.names].join(', ')}.` : ', or leave --profile out (the hub\'s default profile, else the embedded sample, serves).'),
  );
}

/** This Node and this package's CLI, as absolute paths (symlinks such as npm's global bin resolved). */
export function shimLaunch(settings: Pick<EditorSettings, 'home' | 'config' | 'profile'>): ShimLaunch {
  const bin = realpathSync(fileURLToPath(new URL('../../../../bin/snowmux.js', import.meta.url)));
  const args = [bin, 'shim'];
  if (settings.home !== undefined) args.push('--home', resolve(settings.home));
  if (settings.config !== undefined) args.push('--config', resolve(settings.config));
  if (settings.profile !== undefined) args.push('--profile', settings.profile);
  return { command: process.execPath, args };
}

/**
 * A name for the backup no earlier run used: `<file>.bak`, else `<file>.bak.2`, `.bak.3`… Every run that
 * changes the file keeps what it replaced, so the original from before snowmux first wrote is never lost
 * to a second run (it was: one `.bak` rewritten each time).
 */
export function writeBackup(path: string, content: string, mode: number): string {
  for (let n = 1; ; n++) {
    const backup = n === 1 ? `${path}.bak` : `${path}.bak.${n}`;
    try {
      writeFileSync(backup, content, { mode, flag: 'wx' });
      return backup;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 1000) throw err;
    }
  }
}

/** More than any editor's MCP config (mergeIntoConfig refuses past 256 K characters): read no further. */
const MAX_EDITOR_CONFIG_BYTES = 1024 * 1024;

/**
 * The editor's config file as it is, undefined when there is none. Opened without waiting and read only
 * while it is a regular file of a sane size: a FIFO there hung `setup --write` for ever, a device (or a
 * multi-gigabyte file) was read without end and took the process's memory.
 */
function readEditorConfig(path: string, title: string): string | undefined {
  const byHand = 'Point the editor at its real config file, or add the entry by hand (run the command without --write to print it).';
  let fd: number;
  try {
    fd = openRegularFile(path).fd;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No file there (ENOTDIR: a directory on the way is a file): the write that follows names what is in the way.
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    const what = code === 'ENOTREG' ? `is not a regular file (a FIFO, device or socket)` : code === 'EISDIR' ? 'is a directory' : `could not be read (${ioProblem(err)})`;
    throw new SnowmuxError('EDITOR_CONFIG_UNWRITABLE', `${title}'s config ${path} ${what}; snowmux will not read or replace it, and nothing was written. ${byHand}`, { cause: err });
  }
  try {
    return readOpened(fd, path, MAX_EDITOR_CONFIG_BYTES);
  } catch (err) {
    const large = (err as NodeJS.ErrnoException).code === 'EFBIG';
    const what = large ? `is larger than ${MAX_EDITOR_CONFIG_BYTES / 1024} KiB, far more than an editor's MCP config holds` : `could not be read (${ioProblem(err)})`;
    throw new SnowmuxError(large ? 'INVALID_ARGUMENT' : 'EDITOR_CONFIG_UNWRITABLE', `${title}'s config ${path} ${what}; snowmux will not rewrite it, and nothing was written. ${byHand}`, { cause: err });
  } finally {
    closeQuietly(fd);
  }
}

/**
 * Where writing the editor's config `file` must go: the file itself, or the file its symlink leads to — also
 * when that file does not exist yet (a dotfile manager's link into a repository, made before the file): the
 * temp-and-rename replaced such a link with a file of its own, so the link was lost and the dotfiles never
 * got the entry. A link whose target's directory is missing is refused rather than that directory made.
 */
function linkedConfig(file: string, title: string): string {
  if (existsSync(file)) return realpathSync(file);
  let at = file;
  for (let hops = 0; hops <= 40; hops++) {
    let st;
    try {
      st = lstatSync(at);
    } catch {
      break;
    }
    if (!st.isSymbolicLink()) return file;
    at = resolve(dirname(at), readlinkSync(at));
  }
  if (at === file) return file;
  if (!existsSync(dirname(at))) {
    throw new SnowmuxError(
      'EDITOR_CONFIG_UNWRITABLE',
      `${title}'s config ${file} is a symbolic link to ${at}, and ${dirname(at)} does not exist; snowmux will not make it, and nothing was written. Create that directory (or remove the link) and run this again, or add the entry by hand (run the command without --write to print it).`,
    );
  }
  return at;
}

function writeEntry(client: ClientId, file: string, name: string, launch: ShimLaunch): { path: string; replaced: boolean; kept: string[]; backup: string | undefined; unchanged: boolean; warning?: string | undefined } {
  const title = CLIENTS[client].title;
  // Follow a symlinked config (dotfile managers do that) to the real file, so the link survives.
  const path = linkedConfig(file, title);
  const existing = readEditorConfig(path, title);
  const { text, replaced, kept } = mergeIntoConfig(existing, client, name, launch, path);
  const found = existing !== undefined ? statSync(path).mode & 0o777 : 0o600;
  const openToOthers = (found & 0o002) !== 0
    ? `${path} may be written by every user (mode ${found.toString(8)}): any of them could change the command ${title} runs, as you.`
    : undefined;
  // Already there as it would be written: nothing to write, and no backup that only repeats the file.
  if (existing === text) {
    return { path, replaced, kept, backup: undefined, unchanged: true, warning: openToOthers && `${openToOthers} Close it: chmod o-w ${shellWord(path)}` };
  }
  const byHand = 'or add the entry by hand (run the command without --write to print it)';
  // A file its owner made read-only (a managed or frozen config) is left alone: replacing it through the
  // directory would undo that choice silently.
  if (existing !== undefined && (found & 0o200) === 0) {
    throw new SnowmuxError(
      'EDITOR_CONFIG_UNWRITABLE',
      `${path} is read-only (mode ${found.toString(8)}); snowmux will not replace it. Make it writable (chmod u+w ${shellWord(path)}) and run this again, ${byHand}.`,
    );
  }
  // The file keeps its mode, but never others' write: copied as it was (0666, made under umask 000), the
  // command snowmux just wrote was anyone's to replace, and the backup too.
  const mode = found & ~0o002;
  const modeWarning = openToOthers && `${openToOthers} It is written ${mode.toString(8)} now (and its backup): check that the rest of it is what you put there.`;
  // Created 0700 whatever the umask, and never written where another user could replace the file: its
  // `command` is what the editor runs, as the user.
  let risk;
  try {
    mkdirPrivateSync(dirname(path));
    risk = directoryRisk(dirname(path), `${title}'s config`);
  } catch (err) {
    throw new SnowmuxError('EDITOR_CONFIG_UNWRITABLE', `Could not write ${title}'s config ${path}: ${(err as Error).message}${existing !== undefined ? ' (the file is unchanged)' : ''}. Fix the permissions of ${shellWord(dirname(path))}, ${byHand}.`, { cause: err });
  }
  if (risk.refuse !== undefined) throw new SnowmuxError('EDITOR_CONFIG_UNWRITABLE', `${risk.refuse} Nothing was written. Or add the entry by hand (run the command without --write to print it).`);
  const tmp = `${path}.snowmux-${process.pid}.tmp`;
  let backup: string | undefined;
  try {
    if (existing !== undefined) backup = writeBackup(path, existing, mode | 0o600);
    // Made anew ('wx': never through a name found there, such as a symlink planted at this predictable name
    // in a directory its group may write, which had the config written into the file it pointed at).
    rmSync(tmp, { force: true });
    writeFileSync(tmp, text, { mode, flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing was made there
    }
    throw new SnowmuxError(
      'EDITOR_CONFIG_UNWRITABLE',
      `Could not write ${title}'s config ${path}: ${(err as Error).message}${existing !== undefined ? ' (the file is unchanged)' : ''}. Fix the permissions of ${shellWord(dirname(path))}, ${byHand}.`,
      { cause: err },
    );
  }
  return { path, replaced, kept, backup, unchanged: false, warning: [modeWarning, risk.warn].filter((w) => w !== undefined).join(' ') || undefined };
}

/**
 * The client(s) a name not on the list most likely meant. Editors are named as people say them: "claude" is
 * two clients (Claude Desktop and Claude Code), "roo" is Roo Code, "VSCode" or "Claude Desktop" differ only in
 * case and spacing; a typo is caught by its edit distance. Any other editor is pointed at "generic".
 */
function unknownClientHint(client: string): string {
  const squash = (name: string) => name.toLowerCase().replace(/[\s_.-]+/g, '');
  const typed = client.trim().toLowerCase().replace(/[\s_.]+/g, '-');
  const ids = Object.keys(CLIENTS) as ClientId[];
  const named = ids.filter((id) => squash(id) === squash(typed) || squash(CLIENTS[id].title) === squash(typed) || (typed.length >= 3 && id.startsWith(`${typed}-`)));
  const near = closestName(typed, ids);
  const meant = named.length > 0 ? named : near === undefined ? [] : [near];
  if (meant.length === 0) return ' For another editor that starts MCP servers over stdio, `snowmux setup generic` prints the entry to paste into its MCP config.';
  return ` Did you mean ${meant.map((id) => `"${id}"`).join(' or ')}?`;
}

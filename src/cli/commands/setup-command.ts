/**
 * `snowmux setup <client>` — prints the MCP config entry for one editor, with absolute paths to this Node
 * and this snowmux (GUI editors often start with a minimal PATH), and where the editor keeps it. With
 * `--write` it merges the entry into that file, keeping everything else and a backup of the old file.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnowmuxError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';
import type { CommandIo } from '../command-io.js';
import { CLIENTS, claudeCodeCommand, configFileFor, isClientId, mergeIntoConfig, snippetFor, type ClientId, type ShimLaunch } from '../editor-configs.js';

const USAGE = `Usage: snowmux setup <client> [--write] [--name NAME] [--home DIR]

Prints the MCP server entry that launches \`snowmux shim\` for one editor, with absolute paths, and the
file the editor reads it from. --write merges it into that file (other servers are kept; the old file
is saved as <file>.bak).

Clients:
${Object.entries(CLIENTS).map(([id, c]) => `  ${id.padEnd(15)} ${c.title}`).join('\n')}

Options:
  --write        merge the entry into the editor's config file
  --name NAME    the server's name in the editor (default: snowflake)
  --home DIR     a snowmux home other than the default, passed to the shim (default: $SNOWMUX_HOME
                 when set, since an editor does not see your shell's environment)
`;

export async function setupCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('setup', argv, {
    write: { type: 'boolean' },
    name: { type: 'string' },
    home: { type: 'string' },
    help: { type: 'boolean' },
  }, true);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [client, ...extra] = positionals;
  if (client === undefined || extra.length > 0 || !isClientId(client)) {
    io.stderr.write(`${client === undefined ? 'Name the editor to set up.' : extra.length > 0 ? `One editor at a time (got ${positionals.join(', ')}).` : `Unknown client "${client}".`}\n\n${USAGE}`);
    return 2;
  }
  const name = values.name ?? 'snowflake';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new SnowmuxError('USAGE', `--name must be 1–64 letters, digits, '_', '.' or '-'; got "${name}".`);
  const home = homeForEditors(values.home, process.env);
  const launch = shimLaunch(home.dir);
  const file = configFileFor(client);
  if (home.fromEnv) io.stderr.write(`(the entry passes --home ${home.dir}, from $SNOWMUX_HOME: an editor does not see your shell's environment)\n`);

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
  io.stdout.write(`snowmux: ${written.replaced ? `replaced the "${name}" entry in` : `added "${name}" to`} ${written.path}${written.backup ? ` (previous file saved as ${written.backup})` : ''}\n`);
  if (CLIENTS[client].note) io.stdout.write(`${CLIENTS[client].note}\n`);
  return 0;
}

/**
 * The home the entry (or a service) should use: `--home`, else this shell's $SNOWMUX_HOME — editors and
 * service managers start without the shell's environment, so a home set only there would otherwise be a
 * different hub from the one `snowmux status` in this shell reads.
 */
export function homeForEditors(flag: string | undefined, env: NodeJS.ProcessEnv): { dir: string | undefined; fromEnv: boolean } {
  if (flag !== undefined) return { dir: resolve(flag), fromEnv: false };
  const fromEnv = env['SNOWMUX_HOME'];
  return fromEnv ? { dir: resolve(fromEnv), fromEnv: true } : { dir: undefined, fromEnv: false };
}

/** This Node and this package's CLI, as absolute paths (symlinks such as npm's global bin resolved). */
export function shimLaunch(home: string | undefined): ShimLaunch {
  const bin = realpathSync(fileURLToPath(new URL('../../../../bin/snowmux.js', import.meta.url)));
  return { command: process.execPath, args: [bin, 'shim', ...(home !== undefined ? ['--home', resolve(home)] : [])] };
}

function writeEntry(client: ClientId, file: string, name: string, launch: ShimLaunch): { path: string; replaced: boolean; backup: string | undefined } {
  // Follow a symlinked config (dotfile managers do that) to the real file, so the link survives.
  const path = existsSync(file) ? realpathSync(file) : file;
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  const { text, replaced } = mergeIntoConfig(existing, client, name, launch, path);
  mkdirSync(dirname(path), { recursive: true });
  let backup: string | undefined;
  const mode = existing !== undefined ? statSync(path).mode & 0o777 : 0o600;
  if (existing !== undefined) {
    backup = `${path}.bak`;
    writeFileSync(backup, existing, { mode });
  }
  const tmp = `${path}.snowmux-${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
  return { path, replaced, backup };
}

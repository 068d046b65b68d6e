/**
 * `snowmux reload` — the running hub re-reads its configuration: new roles and limits apply to every
 * session at once (none is dropped); an invalid file is refused with the reason and the old one stays.
 */
import { SnowmuxError, isSnowmuxError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';
import type { CommandIo } from '../command-io.js';
import { controlRequest } from '../control-client.js';
import { hubPlace, snowmuxCommand } from '../../snowmux-command.js';
import { checkHomeOfHub, resolveHome, socketPathFor } from '../../wire/home.js';

/** Codes of a config file the hub refused to load: it then runs on with the configuration it has. */
const REFUSED_FILE_CODES = new Set(['CONFIG_INVALID', 'CONFIG_UNSAFE', 'CONFIG_NOT_FOUND', 'CONFIG_UNREADABLE']);

/**
 * A refused file's error, saying that the running configuration stays: the config error alone left the
 * reader to guess whether the hub now ran with half a file, the defaults, or nothing.
 */
function refusedFile(err: unknown, home: string): unknown {
  if (!isSnowmuxError(err) || !REFUSED_FILE_CODES.has(err.code)) return err;
  return new SnowmuxError(err.code, `${err.message.replace(/\s+$/, '')}\nThe running hub keeps its current configuration. Fix the file, then run \`${snowmuxCommand('reload', home)}\` again.`);
}

export async function reloadCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('reload', argv, { home: { type: 'string' }, help: { type: 'boolean' } });
  if (values.help) {
    io.stdout.write('Usage: snowmux reload [--home DIR]\n\nThe running hub re-reads config.toml (and API keys): roles and rate/retry limits apply at once,\nwithout dropping a session. An invalid file is refused and the running configuration stays.\nSending SIGHUP to the hub does the same.\n');
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  checkHomeOfHub(home);
  const r = await controlRequest<{ applied: string[]; needsRestart: string[]; unusable?: string[]; warnings?: string[]; configFile?: string }>(socketPathFor(home), 'reload', undefined, home).catch((err: unknown) => {
    throw refusedFile(err, home);
  });
  io.stdout.write(`snowmux: configuration reloaded; ${r.applied.length ? `now applied: ${r.applied.join(', ')}` : 'nothing that applies at once changed'}.\n`);
  if (r.needsRestart.length) io.stdout.write(`Changed but applied only after a restart (${snowmuxCommand('hub --replace', hubPlace(home, r.configFile))}): ${r.needsRestart.join(', ')}.\n`);
  for (const warning of r.warnings ?? []) io.stderr.write(`snowmux: warning: ${warning}\n`);
  // Applied all the same (the files are read again at each login), but the next login with these fails: said now.
  const unusable = r.unusable ?? [];
  if (unusable.length > 0) {
    io.stderr.write(`snowmux: warning: ${unusable.length === 1 ? 'a Snowflake profile' : 'Snowflake profiles'} of the hub cannot be used now; calls that use ${unusable.length === 1 ? 'it' : 'them'} fail until fixed (no reload needed after the fix):\n${unusable.map((u) => `  - ${u}\n`).join('')}`);
  }
  return 0;
}

/**
 * Small wrapper around node:util parseArgs that turns parse errors into clear usage errors.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SnowmuxError } from '../errors.js';
import { closestName } from '../closest-name.js';
import { shownText } from '../shown-text.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  // Every command answers -h like --help.
  const withShortHelp = options.help && options.help.short === undefined ? { ...options, help: { ...options.help, short: 'h' } } : options;
  try {
    return parseArgs({ args: argv, options: withShortHelp as O, allowPositionals, strict: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // What an unknown option most likely meant is added by the CLI's dispatcher (withMeantOption, from the
    // options named here), so that the shim's bundle, which parses with this too, stays small.
    throw new SnowmuxError('USAGE', `${e.message.replace(/\.$/, '')}. Run \`snowmux ${command} --help\` for the options.`, { details: { options: Object.keys(options) } });
  }
}

/**
 * A usage error for an unknown option, naming the option as typed in `argv` (parseArgs names a short
 * group's first letter, "-j" for "-json", and drops an `=value`) and the one it most likely meant
 * ("--jsn" → "--json", "-json" → "--json"), without parseArgs' hint about positionals that start with "-"
 * (not what went wrong); any other message unchanged.
 */
export function withMeantOption(message: string, details: Record<string, unknown> | undefined, argv: readonly string[]): string {
  const known = details?.options;
  const reported = /^Unknown option '(-[^']*)'/.exec(message)?.[1];
  if (reported === undefined || !Array.isArray(known)) return message;
  const typed = (argv.find((a) => a === reported || a.startsWith(`${reported}=`)) ?? argv.find((a) => !a.startsWith('--') && a.startsWith(reported)) ?? reported).split('=')[0]!;
  const name = typed.replace(/^-+/, '');
  const meant = name === '' ? undefined : known.includes(name) ? name : closestName(name, known as string[]);
  const said = message.replace(/\. To specify a positional [\s\S]*?(?=\. Run `snowmux)/, '');
  return said.replace(`Unknown option '${reported}'`, `Unknown option '${shownText(typed, 40)}'${meant === undefined ? '' : ` (did you mean \`--${meant}\`?)`}`);
}

/** `Unknown subcommand "lst" of snowmux keys (did you mean \`snowmux keys list\`?)` — for commands that take one. */
export function unknownSubcommand(command: string, given: string | undefined, known: readonly string[]): string {
  if (given === undefined || given === '') return `Name what to do: snowmux ${command} ${known.join('|')}.`;
  const meant = closestName(given, known);
  return `Unknown subcommand "${shownText(given, 40)}" of snowmux ${command}${meant ? ` (did you mean \`snowmux ${command} ${meant}\`?)` : ''}: one of ${known.join(', ')}.`;
}

/** ` (did you mean "warn"?)` when `given` is a typo of one of `known`, else nothing: for a value's error. */
export function didYouMean(given: string, known: readonly string[]): string {
  const lower = given.toLowerCase();
  // "warning" for "warn", "inst" for "install": a prefix either way, when only one fits.
  const prefixed = known.filter((k) => lower.startsWith(k) || (lower.length >= 2 && k.startsWith(lower)));
  const meant = prefixed.length === 1 ? prefixed[0] : closestName(lower, known);
  return meant === undefined ? '' : ` (did you mean "${meant}"?)`;
}

/**
 * Small wrapper around node:util parseArgs that turns parse errors into clear usage errors.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SnowmuxError } from '../errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  // Every command answers -h like --help.
  const withShortHelp = options.help && options.help.short === undefined ? { ...options, help: { ...options.help, short: 'h' } } : options;
  try {
    return parseArgs({ args: argv, options: withShortHelp as O, allowPositionals, strict: true });
  } catch (err) {
    throw new SnowmuxError('USAGE', `${(err as Error).message}. Run \`snowmux ${command} --help\` for the options.`);
  }
}

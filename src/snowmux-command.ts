/**
 * The command line a message tells someone to run about one hub (`snowmux stop`, `snowmux hub --replace`,
 * `snowmux status`): with `--home` when the hub's home is not the default one, and `--config` when the hub
 * runs with a file named for it. Advice without them acts on ~/.snowmux: `snowmux stop` said "nothing to
 * stop" while the hub it was meant for kept running. Node builtins only (the shim and wire use it).
 */
import { join } from 'node:path';
import { shellWord } from './shell-word.js';
import { userHomeIfAny } from './user-path.js';

/** Which hub a command is for: its home, and the config file it was started with when one was named. */
export interface HubPlace {
  home: string;
  config?: string | undefined;
}

/**
 * `snowmux <words>` for the hub at `place`, each path shell-quoted. --home is compared with ~/.snowmux itself,
 * not $SNOWMUX_HOME: the advice is read in a shell (or an editor) that may not have that variable.
 */
export function snowmuxCommand(words: string, place: HubPlace | string): string {
  const { home, config } = typeof place === 'string' ? { home: place, config: undefined } : place;
  let line = `snowmux ${words}`;
  if (home !== defaultHome()) line += ` --home ${shellWord(home)}`;
  if (config !== undefined) line += ` --config ${shellWord(config)}`;
  return line;
}

/** ~/.snowmux, or undefined when there is no home directory (then --home is always said). Never throws: it only shapes advice. */
function defaultHome(): string | undefined {
  try {
    const home = userHomeIfAny();
    return home === undefined ? undefined : join(home, '.snowmux');
  } catch {
    return undefined;
  }
}

/** A hub's place from its home and the config file it reads: the file is named only when it is not the home's own config.toml. */
export function hubPlace(home: string, configFile: string | undefined): HubPlace {
  return { home, config: configFile === undefined || configFile === join(home, 'config.toml') ? undefined : configFile };
}

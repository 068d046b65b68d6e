/**
 * `snowmux shim` — what an editor launches. Only node builtins and src/wire + src/shim are imported, and
 * this module graph is also bundled as one CommonJS file (dist/shim.cjs, see package.json "build"), which
 * bin/snowmux.js requires directly: an ESM load costs ~20 ms more at start-up. So: no import.meta, no
 * top-level await.
 */
import { keysHidden, type CommandIo } from '../command-io.js';
import { parseCommandArgs } from '../args.js';
import { ensureHome, resolveHome, socketPathFor } from '../../wire/home.js';
import { Shim } from '../../shim/shim.js';
import { checkRemoteUrl, apiKeyFrom } from '../../shim/remote-link.js';
import { SnowmuxError } from '../../errors.js';
import { constants } from 'node:os';
import { isAbsolute } from 'node:path';
import { resolveUserPath } from '../../user-path.js';
import { hideApiKeys } from '../../shown-text.js';

const HELP = `Usage: snowmux shim [--home DIR] [--config PATH] [--profile NAME]
       snowmux shim --url wss://HOST/shim [--key-file FILE] [--profile NAME]

Forwards MCP JSON-RPC between this process's stdin/stdout and the snowmux hub, starting the hub
when none is running. Configure your editor with: { "command": "snowmux", "args": ["shim"] }
(\`snowmux setup <client>\` prints that entry with absolute paths).

--config PATH is the config file a hub this shim starts reads (default <home>/config.toml, or
$SNOWMUX_CONFIG); a hub already running keeps its own (\`snowmux status\` shows which), and says so
in the session's first tool result.

With --url it links to a hub on another machine (its HTTP face's /shim) instead; the API key comes from
$SNOWMUX_KEY or --key-file (never a flag), and no Snowflake setting leaves this machine.
`;

/** Said when stdin is a terminal: this process speaks MCP JSON-RPC to an editor, one message per line. */
export const TERMINAL_NOTE =
  'snowmux shim: waiting for MCP JSON-RPC messages on stdin, one per line — this is what an editor runs, not a command to start snowmux by hand. ' +
  'Set up an editor with `snowmux setup <client>`; run a hub in a terminal with `snowmux hub`; check one with `snowmux status`. Ctrl-D ends.\n';

export async function shimCommand(argv: string[], given: CommandIo): Promise<number> {
  // The editor's log (stderr) never shows an API key whole; stdout is the editor's JSON-RPC channel, as is.
  // (bin/snowmux.js runs this without main(), which hides keys for every other command.)
  const io: CommandIo = { stdout: given.stdout, stderr: keysHidden(given.stderr) };
  let setup: ShimSetup;
  try {
    setup = shimSetup(argv);
  } catch (err) {
    // An editor shows what its server answers, not what it printed on stderr: answer every request with
    // the reason (a wrong flag in the editor's config, a home that cannot be used) rather than exit unheard.
    // Run by hand in a terminal, nobody is there to answer: the CLI says it and exits, as any command does.
    if (!(err instanceof SnowmuxError) || process.stdin.isTTY === true) {
      // bin/snowmux.js prints it as it is.
      if (err instanceof Error) err.message = hideApiKeys(err.message);
      throw err;
    }
    // The exit code is the CLI's (2 for a usage error, 1 otherwise).
    // Its message quotes the command line, where an API key may stand (pasted as an argument, or as --key-file's value).
    setup = { unusable: { code: err.code, message: `${hideApiKeys(err.message)} [${err.code}]`, exitCode: err.code === 'USAGE' ? 2 : 1 } };
  }
  if (setup === 'help') {
    io.stderr.write(HELP);
    return 0;
  }
  const home = setup.home ?? '';
  // Typed in a terminal by someone starting snowmux, it would wait silently for JSON-RPC on stdin.
  if (process.stdin.isTTY === true) io.stderr.write(TERMINAL_NOTE);
  // An editor starts its server in a directory of its choosing, which changes: a relative path names a
  // different home (and starts another hub) from one start to the next. Said where the editor logs stderr.
  for (const [flag, path] of [['--home', setup.homeFlag], ['--config', setup.config]] as const) {
    if (path !== undefined && !isAbsolute(path) && !path.startsWith('~')) {
      io.stderr.write(`snowmux shim: ${flag} ${hideApiKeys(path)} is a relative path, read from the directory the editor started this shim in (${process.cwd()}), which may differ next time. Use an absolute path (snowmux setup <client> writes one).\n`);
    }
  }
  const configPath = setup.configPath;
  // The hub is started with the same entry script the editor launched (bin/snowmux.js, or its npm symlink).
  const entry = process.argv[1] ?? 'snowmux';
  const shim = new Shim({
    home,
    socketPath: setup.socketPath ?? '',
    profile: setup.profile ?? (process.env.SNOWMUX_PROFILE || undefined),
    // The config it names (flag or environment): told to a running hub, which says when it is not its own.
    config: configPath,
    // The environment's SNOWMUX_CONFIG reaches the hub it starts by itself; only the flag is passed on.
    hubCommand: [entry, 'hub', '--home', home, ...(setup.config !== undefined ? ['--config', configPath!] : [])],
    env: process.env,
    stderr: io.stderr,
    reconnectDeadlineMs: numberEnv('SNOWMUX_RECONNECT_DEADLINE_MS', 30_000),
    pingIntervalMs: numberEnv('SNOWMUX_LINK_PING_MS', 5_000),
    remote: setup.remote,
    unusable: setup.unusable,
  });
  shim.start();
  // An editor that stops its server with a signal still reads what the shim already wrote: the shim drops
  // its links (their hubs cancel what still runs) and leaves once stdout is flushed, with the code the
  // signal would have given. A second signal of the same kind kills it at once (the handler runs once).
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => shim.close(128 + constants.signals[signal]));
  // Resolves once stdout is flushed (or the editor is gone).
  const code = await shim.exited;
  // Exit promptly even if a reconnect timer or a half-closed socket would keep the loop alive.
  process.exit(code);
}

type ShimSetup =
  | 'help'
  | {
      home?: string;
      /** Where the home's hub listens (none for a remote hub). */
      socketPath?: string | undefined;
      /** --home as typed. */
      homeFlag?: string | undefined;
      config?: string | undefined;
      /** The config file named by --config or $SNOWMUX_CONFIG, absolute. */
      configPath?: string | undefined;
      profile?: string | undefined;
      remote?: { url: string; key: string } | undefined;
      unusable?: { code: string; message: string; exitCode: number };
    };

/** The command line and the home, checked: throws the SnowmuxError that says what to fix. */
function shimSetup(argv: string[]): ShimSetup {
  const { values } = parseCommandArgs('shim', argv, {
    home: { type: 'string' },
    config: { type: 'string' },
    profile: { type: 'string' },
    url: { type: 'string' },
    'key-file': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) return 'help';
  const home = resolveHome({ flag: values.home });
  let remote: { url: string; key: string } | undefined;
  let socketPath: string | undefined;
  if (values.url !== undefined) {
    checkRemoteUrl(values.url);
    const key = apiKeyFrom(values['key-file'], process.env);
    if (!key) throw new SnowmuxError('USAGE', 'A remote hub needs an API key: set SNOWMUX_KEY or pass --key-file FILE (snowmux keys create on the hub).');
    remote = { url: values.url, key };
  } else {
    ensureHome(home);
    // Here, not later: a path that cannot hold a socket is answered to the editor like any unusable home.
    socketPath = socketPathFor(home);
  }
  return { home, socketPath, homeFlag: values.home, config: values.config, configPath: namedConfigPath(values.config), profile: values.profile, remote };
}

/** --config, else $SNOWMUX_CONFIG, made absolute as the hub would (a leading ~/ is the user's home directory). */
function namedConfigPath(flag: string | undefined): string | undefined {
  if (flag !== undefined) return resolveUserPath(flag, '--config', 'CONFIG_INVALID');
  const env = process.env.SNOWMUX_CONFIG;
  return env ? resolveUserPath(env, '$SNOWMUX_CONFIG', 'CONFIG_INVALID') : undefined;
}

function numberEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

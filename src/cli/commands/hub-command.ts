/**
 * `snowmux hub` — runs the hub in the foreground until SIGTERM/SIGINT or `snowmux stop`. What a hub
 * process is made of is composed in hub/hub-process.ts; this command checks the home, prints, and turns
 * signals into a graceful stop or a reload.
 */
import { dirname } from 'node:path';
import type { CommandIo } from '../command-io.js';
import { parseCommandArgs } from '../args.js';
import { SnowmuxError, errorMessage } from '../../errors.js';
import { HTTP_ENGINES, type HttpEngineChoice } from '../../hub/config/config-schema.js';
import { checkHome, checkSocketPath, ensureHome, ensureRuntimeDir, resolveHome, socketPathFor, socketOutsideHome } from '../../wire/home.js';
import { KnownSecrets } from '../../hub/audit/known-secrets.js';
import { startHubProcess } from '../../hub/hub-process.js';
import { PROFILE_FLAGS_HELP, PROFILE_FLAG_OPTIONS, profileFlagsFrom, refuseSecretFlags } from '../profile-flags.js';
import { VERSION } from '../../version.js';
import { resolveUserPath } from '../../user-path.js';
import { closestName } from '../../closest-name.js';
import { snowmuxCommand } from '../../snowmux-command.js';

const HELP = `Usage: snowmux hub [--home DIR] [--config PATH] [--replace [--force] [--allow-downgrade]] [--http ADDR] [--http-engine E] [profile flags]

Runs the hub in the foreground. Logs go to <home>/hub.log.
  --config PATH  config file (default <home>/config.toml, or $SNOWMUX_CONFIG)
  --replace      take over from a running hub: the old one serves until this one is ready (and serves on
                 if this one fails to start), then finishes its running calls and exits; editors stay
                 connected (a frozen hub is replaced too)
  --allow-downgrade
                 with --replace: take over even from a hub of a newer snowmux (a rollback); without
                 it, --replace refuses to downgrade the running hub
  --force        with --replace: take over even from a hub a service manager runs (systemd, launchd,
                 pm2); without it, --replace refuses and names the manager's restart command
  --http-engine auto|uws|node
                 HTTP engine: uWebSockets.js when it loads (auto), or node:http; overrides hub.http_engine
  --http ADDR    also serve HTTP on host:port (/mcp, /healthz, /readyz, /metrics, /status, /events);
                 overrides hub.http_listen. Keys: snowmux keys create
${PROFILE_FLAGS_HELP}
`;

export async function hubCommand(argv: string[], io: CommandIo): Promise<number> {
  refuseSecretFlags(argv);
  const { values } = parseCommandArgs('hub', argv, {
    home: { type: 'string' },
    replace: { type: 'boolean' },
    'allow-downgrade': { type: 'boolean' },
    force: { type: 'boolean' },
    http: { type: 'string' },
    'http-engine': { type: 'string' },
    config: { type: 'string' },
    profile: { type: 'string' },
    help: { type: 'boolean' },
    ...PROFILE_FLAG_OPTIONS,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  // --force and --allow-downgrade only qualify a takeover: alone they were passed over without a word, and a
  // hub started (or refused, HUB_ALREADY_RUNNING) as if they had not been given.
  for (const flag of ['force', 'allow-downgrade'] as const) {
    if (values[flag] && !values.replace) {
      throw new SnowmuxError('USAGE', `--${flag} applies only with --replace: run \`${snowmuxCommand(`hub --replace --${flag}`, home)}\` to take over from the running hub (\`snowmux hub --help\`).`);
    }
  }
  // A shim creates the home before it starts a hub; a home missing by now was removed on purpose (an
  // uninstall, a test's temp dir), and re-creating it would leave a hub nobody will ever stop.
  if (process.env.SNOWMUX_STARTED_BY?.startsWith('shim:')) checkHome(home, true);
  else ensureHome(home);
  const socketPath = socketPathFor(home);
  if (socketOutsideHome(socketPath)) ensureRuntimeDir(dirname(socketPath));
  checkSocketPath(socketPath);
  // Every line the hub writes where it was started (a terminal; for a hub a shim started, the file
  // <home>/hub-stderr.log) is scrubbed of the hub's secrets as hub.log's lines are: an uncaught error, a
  // refused reload or a failed login may quote one.
  const secrets = new KnownSecrets();
  const write = (text: string): void => {
    io.stderr.write(secrets.hub.scrub(text));
  };
  // The signals are handled from before the hub takes its socket: it accepts shims (and holds hub.pid) while
  // it still opens the audit log and its listeners, and a SIGTERM, SIGINT or SIGHUP in that time ended it by
  // the default action, with no drain (its shims read "exited before serving" and backed off). One that
  // comes before the hub is up stops it as soon as it is (a second one ends it at once, as later).
  let running: Awaited<ReturnType<typeof startHubProcess>> | undefined;
  let stopWhenUp: string | undefined;
  const onSignal = (signal: string) => {
    if (running) {
      write(`snowmux hub: ${signal} received, stopping gracefully\n`);
      void running.stop(signal);
      return;
    }
    write(`snowmux hub: ${signal} received while starting: stopping gracefully as soon as the hub is up (${signal} again ends it at once)\n`);
    stopWhenUp ??= signal;
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => {
    if (!running) {
      write('snowmux hub: SIGHUP during start-up ignored: the hub is reading its configuration now; run `snowmux reload` once it serves\n');
      return;
    }
    try {
      const r = running.reload();
      write(`snowmux hub: SIGHUP: configuration reloaded (${r.applied.join(', ') || 'no change that applies now'})${r.needsRestart.length ? `; needs a restart: ${r.needsRestart.join(', ')}` : ''}\n`);
      // Said where the hub was started, as its start says them: the file's warnings, profiles that cannot log in now.
      for (const warning of [...(r.warnings ?? []), ...(r.unusable ?? [])]) write(`snowmux hub: warning: ${warning}\n`);
    } catch (err) {
      write(`snowmux hub: SIGHUP: the new configuration was refused, the running one stays: ${errorMessage(err)}\n`);
    }
  });
  const started = await startHubProcess({
    home,
    socketPath,
    replace: values.replace,
    allowDowngrade: values['allow-downgrade'],
    force: values.force,
    httpListen: values.http,
    httpEngine: httpEngineFlag(values['http-engine']),
    // Resolved once, here: a relative --config read against the working directory at every reload named
    // another file (or none: a directory deleted since) than the one the hub started with.
    configPath: values.config === undefined ? undefined : resolveUserPath(values.config, '--config', 'CONFIG_INVALID'),
    profileName: values.profile,
    flags: profileFlagsFrom(values),
    secrets,
    say: (line) => write(`snowmux hub: ${line}`),
  }).catch((err: unknown) => {
    // main prints the message: it passes the same scrub.
    if (err instanceof Error) err.message = secrets.hub.scrub(err.message);
    throw err;
  });
  const { logger } = started;
  // The terminal (or pipe) that started the hub may go away while it serves: its lines are dropped then,
  // said once in hub.log. Unhandled, the write error was an uncaught exception whose own line to stderr
  // failed again, and again: a loop that filled hub.log.
  let stderrGone = false;
  io.stderr.on('error', (err: Error) => {
    if (stderrGone) return;
    stderrGone = true;
    logger.warn({ err: errorMessage(err) }, 'the terminal that started the hub is gone; its lines are dropped (hub.log has them all)');
  });
  running = started;
  if (stopWhenUp !== undefined) void started.stop(stopWhenUp);
  // bin/snowmux.js already keeps SIGUSR1 from opening Node's inspector (and says so on stderr); hub.log is
  // where an operator looks for what a signal did to the hub.
  let inspectorSignalLogged = false;
  process.on('SIGUSR1', () => {
    if (inspectorSignalLogged) return;
    inspectorSignalLogged = true;
    logger.warn({ signal: 'SIGUSR1' }, "SIGUSR1 ignored: the hub does not open Node's inspector on a signal (anyone on this machine could use it); SIGHUP reloads the config, SIGTERM stops the hub");
  });
  process.on('uncaughtException', (err) => {
    // Not `fatal`: pino flushes fatal lines synchronously, and the file destination's flushSync retries a
    // failing write (a full disk) for ever, freezing every editor's calls. The hub goes on; say it twice.
    logger.error({ err }, 'uncaught exception');
    write(`snowmux hub: uncaught exception (a snowmux bug; the hub goes on): ${errorMessage(err)}\n`);
  });
  // Said once every handler is in place: whoever waits for this line (a test, a service manager) may signal
  // the hub at once, and a SIGHUP before its handler would have ended the hub.
  write(`snowmux hub ${VERSION} listening on ${socketPath} (pid ${process.pid}); logs in ${home}/hub.log\n`);
  await started.closed;
  write('snowmux hub: stopped\n');
  // Driver pools and timers may keep the loop alive after a stop; the hub is done.
  setImmediate(() => process.exit(0));
  return 0;
}

function httpEngineFlag(value: string | undefined): HttpEngineChoice | undefined {
  if (value === undefined) return undefined;
  if ((HTTP_ENGINES as readonly string[]).includes(value)) return value as HttpEngineChoice;
  const meant = closestName(value.toLowerCase(), HTTP_ENGINES);
  throw new SnowmuxError('USAGE', `--http-engine must be auto, uws or node; got "${value}"${meant === undefined ? '' : ` (did you mean "${meant}"?)`}.`);
}

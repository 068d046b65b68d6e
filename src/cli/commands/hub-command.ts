/**
 * `snowmux hub` — runs the hub in the foreground until SIGTERM/SIGINT or `snowmux stop`.
 */
import type { CommandIo } from '../main.js';
import { parseCommandArgs } from '../args.js';
import { controlRequest } from '../control-client.js';
import { ensureHome, resolveHome, socketPathFor } from '../../wire/home.js';
import { socketAnswers } from '../../hub/listen/unix-listener.js';
import { createLogger, flushLogger } from '../../hub/observe/logger.js';
import { Hub } from '../../hub/hub.js';
import { createRuntime } from '../../hub/runtime.js';
import { PROFILE_FLAGS_HELP, PROFILE_FLAG_OPTIONS, profileFlagsFrom } from '../profile-flags.js';
import { VERSION } from '../../version.js';

const HELP = `Usage: snowmux hub [--home DIR] [--config PATH] [--replace] [profile flags]

Runs the hub in the foreground. Logs go to <home>/hub.log.
  --config PATH  config file (default <home>/config.toml, or $SNOWMUX_CONFIG)
  --replace      take over from a running hub: it hands over the socket and drains; editors stay connected
${PROFILE_FLAGS_HELP}
`;

export async function hubCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('hub', argv, {
    home: { type: 'string' },
    replace: { type: 'boolean' },
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
  ensureHome(home);
  const socketPath = socketPathFor(home);
  if (values.replace && (await socketAnswers(socketPath))) {
    await controlRequest(socketPath, 'replace');
    // The old hub frees the socket path as soon as it accepts the hand-over.
    for (let i = 0; i < 100 && (await socketAnswers(socketPath, 200)); i++) await new Promise((r) => setTimeout(r, 20));
  }
  const logger = createLogger({ home });
  // Config errors stop the hub here, before it binds, with the file and key that is wrong.
  const runtime = await createRuntime({ home, logger, configPath: values.config, profileName: values.profile, flags: profileFlagsFrom(values) });
  const hub = new Hub({
    home,
    socketPath,
    logger,
    warehouses: runtime.warehouses,
    governance: runtime.governance,
    limits: runtime.limits,
    maxLineBytes: runtime.maxLineBytes,
    shutdownGraceMs: runtime.shutdownGraceMs,
    sinks: runtime.sinks,
    statusSections: runtime.statusSections,
  });
  await hub.start();
  // Only the hub that owns the socket writes the audit log.
  await runtime.openAudit();
  runtime.warehouses.warmUp();
  io.stderr.write(`snowmux hub ${VERSION} listening on ${socketPath} (pid ${process.pid}); logs in ${home}/hub.log\n`);

  const onSignal = (signal: string) => {
    io.stderr.write(`snowmux hub: ${signal} received, stopping gracefully\n`);
    void hub.stop(signal);
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    flushLogger(logger);
  });
  await hub.stopped;
  await runtime.close('hub stopped');
  io.stderr.write('snowmux hub: stopped\n');
  // Driver pools and timers may keep the loop alive after a stop; the hub is done.
  setImmediate(() => process.exit(0));
  return 0;
}

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
import { WarehouseRegistry } from '../../hub/warehouse/warehouse-registry.js';
import { VERSION } from '../../version.js';

const HELP = `Usage: snowmux hub [--home DIR] [--replace]

Runs the hub in the foreground. Logs go to <home>/hub.log.
  --replace   take over from a running hub: it hands over the socket and drains; editors stay connected
`;

export async function hubCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('hub', argv, {
    home: { type: 'string' },
    replace: { type: 'boolean' },
    help: { type: 'boolean' },
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
  const warehouses = new WarehouseRegistry({ home, logger });
  const hub = new Hub({ home, socketPath, logger, warehouses });
  await hub.start();
  warehouses.warmUp();
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
  io.stderr.write('snowmux hub: stopped\n');
  // Driver pools and timers may keep the loop alive after a stop; the hub is done.
  setImmediate(() => process.exit(0));
  return 0;
}

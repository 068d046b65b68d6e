/**
 * `snowmux stop` — asks the hub to shut down gracefully and waits until it has let go of the socket.
 */
import type { CommandIo } from '../command-io.js';
import { parseCommandArgs } from '../args.js';
import { controlRequest } from '../control-client.js';
import { checkHome, resolveHome, socketPathFor } from '../../wire/home.js';

export async function stopCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('stop', argv, { home: { type: 'string' }, help: { type: 'boolean' } });
  if (values.help) {
    io.stdout.write('Usage: snowmux stop [--home DIR]\n\nAsks the running hub to finish running calls and shut down.\n');
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  checkHome(home);
  const socketPath = socketPathFor(home);
  const reply = await controlRequest<{ stopping: boolean }>(socketPath, 'stop');
  io.stdout.write(reply.stopping ? `snowmux: hub at ${socketPath} is stopping (running calls are allowed to finish).\n` : 'snowmux: the hub did not accept the stop.\n');
  return reply.stopping ? 0 : 1;
}

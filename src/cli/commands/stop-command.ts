/**
 * `snowmux stop` — asks the hub to shut down gracefully. It returns once the hub has accepted: the hub
 * lets go of the socket at once and finishes its running calls in the background. With no hub running
 * there is nothing to do, and that is success (exit 0, as `systemctl stop` of a stopped unit): a script's
 * "make sure it is stopped" must not fail on a machine where it already is.
 */
import { existsSync } from 'node:fs';
import type { CommandIo } from '../command-io.js';
import { parseCommandArgs } from '../args.js';
import { controlRequest } from '../control-client.js';
import { checkHome, resolveHome, socketPathFor } from '../../wire/home.js';
import { snowmuxCommand } from '../../snowmux-command.js';
import { SnowmuxError } from '../../errors.js';
import { homeHeldElsewhere } from '../home-held-elsewhere.js';
import { liveAuditWriter } from '../../wire/audit-claim.js';

export async function stopCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('stop', argv, { home: { type: 'string' }, help: { type: 'boolean' } });
  if (values.help) {
    io.stdout.write('Usage: snowmux stop [--home DIR]\n\nAsks the running hub to finish running calls and shut down (the shims of editors still open\nstart a new hub at once: close those editors first to stop for good). Exits 0 when it accepted, and\nwhen no hub is running (nothing to stop); 1 when a hub is there but does not answer (or holds the\nhome while listening on a socket this command does not reach), or when the\nhome cannot be trusted (owned by another user, or open to others: the message says which).\n');
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  if (!existsSync(home)) {
    io.stdout.write(`snowmux: there is no snowmux home at ${home}, so no hub runs there; nothing to stop.\n`);
    return 0;
  }
  checkHome(home);
  const socketPath = socketPathFor(home);
  let reply: StopReply;
  try {
    reply = await controlRequest<StopReply>(socketPath, 'stop', undefined, home);
  } catch (err) {
    if ((err as { code?: string }).code !== 'HUB_NOT_RUNNING') throw err;
    // A live hub holding the home on a socket this spelling does not reach (another $SNOWMUX_RUNTIME_BASE, a
    // bind mount) is running all the same: "nothing to stop", exit 0, let an uninstall or upgrade go on while it served.
    const elsewhere = homeHeldElsewhere(home, socketPath);
    if (elsewhere) throw new SnowmuxError('HUB_NOT_RUNNING', `Nothing was stopped. ${elsewhere.detail} ${elsewhere.fix}`);
    // A hub that let go of the socket (an earlier stop, or replaced by `hub --replace`) may still be finishing
    // editors' calls, for up to the call timeout after a take-over; it holds the audit-writer claim until it
    // exits. "No hub is running" let a script go on (an uninstall, an upgrade) while it still ran queries.
    const draining = liveAuditWriter(home);
    if (draining !== null) {
      io.stdout.write(`snowmux: no hub takes connections at ${socketPath}, but the hub pid ${draining} is still draining: it finishes its running calls, then exits by itself (it was stopped or replaced already). To end it sooner: \`kill -TERM ${draining}\` gives its running calls hub.shutdown_grace_ms from now; a second \`kill -TERM ${draining}\` ends it at once.\n`);
      return 0;
    }
    io.stdout.write(`snowmux: no hub is running at ${socketPath}; nothing to stop.\n`);
    return 0;
  }
  if (!reply.stopping) {
    io.stdout.write('snowmux: the hub did not accept the stop.\n');
    return 1;
  }
  io.stdout.write(`snowmux: hub at ${socketPath} is stopping (running calls are allowed to finish).\n`);
  // The stop is accepted either way; what follows it is not a stop for good, and an uninstall must know.
  // Counted as the hub saw them: sessions that opened with a shim's hello (an editor's `snowmux shim`), and
  // plain MCP clients on the socket (no shim: a script, a test harness). A hub older than this count gave
  // every socket session as a shim session.
  const shims = reply.shimSessions ?? 0;
  const plain = reply.plainSessions ?? 0;
  if (shims > 0) {
    const sessions = shims === 1 ? '1 session through snowmux shim (an editor\'s MCP server) is' : `${shims} sessions through snowmux shim (editors' MCP servers) are`;
    // What each shim does depends on its editor, which the hub cannot see: one still open links to (and
    // starts) a new hub at once; one whose editor closed stdin only waits for its calls here and leaves.
    io.stdout.write(`snowmux: ${sessions} connected. The shim of an editor that is still open starts a new hub at once, so this acts as a restart; a shim whose editor has already closed finishes its running calls on this hub and starts none. To stop for good, close those editors (or their snowmux MCP servers) first, then run \`${snowmuxCommand('stop', home)}\` again.\n`);
  }
  if (plain > 0) {
    const clients = plain === 1 ? '1 plain MCP client (connected to the socket without a shim) is' : `${plain} plain MCP clients (connected to the socket without a shim) are`;
    io.stdout.write(`snowmux: ${clients} disconnected by the stop; nothing restarts ${plain === 1 ? 'it' : 'them'}.\n`);
  }
  return 0;
}

interface StopReply {
  stopping: boolean;
  /** Local sessions that opened with a shim hello. */
  shimSessions?: number;
  /** Local sessions of plain MCP clients (no hello); absent from hubs before this count. */
  plainSessions?: number;
}

/**
 * `snowmux stdio` — the same tools served in-process to one client on stdin/stdout, with no hub
 * (containers, CI, and the baseline the benchmarks compare against).
 */
import { randomUUID } from 'node:crypto';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { CommandIo } from '../main.js';
import { parseCommandArgs } from '../args.js';
import { ensureHome, resolveHome } from '../../wire/home.js';
import { DEFAULT_MAX_LINE_BYTES } from '../../wire/framing.js';
import { createLogger } from '../../hub/observe/logger.js';
import { createMcpServer } from '../../hub/mcp-server.js';
import { LineTransport } from '../../hub/session/line-transport.js';
import { Session, observeClientMessage } from '../../hub/session/session.js';
import { RecentCalls } from '../../hub/observe/recent-calls.js';
import { DEFAULT_LIMITS } from '../../hub/tools/tool-runtime.js';
import { WarehouseRegistry } from '../../hub/warehouse/warehouse-registry.js';

export async function stdioCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('stdio', argv, { home: { type: 'string' }, help: { type: 'boolean' } });
  if (values.help) {
    io.stderr.write('Usage: snowmux stdio [--home DIR]\n\nServes the snowmux tools on stdin/stdout in this process (no hub).\n');
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  ensureHome(home);
  // stdout is the protocol channel: logs go to stderr, quietly by default.
  const logger = createLogger({ destination: process.stderr, level: process.env.SNOWMUX_LOG_LEVEL ?? 'warn' });
  const warehouses = new WarehouseRegistry({ home, logger });
  warehouses.warmUp();
  const session = new Session({ id: randomUUID(), identity: { kind: 'local-user', name: process.env.USER ?? 'local' }, transport: 'stdio' });
  let ended!: () => void;
  const closed = new Promise<void>((resolve) => (ended = resolve));
  const transport = new LineTransport({
    input: process.stdin,
    output: process.stdout,
    maxLineBytes: DEFAULT_MAX_LINE_BYTES,
    observe: (m) => observeClientMessage(session, m),
    onEnded: () => ended(),
  });
  const handle = serveStdio(() => createMcpServer({ session, warehouses, limits: DEFAULT_LIMITS, logger, sink: new RecentCalls(10) }), { transport });
  // The SDK does not react to stdin EOF by itself; the transport does, and we exit then.
  await closed;
  session.close('stdin ended');
  await handle.close().catch(() => {});
  await warehouses.close().catch(() => {});
  void io;
  setImmediate(() => process.exit(0));
  return 0;
}

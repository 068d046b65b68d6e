/**
 * `snowmux stdio` — the same tools served in-process to one client on stdin/stdout, with no hub
 * (containers, CI, and the baseline the benchmarks compare against). Same config, policies and audit.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { CommandIo } from '../command-io.js';
import { parseCommandArgs } from '../args.js';
import { PROFILE_FLAGS_HELP, PROFILE_FLAG_OPTIONS, profileFlagsFrom } from '../profile-flags.js';
import { ensureHome, resolveHome } from '../../wire/home.js';
import { createLogger } from '../../hub/observe/logger.js';
import { createMcpServer } from '../../hub/mcp-server.js';
import { createRuntime } from '../../hub/runtime.js';
import { CallPipeline } from '../../hub/pipeline/call-pipeline.js';
import { LineTransport } from '../../hub/session/line-transport.js';
import { Session, observeClientMessage } from '../../hub/session/session.js';
import { CallSinks, RecentCalls } from '../../hub/observe/recent-calls.js';

export async function stdioCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('stdio', argv, {
    home: { type: 'string' },
    config: { type: 'string' },
    profile: { type: 'string' },
    help: { type: 'boolean' },
    ...PROFILE_FLAG_OPTIONS,
  });
  if (values.help) {
    io.stderr.write(`Usage: snowmux stdio [--home DIR] [--config PATH] [profile flags]\n\nServes the snowmux tools on stdin/stdout in this process (no hub).\n${PROFILE_FLAGS_HELP}\n`);
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  ensureHome(home);
  // stdout is the protocol channel: logs go to stderr, quietly by default.
  const logger = createLogger({ destination: process.stderr, level: process.env.SNOWMUX_LOG_LEVEL ?? 'warn' });
  // No audit here: several in-process servers may share a home, and the audit chain has one writer (the hub).
  const runtime = await createRuntime({ home, logger, configPath: values.config, profileName: values.profile, flags: profileFlagsFrom(values), audit: false });
  void runtime.warehouses.warmUp();
  const session = new Session({
    id: randomUUID(),
    identity: { kind: 'local-user', name: userInfo().username },
    transport: 'stdio',
    profile: values.profile ?? process.env.SNOWMUX_PROFILE,
  });
  let ended!: () => void;
  const closed = new Promise<void>((resolve) => (ended = resolve));
  const transport = new LineTransport({
    input: process.stdin,
    output: process.stdout,
    maxLineBytes: runtime.maxLineBytes,
    observe: (m) => observeClientMessage(session, m),
    onEnded: () => ended(),
  });
  const sink = new CallSinks([new RecentCalls(10), ...runtime.sinks], runtime.scrubCall);
  const pipeline = new CallPipeline({ warehouses: runtime.warehouses, governance: runtime.governance, limits: runtime.limits, logger, sink });
  const handle = serveStdio(
    () => createMcpServer({ session, pipeline, limits: runtime.limits, teamTools: runtime.teamTools }),
    { transport },
  );
  // The SDK does not react to stdin EOF by itself; the transport does, and we exit then.
  await closed;
  session.close('stdin ended');
  await handle.close().catch(() => {});
  await runtime.close('stdin ended').catch(() => {});
  setImmediate(() => process.exit(0));
  return 0;
}

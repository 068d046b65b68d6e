/**
 * `snowmux` — dispatches to one command, importing only that command's module.
 */
import { VERSION } from '../version.js';
import { closestName } from '../closest-name.js';
import { withMeantOption } from './args.js';
import { escapeInvisible, hideApiKeys, shownText } from '../shown-text.js';

import { keysHidden, type CommandIo } from './command-io.js';

export type { CommandIo } from './command-io.js';

type Command = (argv: string[], io: CommandIo) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  hub: { summary: 'run the hub in the foreground (--home DIR, --replace)', load: async () => (await import('./commands/hub-command.js')).hubCommand },
  shim: { summary: 'stdio forwarder for editors; starts a hub when none runs', load: async () => (await import('./commands/shim-command.js')).shimCommand },
  stdio: { summary: 'serve the tools in-process on stdin/stdout, no hub', load: async () => (await import('./commands/stdio-command.js')).stdioCommand },
  status: { summary: "show what the hub is doing (--json, --watch)", load: async () => (await import('./commands/status-command.js')).statusCommand },
  reload: { summary: 'reload roles and limits into the running hub (SIGHUP does the same)', load: async () => (await import('./commands/reload-command.js')).reloadCommand },
  stop: { summary: 'ask the hub to shut down gracefully', load: async () => (await import('./commands/stop-command.js')).stopCommand },
  logs: { summary: "print the hub's log, readable (-f to follow, --level)", load: async () => (await import('./commands/logs-command.js')).logsCommand },
  doctor: { summary: 'check Node, home, hub, config, profiles, network and the sample; say what to fix', load: async () => (await import('./commands/doctor-command.js')).doctorCommand },
  keys: { summary: 'API keys for the HTTP face: create, list, revoke, rotate', load: async () => (await import('./commands/keys-command.js')).keysCommand },
  service: { summary: 'install the hub as a systemd, launchd or pm2 service (absolute paths)', load: async () => (await import('./commands/service-command.js')).serviceCommand },
  setup: { summary: 'print (or --write) the MCP config entry for an editor', load: async () => (await import('./commands/setup-command.js')).setupCommand },
  audit: { summary: 'audit log tools: `snowmux audit verify`', load: async () => (await import('./commands/audit-command.js')).auditCommand },
};

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `snowmux ${VERSION} — one Snowflake MCP hub for all your editors

Usage: snowmux <command> [options]

Commands:
${lines.join('\n')}

Common options:
  --home DIR     state directory (default: $SNOWMUX_HOME or ~/.snowmux)
  --help         help for a command
  --version      print the version
`;
}

export async function main(argv: string[], given: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<void> {
  // No command prints an API key whole but the new one `keys create`/`keys rotate` show once (secretOut):
  // an argument, a path, an environment or config value, a hub's answer or a log line holding one is shown
  // as smx_<id>_[REDACTED]. stdout of `stdio` and `shim` is their client's JSON-RPC channel, passed as is.
  const channel = argv[0] === 'stdio' || argv[0] === 'shim';
  const io: CommandIo = { stdout: channel ? given.stdout : keysHidden(given.stdout), stderr: keysHidden(given.stderr), secretOut: given.stdout };
  const [first, ...afterFirst] = argv;
  // `snowmux help status` is `snowmux status --help`.
  const [name, ...rest] = first === 'help' && afterFirst[0] !== undefined && afterFirst[0] in COMMANDS ? [afterFirst[0], ...afterFirst.slice(1), '--help'] : argv;
  // A reader that stops early (`snowmux keys list --json | head -1`) is not an error of ours: end quietly
  // instead of a stack trace. (stdio's stdout is its client's channel; its transport owns that stream.)
  if (given.stdout === process.stdout && name !== 'stdio') process.stdout.on('error', endOnClosedPipe);
  // `snowmux help stauts`: a typo of a command is not a request for the whole usage (exit 0, not a word on it).
  if (first === 'help' && afterFirst[0] !== undefined && !(afterFirst[0] in COMMANDS)) {
    const asked = afterFirst[0];
    const meant = asked.startsWith('-') ? undefined : closestName(asked, Object.keys(COMMANDS));
    io.stderr.write(`snowmux help: unknown command "${shownText(asked, 40)}".${meant ? ` Did you mean \`snowmux help ${meant}\`?` : ''} Run \`snowmux --help\` for the list of commands.\n`);
    process.exitCode = 2;
    return;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(usage());
    if (name === undefined) process.exitCode = 2;
    return;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    // Options belong to a command (`snowmux status --home DIR`), not before it.
    if (name.startsWith('-')) io.stderr.write(`snowmux: "${name}" is not a command; options go after the command, e.g. \`snowmux <command> ${name} …\`. Run \`snowmux --help\` for the list of commands.\n`);
    else {
      const meant = closestName(name, Object.keys(COMMANDS));
      io.stderr.write(`snowmux: unknown command "${shownText(name, 40)}".${meant ? ` Did you mean \`snowmux ${meant}\`?` : ''} Run \`snowmux --help\` for the list of commands.\n`);
    }
    process.exitCode = 2;
    return;
  }
  const stopGuard = failWithoutVerdict(name, io);
  try {
    const run = await command.load();
    const code = await run(rest, io);
    if (code !== 0) process.exitCode = code;
  } catch (err) {
    const e = err as { code?: string; message?: string; details?: Record<string, unknown> };
    // A message may quote what a file, a hub or a warehouse said: shown, it must not act on the terminal.
    // An API key typed where an argument or a file name was expected is quoted back without its secret.
    io.stderr.write(`snowmux ${name}: ${escapeInvisible(hideApiKeys(withMeantOption(e.message ?? String(err), e.details, rest)))}${e.code ? ` [${e.code}]` : ''}\n`);
    // A wrong command line exits 2, like an unknown command, so a script (or a probe reading `status`'s
    // 1 = "no hub answered") can tell a typo from a failure.
    process.exitCode = e.code === 'USAGE' ? 2 : 1;
  } finally {
    stopGuard();
  }
}

/**
 * A command still waiting when the event loop runs dry can never finish: what it waits for keeps nothing
 * alive (Node 20's fetch of a peer that accepts and closes, with an unref'd timeout). The process would
 * then exit 0, "healthy" or "all checks passed", having printed no verdict. It fails loudly instead.
 */
export function failWithoutVerdict(name: string, io: CommandIo): () => void {
  const noVerdict = () => {
    io.stderr.write(`snowmux ${name}: stopped without a result: an operation it waited for can never finish, so it has no verdict to give. This is a snowmux bug: please report it with the command line. [INTERNAL_ERROR]\n`);
    process.exitCode = 1;
  };
  process.once('beforeExit', noVerdict);
  return () => process.off('beforeExit', noVerdict);
}

function endOnClosedPipe(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
}

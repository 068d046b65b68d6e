/**
 * `snowmux service install systemd|launchd|pm2 [--print] [--home DIR] [--http ADDR]` — a service
 * definition for the hub with absolute paths to this Node and this snowmux (service managers start with a
 * minimal PATH, often without `node`), written where the manager reads it, with the command that starts
 * it. `--print` only prints it. `snowmux service uninstall …` removes the file and says how to stop it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { mkdirPrivateSync } from '../own-directory.js';
import { shellWord } from '../../shell-word.js';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { SnowmuxError } from '../../errors.js';
import { isListenAddress } from '../../hub/listen/listen-address.js';
import { didYouMean, parseCommandArgs } from '../args.js';
import type { CommandIo } from '../command-io.js';
import { settingsForEditors, shimLaunch, writeBackup } from './setup-command.js';
import { defaultHubConfig, loadConfigFile } from '../../hub/config/config-file.js';
import { resolveHome } from '../../wire/home.js';
import { userHome, userHomeIfAny } from '../../user-path.js';

type Manager = 'systemd' | 'launchd' | 'pm2';

const USAGE = `Usage: snowmux service install|uninstall systemd|launchd|pm2 [--print] [--home DIR] [--config PATH] [--http ADDR]

Writes a service definition that runs \`snowmux hub\` with absolute paths (a service manager's PATH often
has no node), and prints how to start it (one it replaces is kept as <file>.bak, and the command
printed restarts the service). Optional: shims start a hub on demand when none runs.
uninstall stops the service with its manager (systemctl, launchctl, pm2) first, then removes the file.
  systemd   ~/.config/systemd/user/snowmux-hub.service   (Linux, per user; $XDG_CONFIG_HOME/systemd/user when set)
  launchd   ~/Library/LaunchAgents/dev.snowmux.hub.plist   (macOS, per user)
  pm2       ./snowmux.ecosystem.config.cjs                 (any OS with pm2)
  --print   print the definition instead of writing it
  --home    the hub's home (default: $SNOWMUX_HOME when set, else ~/.snowmux)
  --config  the hub's config file (default: $SNOWMUX_CONFIG when set, else <home>/config.toml)
  --http    also serve the HTTP face on host:port
`;

export interface ServiceFile {
  path: string;
  text: string;
  start: string;
  /** The start command for a definition that replaced an earlier one: a running service must restart to run the new one. */
  restart: string;
  stop: string;
  /** What `uninstall` runs, in order, while the definition still exists (the manager finds the service by it). */
  stopCommands: string[][];
  /** What it runs once the definition is gone. */
  afterRemove: string[][];
  /** When `start` alone does not also start the service at login: what does (pm2's own boot service). */
  atLogin?: string;
}

/**
 * Where systemd --user reads user units: $XDG_CONFIG_HOME/systemd/user when that is set (an absolute
 * path, as the XDG spec requires), else ~/.config/systemd/user. A unit written elsewhere is never found.
 */
function userConfigDir(opts: { userHome: string; env?: NodeJS.ProcessEnv }): string {
  const xdg = opts.env?.XDG_CONFIG_HOME;
  return xdg && isAbsolute(xdg) ? xdg : join(opts.userHome, '.config');
}

/**
 * One word of an ExecStart line, read back by systemd as written: it expands "%" specifiers (%h is the
 * home directory) and "$" variables even inside double quotes, so those are doubled; inside the quotes
 * "\" and '"' are escaped, and a newline is written as "\n" (systemd reads C escapes there).
 */
function systemdWord(word: string): string {
  const literal = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[\w./:@=+-]+$/.test(literal)) return literal;
  return `"${literal.replace(/["\\]/g, '\\$&').replace(/\n/g, '\\n')}"`;
}

/**
 * How long the manager waits after SIGTERM before it kills the hub: the config's hub.shutdown_grace_ms (the
 * drain of running calls) plus time to close the audit log and export the last trace spans. A fixed 30 s
 * killed a hub with a longer grace mid-drain: its calls got no answer and their audit records were lost.
 */
export function stopTimeoutSeconds(shutdownGraceMs: number): number {
  return Math.max(30, Math.ceil((shutdownGraceMs + STOP_MARGIN_MS) / 1000));
}
const STOP_MARGIN_MS = 20_000;

export function serviceFile(manager: Manager, opts: { home?: string; config?: string; http?: string; userHome: string; cwd: string; env?: NodeJS.ProcessEnv; stopTimeoutSec?: number }): ServiceFile {
  const stopSec = opts.stopTimeoutSec ?? stopTimeoutSeconds(defaultHubConfig().hub.shutdownGraceMs);
  const { command, args } = shimLaunch({ home: undefined, config: undefined, profile: undefined });
  // --replace: an editor's shim may have started a hub before the service (or while it was restarting);
  // without it the service's hub would refuse to start, again and again, until the manager gave up. With
  // it, the service's hub takes the running one's socket over and the editors move without noticing.
  const hubArgs = [
    args[0]!,
    'hub',
    '--replace',
    ...(opts.home ? ['--home', resolve(opts.home)] : []),
    ...(opts.config ? ['--config', resolve(opts.config)] : []),
    ...(opts.http ? ['--http', opts.http] : []),
  ];
  switch (manager) {
    case 'systemd': {
      const path = join(userConfigDir(opts), 'systemd', 'user', 'snowmux-hub.service');
      return {
        path,
        text: `# Written by \`snowmux service install systemd\`; remove with \`snowmux service uninstall systemd\`.
[Unit]
Description=snowmux hub (Snowflake MCP hub for your editors)

[Service]
Type=simple
ExecStart=${[command, ...hubArgs].map(systemdWord).join(' ')}
# SIGHUP reloads roles and limits (snowmux reload); SIGTERM drains: running calls finish first
# (hub.shutdown_grace_ms, then the audit close: the stop timeout below is derived from it at install).
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2
TimeoutStopSec=${stopSec}

[Install]
WantedBy=default.target
`,
        start: 'systemctl --user daemon-reload && systemctl --user enable --now snowmux-hub',
        restart: 'systemctl --user daemon-reload && systemctl --user enable snowmux-hub && systemctl --user restart snowmux-hub',
        stop: 'systemctl --user disable --now snowmux-hub',
        stopCommands: [['systemctl', '--user', 'disable', '--now', 'snowmux-hub']],
        afterRemove: [['systemctl', '--user', 'daemon-reload']],
      };
    }
    case 'launchd': {
      const path = join(opts.userHome, 'Library', 'LaunchAgents', 'dev.snowmux.hub.plist');
      const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      return {
        path,
        text: `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by \`snowmux service install launchd\`; remove with \`snowmux service uninstall launchd\`. -->
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>dev.snowmux.hub</string>
  <key>ProgramArguments</key>
  <array>${[command, ...hubArgs].map((a) => `<string>${xml(a)}</string>`).join('')}</array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
  <key>ExitTimeOut</key><integer>${stopSec}</integer>
</dict>
</plist>
`,
        // Quoted: a home with a space ("/Users/Jane Doe") split the pasted command at it.
        start: `launchctl load -w ${shellWord(path)}`,
        restart: `launchctl unload ${shellWord(path)}; launchctl load -w ${shellWord(path)}`,
        stop: `launchctl unload -w ${shellWord(path)}`,
        stopCommands: [['launchctl', 'unload', '-w', path]],
        afterRemove: [],
      };
    }
    case 'pm2': {
      const path = join(opts.cwd, 'snowmux.ecosystem.config.cjs');
      return {
        path,
        text: `// Written by \`snowmux service install pm2\`; remove with \`snowmux service uninstall pm2\`.
module.exports = {
  apps: [
    {
      name: 'snowmux-hub',
      script: ${JSON.stringify(hubArgs[0])},
      args: ${JSON.stringify(hubArgs.slice(1))},
      interpreter: ${JSON.stringify(command)},
      autorestart: true,
      // A hub exits 0 only when it was asked to (\`snowmux stop\`, a replace): pm2 restarts it after a crash
      // and leaves it stopped then, as systemd's Restart=on-failure does.
      stop_exit_codes: [0],
      kill_timeout: ${stopSec * 1000},
    },
  ],
};
`,
        start: `pm2 start ${shellWord(path)} && pm2 save`,
        restart: `pm2 delete snowmux-hub; pm2 start ${shellWord(path)} && pm2 save`,
        stop: 'pm2 delete snowmux-hub && pm2 save',
        stopCommands: [['pm2', 'delete', 'snowmux-hub'], ['pm2', 'save']],
        afterRemove: [],
        // `pm2 save` keeps the list pm2 resurrects at boot, which it does only once it is a boot service itself.
        atLogin: 'At login too only once pm2 itself starts then: run `pm2 startup` once (and the command it prints), if you have not.',
      };
    }
  }
}

export async function serviceCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('service', argv, {
    print: { type: 'boolean' },
    home: { type: 'string' },
    config: { type: 'string' },
    http: { type: 'string' },
    help: { type: 'boolean' },
  }, true);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [action, manager] = positionals;
  if ((action !== 'install' && action !== 'uninstall') || (manager !== 'systemd' && manager !== 'launchd' && manager !== 'pm2') || positionals.length !== 2) {
    // Say what was wrong before the usage, as setup does.
    const wrong =
      action === undefined ? 'Say what to do: install or uninstall, and for which service manager.'
      : action !== 'install' && action !== 'uninstall' ? `Unknown action "${action}"${didYouMean(action, ['install', 'uninstall'])}: install or uninstall.`
      : manager === undefined ? 'Name the service manager: systemd, launchd or pm2.'
      : manager !== 'systemd' && manager !== 'launchd' && manager !== 'pm2' ? `Unknown service manager "${manager}"${didYouMean(manager, ['systemd', 'launchd', 'pm2'])}: systemd, launchd or pm2.`
      : `One service manager at a time (got ${positionals.join(' ')}).`;
    io.stderr.write(`${wrong}\n\n${USAGE}`);
    return 2;
  }
  if (values.http !== undefined && !isListenAddress(values.http)) throw new SnowmuxError('USAGE', `--http must be host:port (a port from 0 to 65535); got "${values.http}".`);
  // The service runs the hub alone: an editor's profile choice has no place in it, and removing the
  // service needs no config file.
  const env = { ...process.env, SNOWMUX_PROFILE: undefined, ...(action === 'uninstall' ? { SNOWMUX_CONFIG: undefined } : {}) };
  const settings = settingsForEditors({ home: values.home, config: action === 'install' ? values.config : undefined }, env);
  if (action === 'install') {
    for (const [flag, variable] of settings.fromEnv) io.stderr.write(`(the service runs the hub with ${flag}, from $${variable}: a service manager does not see your shell's environment)\n`);
  }
  // The stop timeout follows the drain of the config the service's hub reads (no file yet: the default).
  const grace = action === 'install' ? loadConfigFile({ home: resolveHome({ flag: settings.home }), explicitPath: settings.config, env }).config.hub.shutdownGraceMs : defaultHubConfig().hub.shutdownGraceMs;
  // systemd's and launchd's files go under the home directory, taken as every snowmux path takes it: an
  // empty $HOME is the user database's, and none at all is refused (it wrote the unit to a relative
  // .config/systemd/user/ in the current directory, where systemd never looks). Printed only, "~" stands for it.
  const underHome = manager === 'launchd' || (manager === 'systemd' && !isAbsolute(process.env.XDG_CONFIG_HOME ?? ''));
  const where = manager === 'launchd' ? '~/Library/LaunchAgents' : '~/.config/systemd/user';
  const userHomeDir = !underHome ? '' : values.print ? (userHomeIfAny() ?? '~') : userHome(`the ${manager} service definition's place (${where})`, 'print it with --print and place it yourself');
  const file = serviceFile(manager, { home: settings.home, config: settings.config, http: values.http, userHome: userHomeDir, cwd: process.cwd(), env: process.env, stopTimeoutSec: stopTimeoutSeconds(grace) });
  if (action === 'uninstall') {
    if (!existsSync(file.path)) {
      io.stdout.write(`${file.path} does not exist: nothing to remove. If a snowmux service still runs, stop it with: ${file.stop}\n`);
      return 0;
    }
    // Stopped first, while the manager can still find the service by its definition: removed first, the
    // printed stop command named a file that was gone, and the service (or its enable link) stayed.
    const stopped = runAll(file.stopCommands, io);
    rmSync(file.path);
    io.stdout.write(`Removed ${file.path}\n`);
    if (stopped) runAll(file.afterRemove, io);
    else io.stdout.write(`If the service still runs, stop it with: ${file.stop}\n`);
    return 0;
  }
  if (values.print) {
    io.stdout.write(file.text);
    io.stderr.write(`\n(write it to ${file.path}, then: ${file.start})\n${file.atLogin === undefined ? '' : `${file.atLogin}\n`}`);
    return 0;
  }
  // 0700 whatever the umask: under umask 000 the unit directory was made 0777, then refused by the check below.
  mkdirPrivateSync(dirname(file.path));
  // A definition already there: one the user edited is kept as a backup, not lost; and a service running it
  // goes on with the old command line (another --http, --home) until restarted, which `enable --now` and
  // `launchctl load` never do — so the command printed is the restart.
  refuseOthersDirectory(file.path, manager);
  const before = existingDefinition(file.path);
  const andAtLogin = file.atLogin === undefined ? ' and at login' : '';
  const loginNote = file.atLogin === undefined ? '' : `${file.atLogin}\n`;
  if (before === file.text) {
    io.stdout.write(`${file.path} is already this definition; nothing written.\nIf it is not running, start it now${andAtLogin}: ${file.start}\n${loginNote}Stop and remove: snowmux service uninstall ${manager}\n`);
    return 0;
  }
  const backup = writeOwnFile(file.path, file.text, before);
  if (backup === undefined) io.stdout.write(`Wrote ${file.path}\nStart it now${andAtLogin}: ${file.start}\n${loginNote}`);
  else io.stdout.write(`Replaced ${file.path} (the previous definition is saved as ${backup})\nRestart the service to run the new one (this also starts it${andAtLogin}): ${file.restart}\n${loginNote}`);
  io.stdout.write(`Stop and remove: snowmux service uninstall ${manager}\n`);
  return 0;
}

/** The definition file's text when one is there (a regular file; a link planted there is replaced, not read), else undefined. */
function existingDefinition(path: string): string | undefined {
  try {
    return lstatSync(path).isFile() ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A service definition is run as the user (pm2's is JavaScript): it is not written where another user could
 * replace it, and a name someone planted there (a symlink to a file of ours) is replaced, never written
 * through — a temp file created exclusively, then renamed over the name.
 */
function refuseOthersDirectory(path: string, manager: string): void {
  const dir = dirname(path);
  const st = statSync(dir);
  const uid = process.getuid?.();
  const othersWrite = (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0;
  if ((uid !== undefined && st.uid !== uid && st.uid !== 0) || othersWrite) {
    throw new SnowmuxError(
      'INVALID_ARGUMENT',
      `${dir} ${othersWrite ? `may be written by other users (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})` : 'belongs to another user'}, who could replace the service definition written there with their own commands, run as you. ` +
        `${serviceDirAdvice(dir, st, uid, manager)} Or print it with --print and place it yourself.`,
    );
  }
}

/** Writes the definition (refuseOthersDirectory first), keeping the one it replaces (.bak, .bak.2…). */
function writeOwnFile(path: string, text: string, before: string | undefined): string | undefined {
  const backup = before === undefined ? undefined : writeBackup(path, before, 0o600);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644, flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return backup;
}

/**
 * What to do about a directory others may write: pm2's file goes in the current directory, so run it from
 * another; systemd's and launchd's have a fixed place (the user's config or LaunchAgents directory), so
 * close that directory when it is the user's own.
 */
function serviceDirAdvice(dir: string, st: Stats, uid: number | undefined, manager: string): string {
  if (manager === 'pm2') return 'Run this from a directory only you can write (for pm2, the file goes in the current directory).';
  if (uid !== undefined && st.uid === uid) return `The directory is yours: close it to others (chmod go-w ${shellWord(dir)}), check that nothing in it is a file you did not put there, then run this again.`;
  return `It is where ${manager} reads your services from: have its owner (or root) give it to you (chown), or set it up by hand.`;
}

/**
 * Runs the service manager's commands in order, saying what each did; false at the first that could not
 * run (the manager is not installed, or refused), whose output is shown.
 */
function runAll(commands: string[][], io: CommandIo): boolean {
  for (const [program, ...args] of commands) {
    const shown = [program, ...args].join(' ');
    const ran = spawnSync(program!, args, { encoding: 'utf8', timeout: 30_000 });
    if (ran.error) {
      const why = (ran.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${program} is not installed here` : ran.error.message;
      io.stdout.write(`Could not run ${shown}: ${why}.\n`);
      return false;
    }
    if (ran.status !== 0) {
      const said = `${ran.stderr}${ran.stdout}`.trim().split('\n')[0] ?? '';
      io.stdout.write(`${shown} failed (exit ${ran.status ?? ran.signal})${said ? `: ${said}` : ''}.\n`);
      return false;
    }
    io.stdout.write(`Ran ${shown}\n`);
  }
  return true;
}

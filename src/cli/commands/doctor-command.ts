/**
 * `snowmux doctor` — checks everything a working set-up needs, in the order a new user meets it, and says
 * for each problem what to do: Node, the home and socket (owner, mode), the hub (running? same version? what
 * its own health says is wrong now), free space where it writes (doctor-disk.ts),
 * config.toml, the audit log, every profile (resolvable, without printing a secret), the network path to each Snowflake
 * account, the embedded sample warehouse, and the metrics and HTTP listeners. Exit 1 when any check fails.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { shellWord } from '../../shell-word.js';
import { snowmuxCommand } from '../../snowmux-command.js';
import { VERSION } from '../../version.js';
import { compareVersions } from '../../version-order.js';
import { SnowmuxError, errorMessage } from '../../errors.js';
import { loadConfigFile, type LoadedConfig } from '../../hub/config/config-file.js';
import { isNotRegularFile, listAuditFiles, openAuditFile, readFileEnd, verifyAuditDir } from '../../hub/audit/audit-files.js';
import { recordShapeDefect } from '../../hub/audit/audit-record.js';
import { lastFailedStart } from '../failed-start.js';
import { checkHubConfig } from '../../hub/config-check.js';
import { loadSnowflakeConnections } from '../../hub/config/connections-toml.js';
import { redactProfile, resolveProfile } from '../../hub/config/resolve-profile.js';
import type { SnowflakeProfile } from '../../hub/config/profile-types.js';
import { SecretScrubber } from '../../hub/audit/audit-redact.js';
import { configSecrets, connectionsSecrets, processSecrets } from '../../hub/settings-secrets.js';
import { profileSecrets } from '../../hub/warehouse/warehouse-registry.js';
import { proxyFor, snowflakeFetch, type SnowflakeFetchOptions } from '../../hub/warehouse/snowflake/proxy-fetch.js';
import { checkHome, checkSocketPath, resolveHome, socketPathFor, socketOutsideHome, verifyRuntimeBase, verifyRuntimeDir } from '../../wire/home.js';
import { parseCommandArgs } from '../args.js';
import type { CommandIo } from '../command-io.js';
import { controlRequest } from '../control-client.js';
import { withDeadline } from '../deadline.js';
import { checkFreeSpace, runningHubHealth, type RunningHealth } from './doctor-disk.js';
import { homeHeldElsewhere } from '../home-held-elsewhere.js';
import { logLevelFromEnv, logMaxBytesFromEnv } from '../../hub/observe/logger.js';
import { escapeInvisible, escapeInvisibleJson, escapeLine, hideUrlCredentials, shownUrl } from '../../shown-text.js';

export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail';

export interface Check {
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

const USAGE = `Usage: snowmux doctor [--home DIR] [--config PATH] [--json] [--offline | --login]

Checks Node, the snowmux home and socket, the running hub (or why the last one an editor started
stopped) and what its own health reports wrong now, the SNOWMUX_LOG_LEVEL and SNOWMUX_LOG_MAX_BYTES a
hub would stop on, free space where the home and audit log are, config.toml (every check the hub makes at start: keys, roles, team tools, profiles named),
the audit log as a starting hub opens it, every Snowflake profile (without printing secrets), the
network path to each account, the embedded sample warehouse and the running hub's metrics and HTTP
listeners. Prints what to fix; exits 1 when a check fails.

  --config PATH  the config file the hub runs with (default <home>/config.toml, or $SNOWMUX_CONFIG)
  --json         one JSON object per check, as an array
  --offline      skip the network checks (reaching each Snowflake account)
  --login        also log in to each Snowflake profile once (an SSO window or MFA push for
                 interactive profiles), and log out
`;

export const MIN_NODE: [number, number] = [20, 11];

export async function doctorCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('doctor', argv, {
    home: { type: 'string' },
    config: { type: 'string' },
    json: { type: 'boolean' },
    offline: { type: 'boolean' },
    login: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.offline && values.login) throw new SnowmuxError('USAGE', '--offline skips the network and --login needs it: give one of them. Run `snowmux doctor --help` for the options.');
  const checks = await runChecks({ home: resolveHome({ flag: values.home }), configPath: values.config, env: process.env, offline: values.offline === true, login: values.login === true });
  if (values.json) io.stdout.write(`${escapeInvisibleJson(JSON.stringify(checks, null, 2))}\n`);
  else io.stdout.write(renderChecks(checks));
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}

/** Why `path` cannot be written (access(2)'s errno: EROFS for a read-only mount, EACCES for permissions), or undefined. */
function notWritable(path: string, mode = constants.W_OK | constants.X_OK): string | undefined {
  try {
    accessSync(path, mode);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EACCES';
  }
}

/** The reason in words: a read-only filesystem is not a permission that chmod could change. */
export function unwritableReason(code: string | undefined): string {
  return code === 'EROFS' ? READ_ONLY : 'is not writable (no write permission)';
}

/** The fix for a read-only filesystem (EROFS): chmod and rm cannot work there; `instead` is the other way out. */
export function readOnlyFix(path: string, instead: string): string {
  return `The filesystem holding ${shellWord(path)} is mounted read-only (chmod or rm cannot change that): remount it read-write (\`findmnt -T ${shellWord(path)}\` names the mount), or ${instead}.`;
}

export const OTHER_HOME = 'choose another home on a writable filesystem with --home or SNOWMUX_HOME (and the same in your editors\' entries: `snowmux setup <client>`)';

/**
 * Why a hub could not create `home` (whose own path does not exist), or undefined when it could: the
 * nearest existing ancestor must be a directory this user may write (the hub makes the rest, 0700).
 */
function homeCannotBeMade(home: string): string | undefined {
  let dir = dirname(home);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    return `${dir} cannot be read (${errorMessage(err)})`;
  }
  if (!st.isDirectory()) return `${dir} is a file, not a directory`;
  const problem = notWritable(dir);
  if (problem !== undefined) return `${dir} ${unwritableReason(problem)}`;
  return undefined;
}

const MARK: Record<CheckStatus, string> = { ok: '✓', info: '·', warn: '!', fail: '✗' };

export function renderChecks(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.check.length));
  const lines = [`snowmux doctor ${VERSION}`, ''];
  for (const c of checks) {
    // One line each (a multi-line message comes as one check per line): a line break in a value (a home
    // named with one) is shown as \u000a, as everywhere else, instead of starting a line of doctor's own.
    lines.push(`${MARK[c.status]} ${c.check.padEnd(width)}  ${escapeLine(c.detail)}`);
    if (c.fix) lines.push(`  ${' '.repeat(width)}  → ${escapeLine(c.fix)}`);
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  lines.push('', failed === 0 ? `All checks passed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}.` : `${failed} check${failed === 1 ? '' : 's'} failed.`);
  // Details quote the config file, the hub's status and the warehouse's errors: nothing in them may act on the terminal.
  return `${escapeInvisible(lines.join('\n'))}\n`;
}

type CheckOptions = { home: string; configPath?: string | undefined; env: NodeJS.ProcessEnv; offline: boolean; login?: boolean };

/**
 * Every check, as doctor prints it: what others said in them (the Snowflake driver's or a proxy's refusal,
 * a profile that does not resolve, the running hub, a URL's error) loses the secrets the settings hold —
 * config.toml's and connections.toml's, the environment's, every profile's — and any URL's credentials,
 * in the text and in --json alike.
 */
export async function runChecks(opts: CheckOptions): Promise<Check[]> {
  const profiles: SnowflakeProfile[] = [];
  const checks = await collectChecks(opts, profiles);
  const scrubber = new SecretScrubber(settingsSecrets(opts, profiles));
  const shown = (text: string) => hideUrlCredentials(scrubber.scrub(text));
  return checks.map((c) => ({ ...c, check: shown(c.check), detail: shown(c.detail), ...(c.fix === undefined ? {} : { fix: shown(c.fix) }) }));
}

/** The secrets doctor's settings hold, whichever of them loads: each source read on its own. */
function settingsSecrets(opts: CheckOptions, profiles: readonly SnowflakeProfile[]): string[] {
  const out = [...processSecrets(opts.env), ...profiles.flatMap(profileSecrets)];
  try {
    out.push(...configSecrets(loadConfigFile({ home: opts.home, explicitPath: opts.configPath, env: opts.env })));
  } catch {
    /* a config file that does not load: its check says why, without a value */
  }
  try {
    out.push(...connectionsSecrets(loadSnowflakeConnections({ env: opts.env }).connections));
  } catch {
    /* likewise */
  }
  return out;
}

async function collectChecks(opts: CheckOptions, resolvedProfiles: SnowflakeProfile[]): Promise<Check[]> {
  const checks: Check[] = [checkNode()];
  const { home, env } = opts;

  const homeExists = existsSync(home);
  // Whether the home passed its check (ours, closed to others, writable): doctor --login keeps the driver's files there.
  let homeTrusted = false;
  if (!homeExists) {
    const blocked = homeCannotBeMade(home);
    if (blocked) checks.push({ check: 'home', status: 'fail', detail: `${home} does not exist and cannot be created: ${blocked}.`, fix: 'Choose a home you can write with --home or SNOWMUX_HOME (and the same in your editors\' entries: `snowmux setup <client>`).' });
    else checks.push({ check: 'home', status: 'info', detail: `${home} does not exist yet; the first hub creates it (0700).` });
  } else {
    try {
      checkHome(home);
      const problem = notWritable(home);
      if (problem !== undefined) {
        const fix = problem === 'EROFS' ? readOnlyFix(home, OTHER_HOME) : `Make it writable (chmod u+w ${shellWord(home)}), or choose another home with --home or SNOWMUX_HOME.`;
        checks.push({ check: 'home', status: 'fail', detail: `${home} ${unwritableReason(problem)}: a hub cannot create its socket, log or audit log there.`, fix });
      } else {
        homeTrusted = true;
        checks.push({ check: 'home', status: 'ok', detail: `${home} (yours, closed to others)` });
      }
    } catch (err) {
      checks.push({ check: 'home', status: 'fail', detail: errorMessage(err) });
    }
  }

  let socketPath: string | null = null;
  try {
    socketPath = socketPathFor(home, env);
  } catch (err) {
    checks.push({ check: 'socket', status: 'fail', detail: errorMessage(err) });
  }
  if (socketPath !== null && socketOutsideHome(socketPath)) {
    try {
      // The base is judged even before the directory exists: the hub refuses an unsafe one when it starts.
      if (existsSync(dirname(socketPath))) verifyRuntimeDir(dirname(socketPath));
      else verifyRuntimeBase(dirname(socketPath));
      checks.push({ check: 'socket', status: 'ok', detail: `${socketPath} (the home path is too long for a socket; a private per-user directory holds it)` });
    } catch (err) {
      checks.push({ check: 'socket', status: 'fail', detail: errorMessage(err) });
    }
  }
  let hubStatus: { version: string; pid: number; metrics?: { url: string }; http?: { url: string }; health?: RunningHealth } | undefined;
  if (socketPath !== null && existsSync(socketPath)) {
    try {
      checkSocketPath(socketPath);
      hubStatus = await controlRequest(socketPath, 'status', 3_000, home);
    } catch (err) {
      if ((err as { code?: string }).code === 'HUB_NOT_RUNNING' && homeHeldElsewhere(home, socketPath)) {
        checks.push(hubNotRunning(home, socketPath));
      } else if ((err as { code?: string }).code === 'HUB_NOT_RUNNING') {
        // A socket whose hub is gone (it crashed, or was killed): nothing is wrong, the next hub replaces it.
        checks.push({ check: 'hub', status: 'info', detail: `not running; ${socketPath} was left by a hub that did not stop cleanly, and the next hub replaces it (the first editor's shim starts one, or run \`${snowmuxCommand('hub', home)}\`).` });
      } else {
        checks.push({ check: 'hub', status: 'fail', detail: errorMessage(err), fix: `If no hub should be running, remove ${socketPath}; otherwise see ${join(home, 'hub.log')}.` });
      }
    }
  }
  if (hubStatus) {
    const order = compareVersions(hubStatus.version, VERSION);
    if (order === 0) checks.push({ check: 'hub', status: 'ok', detail: `running, pid ${hubStatus.pid}, version ${VERSION}` });
    else if (order > 0) {
      // This CLI is the stale one (an old install first on PATH): moving the hub to it would downgrade it.
      // Editors launching the newer snowmux are then served by the older code (same link version), or
      // refused with HUB_TOO_OLD when the newer one speaks a later link version (wire/hello.ts).
      const self = process.argv[1] ?? 'this snowmux';
      checks.push({
        check: 'hub',
        status: 'warn',
        detail: `running, pid ${hubStatus.pid}, version ${hubStatus.version}, newer than this CLI (${VERSION}, ${self})`,
        fix: `This CLI is the stale one: use the newer snowmux (the one your editors launch), or update or remove ${self}. \`hub --replace\` from this one would downgrade the hub: editors launching the newer snowmux would then be served by ${VERSION}'s code (or refused, HUB_TOO_OLD, if the newer one speaks a later link version).`,
      });
    } else {
      checks.push({
        check: 'hub',
        status: 'warn',
        detail: `running, pid ${hubStatus.pid}, version ${hubStatus.version}, older than this CLI (${VERSION})`,
        fix: `Restart it on this version: ${snowmuxCommand('hub --replace', home)}`,
      });
    }
  } else if (!checks.some((c) => c.check === 'hub')) {
    checks.push(hubNotRunning(home, socketPath));
  }
  // What the running hub says is wrong now (audit records not written, a warehouse that cannot serve).
  if (hubStatus) checks.push(...runningHubHealth(hubStatus.health, home));

  checks.push(...checkHubEnvironment(env));

  let config: LoadedConfig | undefined;
  try {
    config = loadConfigFile({ home, explicitPath: opts.configPath, env });
    // The same checks a hub makes before it serves with the file (roles, team tools, profiles, HTTP keys).
    checkHubConfig(config, { env });
    checks.push({ check: 'config', status: 'ok', detail: config.exists ? `${config.shownPath} is valid` : `no ${config.shownPath}; the defaults apply` });
    for (const w of config.warnings) checks.push({ check: 'config', status: 'warn', detail: w });
  } catch (err) {
    // One line per problem, each naming its key.
    for (const line of errorMessage(err).split('\n')) checks.push({ check: 'config', status: 'fail', detail: line });
  }

  if (config) checks.push(...(await checkAudit(home, config)));
  checks.push(...checkFreeSpace(home, config?.config.audit.enabled === true ? resolve(home, config.config.audit.dir) : undefined));
  // "The first editor's shim starts one" is not so while a check the hub makes before it starts fails.
  const notRunning = checks.find((c) => c.check === 'hub' && c.status === 'info' && !hubStatus);
  // Named, not "below": the home and socket checks come before this line, config and audit after it.
  const blocking = [...new Set(checks.filter((c) => START_CHECKS.has(c.check) && c.status === 'fail').map((c) => c.check))];
  if (notRunning && blocking.length > 0) {
    const named = blocking.length === 1 ? `${blocking[0]} check is` : `${blocking.slice(0, -1).join(', ')} and ${blocking.at(-1)} checks are`;
    notRunning.detail = `not running, and no hub can start here until the failed ${named} fixed (a shim that starts one, and \`snowmux hub\`, stop on the first of them).`;
  }

  const profiles = config ? checkProfiles(config, env, checks) : [];
  resolvedProfiles.push(...profiles);
  if (!opts.offline) {
    const useEnvProxy = config?.config.hub.useEnvProxy ?? true;
    for (const p of profiles) {
      const reach = await checkReachable(p, { useEnvProxy, env });
      checks.push(reach);
      if (opts.login && reach.status === 'ok') checks.push(await checkLogin(p, useEnvProxy, home, homeTrusted));
    }
  }
  checks.push(await checkSample(home, homeExists));
  // The running hub's listeners: the metrics port and the HTTP face, each asked for its /healthz.
  const listeners = [
    { check: 'metrics', key: 'hub.metrics_listen', url: hubStatus?.metrics?.url, configured: config?.config.hub.metricsListen },
    { check: 'http', key: 'hub.http_listen (or hub --http)', url: hubStatus?.http?.url, configured: config?.config.hub.httpListen },
  ];
  for (const l of listeners) {
    if (l.url) checks.push(await checkListener(l.check, l.url));
    else if (l.configured && hubStatus) {
      checks.push({
        check: l.check,
        status: 'fail',
        detail: `${l.key} is ${l.configured} but the running hub serves nothing there`,
        fix: `If it was set after the hub started, restart it: ${snowmuxCommand('hub --replace', home)}; otherwise see ${join(home, 'hub.log')} (the address may be taken).`,
      });
    }
  }
  return checks;
}

/** The checks that stand for what a hub needs before it serves: while one fails, every start stops on it. */
const START_CHECKS = new Set(['home', 'socket', 'environment', 'config', 'audit']);

/**
 * The SNOWMUX_* variables a hub refuses to start with (a shim hands them to the hub it starts), judged as
 * the hub judges them; nothing is said of values it takes.
 */
function checkHubEnvironment(env: NodeJS.ProcessEnv): Check[] {
  const checks: Check[] = [];
  const fix = (name: string) => `Fix or unset ${name} where it is set: this shell, your editors' entries (\`env\`) and a service unit; the hub reads it as it starts.`;
  for (const [name, judge] of [['SNOWMUX_LOG_LEVEL', logLevelFromEnv], ['SNOWMUX_LOG_MAX_BYTES', logMaxBytesFromEnv]] as const) {
    try {
      judge(env[name]);
    } catch (err) {
      checks.push({ check: 'environment', status: 'fail', detail: `${errorMessage(err)} A hub stops on it at start.`, fix: fix(name) });
    }
  }
  return checks;
}

/**
 * No hub answers. When the last hub an editor's shim started here stopped on an error (the line
 * `snowmux status` shows too, from hub-stderr.log), that error is what the person needs first.
 */
function hubNotRunning(home: string, socketPath: string | null): Check {
  const elsewhere = socketPath === null ? undefined : homeHeldElsewhere(home, socketPath);
  if (elsewhere) return { check: 'hub', status: 'fail', detail: elsewhere.detail, fix: elsewhere.fix };
  const failed = lastFailedStart(home);
  if (!failed) return { check: 'hub', status: 'info', detail: `not running; the first editor's shim starts one (or run \`${snowmuxCommand('hub', home)}\`).` };
  const ago = Math.max(0, Math.round((Date.now() - failed.at.getTime()) / 1000));
  return {
    check: 'hub',
    status: 'warn',
    detail: `not running; the last hub an editor started here stopped on an error (${failed.log}, ${ago}s ago): ${failed.reason}`,
    fix: `Fix what it names (a failed check below may be the same), then run \`${snowmuxCommand('hub', home)}\` in a terminal to see it start.`,
  };
}

/**
 * What the hub's audit log needs before the hub serves (AuditLog.open: the directory is made below the
 * home, judged by verifyAuditDir, its newest file opened for append and continued from its last record;
 * audit-writer.pid claimed), checked without writing anything: a home where that fails stops every
 * start with AUDIT_OPEN_FAILED, AUDIT_DIR_UNSAFE or AUDIT_TAIL_CORRUPT. The same functions where the
 * hub's own are exported; the rest asks the file system what the hub's open would.
 */
async function checkAudit(home: string, config: LoadedConfig): Promise<Check[]> {
  const audit = config.config.audit;
  if (!audit.enabled) return [{ check: 'audit', status: 'info', detail: `disabled ([audit] enabled = false in ${config.shownPath}): calls are not audited` }];
  // As the runtime resolves it.
  const dir = resolve(home, audit.dir);
  const checks: Check[] = [];
  const claim = join(home, 'audit-writer.pid');
  const claimProblem = claimCannotBeWritten(claim);
  if (claimProblem) {
    const fix = claimProblem === READ_ONLY ? readOnlyFix(claim, OTHER_HOME) : `Remove it (rm -r ${shellWord(claim)}); a hub writes a new one.`;
    checks.push({ check: 'audit', status: 'fail', detail: `${claim} ${claimProblem}: a hub records there that it writes the audit log, and stops at start when it cannot.`, fix });
  }
  if (!existsSync(dir)) {
    const blocked = existsSync(home) ? homeCannotBeMade(dir) : undefined;
    if (blocked) checks.push({ check: 'audit', status: 'fail', detail: `${dir} does not exist and cannot be created: ${blocked}.`, fix: 'Point [audit] dir at a directory you can write, or create this one (mode 700).' });
    else checks.push({ check: 'audit', status: 'info', detail: `${dir} does not exist yet; the first hub creates it (0700).` });
    return checks;
  }
  try {
    for (const warning of await verifyAuditDir(dir)) checks.push({ check: 'audit', status: 'warn', detail: warning });
  } catch (err) {
    checks.push({ check: 'audit', status: 'fail', detail: errorMessage(err) });
    return checks;
  }
  const dirProblem = notWritable(dir);
  if (dirProblem !== undefined) {
    checks.push({
      check: 'audit',
      status: 'fail',
      detail: `${dir} ${unwritableReason(dirProblem)}: a hub cannot start a new audit file there (it stops at start when it must), nor rewrite audit-head (an error logged on every call).`,
      fix: dirProblem === 'EROFS' ? readOnlyFix(dir, `point [audit] dir in ${config.shownPath} at a directory on a writable filesystem`) : `Make it writable: chmod u+rwx ${shellWord(dir)}.`,
    });
  }
  let newest: string | undefined;
  try {
    newest = (await listAuditFiles(dir)).at(-1)?.name;
    if (newest === undefined) {
      if (!checks.some((c) => c.status === 'fail')) checks.push({ check: 'audit', status: 'ok', detail: `${dir} (no records yet)` });
      return checks;
    }
    const path = join(dir, newest);
    // Opened as the hub opens it (openAuditFile: never waiting on a FIFO, refusing what is not a regular
    // file), and closed at once: nothing is written. A plain open for append waited for ever on a FIFO there.
    await (await openAuditFile(path, 'a')).close();
    const end = await readFileEnd(path);
    if (end.lastLine !== undefined) {
      const defect = lastRecordDefect(end.lastLine.text);
      if (defect !== undefined) {
        checks.push({
          check: 'audit',
          status: 'fail',
          detail: `The last complete line of ${newest} in ${dir} is not an audit record (${defect}), so a hub cannot continue the chain and stops at start [AUDIT_TAIL_CORRUPT].`,
          fix: `Run \`${snowmuxCommand('audit verify', home)}\`, then move the damaged audit directory aside to start a new chain.`,
        });
        return checks;
      }
    }
  } catch (err) {
    if (isNotRegularFile(err)) {
      const path = join(dir, newest!);
      checks.push({
        check: 'audit',
        status: 'fail',
        detail: `${path} is ${String(err.details?.['fileType'])}, not a regular file: every hub start stops on it [AUDIT_OPEN_FAILED], since appending to it would wait for ever. The hub never makes one.`,
        fix: `Check what it is (ls -l ${shellWord(path)}) and move it out of the audit directory (keep it if it may be evidence), then run this again.`,
      });
      return checks;
    }
    checks.push({
      check: 'audit',
      status: 'fail',
      detail: `Could not open the audit log in ${dir}${newest ? ` (${newest})` : ''} as a hub does: ${errorMessage(err)}. Every hub start stops on this [AUDIT_OPEN_FAILED].`,
      fix: (err as NodeJS.ErrnoException).code === 'EROFS'
        ? readOnlyFix(dir, `point [audit] dir in ${config.shownPath} at a directory on a writable filesystem`)
        : `Give the hub's user read and write access to ${shellWord(newest ? join(dir, newest) : dir)} (ls -l shows its owner and mode).`,
    });
    return checks;
  }
  if (!checks.some((c) => c.status === 'fail')) checks.push({ check: 'audit', status: 'ok', detail: `${dir} (newest file ${newest}, writable)` });
  return checks;
}

/** Why the last complete line of the newest audit file cannot be continued from, or undefined. */
function lastRecordDefect(text: string): string | undefined {
  try {
    return recordShapeDefect(JSON.parse(text));
  } catch {
    return 'not JSON';
  }
}

/** Why the hub could not (re)write its audit-writer claim at `path`, or undefined. */
function claimCannotBeWritten(path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined; // absent: the home's own writability decides
  }
  if (!st.isFile()) return st.isDirectory() ? 'is a directory' : 'is not a regular file';
  const problem = notWritable(path, constants.W_OK);
  return problem === undefined ? undefined : problem === 'EROFS' ? READ_ONLY : 'is not writable';
}

const READ_ONLY = 'is on a read-only filesystem';

/** Node's version against the oldest snowmux runs on (package.json "engines"). */
export function checkNode(version: string = process.version, execPath: string = process.execPath): Check {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return ok
    ? { check: 'node', status: 'ok', detail: `${version} at ${execPath}` }
    : { check: 'node', status: 'fail', detail: `${version} at ${execPath}; snowmux needs Node ${MIN_NODE.join('.')} or later`, fix: 'Install a current Node LTS and point the editor\'s config at it (snowmux setup <client> prints absolute paths).' };
}

/** Every profile the hub could use: the default one, each [profiles.*] in config.toml, each connections.toml section. */
function checkProfiles(config: LoadedConfig, env: NodeJS.ProcessEnv, checks: Check[]): SnowflakeProfile[] {
  const names = new Set<string | undefined>([undefined, ...Object.keys(config.config.profiles)]);
  try {
    const conns = loadSnowflakeConnections({ env });
    for (const name of Object.keys(conns.connections)) names.add(name);
  } catch (err) {
    checks.push({ check: 'connections', status: 'fail', detail: errorMessage(err) });
  }
  const resolved: SnowflakeProfile[] = [];
  const seen = new Set<string>();
  // The default is usually one of the named profiles too: what resolving it said is said once.
  const said = new Set<string>();
  const say = (check: Check) => {
    if (said.has(check.detail)) return;
    said.add(check.detail);
    checks.push(check);
  };
  for (const name of names) {
    const label = name === undefined ? 'profile (default)' : `profile ${name}`;
    try {
      const { profile, warnings } = resolveProfile({ name, env, configFile: config });
      for (const w of warnings) say({ check: label, status: 'warn', detail: w });
      if (!profile) {
        checks.push({ check: label, status: 'ok', detail: 'no Snowflake account configured: the embedded sample warehouse serves' });
        continue;
      }
      if (name === undefined) checks.push({ check: label, status: 'ok', detail: `is "${profile.name}"` });
      if (seen.has(profile.name)) continue;
      seen.add(profile.name);
      const shown = redactProfile(profile);
      checks.push({ check: `profile ${profile.name}`, status: 'ok', detail: `account ${shown.account}, user ${shown.user}, ${shown.auth.method} auth${shown.role ? `, role ${shown.role}` : ''}` });
      resolved.push(profile);
    } catch (err) {
      say({ check: label, status: 'fail', detail: errorMessage(err) });
    }
  }
  return resolved;
}

/** Whether the account's endpoint answers HTTP at all (no login: any HTTP status counts), by the hub's proxy rule. */
async function checkReachable(profile: SnowflakeProfile, proxy: SnowflakeFetchOptions): Promise<Check> {
  const base = profile.accessUrl ?? `https://${profile.host ?? `${profile.account}.snowflakecomputing.com`}`;
  const check = `reach ${profile.name}`;
  let url: URL;
  try {
    url = new URL('/', base);
  } catch {
    return { check, status: 'fail', detail: `${shownUrl(base)} is not a valid URL` };
  }
  const through = proxy.useEnvProxy ? proxyFor(url, proxy.env ?? process.env) : undefined;
  // A proxy URL may carry a user and password: only its origin is shown.
  const via = through === undefined ? '' : ` through the proxy ${new URL(through).origin}`;
  const started = performance.now();
  try {
    const status = await withDeadline(5_000, async (signal) => {
      const res = await snowflakeFetch(url.href, { method: 'HEAD', signal }, proxy);
      await res.body?.cancel();
      return res.status;
    });
    return { check, status: 'ok', detail: `${url.origin} answers${via} (HTTP ${status}, ${Math.round(performance.now() - started)} ms)` };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    // The fetch library's texts quote the URL whole, a password in it too.
    // (A peer that accepts the connection and closes it leaves fetch pending: the deadline says so.)
    const code = (cause as { code?: unknown } | undefined)?.code;
    const why = (err as Error).name === 'TimeoutError'
      ? 'no answer within 5 s (the connection was refused silently, closed before any answer, or hangs)'
      : code === 'UND_ERR_SOCKET' || code === 'ECONNRESET'
        // undici's own words ("other side closed") say nothing of what happened to the check.
        ? `the connection was closed before any answer (${hideUrlCredentials(errorMessage(cause))})`
        : hideUrlCredentials(errorMessage(cause ?? err));
    return {
      check,
      status: 'fail',
      detail: `${url.origin}${via}: ${why}`,
      fix: via === ''
        ? 'Check the account name, and the network path (VPN; a proxy goes in HTTPS_PROXY) to Snowflake.'
        : 'Check the account name, and the proxy (HTTPS_PROXY, NO_PROXY; hub.use_env_proxy = false connects directly).',
    };
  }
}

/**
 * One real login with the profile's settings (the hub's own driver and pool code), then a logout. The driver
 * keeps its files where the hub's does (`<home>/snowflake-driver`: its log off, its MFA / SSO token cache), or,
 * with no home of the user's yet, caches no token: never in a directory the driver would pick unchecked (driver-log-config.ts).
 */
async function checkLogin(profile: SnowflakeProfile, useEnvProxy: boolean, home: string, homeTrusted: boolean): Promise<Check> {
  const check = `login ${profile.name}`;
  const { SnowflakeWarehouse } = await import('../../hub/warehouse/snowflake/snowflake-warehouse.js');
  const { driverFiles } = await import('../../hub/warehouse/snowflake/driver-log-config.js');
  const driverOptions = homeTrusted ? driverFiles(join(home, 'snowflake-driver')).options : { clientStoreTemporaryCredential: false, clientRequestMFAToken: false };
  const warehouse = new SnowflakeWarehouse(profile, { useEnvProxy, driverOptions });
  const started = performance.now();
  try {
    await warehouse.warmUp();
    const shown = redactProfile(profile);
    return { check, status: 'ok', detail: `logged in as ${shown.user} (${shown.auth.method} auth) in ${Math.round(performance.now() - started)} ms` };
  } catch (err) {
    return {
      check,
      status: 'fail',
      detail: errorMessage(err),
      fix: `Check the user and credentials of profile "${profile.name}" (the line above names where each setting comes from); run snowmux doctor --login again after fixing them.`,
    };
  } finally {
    await warehouse.close().catch(() => {});
  }
}

async function checkSample(home: string, homeExists: boolean): Promise<Check> {
  const dataDir = join(home, 'warehouse');
  if (!homeExists || !existsSync(dataDir)) {
    return { check: 'sample', status: 'info', detail: 'the embedded sample warehouse is built on first use (about a second)' };
  }
  try {
    const { DuckDbWarehouse } = await import('../../hub/warehouse/duckdb/duckdb-warehouse.js');
    const warehouse = await DuckDbWarehouse.open({ dataDir, threads: 1 });
    try {
      const r = await warehouse.query('SELECT count(*) FROM NATION', { signal: new AbortController().signal, tag: { sessionId: 'doctor', requestId: 'doctor', client: 'doctor', tool: 'doctor' }, maxRows: 1 });
      const size = statSync(join(dataDir, 'SNOWMUX_SAMPLE.duckdb')).size;
      return { check: 'sample', status: 'ok', detail: `${dataDir} answers (${String(r.rows[0]?.[0])} nations, ${(size / 2 ** 20).toFixed(1)} MiB)` };
    } finally {
      await warehouse.close();
    }
  } catch (err) {
    return { check: 'sample', status: 'fail', detail: errorMessage(err), fix: `Remove ${dataDir} to have it rebuilt on next use.` };
  }
}

/** A listener of the running hub answers its /healthz (no key needed on either). */
async function checkListener(check: string, url: string): Promise<Check> {
  const healthz = new URL('/healthz', url).href;
  try {
    const res = await withDeadline(3_000, async (signal) => {
      const answer = await fetch(healthz, { signal });
      await answer.body?.cancel();
      return answer;
    });
    return res.ok
      ? { check, status: 'ok', detail: `${url} (healthz ${res.status})` }
      : { check, status: 'fail', detail: `${url}: healthz answered ${res.status}`, fix: res.status === 503 ? 'The hub is draining (stopping or being replaced); run doctor again once the next hub is up.' : 'See the hub\'s log: snowmux logs --level warn' };
  } catch (err) {
    return { check, status: 'fail', detail: `${url}: ${errorMessage(err)}`, fix: 'A firewall or another process may hold the address; see the hub\'s log: snowmux logs --level warn' };
  }
}

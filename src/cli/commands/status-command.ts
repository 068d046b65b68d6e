/**
 * `snowmux status [--json] [--watch] [--url URL]` — what the running hub is doing, over the home's socket
 * or a hub's HTTP face (`--url`, key from $SNOWMUX_KEY or --key-file, never a flag). Exits 3 when the hub
 * is unhealthy (draining; no warehouse can serve: each behind an open breaker or failing its logins; or audit
 * records cannot be written under [audit] on_failure = "refuse" —
 * the hub's own judgement, hub/core/hub-health.ts, the same /readyz answers by), for scripts. `--watch` follows the
 * hub's /events when it can (status-watch.ts), redraws in place fitted to the terminal (watch-screen.ts),
 * and keeps waiting through hub restarts, saying so.
 */
import { liveAuditWriter } from '../../wire/audit-claim.js';
import { SnowmuxError, errorMessage, isSnowmuxError } from '../../errors.js';
import { lastFailedStart } from '../failed-start.js';
import { homeHeldElsewhere } from '../home-held-elsewhere.js';
import type { CommandIo } from '../command-io.js';
import { parseCommandArgs } from '../args.js';
import { controlRequest } from '../control-client.js';
import { checkHomeOfHub, resolveHome, socketPathFor } from '../../wire/home.js';
import type { HubStatus } from '../../hub/hub.js';
import { formatScanEstimate } from '../../hub/observe/byte-size.js';
import { assessHealth, type HealthReport } from '../../hub/core/hub-health.js';
import { escapeInvisibleJson, escapeLine, hideUrlCredentials, shownText } from '../../shown-text.js';
import { MAX_TIMER_MS } from '../../timer-delay.js';
import { watchStatus } from '../status-watch.js';
import { withDeadline } from '../deadline.js';
import { apiKeyFrom, checkStatusUrl, redirectRefusal, tlsFailure } from '../../shim/remote-link.js';
import { DEFAULT_SCREEN, cut, duration, sessionUpMs, table as fitTable, type WatchFrame } from '../watch-screen.js';
import type { WriteStream } from 'node:tty';
import { expandHome } from '../../user-path.js';
import { hubPlace, snowmuxCommand } from '../../snowmux-command.js';
import { watchWriter } from '../watch-writer.js';
import { poolLabels, type PoolLabels } from '../pool-labels.js';
import { VERSION } from '../../version.js';
import { compareVersions } from '../../version-order.js';

export async function statusCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('status', argv, {
    home: { type: 'string' },
    json: { type: 'boolean' },
    watch: { type: 'boolean' },
    interval: { type: 'string' },
    url: { type: 'string' },
    'key-file': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(
      'Usage: snowmux status [--home DIR | --url URL [--key-file FILE]] [--json] [--watch [--interval MS]]\n\n' +
        'Exit codes: 0 healthy, 3 unhealthy (draining; no warehouse can serve: every one behind an open\n' +
        'circuit breaker or unable to log in; or audit records cannot be written and [audit] on_failure =\n' +
        '"refuse", so calls are refused), 1 no answer. The reasons follow "unhealthy:" (with --json: "health").\n' +
        'With --url the API key comes from $SNOWMUX_KEY or --key-file (never a flag).\n\n' +
        '--watch redraws in place, fitted to the terminal, and waits through hub restarts (piped or to a file,\n' +
        'each frame is plain text under a "--- snowmux status --watch <time>" line). It follows the hub\'s\n' +
        '/events and re-reads on each change: with --url, or on the socket when the hub has an HTTP listener\n' +
        '(hub.http_listen) and a key is given (or its auth is off). Otherwise it re-reads every --interval ms\n' +
        `(default 1000, from ${MIN_INTERVAL_MS} to ${MAX_TIMER_MS}; with events, a background re-read every 10 s keeps\n` +
        'uptimes moving).\n',
    );
    return 0;
  }
  const interval = values.interval === undefined ? undefined : intervalMs(values.interval);
  const key = apiKeyFrom(values['key-file'], process.env);
  const read = values.url !== undefined ? httpStatusReader(values.url, key) : socketStatusReader(values.home);
  if (!values.watch) {
    let status: HubStatus;
    try {
      status = await read();
    } catch (err) {
      const draining = values.url === undefined && isSnowmuxError(err, 'HUB_NOT_RUNNING') ? drainingHub(values.home) : undefined;
      if (draining !== undefined) {
        io.stdout.write(values.json ? `${JSON.stringify({ running: true, state: 'draining', pid: draining.pid, message: draining.message }, null, 2)}\n` : `${draining.message}\n`);
        return 3;
      }
      // A script reading --json gets JSON on stdout too (and the exit code, and the message on stderr).
      if (values.json) io.stdout.write(`${escapeInvisibleJson(JSON.stringify({ running: false, error: { code: isSnowmuxError(err) ? err.code : 'STATUS_FAILED', message: errorMessage(err) } }, null, 2))}\n`);
      throw err;
    }
    const columns = widthOf(io.stdout);
    io.stdout.write(values.json ? `${escapeInvisibleJson(JSON.stringify(status, null, 2))}\n` : formatStatus(status, columns, values.url === undefined ? 'local' : 'remote'));
    const health = healthOf(status);
    if (!health.ok && !values.json) io.stdout.write(`\n${wrapLine(escapeLine(`unhealthy: ${health.reasons.join('; ')}`), columns).join('\n')}\n`);
    // What does not stop the hub but needs someone (an audit log not writing now, one warehouse down).
    if (!values.json) for (const warning of health.warnings) io.stdout.write(`${wrapLine(escapeLine(`warning: ${warning}`), columns).join('\n')}\n`);
    return health.ok ? 0 : 3;
  }
  return watchStatus({
    source: { read, eventsFor: (status) => eventsOf(status, values.url, key) },
    show: values.json ? (frame) => io.stdout.write(`${escapeInvisibleJson(JSON.stringify(frame.kind === 'status' ? frame.status : { waiting: frame.reason }))}\n`) : screenWriter(io.stdout),
    intervalMs: interval ?? 1000,
    liveIntervalMs: interval ?? 10_000,
  });
}

const MIN_INTERVAL_MS = 200;

/**
 * `--interval MS`, refused unless a whole number a timer can wait (Node.js arms a longer one for 1 ms:
 * "every 25 days" re-read the hub a thousand times a second) and not below the floor a terminal can use.
 */
function intervalMs(given: string): number {
  const ms = /^\d+$/.test(given.trim()) ? Number(given) : NaN;
  if (!Number.isSafeInteger(ms) || ms < MIN_INTERVAL_MS || ms > MAX_TIMER_MS) {
    throw new SnowmuxError('USAGE', `--interval must be a whole number of milliseconds from ${MIN_INTERVAL_MS} to ${MAX_TIMER_MS}; got "${shownText(given, 40)}".`);
  }
  return ms;
}

/**
 * The /events stream to follow: the `--url` hub's; or, on the home's socket, the local hub's HTTP listener
 * when its status shows one this watch can use (auth off, or a key from $SNOWMUX_KEY / --key-file).
 * Otherwise none, and the watch polls.
 */
function eventsOf(status: HubStatus, url: string | undefined, key: string | undefined): { url: string; key: string | undefined } | null {
  if (url !== undefined) return { url: new URL('/events', url).href, key };
  const http = status.http as { url?: string; auth?: boolean } | undefined;
  if (!http?.url || (http.auth !== false && !key)) return null;
  return { url: new URL('/events', http.url).href, key };
}

/** The watch's frames, and on Ctrl-C a newline so the prompt gets a line of its own (a terminal frame's last row has none). */
function screenWriter(out: NodeJS.WritableStream): (frame: WatchFrame) => void {
  process.once('SIGINT', () => {
    out.write('\n');
    process.exit(130);
  });
  return watchWriter(out);
}

/**
 * A hub that gave up the socket but has not exited: it is draining (stopping, or replaced by a hub that
 * has not taken the socket yet) and finishes its calls. It still holds the home's audit-writer claim, which
 * names it; without this, status said no hub ran here while one was finishing editors' calls.
 */
function drainingHub(homeFlag: string | undefined): { pid: number; message: string } | undefined {
  const home = resolveHome({ flag: homeFlag });
  // A hub that still holds the home's claim is not draining (it gives the claim up as it starts to): it serves
  // on a socket this spelling of the home does not reach, which the reader's error says.
  if (homeHeldElsewhere(home, socketPathFor(home))) return undefined;
  const pid = liveAuditWriter(home);
  if (pid === null) return undefined;
  return {
    pid,
    message: `The hub here (pid ${pid}) no longer takes connections: it is draining, finishing its running calls before it stops or hands over to a new hub. Run status again in a moment; \`${snowmuxCommand('logs', home)}\` shows its progress.`,
  };
}

function socketStatusReader(homeFlag: string | undefined): () => Promise<HubStatus> {
  const home = resolveHome({ flag: homeFlag });
  const socketPath = socketPathFor(home);
  // Checked at each read: `--watch` on a home no hub has made yet waits for one, as it waits through a restart.
  return async () => {
    checkHomeOfHub(home);
    try {
      return await controlRequest<HubStatus>(socketPath, 'status', undefined, home);
    } catch (err) {
      const elsewhere = isSnowmuxError(err, 'HUB_NOT_RUNNING') ? homeHeldElsewhere(home, socketPath) : undefined;
      if (elsewhere) throw new SnowmuxError('HUB_NOT_RUNNING', `${elsewhere.detail} ${elsewhere.fix}`);
      const failed = isSnowmuxError(err, 'HUB_NOT_RUNNING') ? lastFailedStart(home) : undefined;
      if (!failed) throw err;
      throw new SnowmuxError(
        'HUB_NOT_RUNNING',
        `${errorMessage(err)} The last hub an editor started here stopped on an error (${failed.log}, ${duration(Date.now() - failed.at.getTime())} ago): ${failed.reason}`,
      );
    }
  };
}

/**
 * The most a hub's status may be, as JSON. A status lists sessions, warehouses and limits, far below this;
 * it bounds what a server at --url that is no hub (or a hostile one) can make the command hold: an endless
 * body read whole within the deadline grew the process by 800 MB in those 5 s.
 */
const MAX_STATUS_BYTES = 32 * 1024 * 1024;

function httpStatusReader(url: string, key: string | undefined): () => Promise<HubStatus> {
  const target = new URL('/status', checkStatusUrl(url));
  return async () => {
    let answer: { status: number; body: unknown };
    /** The HTTP status answered, once its headers came: a deadline missed after them is not "no hub answered". */
    let answered: number | undefined;
    try {
      // The body is read within the deadline too: a hub can stall after its headers.
      answer = await withDeadline(5_000, async (signal) => {
        const res = await fetch(target, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal, redirect: 'manual' });
        answered = res.status;
        const redirect = redirectRefusal(target.href, res.status, res.headers.get('location') ?? undefined, 'http', 'status');
        if (redirect) {
          await res.body?.cancel();
          throw redirect;
        }
        if (res.status === 401) return { status: res.status, body: await res.json().catch(() => ({})) };
        if (!res.ok) return { status: res.status, body: await res.body?.cancel() };
        const text = await boundedText(res, MAX_STATUS_BYTES);
        if (text === undefined) {
          throw new SnowmuxError('HUB_NO_ANSWER', `${target.href} answered with a body over ${MAX_STATUS_BYTES} bytes, far more than a hub's status; status stopped reading it. Is --url a snowmux hub's HTTP address?`);
        }
        try {
          return { status: res.status, body: JSON.parse(text) as unknown };
        } catch (err) {
          if ((err as Error).name !== 'SyntaxError') throw err;
          throw new SnowmuxError('HUB_NO_ANSWER', `${target.href} answered something other than a hub's status (${errorMessage(err)}). Is --url a snowmux hub's HTTP address?`);
        }
      });
    } catch (err) {
      if (isSnowmuxError(err)) throw err;
      if (answered !== undefined && (err as Error).name === 'TimeoutError') {
        throw new SnowmuxError('HUB_NO_ANSWER', `${target.href} answered (HTTP ${answered}) but did not send its whole status within 5 s. Is --url a snowmux hub's HTTP address, and is the hub (or a proxy in front of it) overloaded?`);
      }
      const tls = tlsFailure((err as { cause?: unknown }).cause, target.origin, 'status does not read it');
      if (tls) throw tls;
      // undici's own text quotes the URL it was given: shown without a password.
      const code = (err as { cause?: { code?: string } }).cause?.code;
      // A peer that accepts and closes: undici says UND_ERR_SOCKET ("other side closed") or ECONNRESET.
      const why = code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' ? `the connection was closed before any answer, ${code}` : code ?? hideUrlCredentials(errorMessage(err));
      throw new SnowmuxError('HUB_NOT_RUNNING', `No hub answered at ${target.origin} (${why}). Is it running, and is --url its HTTP address?`, { cause: err });
    }
    if (answer.status === 401) throw new SnowmuxError('HTTP_UNAUTHORIZED', `${target.origin} refused the key: ${(answer.body as { error?: string }).error ?? 'unauthorized'} Set SNOWMUX_KEY or --key-file.`);
    if (answer.status < 200 || answer.status > 299) throw new SnowmuxError('HUB_NO_ANSWER', `${target.href} answered HTTP ${answer.status}.`);
    return answer.body as HubStatus;
  };
}

/** A body as text, or undefined (its stream cancelled) once it passes `max` bytes. */
async function boundedText(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, bytes));
}

/**
 * The hub's own judgement (its status's `health`, computed by the hub that knows its warehouses), or the
 * same function over the status when the hub is older than that section.
 */
export function healthOf(status: HubStatus): HealthReport {
  const h = status.health as Partial<HealthReport> | undefined;
  if (h && typeof h.ok === 'boolean' && Array.isArray(h.reasons)) return { ok: h.ok, reasons: h.reasons, warnings: Array.isArray(h.warnings) ? h.warnings : [] };
  return assessHealth(status);
}

/**
 * One status line in lines no wider than `columns`: broken at its spaces, continuation lines indented to
 * where the line's value starts (so a label stays alone on the left); a word wider than the room left
 * (a long path) is broken inside.
 */
export function wrapLine(line: string, columns: number): string[] {
  if (line.length <= columns) return [line];
  const lead = /^\s*/.exec(line)![0];
  const valueAt = /^\s*\S+\s+/.exec(line)?.[0].length ?? lead.length;
  const indent = ' '.repeat(Math.min(valueAt, 12, Math.floor(columns / 4)));
  const out: string[] = [];
  let current = lead.length < columns / 2 ? lead : indent;
  let empty = true;
  for (const [, gap, word] of line.slice(lead.length).matchAll(/(\s*)(\S+)/g)) {
    let rest = word!;
    if (!empty) {
      if (current.length + gap!.length + rest.length <= columns) {
        current += gap! + rest;
        continue;
      }
      // A word no line could hold starts where it is (a long path stays next to its label).
      if (rest.length > columns - indent.length && current.length + gap!.length < columns) current += gap!;
      else {
        out.push(current);
        current = indent;
      }
    }
    while (current.length + rest.length > columns) {
      const room = columns - current.length;
      out.push(current + rest.slice(0, room));
      rest = rest.slice(room);
      current = indent;
    }
    current += rest;
    empty = false;
  }
  if (!empty) out.push(current);
  return out;
}

/**
 * A warehouse's default database and schema as status shows them. A Snowflake profile may name neither (its
 * user's defaults apply, which the hub learns only from a session): "default ." said nothing.
 */
export function defaultContext(database: string, schema: string): string {
  if (database && schema) return `default ${database}.${schema}`;
  if (database) return `default ${database} (the user's default schema)`;
  if (schema) return `default schema ${schema} (the user's default database)`;
  return "default: the Snowflake user's own";
}

/** Where `status` prints to: a terminal's width, else 80 columns. */
function widthOf(out: NodeJS.WritableStream): number {
  const tty = out as Partial<WriteStream>;
  return tty.isTTY && tty.columns ? Math.max(40, tty.columns) : DEFAULT_SCREEN.columns;
}

/**
 * The hub's status for a person: every line fits `columns` (tables narrow their wide columns, the rest wraps).
 * `reached`: over the home's socket (`local`: the hub is this machine's to replace) or `--url` (`remote`).
 */
export function formatStatus(s: HubStatus, columns = DEFAULT_SCREEN.columns, reached: 'local' | 'remote' = 'local'): string {
  const out: string[] = [];
  const table = (headers: string[], flexible: number[], rows: string[][]) => fitTable({ headers, flexible, columns }, rows);
  out.push(`snowmux hub ${s.version}  pid ${s.pid}  up ${duration(s.uptimeMs)}  ${s.state}`);
  out.push(...versionSkew(s, reached));
  // Paths are one value each: a line break in one (a home named with it) is `\u000a`, not a line of its own.
  out.push(`home ${escapeLine(s.home)}`);
  // A hub a service manager runs is restarted through it (`hub --replace` from a terminal refuses it).
  const service = s.service;
  if (service) out.push(`run by ${service.manager} (${service.unit}); restart it with: ${service.restart}`);
  // Several pools can share a profile name (editors whose SNOWFLAKE_* settings differ): their lines and their
  // breakers' then carry the warehouse's number, the same on both, so an open breaker names its pool.
  const label = poolLabels(s.warehouses, (s.governance as Governance | undefined)?.breakers);
  for (const w of s.warehouses) {
    const extra = Object.entries(w.detail)
      .filter(([, v]) => typeof v !== 'object' || v === null)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    out.push(`warehouse ${w.kind}:${label.warehouse(w)}  ${defaultContext(w.defaultDatabase, w.defaultSchema)}${extra ? `  ${extra}` : ''}`);
    if (w.problem) out.push(`  CANNOT SERVE [${w.problem.code}${w.problem.snowflakeCode ? ` ${w.problem.snowflakeCode}` : ''}] (last ${w.problem.at.slice(11, 19)} UTC): ${w.problem.message}`);
    out.push(...formatOutlived(w, s.sessions));
  }
  if (s.warehouses.length === 0) out.push('warehouse (opens on first use)');
  out.push(`totals  sessions opened ${s.totals.sessionsOpened}${s.totals.sessionsCut ? `  cut ${s.totals.sessionsCut}` : ''}${s.totals.answersCut ? `  HTTP answers cut ${s.totals.answersCut}` : ''}  calls ${s.totals.calls}  errors ${s.totals.errors}  refused ${s.totals.refused}  cancelled ${s.totals.cancelled}`);
  if (s.totals.lastCut) out.push(`last cut (${s.totals.lastCut.at.slice(11, 19)} UTC): ${s.totals.lastCut.why}`);
  const view = s.view as { identity?: string; scope?: string } | undefined;
  if (view?.scope === 'own') out.push(`showing ${view.identity ?? 'your'}'s own sessions and calls (a role with query_history = "all" sees everyone's)`);
  out.push('');
  out.push(`sessions (${s.sessions.length})`);
  if (s.sessions.length > 0) {
    const now = Date.now();
    out.push(...table(
      ['SESSION', 'CLIENT', 'SHIM PID', 'PARENT', 'UP', 'CALLS', 'ERR', 'RUN', 'LAST TOOL'],
      [1, 3, 8],
      s.sessions.map((x) => [
        x.id.slice(0, 8),
        x.client ? `${x.client.name} ${x.client.version}` : '-',
        x.shimPid === null ? '-' : String(x.shimPid),
        x.parent ? `${x.parent.command ?? ''}(${x.parent.pid})` : '-',
        duration(sessionUpMs(x, now)),
        String(x.calls),
        String(x.errors),
        String(x.running),
        x.lastTool ?? '-',
      ]),
    ));
  }
  if (s.recent.length > 0) {
    out.push('');
    out.push('recent calls');
    // The SQL goes on a line of its own under its call, indented: a column would leave it a few characters.
    const calls = s.recent.slice(0, 10);
    const [header, ...rows] = fitTable(
      { headers: ['AT', 'SESSION', 'TOOL', 'OUTCOME', 'MS', 'ROWS'], flexible: [2, 3], columns },
      calls.map((c) => [
        c.at.slice(11, 19),
        c.sessionId.slice(0, 8),
        c.tool,
        c.errorCode ? `${c.outcome}:${c.errorCode}` : c.outcome,
        c.ms.toFixed(1),
        c.rows === null ? '-' : String(c.rows),
      ]),
    );
    out.push(header!);
    rows.forEach((row, i) => {
      out.push(row);
      const sql = (calls[i]!.sql ?? '').replace(/\s+/g, ' ').trim();
      // The engine's estimate leads the line: cut to the width, the SQL's tail goes before the figure does.
      const estimate = calls[i]!.scanEstimate ? formatScanEstimate(calls[i]!.scanEstimate!) : undefined;
      const line = [estimate ? `scan ${estimate}` : '', sql].filter(Boolean).join(' | ');
      if (line) out.push(cut(`          ${line}`, columns));
    });
  }
  out.push(...formatGovernance(s.governance as Governance | undefined, label));
  out.push(...formatTeam(s.team as TeamSection | undefined, table));
  out.push(...formatEndpoints(s));
  const audit = s.audit as { enabled?: boolean; open?: boolean; dir?: string; lastSeq?: number; durableSeq?: number; file?: string; failedAppends?: number; waitingForPid?: number; waitingSince?: string; waitingUntil?: string; heldRecords?: number } | undefined;
  if (audit) {
    out.push('');
    out.push(audit.enabled === false
      ? 'audit  disabled'
      : audit.open === false
        ? `audit  ${escapeLine(audit.dir ?? '')}  WAITING since ${audit.waitingSince?.slice(11, 19)} UTC for the previous hub (pid ${audit.waitingForPid}) to finish its records (one writer at a time; it is taken over at ${audit.waitingUntil?.slice(11, 19) ?? '?'} UTC at the latest); ${audit.heldRecords} record(s) held in this hub's side file, written into the chain in order once it has`
        : `audit  ${escapeLine(`${audit.dir}/${audit.file}`)}  records ${audit.lastSeq} (durable ${audit.durableSeq})${audit.failedAppends ? `  FAILED APPENDS ${audit.failedAppends}` : ''}`);
  }
  const config = s.config as { path: string; exists: boolean; warnings?: string[]; lastReload?: { at: string; needsRestart: string[]; unusable?: string[] } | null; refusedReload?: { at: string; reason: string } } | undefined;
  if (config) out.push(`config ${escapeLine(config.path)}${config.exists ? '' : ' (not present: defaults)'}`);
  if (config?.refusedReload) out.push(`config NOT RELOADED: the file on disk was refused at ${config.refusedReload.at.slice(11, 19)} UTC; the running configuration stays. ${config.refusedReload.reason}`);
  if (config?.lastReload?.needsRestart.length) out.push(`config changed at ${config.lastReload.at.slice(11, 19)} UTC in what applies only after a restart (${snowmuxCommand('hub --replace', hubPlace(s.home, realPath(config.path)))}): ${config.lastReload.needsRestart.join(', ')}`);
  for (const problem of config?.lastReload?.unusable ?? []) out.push(`config reloaded at ${config!.lastReload!.at.slice(11, 19)} UTC, but a Snowflake profile could not be used then (its next login fails until fixed): ${problem}`);
  for (const warning of config?.warnings ?? []) out.push(`warning ${warning}`);
  // Sessions, tool names, SQL and messages are the clients' text: nothing in them may act on the terminal.
  // Each entry is one line (table cells are escaped whole); a message of several lines (a config error)
  // keeps them, indented, so none of them can pass for a row or a line of status's own.
  return `${out.flatMap((l) => l.split('\n').map((part, i) => escapeLine(i === 0 ? part : `    ${part}`))).flatMap((l) => wrapLine(l, columns)).join('\n')}\n`;
}

/**
 * A hub of another snowmux version than this CLI still speaks the same link version, so nothing refuses anyone:
 * after an upgrade the hub already running went on serving editors the old code, and status showed its version
 * without a word on it. Said here, with what to do.
 */
function versionSkew(s: HubStatus, reached: 'local' | 'remote'): string[] {
  const out: string[] = [];
  const hub = typeof s.version === 'string' ? s.version : '';
  const order = hub === '' ? 0 : compareVersions(hub, VERSION);
  if (order < 0) {
    const fix = reached === 'remote'
      ? "ask the hub's operator to upgrade it"
      : s.service
        ? `restart it on this version through its service manager: ${s.service.restart}`
        : `move it to this version (editors stay connected): ${snowmuxCommand('hub --replace', hubPlace(s.home, configPathOf(s)))}`;
    out.push(`version: this hub runs snowmux ${shownText(hub, 40)}, older than this snowmux (${VERSION}): editors that launch ${VERSION} are served by the hub's older code until it is replaced; ${fix}`);
  } else if (order > 0) {
    out.push(`version: this snowmux (${VERSION}${process.argv[1] ? ` at ${process.argv[1]}` : ''}) is older than the hub (${shownText(hub, 40)}): use the newer snowmux (the one your editors launch); \`hub --replace\` from this one would downgrade the hub.`);
  }
  // Sessions through shims of another version are the hub's health warnings (hub-health.ts), printed below.
  return out;
}

/** The config file the hub runs with, as its status gives it (for advice that must name it). */
function configPathOf(s: HubStatus): string | undefined {
  const path = (s.config as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? realPath(path) : undefined;
}

/** One entry of an embedded warehouse's detail.outlivedStatements (call-scope.ts OutlivedStatement); another identity's shows no session. */
interface OutlivedEntry { sessionId?: string; client?: string; tool?: string; stoppedBy?: string; sinceStopMs?: number; runningMs?: number }

/**
 * The slots of a warehouse held by statements the engine could not interrupt, which outlived their cancel: whose
 * (session, identity, tool), since when, and what ends them. The calls waiting behind them are told the same.
 */
function formatOutlived(w: HubStatus['warehouses'][number], sessions: HubStatus['sessions']): string[] {
  const held = w.detail['outlivedStatements'];
  if (!Array.isArray(held) || held.length === 0) return [];
  const capacity = typeof w.detail['maxConcurrentStatements'] === 'number' ? ` of ${w.detail['maxConcurrentStatements']}` : '';
  const out = [`  SLOTS HELD ${held.length}${capacity} by statements the engine could not interrupt, which outlived their cancel (each keeps its slot until it ends on its own; restarting the hub ends it):`];
  for (const entry of held as OutlivedEntry[]) {
    const session = entry.sessionId ? sessions.find((x) => x.id === entry.sessionId) : undefined;
    const whose = entry.sessionId
      ? `session ${entry.sessionId.slice(0, 8)}${session ? ` (${session.identity.name}${entry.client ? `, ${entry.client}` : ''})` : entry.client ? ` (${entry.client})` : ''}`
      : "another identity's call";
    const stopped = entry.stoppedBy === 'QUERY_TIMEOUT' ? 'timed out' : entry.stoppedBy === 'QUERY_CANCELLED' ? 'cancelled' : `stopped (${entry.stoppedBy ?? '?'})`;
    out.push(`    ${whose}${entry.tool ? ` ${entry.tool}` : ''}: ${stopped} ${duration(entry.sinceStopMs ?? 0)} ago, holding its slot for ${duration(entry.runningMs ?? 0)}`);
  }
  return out;
}

interface Governance {
  policy: { roles: string[]; defaultRole: string };
  queue: { maxConcurrent: number; maxQueued: number; running: number; queued: number; totals: { refused: number }; pools?: { name: string; maxConcurrent: number; running: number; queued: number }[] };
  breakers: { profile: string; warehouseId?: number; state: string; failures: number; opensCount: number; nextAttemptAt: number | null; lastFailure: { message: string } | null }[];
  rateLimits: { identity: string; role?: string; tokens: number; capacity: number; refillPerSecond: number; team?: { seenAt: string } }[];
  quotas: { identity: string; role?: string; windows: { windowMs: number; remaining: Record<string, number | null>; resetsAt: string; team?: { seenAt: string; own: { queries: number } } }[] }[];
}

interface TeamSection {
  mode: string;
  namespace: string;
  replicaId: string;
  /** Why Redis is unreachable, while mode is local. */
  lastError?: string;
  replicas: { id: string; pid: number; version: string; state: string; sessions: number; running: number; queued: number; breakers: { profile: string; state: string }[] }[];
  slotWaits?: { waiting: number; total: number };
  /** The replicas grouped by the rules they apply, while those differ (policy drift). */
  policyDrift?: { policy: string; replicas: string[] }[];
  /** Redis lost the team's state under this replica (FLUSHALL, a failover to an empty replica): what it wrote back. */
  stateLost?: { times: number; at: string; rebuilt: { quotaWindows: number; owners: number; slots: number } | null };
  auditStream?: { key: string; shipped: number; dropped: number; pending: number; lastError: string | null };
}

/** A team hub's replicas, as this one sees them in Redis (the whole team from any replica). */
function formatTeam(team: TeamSection | undefined, table: (headers: string[], flexible: number[], rows: string[][]) => string[]): string[] {
  if (!team) return [];
  const out = ['', `team   ${team.mode === 'connected' ? 'connected' : `LOCAL LIMITS (Redis unreachable${team.lastError ? `: ${team.lastError}` : ''})`}  namespace ${team.namespace}  this replica ${team.replicaId}${team.slotWaits ? `  slot waits ${team.slotWaits.waiting} now, ${team.slotWaits.total} in all` : ''}`];
  if (team.replicas.length > 0) {
    out.push(...table(
      ['REPLICA', 'VERSION', 'STATE', 'SESS', 'RUN', 'QUEUED', 'BREAKERS'],
      [6],
      team.replicas.map((r) => [
        // host:pid (so no PID column) with the host's first label only, as the watch shows it: the line is
        // narrow, and the team line above names this replica in full.
        `${r.id.replace(/\.[^:]*:/, ':')}${r.id === team.replicaId ? ' (this)' : ''}`,
        r.version,
        r.state,
        String(r.sessions),
        String(r.running),
        String(r.queued),
        r.breakers.map((b) => `${b.profile}:${b.state}`).join(' ') || '-',
      ]),
    ));
  }
  if (team.policyDrift) {
    const groups = team.policyDrift.map((g) => `${g.replicas.map((id) => `${escapeLine(id)}${id === team.replicaId ? ' (this)' : ''}`).join(', ')} apply rules ${escapeLine(g.policy)}`).join('; ');
    out.push(`POLICY DRIFT  the replicas apply different rules (roles, policy, tools, rate or team query cap), each its own: ${groups}. Make config.toml the same on every replica and reload each`);
  }
  const lost = team.stateLost;
  if (lost) {
    const rebuilt = lost.rebuilt ? `; wrote back ${lost.rebuilt.quotaWindows} quota windows, ${lost.rebuilt.owners} result owners, ${lost.rebuilt.slots} slots` : '';
    out.push(`STATE LOST  Redis lost the team's state ${lost.times === 1 ? 'once' : `${lost.times} times`}, last at ${lost.at}${rebuilt}`);
  }
  const a = team.auditStream;
  if (a) out.push(`audit stream ${a.key}  shipped ${a.shipped}  waiting ${a.pending}${a.dropped ? `  NOT SHIPPED ${a.dropped} (in this replica's own log; last: ${a.lastError})` : ''}`);
  return out;
}

/** Where the hub also answers (HTTP face, metrics) and where its traces go. */
function formatEndpoints(s: HubStatus): string[] {
  const out: string[] = [];
  const http = s.http as { url: string; engine: string; auth: boolean } | undefined;
  if (http) out.push(`http   ${http.url}  (${http.engine === 'uws' ? 'uWebSockets.js' : 'node:http'}${http.auth ? ', API keys' : ', no API keys: loopback only'})`);
  const metrics = s.metrics as { url: string } | undefined;
  if (metrics) out.push(`metrics ${metrics.url}`);
  const traces = s.traces as { url: string; spansExported: number; spansDropped: number; failing: boolean; lastError?: string } | undefined;
  if (traces) out.push(`traces ${traces.url}  spans exported ${traces.spansExported}, dropped ${traces.spansDropped}${traces.failing ? `  FAILING${traces.lastError ? `: ${traces.lastError}` : ''}` : ''}`);
  return out.length > 0 ? ['', ...out] : out;
}

function formatGovernance(g: Governance | undefined, label: PoolLabels): string[] {
  if (!g) return [];
  const out = [''];
  out.push(`roles  ${g.policy.roles.length > 0 ? g.policy.roles.join(', ') : '(none configured)'}; default ${g.policy.defaultRole}`);
  out.push(`queue  running ${g.queue.running}/${g.queue.maxConcurrent}  waiting ${g.queue.queued}/${g.queue.maxQueued}  refused busy ${g.queue.totals.refused}`);
  // The cap above is the hub's, for every warehouse together; each pool also runs at most what its backend does.
  const pools = g.queue.pools ?? [];
  if (pools.length > 0) out.push(`pools  ${pools.map((p) => `${p.name} running ${p.running}/${p.maxConcurrent}${p.queued ? ` waiting ${p.queued}` : ''}`).join(', ')}`);
  for (const b of g.breakers) {
    const when = b.nextAttemptAt ? `  retry at ${new Date(b.nextAttemptAt).toISOString().slice(11, 19)}` : '';
    const last = b.lastFailure ? `  last failure: ${b.lastFailure.message.slice(0, 80)}` : '';
    out.push(`breaker ${label.breaker(b)}: ${b.state.toUpperCase()}  failures ${b.failures}  opened ${b.opensCount}×${when}${last}`);
  }
  // Buckets and quotas are per identity and role (one user's editors may run under several roles).
  const holder = (h: { identity: string; role?: string }) => (h.role === undefined ? h.identity : `${h.identity} (${h.role})`);
  for (const r of g.rateLimits) out.push(`rate   ${holder(r)}: ${Math.floor(r.tokens)}/${r.capacity} tokens (+${r.refillPerSecond}/s)${r.team ? `  team-wide, as this replica last took from it at ${r.team.seenAt.slice(11, 19)}` : ''}`);
  for (const q of g.quotas) {
    for (const w of q.windows) {
      const left = Object.entries(w.remaining).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${v}`).join(', ');
      // A team hub's budget is the team's: say so, and how fresh, or a replica's own part read as the budget.
      const team = w.team ? ` (team-wide as of ${w.team.seenAt.slice(11, 19)}; ${w.team.own.queries} ${w.team.own.queries === 1 ? 'query' : 'queries'} on this replica)` : '';
      out.push(`quota  ${holder(q)}: ${left || 'unlimited'} left until ${w.resetsAt}${team}`);
    }
  }
  return out;
}

/** A path the hub showed with "~" for the home directory, written out (as it is when there is no home directory here). */
function realPath(shown: string): string {
  try {
    return expandHome(shown);
  } catch {
    return shown;
  }
}

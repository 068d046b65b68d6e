/**
 * `snowmux audit verify [--dir DIR]… [--json]` — the hub's own hash-chained files (one or several replicas');
 * `snowmux audit verify --redis URL --stream KEY [--json]` — the team's central copy in a Redis stream,
 * every replica's chain (URL also from $SNOWMUX_REDIS_URL, so a password need not be on the command line).
 */
import type { CommandIo } from '../command-io.js';
import { resolveHome } from '../../wire/home.js';
import { errorMessage } from '../../errors.js';
import { escapeInvisibleJson, escapeLine, hideApiKeys, hideUrlCredentials, shownUrl } from '../../shown-text.js';
import { resolve } from 'node:path';
import { loadConfigFile } from '../../hub/config/config-file.js';
import { unknownSubcommand } from '../args.js';

export async function auditCommand(argv: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { AUDIT_VERIFY_USAGE: USAGE } = await import('../../hub/audit/verify-command.js');
  if (sub === '--help' || sub === '-h') {
    io.stdout.write(USAGE);
    return 0;
  }
  if (sub !== 'verify') {
    io.stderr.write(`${unknownSubcommand('audit', sub, ['verify'])}\n\n${USAGE}`);
    return 2;
  }
  const { runAuditVerify, unknownArgument } = await import('../../hub/audit/verify-command.js');
  const usage = (problem: string): number => {
    io.stderr.write(`snowmux audit verify: ${hideApiKeys(problem)}\n${USAGE}`);
    return 2;
  };
  if (rest.some((a) => a === '--redis' || a.startsWith('--redis='))) {
    const parsed = streamArgs(rest, unknownArgument);
    if (typeof parsed === 'string') return usage(parsed);
    if (parsed.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    return verifyStream(parsed, io, USAGE);
  }
  let args = rest;
  // --home and --config as every other command takes them (`--home DIR`, `--home=DIR`); one without its
  // value is a usage error, not the default home or config verified in its place.
  const take = (flag: string): string | undefined | { missing: string } => {
    const at = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (at < 0) return undefined;
    const arg = args[at]!;
    const inline = arg.startsWith(`${flag}=`);
    const value = inline ? arg.slice(flag.length + 1) : args[at + 1];
    args = [...args.slice(0, at), ...args.slice(at + (inline ? 1 : 2))];
    return value === undefined || value === '' || (!inline && value.startsWith('-')) ? { missing: flag } : value;
  };
  const homeFlag = take('--home');
  if (typeof homeFlag === 'object') return usage('--home needs a directory');
  const configPath = take('--config');
  if (typeof configPath === 'object') return usage('--config needs a file');
  const home = resolveHome({ flag: homeFlag });
  return runAuditVerify(args, io, home, configuredAuditDir(home, configPath));
}

interface StreamArgs {
  url: string | undefined;
  key: string | undefined;
  json: boolean;
  help: boolean;
}

/**
 * `--redis [URL] --stream KEY [--json]`: every argument read, as the file form reads its own. One that is
 * not one of these (a typo such as `--jsn`, or `--dir`/`--home`/`--config`, which name the files --redis
 * does not read) is a usage error: it used to be passed over, so `--jsn` printed text to a script that
 * asked for JSON, and `--dir` was silently not verified.
 */
function streamArgs(argv: string[], unknownArgument: (arg: string) => string): StreamArgs | string {
  const out: StreamArgs = { url: undefined, key: undefined, json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg === '--json') out.json = true;
    else if (arg === '-h' || arg === '--help') out.help = true;
    else if (arg === '--redis') {
      if (next !== undefined && !next.startsWith('-')) {
        out.url = next;
        i++;
      }
    } else if (arg.startsWith('--redis=')) out.url = arg.slice('--redis='.length) || undefined;
    else if (arg === '--stream' || arg.startsWith('--stream=')) {
      const key = arg === '--stream' ? next : arg.slice('--stream='.length);
      if (key === undefined || key === '' || (arg === '--stream' && key.startsWith('-'))) return '--stream needs the key of [audit] redis_stream';
      out.key = key;
      if (arg === '--stream') i++;
    } else if (['--dir', '--home', '--config'].some((f) => arg === f || arg.startsWith(`${f}=`))) {
      return `${arg.split('=')[0]} names a hub's own audit files, which --redis does not read (it checks the team's stream): give one or the other`;
    } else return unknownArgument(arg);
  }
  return out;
}

/** Where the hub with this home and config writes its audit log ([audit] dir), or why the config cannot say. */
function configuredAuditDir(home: string, configPath: string | undefined): string | { error: string } {
  try {
    const { config } = loadConfigFile({ home, explicitPath: configPath, env: process.env });
    return resolve(home, config.audit.dir);
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

async function verifyStream(args: StreamArgs, io: CommandIo, USAGE: string): Promise<number> {
  const url = args.url ?? process.env.SNOWMUX_REDIS_URL;
  const key = args.key;
  if (url === undefined || !/^rediss?:\/\//.test(url) || key === undefined) {
    io.stderr.write(`snowmux audit verify: --redis needs a redis:// URL (or $SNOWMUX_REDIS_URL) and --stream the key of [audit] redis_stream.\n${USAGE}`);
    return 2;
  }
  const shown = escapeLine(shownUrl(url));
  const { readAuditStream } = await import('../../hub/team/audit-stream.js');
  const { verifyShippedRecords } = await import('../../hub/audit/stream-chain.js');
  let entries;
  try {
    entries = await readAuditStream(url, key);
  } catch (err) {
    io.stderr.write(`snowmux audit verify: cannot read stream ${key} at ${shown}: ${hideUrlCredentials(errorMessage(err).replaceAll(url, shown)).replace(/\.$/, '')}. Check the URL (its password too) and that Redis is up.\n`);
    return 2;
  }
  const result = verifyShippedRecords(entries);
  if (args.json) {
    io.stdout.write(`${escapeInvisibleJson(JSON.stringify({ stream: key, ...result }, null, 2))}\n`);
    return result.ok ? 0 : 1;
  }
  if (entries.length === 0) {
    io.stdout.write(`stream ${key} at ${shown} holds no entries: nothing has been shipped to it (is [audit] redis_stream set on the replicas?).\n`);
    return 1;
  }
  // Replica names, gap reasons and problems come from the stream's entries, which are what is being
  // checked: shown one line each, nothing in them acting on the terminal.
  for (const r of result.replicas) {
    const span = r.firstSeq === undefined ? '' : ` (seq ${r.firstSeq}..${r.lastSeq})`;
    const gaps = r.gaps.length === 0 ? '' : `; not shipped by the replica (in its own files): ${r.gaps.map((g) => `${g.from}–${g.to} (${escapeLine(g.reason)})`).join(', ')}`;
    io.stdout.write(`replica ${escapeLine(r.replica)}: ${r.records} record(s)${span}${gaps} — ${r.ok ? 'intact' : 'NOT intact'}\n`);
    for (const p of r.problems) io.stdout.write(`  ${p.kind}: ${escapeLine(p.message)}\n`);
  }
  for (const p of result.problems) io.stdout.write(`${p.kind}: ${escapeLine(p.message)}\n`);
  io.stdout.write(`${result.replicas.filter((r) => r.ok).length} of ${result.replicas.length} replica chains intact in stream ${key}\n`);
  return result.ok ? 0 : 1;
}

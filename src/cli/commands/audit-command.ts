/**
 * `snowmux audit verify [--dir DIR]… [--json]` — the hub's own hash-chained files (one or several replicas');
 * `snowmux audit verify --redis URL --stream KEY [--json]` — the team's central copy in a Redis stream,
 * every replica's chain (URL also from $SNOWMUX_REDIS_URL, so a password need not be on the command line).
 */
import type { CommandIo } from '../command-io.js';
import { resolveHome } from '../../wire/home.js';
import { errorMessage } from '../../errors.js';
import { escapeInvisibleJson, escapeLine, hideUrlCredentials, shownUrl } from '../../shown-text.js';
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
  if (rest.includes('--redis')) return verifyStream(rest, io, USAGE);
  let args = rest;
  const take = (flag: string): string | undefined => {
    const at = args.indexOf(flag);
    if (at < 0) return undefined;
    const value = args[at + 1];
    args = [...args.slice(0, at), ...args.slice(at + 2)];
    return value;
  };
  const home = resolveHome({ flag: take('--home') });
  const configPath = take('--config');
  const { runAuditVerify } = await import('../../hub/audit/verify-command.js');
  return runAuditVerify(args, io, home, configuredAuditDir(home, configPath));
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

async function verifyStream(args: string[], io: CommandIo, USAGE: string): Promise<number> {
  const at = args.indexOf('--redis');
  const given = args[at + 1];
  const url = given !== undefined && !given.startsWith('--') ? given : process.env.SNOWMUX_REDIS_URL;
  const streamAt = args.indexOf('--stream');
  const key = streamAt >= 0 ? args[streamAt + 1] : undefined;
  if (url === undefined || !/^rediss?:\/\//.test(url) || key === undefined || key.startsWith('--')) {
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
  if (args.includes('--json')) {
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

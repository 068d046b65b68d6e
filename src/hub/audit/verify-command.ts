/**
 * `snowmux audit verify [--dir DIR]… [--json]`: exit 0 when the chain is intact (crash residue is listed but
 * allowed), 1 when problems were found, 2 on a usage error or an unreadable directory. Several `--dir`
 * (the replicas of a team hub, each with its own chain) are verified at once and reported per directory;
 * all must be intact for exit 0.
 */
import { resolve } from 'node:path';
import { errorMessage } from '../../errors.js';
import { escapeInvisibleJson, escapeLine, hideApiKeys, shownText } from '../../shown-text.js';
import { closestName } from '../../closest-name.js';
import { readdir } from 'node:fs/promises';
import { STDIO_CHAINS_DIR, defaultAuditDir, stdioChainDirs } from './audit-files.js';
import { verifyAudit } from './verify.js';
import type { VerifyProblemKind, VerifyResult } from './verify.js';

export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export const AUDIT_VERIFY_USAGE = `Usage: snowmux audit verify [--home DIR] [--config PATH] [--dir DIR]... [--json]
       snowmux audit verify --redis [URL] --stream KEY [--json]   (URL defaults to $SNOWMUX_REDIS_URL)

Checks the hash-chained audit log: every record's hash, the chain across files, seq continuity,
file order, torn lines and the audit-head anchor.
  --config PATH   the config file the hub runs with, for its [audit] dir (default <home>/config.toml,
                  or $SNOWMUX_CONFIG); one that cannot be read is an error unless --dir is given
  --dir DIR       audit directory (default: the home's [audit] dir, e.g. ~/.snowmux/audit, and the
                  chain each \`snowmux stdio\` process keeps under its stdio/); repeat it to verify the
                  chains of several team hub replicas at once, reported per directory
  --redis, --stream
                  a team hub's central copy ([audit] redis_stream): every replica's chain in it
  --json          print the full result as JSON
Exit status: 0 chain intact, 1 problems found, 2 usage error or nothing to read.
`;
const USAGE = AUDIT_VERIFY_USAGE;

interface ParsedArgs {
  dirs: string[];
  json: boolean;
  help: boolean;
}

/** The options `audit verify` takes (--home and --config are taken out before this parser sees the rest). */
const VERIFY_OPTIONS = ['--dir', '--json', '--home', '--config', '--redis', '--stream', '--help'];

/** An argument `audit verify` does not take, named with the option it most likely meant. */
export function unknownArgument(arg: string): string {
  const meant = arg.startsWith('-') ? closestName(`--${arg.replace(/^-+/, '').split('=')[0]}`, VERIFY_OPTIONS) : undefined;
  return `unknown argument: ${shownText(arg, 40)}${meant ? ` (did you mean ${meant}?)` : ''}`;
}

function parseArgs(argv: string[]): ParsedArgs | string {
  const out: ParsedArgs = { dirs: [], json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--json') out.json = true;
    else if (arg === '-h' || arg === '--help') out.help = true;
    else if (arg === '--dir') {
      const value = argv[i + 1];
      if (value === undefined || value === '') return '--dir needs a directory';
      out.dirs.push(value);
      i++;
    } else if (arg.startsWith('--dir=')) {
      const value = arg.slice('--dir='.length);
      if (value === '') return '--dir needs a directory';
      out.dirs.push(value);
    } else if (arg === '--stream' || arg.startsWith('--stream=')) {
      // Without --redis (which reads the stream instead of files) --stream has nothing to name.
      return '--stream names the Redis stream that --redis reads (a team hub\'s central copy): snowmux audit verify --redis [URL] --stream KEY';
    } else return unknownArgument(arg);
  }
  return out;
}

/**
 * Body of `snowmux audit verify`. `argv` is what follows `verify`; `homeDir` is the snowmux home
 * (resolveHome(): --home, $SNOWMUX_HOME or ~/.snowmux); the default directory is `configured` (the
 * config's `[audit] dir`, resolved against the home), else the home's `audit` — or, when the config
 * could not be read, why (an error unless --dir names the directories).
 */
export async function runAuditVerify(argv: string[], io: CommandIo, homeDir: string, configured?: string | { error: string }): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.stderr.write(`snowmux audit verify: ${hideApiKeys(args)}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  // Without --dir the config says where the log is: one that cannot be read must not make verify check
  // <home>/audit instead and call a log intact that the hub may not write at all.
  let dirs = args.dirs.map((d) => resolve(d));
  if (dirs.length === 0) {
    if (typeof configured === 'object') {
      io.stderr.write(`snowmux audit verify: cannot tell where the hub writes its audit log: ${configured.error.replace(/\.$/, '')}. Fix the config file, or name the directory with --dir.\n`);
      return 2;
    }
    dirs = await defaultChains(configured ?? defaultAuditDir(homeDir));
  }
  const results: { dir: string; result: VerifyResult }[] = [];
  for (const dir of dirs) {
    try {
      results.push({ dir, result: await verifyAudit(dir) });
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      // The directory is as typed: an API key pasted as --dir's value is quoted without its secret.
      io.stderr.write(
        hideApiKeys(missing
          ? `snowmux audit verify: no audit directory at ${dir}: no hub has written an audit log there yet. If the hub writes it elsewhere, pass --dir with that directory (or --home / --config as the hub is started).\n`
          : `snowmux audit verify: cannot read ${dir}: ${errorMessage(err)}. Check the path and your permissions.\n`),
      );
      return 2;
    }
  }
  const ok = results.every((r) => r.result.ok);
  if (results.length === 1) {
    const { result } = results[0]!;
    io.stdout.write(args.json ? `${escapeInvisibleJson(JSON.stringify(result, null, 2))}\n` : formatResult(result));
  } else if (args.json) {
    io.stdout.write(`${escapeInvisibleJson(JSON.stringify({ ok, chains: results.map((r) => ({ ...r.result, dir: r.dir })) }, null, 2))}\n`);
  } else {
    for (const r of results) io.stdout.write(`${escapeLine(r.dir)}:\n${formatResult(r.result).trimEnd().replace(/^/gm, '  ')}\n`);
    io.stdout.write(`${results.filter((r) => r.result.ok).length} of ${results.length} chains intact\n`);
  }
  return ok ? 0 : 1;
}

/**
 * The home's chains: the hub's, and each `snowmux stdio` process's under `stdio/`. A home only stdio
 * processes used has no hub chain: it is left out rather than reported as a log whose files were removed.
 */
async function defaultChains(dir: string): Promise<string[]> {
  const stdio = await stdioChainDirs(dir);
  if (stdio.length === 0) return [dir];
  const hubWrote = (await readdir(dir)).some((name) => name !== STDIO_CHAINS_DIR);
  return hubWrote ? [dir, ...stdio] : stdio;
}

/**
 * What to do about each kind of problem: the report says what happened and where, and whoever reads it
 * (a cron job's mail, an auditor) next needs what to compare, what to restore and which records to doubt.
 */
const ADVICE: Readonly<Record<Exclude<VerifyProblemKind, 'torn' | 'unwritten' | 'stray'>, string>> = {
  edited: 'the named records are not what the hub wrote: treat what they say as unproven, and read the originals in a backup of the audit files',
  chain_break: 'the chain was rewritten or records forged from the named record on: compare `lastHash` (`snowmux audit verify --json`) with the head hash kept off this host, and treat every record after the break as unproven until a backup confirms it',
  seq_gap: 'the seq numbers were altered: treat the records from the jump on as unproven and compare them with a backup',
  removed: 'records are missing: restore the named files from a backup; calls of the missing span are unaccounted for — look them up in the warehouse\'s query history (Snowflake: QUERY_HISTORY, by time and QUERY_TAG)',
  reordered: 'records or files were moved or renamed: compare with a backup and put the files back under their own names; the records themselves may be intact (no `edited` line for them)',
  bad_json: 'a line (or audit-head) that is no record the hub wrote: compare the file with a backup; the records around it are checked as usual',
  not_a_file: 'move the named entry out of the audit directory (keep it: it may be evidence); the hub refuses to open the log while it is there',
  lost: 'the hub could not record calls (a full or failing disk: under [audit] on_failure = "refuse" it refused them, under "serve" it answered them) and stopped before noting them: look those calls up in the warehouse\'s query history for that time (Snowflake: QUERY_HISTORY, by time and QUERY_TAG); free space on the audit disk; the next hub start writes the note, and verify then passes with it listed',
};
const ADVICE_ORDER = Object.keys(ADVICE) as (keyof typeof ADVICE)[];

/**
 * The result for a person. Problem messages quote what the files hold (a file name from audit-head, a rotate
 * record's fields): the files are what is being checked, so a tamperer's escape sequence must not erase
 * the report of the tampering, nor a newline in it forge a line of its own.
 */
export function formatResult(result: VerifyResult): string {
  const files = `${result.files} file${result.files === 1 ? '' : 's'}`;
  const records = `${result.records} record${result.records === 1 ? '' : 's'}`;
  const span = result.firstSeq === undefined ? '' : ` (seq ${result.firstSeq}..${result.lastSeq})`;
  const torn = result.problems.filter((p) => p.kind === 'torn');
  const unwritten = result.problems.filter((p) => p.kind === 'unwritten');
  const strays = result.problems.filter((p) => p.kind === 'stray');
  const others = result.problems.filter((p) => p.kind !== 'torn' && p.kind !== 'unwritten' && p.kind !== 'stray');
  const lines: string[] = [];
  if (result.ok) {
    const cutByDisk = torn.filter((p) => p.cause === 'write_failed').length;
    const residue = torn.length === 0 ? '' : `; ${torn.length} torn line${torn.length === 1 ? '' : 's'} (${cutByDisk === torn.length ? 'writes cut short by the disk' : cutByDisk > 0 ? `${cutByDisk} cut short by the disk, the rest crash residue` : 'crash residue'}, not part of the chain)`;
    const gaps = unwritten.length === 0 ? '' : `; ${unwritten.length} note${unwritten.length === 1 ? '' : 's'} of records the hub could not write`;
    const copies = strays.length === 0 ? '' : `; ${strays.length} file${strays.length === 1 ? '' : 's'} named like an external rotation's cop${strays.length === 1 ? 'y' : 'ies'}, not read`;
    lines.push(`audit: ${files}, ${records}, chain intact${span}${residue}${gaps}${copies}`);
  } else {
    const count = others.length + result.omittedProblems;
    const onlyLost = others.every((p) => p.kind === 'lost');
    lines.push(`audit: ${files}, ${records}, ${count} problem${count === 1 ? '' : 's'} found — ${onlyLost ? 'records the hub could not write are missing' : 'the log was altered or damaged'}`);
  }
  for (const p of [...others, ...strays, ...unwritten, ...torn]) lines.push(`  ${p.kind.padEnd(11)} ${escapeLine(p.message)}`);
  if (result.omittedProblems > 0) lines.push(`  … and ${result.omittedProblems} more (use --json for the first ${result.problems.length})`);
  if (!result.ok) {
    lines.push('what to do: first copy this directory elsewhere as it is (it is the evidence); the hub may go on writing (it only appends after the last record and changes nothing before it). Then, per kind:');
    for (const kind of ADVICE_ORDER) if (others.some((p) => p.kind === kind)) lines.push(`  ${kind.padEnd(11)} ${ADVICE[kind]}`);
  }
  if (result.head === 'absent' && result.files > 0) lines.push('  note: no audit-head anchor found; a cut-off tail cannot be detected (the hub writes it while running and on close)');
  for (const h of result.held ?? []) {
    const broken = h.broken === 0 ? '' : ` and ${h.broken} cut-off line${h.broken === 1 ? '' : 's'}`;
    lines.push(`  note: ${escapeLine(h.file)} holds ${h.records} record${h.records === 1 ? '' : 's'}${broken} of hub pid ${h.pid}, written during a take-over and not in the chain yet: the next hub to take the log over chains them in. Do not delete it.`);
  }
  return `${lines.join('\n')}\n`;
}

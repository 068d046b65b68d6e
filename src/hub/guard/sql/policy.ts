/**
 * checkSql: the gate `execute_query` and the governance layer put in front of the warehouse.
 *
 * Rules, in the order they are applied (each refusal names the statement type and the rule):
 * - parseable: the text must lex cleanly under every dialect it will be read with;
 * - non-empty: at least one statement that is not just comments;
 * - single-statement: one statement per call unless the policy allows several;
 * - recognised-statement: the classifier must know what the statement is, even for write roles;
 * - read-only: without allowWrite, only statements that read (and hide no write) pass;
 * - stage-listing: without allowWrite, LIST @stage and SELECT … FROM @stage need allowStageListing;
 * - allowed-types: a policy may further restrict the statement types.
 * checkSql never throws; anything unexpected becomes an SQL_UNPARSEABLE refusal.
 */

import { shownText } from '../../../shown-text.js';
import { DIALECT_NAMES, classificationOf, type ClassifiedStatement, type SqlDialectChoice } from './dialect-classifier.js';
import type { SqlDialect, Token } from './lexer.js';
import { engineHazard } from './engine-limits.js';
import { judgeFunctionCall, revealsHubMachine } from './function-rules.js';
import { leadingWords, readSql, type SqlReading, type StatementReading } from './sql-reading.js';
import { READ_TYPES, refusalAdvice, typeHazard, type StatementType } from './statement-types.js';

export interface SqlPolicy {
  /** Allow statements that change data, objects, privileges or session state. */
  allowWrite: boolean;
  /** Allow more than one statement per call (each must pass on its own). Default false. */
  allowMultiStatement?: boolean;
  /** Further restricts the statement types that may run. */
  allowedTypes?: ReadonlySet<StatementType>;
  /** In read-only sessions, allow LIST @stage and queries that read staged files. Default false. */
  allowStageListing?: boolean;
  /** The engine the SQL will run on. Default 'any': it must pass under both Snowflake's and DuckDB's rules. */
  dialect?: SqlDialectChoice;
}

export type SqlRefusalCode = 'SQL_REFUSED' | 'SQL_EMPTY' | 'SQL_MULTI_STATEMENT' | 'SQL_UNPARSEABLE';

export type SqlVerdict =
  | { allowed: true; statement: ClassifiedStatement; statements: ClassifiedStatement[] }
  | { allowed: false; code: SqlRefusalCode; statementType: StatementType | 'NONE'; rule: string; message: string };

type Refusal = Extract<SqlVerdict, { allowed: false }>;

/** Longer input is refused before lexing: it bounds memory, and no interactive query needs it. */
export const MAX_SQL_LENGTH = 4 * 1024 * 1024;

const READ_ONLY_SUMMARY = 'Only SELECT, WITH … SELECT, SHOW, DESCRIBE and EXPLAIN run here.';
const WRITE_ADVICE = 'Ask an admin for a role with write access, or run it in Snowsight.';

export function checkSql(sql: string, policy: SqlPolicy): SqlVerdict {
  try {
    return checkSqlUnguarded(sql, policy);
  } catch {
    return unreadable();
  }
}

/**
 * checkSql for one engine, also handing back the reading it judged, so the rest of the call (object
 * rules, session effects) reads the same tokens instead of lexing the SQL again. `reading` is undefined
 * when the SQL was refused before it was read (not text, too long).
 */
export function checkSqlReading(sql: string, policy: SqlPolicy & { dialect: SqlDialect }): { verdict: SqlVerdict; reading?: SqlReading } {
  try {
    const early = precheck(sql);
    if (early) return { verdict: early };
    const reading = readSql(sql, policy.dialect);
    return { verdict: judgeReading(reading, policy, false), reading };
  } catch {
    return { verdict: unreadable() };
  }
}

function unreadable(): SqlVerdict {
  return refuse('SQL_UNPARSEABLE', 'NONE', 'parseable', 'Query refused: the SQL could not be checked (rule: parseable). Simplify the query and try again.');
}

/** Refusals decided before the SQL is lexed. */
function precheck(sql: unknown): Refusal | undefined {
  if (typeof sql !== 'string') {
    return refuse('SQL_UNPARSEABLE', 'NONE', 'parseable', 'Query refused: the query is not text (rule: parseable). Send the SQL as a string.');
  }
  if (sql.length > MAX_SQL_LENGTH) {
    return refuse(
      'SQL_UNPARSEABLE',
      'NONE',
      'parseable',
      `Query refused: the query is ${sql.length} characters long; the limit is ${MAX_SQL_LENGTH} (rule: parseable). Send a shorter statement.`,
    );
  }
  return undefined;
}

function checkSqlUnguarded(sql: string, policyInput: SqlPolicy): SqlVerdict {
  const policy: SqlPolicy = policyInput !== null && typeof policyInput === 'object' ? policyInput : { allowWrite: false };
  const early = precheck(sql);
  if (early) return early;
  const dialect = policy.dialect ?? 'any';
  if (dialect !== 'any') return judgeReading(readSql(sql, dialect), policy, false);
  const snowflake = judgeReading(readSql(sql, 'snowflake'), policy, true);
  if (!snowflake.allowed) return snowflake;
  const duckdb = judgeReading(readSql(sql, 'duckdb'), policy, true);
  if (!duckdb.allowed) return duckdb;
  return snowflake;
}

function judgeReading(reading: SqlReading, policy: SqlPolicy, nameDialect: boolean): SqlVerdict {
  const dialect = reading.dialect;
  const result = classificationOf(reading);
  if (result.error) {
    const where = result.error.offset === undefined ? '' : ` at offset ${result.error.offset}`;
    const readAs = nameDialect ? ` when read as ${DIALECT_NAMES[dialect]} SQL` : '';
    return refuse(
      'SQL_UNPARSEABLE',
      'NONE',
      'parseable',
      `Query refused: the SQL could not be read safely: ${result.error.message}${where}${readAs} (rule: parseable). Fix the quoting or comments and try again.`,
    );
  }
  const statements = result.statements;
  const first = statements[0];
  if (first === undefined) {
    return refuse('SQL_EMPTY', 'NONE', 'non-empty', 'Query refused: the query is empty or only comments (rule: non-empty). Send one SQL statement.');
  }
  if (statements.length > 1 && policy.allowMultiStatement !== true) {
    return refuse(
      'SQL_MULTI_STATEMENT',
      first.type,
      'single-statement',
      `Query refused: found ${statements.length} statements; send one statement per call (rule: single-statement).`,
    );
  }
  for (let i = 0; i < statements.length; i++) {
    const statement = statements[i];
    if (statement === undefined) continue;
    const refusal =
      (dialect === 'duckdb' ? engineRefusal(reading.statements[i]?.tokens ?? [], statement.type, policy.allowWrite ? statement.hazards : undefined) : hubFilesRefusal(statement.type)) ??
      judgeStatement(statement, policy);
    if (refusal) {
      if (statements.length > 1) refusal.message = refusal.message.replace(/^Query refused: /, `Query refused (statement ${i + 1} of ${statements.length}): `);
      return refusal;
    }
  }
  const last = reading.statements[reading.statements.length - 1];
  const lost = policy.allowWrite && last !== undefined ? sessionStateChange(last) : undefined;
  if (lost !== undefined) {
    const inOneCall = policy.allowMultiStatement === true ? ' To use it for a statement, send both in one call (the change lasts until the call ends).' : '';
    return refuse(
      'SQL_REFUSED',
      last!.type,
      'session-state',
      `Query refused: ${lost}, and that change would end with this call: each call runs on a pooled session that is set back to the profile's context when the call ends, so the next call would run as if it had not happened (rule: session-state). Qualify names instead (DATABASE.SCHEMA.TABLE) or pass database and schema as the tool's parameters; the role and warehouse come from the profile.${inOneCall}`,
    );
  }
  return { allowed: true, statement: first, statements };
}

/**
 * What a statement changes in its session (USE, SET/UNSET, ALTER SESSION), or undefined. Only the session's
 * next statements in the same call see such a change: one that ends a call was answered "executed
 * successfully" and silently undone, and the editor's next query read another schema's table.
 */
function sessionStateChange(statement: StatementReading): string | undefined {
  if (statement.type === 'USE' || statement.type === 'SET' || statement.type === 'UNSET') return typeHazard(statement.type);
  if (statement.type !== 'ALTER') return undefined;
  // A `->>` chain is typed by its last part, which is what ends the call.
  const chained = statement.tokens.map((t) => t.text).lastIndexOf('->>');
  const [first, second] = leadingWords({ ...statement, tokens: statement.tokens.slice(chained + 1) }, 2);
  return first === 'ALTER' && second === 'SESSION' ? 'ALTER SESSION changes session settings' : undefined;
}

/**
 * PUT and GET on Snowflake: refused for every role, writers too. snowflake-sdk runs a statement whose text starts
 * with PUT or GET as a file transfer on the machine it runs on, so `PUT file:///…` uploaded a file of the hub
 * machine (its config.toml, a profile's private key) to a stage the caller then reads, and `GET @s file:///dir/`
 * wrote files into any directory the hub user may write (~/.ssh/, a shell profile): a team hub's key holder with a
 * writing role reached the hub's file system. The path is never the caller's own machine.
 */
function hubFilesRefusal(type: StatementType): Refusal | undefined {
  if (type !== 'PUT' && type !== 'GET') return undefined;
  const does = type === 'PUT' ? 'would upload a file of the machine the hub runs on' : 'would write files into a directory of the machine the hub runs on';
  return refuse(
    'SQL_REFUSED',
    type,
    'hub-files',
    `Query refused: ${type} ${does} (the driver moves files where it runs, not on your machine), for every role (rule: hub-files). Upload or download files with SnowSQL, the Snowflake CLI or Snowsight on your own machine; through the hub, read staged files with SELECT … FROM @stage and load them with COPY INTO.`,
  );
}

/** SQL that would end the hub process running the embedded engine: refused for every role, writers too. */
/** `hazards`: given for a writer, whose statements the read-only rule (which refuses the hub-machine readers) does not judge. */
function engineRefusal(tokens: readonly Token[], type: ClassifiedStatement['type'], hazards?: readonly string[]): Refusal | undefined {
  const feature = engineFeature(tokens) ?? (hazards === undefined ? undefined : hubMachineReader(tokens, hazards, type));
  if (feature !== undefined) {
    return refuse(
      'SQL_REFUSED',
      type,
      'engine-features',
      feature.hubMachine
        ? `Query refused: ${feature.statement} ${feature.does}, for every role on the embedded warehouse (rule: engine-features). ${feature.instead}`
        : `Query refused: ${feature.statement} ${feature.does}; the embedded warehouse runs with the extensions built into it and keeps no secrets, for every role (rule: engine-features). ${feature.instead}`,
    );
  }
  const hazard = engineHazard(tokens);
  if (hazard === undefined) return undefined;
  return refuse('SQL_REFUSED', type, 'engine-safety', `Query refused: the query ${hazard} (rule: engine-safety).`);
}

const EXTENSION_ADVICE = 'Use the functions the embedded warehouse has (it loads no extensions: they would read files or the network), or a Snowflake profile.';
const ATTACH_ADVICE = 'Query the sample database (SNOWMUX_SAMPLE), or use a Snowflake profile.';
const SECRET_ADVICE = "Its file and network readers are off, so a secret would have nothing to serve: query the sample's tables, or use a Snowflake profile.";

/**
 * DuckDB statements that install, load or update engine extensions, or create or drop secrets (credentials
 * for its file and network readers). The engine's own settings refuse them (no external access, no
 * extension loading), with errors that name the hub user's home directory; the hub refuses them first,
 * for writers too, saying what is true here.
 */
interface EngineFeature {
  statement: string;
  does: string;
  instead: string;
  /** A reader of facts about the hub machine (hubMachineReader), not an extension or secret statement. */
  hubMachine?: true;
}

function engineFeature(tokens: readonly Token[]): EngineFeature | undefined {
  const words: string[] = [];
  for (const t of tokens) {
    if (words.length >= 6) break;
    if (t.kind === 'punct' && t.text === '(' && words.length === 0) continue;
    if (t.kind !== 'word') break;
    words.push(t.upper ?? t.text.toUpperCase());
  }
  const [first, second] = words;
  if (first === 'INSTALL' || (first === 'FORCE' && second === 'INSTALL')) return { statement: 'INSTALL', does: 'installs an engine extension', instead: EXTENSION_ADVICE };
  if (first === 'LOAD') return { statement: 'LOAD', does: 'loads an engine extension', instead: EXTENSION_ADVICE };
  // Attached databases belong to the engine, not the connection: one ATTACH (of the sample's own file, the one
  // the engine lets through) showed in every other session's list_databases until the hub stopped.
  if (first === 'ATTACH' || first === 'DETACH') {
    return { statement: first, does: `${first === 'ATTACH' ? 'attaches a database to' : 'detaches a database from'} the engine, which every session shares`, instead: ATTACH_ADVICE, hubMachine: true };
  }
  if (first === 'UPDATE' && second === 'EXTENSIONS') {
    // `UPDATE extensions SET …` (or with an alias) updates a table of that name.
    const after = tokens[2];
    if (after === undefined || after.kind === 'semicolon' || (after.kind === 'punct' && after.text === '(')) {
      return { statement: 'UPDATE EXTENSIONS', does: 'downloads new versions of engine extensions', instead: EXTENSION_ADVICE };
    }
  }
  if (first === 'CREATE' || first === 'DROP') {
    let i = 1;
    if (first === 'CREATE' && words[i] === 'OR' && words[i + 1] === 'REPLACE') i += 2;
    if (words[i] === 'PERSISTENT' || words[i] === 'TEMPORARY' || words[i] === 'TEMP') i++;
    if (words[i] === 'SECRET') {
      return first === 'CREATE'
        ? { statement: 'CREATE SECRET', does: "stores credentials for the engine's file and network readers", instead: SECRET_ADVICE }
        : { statement: 'DROP SECRET', does: 'removes stored engine credentials', instead: SECRET_ADVICE };
    }
  }
  return undefined;
}

/**
 * A reader of facts about the hub machine rather than the data (the database file's path, the engine's
 * directories and settings, the hub's environment): read-only roles are refused it as a hazard; writers, whose
 * statements skip that rule, were shown the hub user's home (`SELECT path FROM duckdb_databases`,
 * `PRAGMA database_list`, `current_setting('secret_directory')`, `getenv('HOME')`).
 */
function hubMachineReader(tokens: readonly Token[], hazards: readonly string[], type: ClassifiedStatement['type']): EngineFeature | undefined {
  const instead = 'Query the data instead; the embedded warehouse keeps what it shows about the machine it runs on to the hub\'s operator (`snowmux status`).';
  const hazard = hazards.find(revealsHubMachine);
  if (hazard !== undefined) return { statement: 'the query', does: hazard, instead, hubMachine: true };
  // Wherever a write names one (its query: CREATE … AS, INSERT … SELECT … RETURNING), whose function calls
  // the read-only rule does not list as hazards. A read's hazards are complete: a lexical look there refused
  // a writer what a read-only role may run (a column alias pg_database).
  for (const t of READ_TYPES.has(type) ? [] : tokens) {
    if (t.kind !== 'word' && t.kind !== 'quoted_ident') continue;
    const verdict = judgeFunctionCall(t.upper ?? t.text.toUpperCase(), 'duckdb');
    if (verdict.hazard !== undefined && revealsHubMachine(`names x, which ${verdict.hazard}`)) {
      return { statement: `the statement names ${shownText(t.text)}, which`, does: verdict.hazard, instead, hubMachine: true };
    }
  }
  const [first, second] = tokens.filter((t) => t.kind === 'word').slice(0, 2).map((t) => t.upper ?? t.text.toUpperCase());
  if (first === 'PRAGMA' && second !== undefined) {
    const verdict = judgeFunctionCall(`PRAGMA_${second}`, 'duckdb');
    if (verdict.hazard !== undefined && revealsHubMachine(`calls x, which ${verdict.hazard}`)) return { statement: `PRAGMA ${second.toLowerCase()}`, does: verdict.hazard, instead, hubMachine: true };
  }
  return undefined;
}

function judgeStatement(statement: ClassifiedStatement, policy: SqlPolicy): Refusal | undefined {
  const type = statement.type;
  if (type === 'UNKNOWN') {
    const opening = describeOpening(statement.text);
    const only = policy.allowWrite ? '' : ` ${READ_ONLY_SUMMARY}`;
    return refuse(
      'SQL_REFUSED',
      type,
      'recognised-statement',
      `Query refused: statement type UNKNOWN: ${opening} is not a statement the classifier recognises (rule: recognised-statement).${only} Check the spelling, or run it in Snowsight.`,
    );
  }
  if (policy.allowWrite && (type === 'BEGIN' || type === 'COMMIT' || type === 'ROLLBACK')) {
    // Each call runs on a pooled session that a transaction statement ends with the call: a BEGIN was
    // answered "executed successfully" and dropped, the next call's DELETE committed at once, and the
    // ROLLBACK after it undid nothing.
    return refuse(
      'SQL_REFUSED',
      type,
      'transactions',
      `Query refused: ${type} controls a transaction, and a transaction cannot span calls here: each call runs on a pooled session, and one that opens a transaction is ended with its call, so the statements after it would be committed one by one (rule: transactions). Put the statements in one block: BEGIN … END (Snowflake Scripting), which commits or rolls back as a whole.`,
    );
  }
  if (!policy.allowWrite) {
    if (!statement.readOnly) return readOnlyRefusal(statement);
    const stageListing = policy.allowStageListing === true;
    if (!stageListing && (type === 'LIST' || statement.stages.length > 0)) {
      const what = statement.stages.length > 0 ? `reads the stage ${statement.stages.slice(0, 5).map((stage) => shownText(stage)).join(', ')}` : 'lists a stage';
      return refuse(
        'SQL_REFUSED',
        type,
        'stage-listing',
        `Query refused: this ${type} statement ${what}, and stage access is not enabled for this role (rule: stage-listing). Query the tables loaded from the stage, or ask an admin to allow stage listing.`,
      );
    }
  }
  if (policy.allowedTypes && !policy.allowedTypes.has(type)) {
    const allowed = [...policy.allowedTypes].join(', ') || 'none';
    return refuse(
      'SQL_REFUSED',
      type,
      'allowed-types',
      `Query refused: statement type ${type} is not allowed for this role (rule: allowed-types). Allowed here: ${allowed}. Ask an admin if you need ${type}.`,
    );
  }
  return undefined;
}

function readOnlyRefusal(statement: ClassifiedStatement): Refusal {
  const type = statement.type;
  const hazards = statement.hazards.length > 0 ? statement.hazards : [typeHazard(type)];
  const more = hazards.length > 1 ? ` (and ${hazards.length - 1} more issue${hazards.length > 2 ? 's' : ''})` : '';
  if (READ_TYPES.has(type)) {
    return refuse(
      'SQL_REFUSED',
      type,
      'read-only',
      `Query refused: ${sentence(hazards[0] ?? '')}${more} (rule: read-only). This ${type} statement is not read-only. ${READ_ONLY_SUMMARY} Remove that part of the query, or ${lowerFirst(WRITE_ADVICE)}`,
    );
  }
  const specific = hazards.find((h) => h !== typeHazard(type));
  const why = specific ? ` — ${specific}` : '';
  return refuse(
    'SQL_REFUSED',
    type,
    'read-only',
    `Query refused: statement type ${type} is not allowed in a read-only session${why} (rule: read-only). ${READ_ONLY_SUMMARY} ${refusalAdvice(type)}`,
  );
}

/** Hazards like "calls X, which …" read better with a subject. */
function sentence(hazard: string): string {
  return hazard.startsWith('calls ') || hazard.startsWith('reads ') ? `the query ${hazard}` : hazard;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function describeOpening(text: string): string {
  let i = 0;
  // Skip whitespace and leading comments without regular expressions that could backtrack.
  for (;;) {
    while (i < text.length && /\s/.test(text.charAt(i))) i++;
    if (text.startsWith('--', i) || text.startsWith('//', i)) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return 'the statement';
      i = nl + 1;
    } else if (text.startsWith('/*', i)) {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) return 'the statement';
      i = close + 2;
    } else break;
  }
  const firstWord = /^\S{1,40}/.exec(text.slice(i, i + 40))?.[0] ?? '';
  const printable = firstWord.replace(/[^\x20-\x7e]/g, '?').replace(/"/g, "'");
  return printable ? `the statement starting with "${printable}"` : 'the statement';
}

function refuse(code: SqlRefusalCode, statementType: StatementType | 'NONE', rule: string, message: string): Refusal {
  return { allowed: false, code, statementType, rule, message };
}

/**
 * The policy checks the call pipeline runs, each throwing POLICY_DENIED with what happened, the rule
 * that said no, and what to do instead.
 */
import type { SqlDialectChoice, SqlReading } from '../guard/sql/classifier.js';
import type { SnowmuxError } from '../../errors.js';
import { displayName } from '../names/object-pattern.js';
import { policyDenied, type EffectiveRole, type ObjectRef } from './policy.js';
import { CompiledRole, type Verdict } from './role.js';
import { analyzeSqlObjects, sqlObjectsOfReading, type ObjectAccess, type SqlContext, type SqlObjectAnalysis } from './sql-objects.js';

const ASK_ADMIN = 'Ask an admin to change the role in config.toml';

/** Tools that reach the same data as the query tools, offered when a role may not run SQL. */
const METADATA_ADVICE = 'Use list_tables/describe_table, or ask an admin.';

export function enforceTool(role: EffectiveRole, tool: string): void {
  const verdict: Verdict =
    role instanceof CompiledRole ? role.explainTool(tool) : role.toolAllowed(tool) ? { allowed: true } : { allowed: false, rule: 'tools' };
  if (verdict.allowed) return;
  const advice = /query|fetch|sql/i.test(tool) && role.toolAllowed('describe_table') ? METADATA_ADVICE : `${ASK_ADMIN} to allow it.`;
  throw policyDenied(`Tool "${tool}" is not allowed for role "${role.name}" (rule: ${verdict.rule}). ${advice}`, {
    role: role.name,
    tool,
    rule: verdict.rule,
  });
}

/**
 * For metadata tools: `ref` is the database, schema or object the tool was asked about, `what` its kind
 * ("database", "schema", "table", "view"). A database or schema passes when the role may see something
 * in it (the tool's listing is then filtered with canSee).
 */
export function enforceObject(role: EffectiveRole, ref: ObjectRef, what: string): void {
  const verdict = objectVerdict(role, ref, false);
  if (verdict.allowed) return;
  const the = what ? `the ${what} ` : '';
  throw policyDenied(
    `Access denied: role "${role.name}" may not access ${the}${displayName(ref)} (rule: ${verdict.rule}). ${ASK_ADMIN}, or use an object you can access.${spellingHint(verdict)}`,
    { role: role.name, object: displayName(ref), rule: verdict.rule },
  );
}

/**
 * The database or schema a call asks to run in (the `database`/`schema` parameters of execute_query and
 * explain_query): the session switches to it before the statement runs, and an unqualified function,
 * procedure or model in the statement resolves there, where no table name shows it. A role passes when it
 * may see something in it, as for a metadata tool; the objects the statement names are judged on their own.
 */
export function enforceCallContext(role: EffectiveRole, ref: ObjectRef): void {
  if (role instanceof CompiledRole && !role.objectsRestricted) return;
  const verdict = objectVerdict(role, ref, false);
  if (verdict.allowed) return;
  throw policyDenied(refusalMessage(role.name, ref, 'use', verdict.rule) + spellingHint(verdict), { role: role.name, object: displayName(ref), access: 'use', rule: verdict.rule });
}

/**
 * Throws POLICY_DENIED naming the object and the rule (allow/deny pattern) and what to do; denies opaque references for roles with deny patterns or non-wildcard allow lists.
 * SQL output is not filtered, so a database or schema the statement lists (SHOW … IN, DESCRIBE SCHEMA)
 * must be visible in full. Pass the engine's dialect when known; the default reads the SQL both ways.
 */
export function enforceSqlObjects(
  role: EffectiveRole,
  sql: string,
  context: { database: string; schema: string },
  options: { dialect?: SqlDialectChoice } = {},
): void {
  if (role instanceof CompiledRole && !role.objectsRestricted) return;
  judgeObjects(role, analyzeSqlObjects(sql, context, options));
}

/**
 * The most words, literals and symbols a statement may hold for its objects to be judged (for a role that
 * may use only some objects). Judging costs ~10–30 µs per name on the hub's only thread: `SELECT * FROM t0,
 * t1, …` under the 4 MB input bound (500,000 names) held every session's calls for 13 s. 100,000 tokens
 * bound that near a second at worst; a query past it is ~500 KB of SQL, and the embedded engine refuses
 * such a statement anyway (engine-limits.ts, MAX_TOKENS).
 */
export const MAX_JUDGED_TOKENS = 100_000;

/** enforceSqlObjects for SQL the read-only check already read: its tokens, not a second lexing. */
export function enforceObjectsOfReading(role: EffectiveRole, reading: SqlReading, context: SqlContext): NameToResolve[] {
  if (role instanceof CompiledRole && !role.objectsRestricted) return [];
  const tokens = reading.statements.reduce((n, s) => n + s.tokens.length, 0);
  if (tokens > MAX_JUDGED_TOKENS) {
    throw policyDenied(
      `Access denied: the statement holds ${tokens.toLocaleString('en-US')} words, literals and symbols, and role "${role.name}" may use only some objects, so the hub judges every object a statement names — ` +
        `for at most ${MAX_JUDGED_TOKENS.toLocaleString('en-US')} of them, since judging more would hold every other caller's calls (rule: objects-bounded). Split it into several queries, or load long lists of values into a table first.`,
      { role: role.name, rule: 'objects-bounded', tokens },
    );
  }
  return judgeObjects(role, sqlObjectsOfReading(reading, context));
}

/**
 * An allowed object whose name the engine would resolve to an object the role may not use if the
 * allowed one did not exist (see ReferencedObject.fallback): the statement may run only once the allowed
 * one is known to exist. The rules cannot tell from the SQL alone; the warehouse's catalog can.
 */
export interface NameToResolve {
  /** A table or view; or a schema (no name) that DuckDB's `SHOW TABLES FROM x` lists when it exists, the database x otherwise. */
  ref: ObjectRef & { schema: string };
  fallback: ObjectRef;
  access: ObjectAccess;
  /** The rule that refuses the fallback. */
  rule: string;
}

function judgeObjects(role: EffectiveRole, analysis: SqlObjectAnalysis): NameToResolve[] {
  const toResolve: NameToResolve[] = [];
  for (const found of analysis.refs) {
    const { access, fallback, function: isFunction } = found;
    let { ref } = found;
    // `SHOW TABLES FROM x` (DuckDB): the schema x of the current database when there is one, else the database x.
    const schemaOrDatabase = ref.schema !== undefined && ref.name === undefined && fallback !== undefined && fallback.schema === undefined;
    let verdict = objectVerdict(role, ref, true);
    // Neither may be listed: the refusal names the database x, as one name written alone most often means.
    if (!verdict.allowed && schemaOrDatabase) {
      const database = objectVerdict(role, fallback, true);
      if (!database.allowed) {
        verdict = database;
        ref = fallback;
      }
    }
    // A schema the role may not list is refused even where the database would be listed instead (when the schema
    // does not exist): the catalog look-up sees only what the role may see, so it could not tell "absent" from "hidden".
    if (!verdict.allowed) {
      throw policyDenied(isFunction ? functionRefusal(role.name, ref, verdict.rule) : refusalMessage(role.name, ref, access, verdict.rule) + spellingHint(verdict), {
        role: role.name,
        object: displayName(ref),
        access,
        rule: verdict.rule,
      });
    }
    if (fallback === undefined || ref.schema === undefined || (ref.name === undefined && !schemaOrDatabase)) continue;
    const instead = objectVerdict(role, fallback, true);
    if (instead.allowed) continue;
    // The name-resolution stage can tell only whether a table or view exists, so a function the engine
    // might find in the fallback schema instead is refused here, with the way to name the allowed one.
    if (isFunction) {
      throw policyDenied(
        `Access denied: ${ref.name}(…) is not a built-in function, so the engine looks for a user-defined function ${displayName(ref)} and, ` +
          `when there is none, ${displayName(fallback)}, which role "${role.name}" may not read (rule: ${instead.rule}). ` +
          `Call it by its full name (database.schema.function), or ${lowerFirst(ASK_ADMIN)}.`,
        { role: role.name, object: displayName(fallback), access, rule: instead.rule },
      );
    }
    toResolve.push({ ref: { ...ref, schema: ref.schema }, fallback, access, rule: instead.rule });
  }
  const reason = analysis.opaqueReasons[0];
  if (reason !== undefined) {
    throw policyDenied(
      `Access denied: role "${role.name}" may only use some objects, and snowmux cannot tell which objects this statement uses (${reason}). ` +
        `Name the tables directly in the query, or ${lowerFirst(ASK_ADMIN)}.`,
      { role: role.name, rule: 'opaque', reasons: analysis.opaqueReasons },
    );
  }
  return toResolve;
}

/** The refusal when an allowed name is not there and the engine would use the fallback instead. */
export function unresolvedNameDenied(role: EffectiveRole, name: NameToResolve, dialect: 'snowflake' | 'duckdb'): SnowmuxError {
  if (name.ref.name === undefined) {
    // SHOW TABLES FROM x: the schema x of the current database if it exists, else every schema of database x.
    return policyDenied(
      `Access denied: ${displayName(name.ref)} does not exist, and the embedded engine then lists every schema of the database ${displayName(name.fallback)}, ` +
        `which role "${role.name}" may not list in full (rule: ${name.rule}); SHOW output is not filtered. ` +
        `Check the name, name both parts (SHOW TABLES FROM database.schema), or use list_tables, which shows only what the role may see.`,
      { role: role.name, object: displayName(name.fallback), access: name.access, rule: name.rule },
    );
  }
  const engine = dialect === 'snowflake' ? 'Snowflake' : 'the embedded engine';
  const how =
    name.fallback.database !== name.ref.database
      ? `${engine} reads the name as database.object`
      : `${engine} looks for an unqualified name in the database's ${name.fallback.schema} schema next`;
  return policyDenied(
    `Access denied: ${displayName(name.ref)} does not exist, and ${how}: it would use ${displayName(name.fallback)}, which role "${role.name}" ` +
      `may not ${name.access === 'write' ? 'change' : 'read'} (rule: ${name.rule}). Check the name, or qualify it fully (database.schema.object).`,
    { role: role.name, object: displayName(name.fallback), access: name.access, rule: name.rule },
  );
}

function objectVerdict(role: EffectiveRole, ref: ObjectRef, sqlListing: boolean): Verdict {
  if (role instanceof CompiledRole) {
    const full = ref.schema !== undefined && ref.name !== undefined;
    return sqlListing && !full ? role.explainScope(ref) : role.explainObject(ref);
  }
  return role.canSee(ref) ? { allowed: true } : { allowed: false, rule: 'object policy' };
}

function refusalMessage(roleName: string, ref: ObjectRef, access: ObjectAccess, rule: string): string {
  const name = displayName(ref);
  switch (access) {
    case 'list':
      if (ref.name === undefined) {
        return (
          `Access denied: role "${roleName}" may not list everything in ${name} (rule: ${rule}); SHOW and DESCRIBE output is not filtered. ` +
          `Use list_schemas/list_tables, which show only what the role may see, or ${lowerFirst(ASK_ADMIN)}.`
        );
      }
      return `Access denied: role "${roleName}" may not access ${name} (rule: ${rule}). ${ASK_ADMIN}, or use an object you can access.`;
    case 'write':
      return `Access denied: role "${roleName}" may not change ${name} (rule: ${rule}). ${ASK_ADMIN}, or use an object you can access.`;
    case 'use':
      return `Access denied: role "${roleName}" may not switch to ${name} (rule: ${rule}). Pass database and schema as tool parameters for objects you can access, or ${lowerFirst(ASK_ADMIN)}.`;
    default:
      return `Access denied: role "${roleName}" may not read ${name} (rule: ${rule}). ${ASK_ADMIN}, or use an object you can access.`;
  }
}

/** A call of a function that is not the engine's own: a UDF or macro reads what its definition reads. */
function functionRefusal(roleName: string, ref: ObjectRef, rule: string): string {
  return (
    `Access denied: role "${roleName}" may not read ${displayName(ref)} (rule: ${rule}): ${ref.name ?? ''}(…) is not one of the engine's built-in ` +
    `functions but a user-defined function or macro, which reads what its definition reads. ${ASK_ADMIN}, or use a function you can access.`
  );
}

/**
 * How to write a name the role grants in another case: an unquoted name is read upper-cased, and the
 * rules compare the names they allow exactly. Empty when the refusal offers no such name.
 */
function spellingHint(verdict: Verdict): string {
  if (verdict.allowed || verdict.spelling === undefined) return '';
  const spelled = displayName(verdict.spelling);
  return ` The role allows ${spelled}, which differs only in case: write the name exactly so, quotes included (an unquoted name is read in upper case).`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

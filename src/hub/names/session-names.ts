/**
 * The two Snowflake session parameters that decide which object a name means: QUOTED_IDENTIFIERS_IGNORE_CASE
 * (TRUE: `"orders"` names ORDERS) and SEARCH_PATH (where an unqualified name is looked for after the current
 * schema). An account or user may set either, so a session can start with them changed: the Snowflake warehouse
 * reads them once per login (SHOW PARAMETERS IN SESSION), the object rules judge names with what the last login
 * read, and a statement judged with other values than its connection has is not sent.
 */
export interface SessionNames {
  quotedIgnoreCase: boolean;
  /** As Snowflake shows it, e.g. `$current, $public`. */
  searchPath: string;
}

/** What the object rules assume when nothing else is known: Snowflake's defaults. */
export const DEFAULT_SESSION_NAMES: SessionNames = { quotedIgnoreCase: false, searchPath: '$current, $public' };

/**
 * The search path's entries, upper-cased, spaces dropped. Snowflake's default is `$current, $public` (newer
 * accounts show `$current, $public, snowflake.ml`: SNOWFLAKE.ML holds Snowflake's ML classes, not tables or
 * user functions, so it adds no object a name could fall back to).
 */
function pathEntries(searchPath: string): string[] {
  return searchPath
    .split(',')
    .map((e) => e.replace(/\s+/g, '').toUpperCase())
    .filter((e) => e !== '' && e !== 'SNOWFLAKE.ML');
}

/** Whether unqualified names fall back as the object rules assume: the current schema, then the database's PUBLIC. */
export function defaultSearchPath(names: SessionNames): boolean {
  const entries = pathEntries(names.searchPath);
  return entries.length === 2 && entries[0] === '$CURRENT' && entries[1] === '$PUBLIC';
}

/**
 * A resolved name (normalizeIdentifier's) as a session with these settings reads it: under
 * QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE Snowflake reads `"weather"` as WEATHER, so every name is in upper
 * case (an unquoted one already is). The SQL reading folds its quoted names the same way (sql-objects.ts).
 */
export function sessionName(name: string, names: SessionNames | undefined): string {
  return names?.quotedIgnoreCase === true ? name.toUpperCase() : name;
}

/** Each name of a (possibly partial) object reference as sessionName reads it. */
export function sessionRef<T extends { database: string; schema?: string | undefined; name?: string | undefined }>(ref: T, names: SessionNames | undefined): T {
  if (names?.quotedIgnoreCase !== true) return ref;
  return {
    ...ref,
    database: sessionName(ref.database, names),
    ...(ref.schema === undefined ? {} : { schema: sessionName(ref.schema, names) }),
    ...(ref.name === undefined ? {} : { name: sessionName(ref.name, names) }),
  };
}

export function sameSessionNames(a: SessionNames, b: SessionNames): boolean {
  return a.quotedIgnoreCase === b.quotedIgnoreCase && pathEntries(a.searchPath).join(',') === pathEntries(b.searchPath).join(',');
}

/** The values from SHOW PARAMETERS rows (`key`, `value` columns); missing ones are Snowflake's defaults. */
export function sessionNamesOfRows(columns: readonly string[], rows: readonly (readonly unknown[])[]): SessionNames {
  const key = columns.findIndex((c) => c.toLowerCase() === 'key');
  const value = columns.findIndex((c) => c.toLowerCase() === 'value');
  const names: SessionNames = { ...DEFAULT_SESSION_NAMES };
  if (key < 0 || value < 0) return names;
  for (const row of rows) {
    const k = String(row[key] ?? '').toUpperCase();
    const v = row[value] === null || row[value] === undefined ? '' : String(row[value]);
    if (k === 'QUOTED_IDENTIFIERS_IGNORE_CASE') names.quotedIgnoreCase = v.trim().toUpperCase() === 'TRUE';
    else if (k === 'SEARCH_PATH') names.searchPath = v;
  }
  return names;
}

/**
 * What the last login of each Snowflake user read (the values come from the user and its account, whichever
 * role or pool logged in): the object rules judge a call's names with it before its warehouse is opened.
 */
const lastRead = new Map<string, SessionNames>();
const MAX_USERS = 1000;

/** The Snowflake user whose sessions these are: its account (and where the account is reached) and its name. */
export function sessionNamesKey(profile: { account: string; user: string; accessUrl?: string | undefined; host?: string | undefined }): string {
  return JSON.stringify([profile.accessUrl ?? profile.host ?? '', profile.account.toUpperCase(), profile.user.toUpperCase()]);
}

export function recordSessionNames(key: string, names: SessionNames): void {
  lastRead.delete(key);
  lastRead.set(key, names);
  if (lastRead.size > MAX_USERS) lastRead.delete(lastRead.keys().next().value!);
}

/** Undefined before a login of this user read them. */
export function knownSessionNames(key: string): SessionNames | undefined {
  return lastRead.get(key);
}

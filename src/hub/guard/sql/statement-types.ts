/** Statement types the classifier reports, which of them read, and why the others are not read-only. */

export type StatementType =
  // read-only families
  | 'SELECT'
  | 'VALUES'
  | 'SHOW'
  | 'DESCRIBE'
  | 'EXPLAIN'
  | 'LIST'
  // data changes
  | 'INSERT'
  | 'UPDATE'
  | 'DELETE'
  | 'MERGE'
  | 'TRUNCATE'
  | 'COPY'
  // stage files (Snowflake)
  | 'PUT'
  | 'GET'
  | 'REMOVE'
  // objects and privileges
  | 'CREATE'
  | 'ALTER'
  | 'DROP'
  | 'UNDROP'
  | 'COMMENT'
  | 'GRANT'
  | 'REVOKE'
  // code and session
  | 'CALL'
  | 'EXECUTE'
  | 'SCRIPT'
  | 'USE'
  | 'SET'
  | 'UNSET'
  | 'BEGIN'
  | 'COMMIT'
  | 'ROLLBACK'
  | 'PREPARE'
  | 'DEALLOCATE'
  // DuckDB engine statements
  | 'PRAGMA'
  | 'ATTACH'
  | 'DETACH'
  | 'INSTALL'
  | 'LOAD'
  | 'EXPORT'
  | 'IMPORT'
  | 'CHECKPOINT'
  | 'VACUUM'
  | 'ANALYZE'
  | 'UNKNOWN';

/** Types that only read. A statement of one of these types is still not read-only if it has hazards. */
export const READ_TYPES: ReadonlySet<StatementType> = new Set<StatementType>(['SELECT', 'VALUES', 'SHOW', 'DESCRIBE', 'EXPLAIN', 'LIST']);

/** Query forms: what may follow WITH, sit inside a CTE or subquery, or be EXPLAINed in a read-only session. */
export const QUERY_STARTERS: ReadonlySet<string> = new Set(['SELECT', 'WITH', 'VALUES', 'FROM', 'TABLE', 'PIVOT', 'UNPIVOT', 'PIVOT_WIDER', 'PIVOT_LONGER']);

/** Keywords that open a statement which is not a query, mapped to the type they produce. */
export const STATEMENT_KEYWORDS: ReadonlyMap<string, StatementType> = new Map<string, StatementType>([
  ['INSERT', 'INSERT'],
  ['UPSERT', 'INSERT'],
  ['UPDATE', 'UPDATE'],
  ['DELETE', 'DELETE'],
  ['MERGE', 'MERGE'],
  ['TRUNCATE', 'TRUNCATE'],
  ['COPY', 'COPY'],
  ['PUT', 'PUT'],
  ['GET', 'GET'],
  ['REMOVE', 'REMOVE'],
  ['RM', 'REMOVE'],
  ['CREATE', 'CREATE'],
  ['ALTER', 'ALTER'],
  ['DROP', 'DROP'],
  ['UNDROP', 'UNDROP'],
  ['COMMENT', 'COMMENT'],
  ['GRANT', 'GRANT'],
  ['REVOKE', 'REVOKE'],
  ['CALL', 'CALL'],
  ['EXECUTE', 'EXECUTE'],
  ['EXEC', 'EXECUTE'],
  ['DECLARE', 'SCRIPT'],
  ['LET', 'SCRIPT'],
  ['USE', 'USE'],
  ['SET', 'SET'],
  ['UNSET', 'UNSET'],
  ['RESET', 'UNSET'],
  ['BEGIN', 'BEGIN'],
  ['START', 'BEGIN'],
  ['COMMIT', 'COMMIT'],
  ['END', 'COMMIT'],
  ['ROLLBACK', 'ROLLBACK'],
  ['ABORT', 'ROLLBACK'],
  ['PREPARE', 'PREPARE'],
  ['DEALLOCATE', 'DEALLOCATE'],
  ['PRAGMA', 'PRAGMA'],
  ['ATTACH', 'ATTACH'],
  ['DETACH', 'DETACH'],
  ['INSTALL', 'INSTALL'],
  ['LOAD', 'LOAD'],
  ['EXPORT', 'EXPORT'],
  ['IMPORT', 'IMPORT'],
  ['CHECKPOINT', 'CHECKPOINT'],
  ['VACUUM', 'VACUUM'],
  ['ANALYZE', 'ANALYZE'],
  ['ANALYSE', 'ANALYZE'],
]);

/** Keywords that open a read-only family statement. */
export const READ_KEYWORDS: ReadonlyMap<string, StatementType> = new Map<string, StatementType>([
  ['SHOW', 'SHOW'],
  ['DESCRIBE', 'DESCRIBE'],
  ['DESC', 'DESCRIBE'],
  ['SUMMARIZE', 'DESCRIBE'],
  ['EXPLAIN', 'EXPLAIN'],
  ['LIST', 'LIST'],
  ['LS', 'LIST'],
]);

/** Why a statement of this type is not read-only; the default hazard for the type. */
export function typeHazard(type: StatementType): string {
  switch (type) {
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'MERGE':
    case 'TRUNCATE':
      return `${type} changes table data`;
    case 'COPY':
      return 'COPY moves data between tables and files';
    case 'PUT':
    case 'GET':
    case 'REMOVE':
      return `${type} transfers or deletes files on a stage`;
    case 'CREATE':
    case 'ALTER':
    case 'DROP':
    case 'UNDROP':
    case 'COMMENT':
      return `${type} changes database objects`;
    case 'GRANT':
    case 'REVOKE':
      return `${type} changes privileges`;
    case 'CALL':
      return 'CALL runs a stored procedure, which can change anything';
    case 'EXECUTE':
      return 'EXECUTE runs dynamic SQL, a task or a prepared statement, none of which can be checked here';
    case 'SCRIPT':
      return 'a Snowflake Scripting block can run any statement';
    case 'USE':
      return "USE changes the session's database, schema, role or warehouse";
    case 'SET':
    case 'UNSET':
      return `${type} changes session variables or settings`;
    case 'BEGIN':
    case 'COMMIT':
    case 'ROLLBACK':
      return `${type} controls transactions`;
    case 'PREPARE':
    case 'DEALLOCATE':
      return `${type} manages prepared statements, whose execution cannot be checked here`;
    case 'PRAGMA':
      return 'PRAGMA changes or inspects engine settings';
    case 'ATTACH':
    case 'DETACH':
      return `${type} connects or disconnects database files`;
    case 'INSTALL':
    case 'LOAD':
      return `${type} installs or loads engine extensions`;
    case 'EXPORT':
    case 'IMPORT':
      return `${type} writes or reads a whole database to or from files`;
    case 'CHECKPOINT':
    case 'VACUUM':
    case 'ANALYZE':
      return `${type} runs engine maintenance that writes to the database`;
    case 'UNKNOWN':
      return 'the statement is not one the classifier recognises';
    default:
      return `${type} is not read-only`;
  }
}

/** Every type name, for validating configuration such as a role's allowed statement types. */
export const ALL_STATEMENT_TYPES: readonly StatementType[] = [
  'SELECT', 'VALUES', 'SHOW', 'DESCRIBE', 'EXPLAIN', 'LIST', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'COPY',
  'PUT', 'GET', 'REMOVE', 'CREATE', 'ALTER', 'DROP', 'UNDROP', 'COMMENT', 'GRANT', 'REVOKE', 'CALL', 'EXECUTE', 'SCRIPT',
  'USE', 'SET', 'UNSET', 'BEGIN', 'COMMIT', 'ROLLBACK', 'PREPARE', 'DEALLOCATE', 'PRAGMA', 'ATTACH', 'DETACH', 'INSTALL',
  'LOAD', 'EXPORT', 'IMPORT', 'CHECKPOINT', 'VACUUM', 'ANALYZE', 'UNKNOWN',
];

/** What to do instead of running a refused statement of this type in a read-only session. */
export function refusalAdvice(type: StatementType): string {
  if (type === 'USE') return 'Pass database and schema as tool parameters instead; the role and warehouse come from the profile.';
  return 'Ask an admin for a role with write access, or run it in Snowsight.';
}

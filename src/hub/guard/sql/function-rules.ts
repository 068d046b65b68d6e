/**
 * Functions that make an otherwise read-only query do something else.
 *
 * Snowflake: most side effects reachable from a SELECT are SYSTEM$ "control" functions
 * (https://docs.snowflake.com/sql-reference/functions-system). Snowflake adds new ones every few
 * releases, so the rule is an allowlist: a SYSTEM$ function is fine only if it is on
 * READ_ONLY_SYSTEM_FUNCTIONS below (the documented "information" functions that only report).
 * Anything else is refused; the families in SYSTEM_FUNCTION_FAMILIES just give the refusal a reason.
 *
 * DuckDB: the embedded warehouse has no SYSTEM$ functions, but its table functions read arbitrary
 * files and URLs (read_csv, read_text, glob, parquet_scan, …), run SQL passed as a string (query,
 * json_execute_serialized_sql), or change engine state (checkpoint, enable_logging, …). These are
 * refused as defence in depth; the DuckDB warehouse should also run with enable_external_access=false.
 */

import type { SqlDialect } from './lexer.js';

/** SYSTEM$ functions documented as returning information only. Upper case, with the prefix. */
const READ_ONLY_SYSTEM_FUNCTIONS: ReadonlySet<string> = new Set([
  'SYSTEM$ALLOWLIST',
  'SYSTEM$ALLOWLIST_PRIVATELINK',
  'SYSTEM$AUTO_REFRESH_STATUS',
  'SYSTEM$BEHAVIOR_CHANGE_BUNDLE_STATUS',
  'SYSTEM$CATALOG_LINK_STATUS',
  'SYSTEM$CLIENT_VERSION_INFO',
  'SYSTEM$CLIENT_VULNERABILITY_INFO',
  'SYSTEM$CLUSTERING_DEPTH',
  'SYSTEM$CLUSTERING_INFORMATION',
  'SYSTEM$CLUSTERING_RATIO',
  'SYSTEM$CURRENT_USER_TASK_NAME',
  'SYSTEM$DATA_METRIC_SCAN',
  'SYSTEM$DATABASE_REFRESH_HISTORY',
  'SYSTEM$DATABASE_REFRESH_PROGRESS',
  'SYSTEM$DATABASE_REFRESH_PROGRESS_BY_JOB',
  'SYSTEM$ESTIMATE_AUTOMATIC_CLUSTERING_COSTS',
  'SYSTEM$ESTIMATE_QUERY_ACCELERATION',
  'SYSTEM$ESTIMATE_SEARCH_OPTIMIZATION_COSTS',
  'SYSTEM$EXPLAIN_JSON_TO_TEXT',
  'SYSTEM$EXPLAIN_PLAN_JSON',
  'SYSTEM$EXTERNAL_TABLE_PIPE_STATUS',
  'SYSTEM$GET_CLASSIFICATION_RESULT',
  'SYSTEM$GET_DIRECTORY_TABLE_STATUS',
  'SYSTEM$GET_ICEBERG_TABLE_INFORMATION',
  'SYSTEM$GET_PREDECESSOR_RETURN_VALUE',
  'SYSTEM$GET_PRIVATELINK_CONFIG',
  'SYSTEM$GET_RESULTSET_STATUS',
  'SYSTEM$GET_SERVICE_LOGS',
  'SYSTEM$GET_SNOWFLAKE_EGRESS_IP_RANGES',
  'SYSTEM$GET_SNOWFLAKE_PLATFORM_INFO',
  'SYSTEM$GET_TAG',
  'SYSTEM$GET_TAG_ALLOWED_VALUES',
  'SYSTEM$GET_TAG_ON_CURRENT_COLUMN',
  'SYSTEM$GET_TAG_ON_CURRENT_TABLE',
  'SYSTEM$GET_TASK_GRAPH_CONFIG',
  'SYSTEM$INTERNAL_STAGES_PUBLIC_ACCESS_STATUS',
  'SYSTEM$IS_GLOBAL_DATA_SHARING_ENABLED_FOR_ACCOUNT',
  'SYSTEM$LAST_CHANGE_COMMIT_TIME',
  'SYSTEM$LIST_ALERT_TEMPLATES',
  'SYSTEM$PIPE_STATUS',
  'SYSTEM$REGISTRY_LIST_IMAGES',
  'SYSTEM$SHOW_ACTIVE_BEHAVIOR_CHANGE_BUNDLES',
  'SYSTEM$SHOW_BUDGETS_FOR_RESOURCE',
  'SYSTEM$SHOW_BUDGETS_IN_ACCOUNT',
  'SYSTEM$STREAM_BACKLOG',
  'SYSTEM$STREAM_GET_TABLE_TIMESTAMP',
  'SYSTEM$STREAM_HAS_DATA',
  'SYSTEM$SUPPORTED_DBT_VERSIONS',
  'SYSTEM$TASK_RUNTIME_INFO',
  'SYSTEM$TYPEOF',
  'SYSTEM$WHITELIST',
  'SYSTEM$WHITELIST_PRIVATELINK',
  // A control function, but its only effect is to wait; the hub's own query timeout bounds it.
  'SYSTEM$WAIT',
]);

/** Families of SYSTEM$ functions that are not read-only, with the reason given to the user. */
const SYSTEM_FUNCTION_FAMILIES: ReadonlyArray<{ pattern: RegExp; reason: string }> = [
  { pattern: /^SYSTEM\$(CANCEL_|ABORT_|USER_TASK_CANCEL_)/, reason: 'cancels or aborts running queries, sessions, transactions or tasks' },
  { pattern: /^SYSTEM\$(SEND_)/, reason: 'sends an email or notification outside Snowflake' },
  { pattern: /^SYSTEM\$(LOG|ADD_EVENT|SET_SPAN_ATTRIBUTES|REPORT_HEALTH_STATUS)/, reason: 'writes log or telemetry events' },
  { pattern: /^SYSTEM\$(SET_|UNSET_|GLOBAL_ACCOUNT_SET_PARAMETER)/, reason: 'changes account, object or session settings' },
  {
    pattern: /^SYSTEM\$(ENABLE_|DISABLE_|ENFORCE_|BLOCK_|UNBLOCK_|OPT_IN_|OPT_OUT_)/,
    reason: 'turns account features on or off',
  },
  {
    pattern: /^SYSTEM\$(PIPE_FORCE_RESUME|PIPE_REBINDING|TASK_DEPENDENTS_ENABLE|CONVERT_PIPES|TRIGGER_|SCHEDULE_|SNOWPIPE_STREAMING_UPDATE)/,
    reason: 'resumes or reconfigures pipes, tasks or refreshes',
  },
  {
    pattern: /^SYSTEM\$(GENERATE_|ISSUE_|SHOW_OAUTH_CLIENT_SECRETS|START_OAUTH_FLOW|FINISH_OAUTH_FLOW|DECODE_PAT)/,
    reason: 'issues or reveals credentials',
  },
  {
    pattern:
      /^SYSTEM\$(AUTHORIZE_|REVOKE_|PROVISION_|DEPROVISION_|REGISTER_|DEREGISTER_|UNREGISTER_|ACTIVATE_|DEACTIVATE_|RESTORE_|VERIFY_DNS|UNVERIFY_)/,
    reason: 'changes network, key or security configuration',
  },
  {
    pattern: /^SYSTEM\$(CREATE_|ADD_|REMOVE_|LINK_|UNLINK_|MIGRATE_|CLEANUP_|INITIATE_|COMMIT_|BEGIN_DEBUG|END_DEBUG)/,
    reason: 'creates, links or removes account objects',
  },
  { pattern: /^SYSTEM\$(EXECUTE_|EVALUATE_)/, reason: 'runs an operation or persists results' },
];

/**
 * SNOWFLAKE.CORTEX.FINETUNE('<action>', …) is one function for four actions: 'SHOW' and 'DESCRIBE' report
 * jobs; 'CREATE' starts a billed fine-tuning job that creates a model object, 'CANCEL' stops someone's job.
 */
const FINETUNE_READ_ACTIONS: ReadonlySet<string> = new Set(['SHOW', 'DESCRIBE']);

/** Snowflake functions without the SYSTEM$ prefix that act rather than read. */
const SNOWFLAKE_ACTION_FUNCTIONS: ReadonlyMap<string, string> = new Map([['EXECUTE_AI_EVALUATION', 'starts an AI evaluation run']]);

/** Snowflake functions that read or expose staged files; they need stage access like `FROM @stage`. */
const SNOWFLAKE_STAGE_FUNCTIONS: ReadonlySet<string> = new Set([
  'BUILD_SCOPED_FILE_URL',
  'BUILD_STAGE_FILE_URL',
  'GET_ABSOLUTE_PATH',
  'GET_PRESIGNED_URL',
  'GET_RELATIVE_PATH',
  'GET_STAGE_LOCATION',
  'INFER_SCHEMA',
  // SNOWFLAKE.CORTEX.PARSE_DOCUMENT('@stage', 'path'): the document's text, read from the stage.
  'PARSE_DOCUMENT',
  'TO_FILE',
]);

/**
 * Whether the Snowflake function `name` (upper case, last part of its name) takes a stage location as its
 * first argument (or its `LOCATION =>` / `STAGE_NAME =>` / `FILE_URL =>` one) and reads what it names.
 */
export function takesStageLocation(name: string): boolean {
  return SNOWFLAKE_STAGE_FUNCTIONS.has(name);
}

/** Built-in Snowflake table functions that may appear inside TABLE(...). Anything else may be a stored procedure. */
const SNOWFLAKE_BUILTIN_TABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  'FLATTEN',
  'GENERATOR',
  'RESULT_SCAN',
  'SPLIT_TO_TABLE',
  'STRTOK_SPLIT_TO_TABLE',
  'VALIDATE',
  'VALIDATE_PIPE_LOAD',
  'INFER_SCHEMA',
  'GET_OBJECT_REFERENCES',
  'GET_LINEAGE',
  'GET_QUERY_OPERATOR_STATS',
  'TASK_DEPENDENTS',
  'EXTERNAL_TABLE_FILES',
  'EXTERNAL_TABLE_FILE_REGISTRATION_HISTORY',
]);

const JSON_RECURSION = 'walks a JSON document with no depth limit: a deeply nested one crashes the embedded engine, and the hub with it';

/** DuckDB functions refused by exact name, with the reason. */
const DUCKDB_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ['GLOB', 'lists files on the hub machine'],
  ['SNIFF_CSV', 'reads a file from the hub machine or the network'],
  ['QUERY', 'runs SQL passed as a string, which cannot be checked'],
  ['QUERY_TABLE', 'reads a table named by a string, which cannot be checked'],
  ['JSON_EXECUTE_SERIALIZED_SQL', 'runs SQL passed as a string, which cannot be checked'],
  ['CHECKPOINT', 'writes a checkpoint to the database file'],
  ['FORCE_CHECKPOINT', 'writes a checkpoint to the database file'],
  ['ENABLE_LOGGING', 'changes engine logging'],
  ['DISABLE_LOGGING', 'changes engine logging'],
  ['TRUNCATE_DUCKDB_LOGS', 'deletes engine logs'],
  ['WRITE_LOG', 'writes to the engine log'],
  ['ENABLE_PROFILING', 'changes engine profiling'],
  ['DISABLE_PROFILING', 'changes engine profiling'],
  ['ENABLE_PEG_PARSER', 'changes the engine parser'],
  ['DISABLE_PEG_PARSER', 'changes the engine parser'],
  ['GETENV', "reads the hub's environment variables"],
  // Connection state a SELECT can set: the next session on the pooled connection would inherit it.
  ['SETSEED', "sets the connection's random seed, so another session's random() and gen_random_uuid() would follow it (for a repeatable sample use USING SAMPLE … REPEATABLE (seed))"],
  ['DUCKDB_SECRETS', 'lists stored secrets'],
  ['WHICH_SECRET', 'looks up stored secrets'],
  // Catalog readers about the hub machine rather than the warehouse's data: file paths of attached
  // databases, settings (directories, limits), extensions and their install paths, temp files, logs.
  ['PRAGMA_DATABASE_LIST', 'reveals the file paths of the databases on the hub machine'],
  ['DUCKDB_DATABASES', 'reveals the file paths of the databases on the hub machine'],
  ['DUCKDB_SETTINGS', "reveals the engine's settings (directories, limits) on the hub machine"],
  ['CURRENT_SETTING', "reveals the engine's settings (directories, limits) on the hub machine"],
  ['DUCKDB_EXTENSIONS', 'reveals the extensions and their install paths on the hub machine'],
  ['DUCKDB_TEMPORARY_FILES', 'reveals temporary files on the hub machine'],
  ['DUCKDB_EXTERNAL_FILE_CACHE', 'reveals files read on the hub machine'],
  ['DUCKDB_LOGS', 'reads the engine log'],
  ['DUCKDB_LOG_CONTEXTS', 'reads the engine log'],
  ['PRAGMA_USER_AGENT', 'reveals the hub machine\'s platform'],
  ['PRAGMA_PLATFORM', 'reveals the hub machine\'s platform'],
  ['PRAGMA_METADATA_INFO', 'reveals storage details of the database files on the hub machine'],
  ['PRAGMA_STORAGE_INFO', 'reveals storage details of the database files on the hub machine'],
  ['PRAGMA_DATABASE_SIZE', 'reveals storage details of the database files on the hub machine'],
  // Built-in views and macros over the readers above are those readers under another name; the
  // differential test derives this closure from the engine's own catalog, so a new one is caught.
  ['PG_SETTINGS', "reveals the engine's settings (directories, limits) on the hub machine"],
  ['DUCKDB_PROFILING_SETTINGS', "reveals the engine's settings (directories, limits) on the hub machine"],
  ['PG_DATABASE', 'lists the databases attached to the engine on the hub machine'],
  ['DUCKDB_LOGS_PARSED', 'reads the engine log'],
  ['GET_BLOCK_SIZE', 'reveals storage details of the database files on the hub machine'],
  ['HISTOGRAM_VALUES', 'reads a table named by a string, which cannot be checked'],
  // These walk a JSON document recursively with no depth bound: a 300,000-deep document of a few hundred
  // KB (built in the query itself) overflows the native stack and kills the hub process with every session.
  ['JSON_STRUCTURE', JSON_RECURSION],
  ['JSON_GROUP_STRUCTURE', JSON_RECURSION],
  ['JSON_CONTAINS', JSON_RECURSION],
  ['JSON_MERGE_PATCH', JSON_RECURSION],
  ['JSON_PRETTY', JSON_RECURSION],
]);

/**
 * Why DuckDB readers are refused when what they show is about the hub machine (file paths of the databases,
 * the engine's directories and settings, its environment, its platform): refused for every role, writers too
 * (policy.ts, rule engine-features). A writer's statement runs on the same machine; the paths are the hub
 * user's home.
 */
const HUB_MACHINE_REASONS: readonly string[] = [...new Set(
  // Not glob's "lists files": a file reader the engine refuses (no external access), and GLOB is also the pattern operator.
  [...DUCKDB_FUNCTIONS.values()].filter((reason) => /on the hub machine|hub machine's platform|the hub's environment/.test(reason) && !reason.startsWith('lists files')),
)];

/** Whether a statement's hazard (`calls X, which …`, `reads X, which …`) is one of HUB_MACHINE_REASONS. */
export function revealsHubMachine(hazard: string): boolean {
  return HUB_MACHINE_REASONS.some((reason) => hazard.endsWith(`, which ${reason}`));
}

/** DuckDB function name prefixes and suffixes that read files, URLs or other databases. */
const DUCKDB_FILE_PREFIXES = ['READ_', 'PARQUET_', 'ICEBERG_', 'DELTA_', 'SQLITE_', 'POSTGRES_', 'MYSQL_', 'ST_READ', 'FROM_SUBSTRAIT', 'ARROW_SCAN'];
const NOT_FILE_SCANS: ReadonlySet<string> = new Set(['RESULT_SCAN', 'SEQ_SCAN']);

/** Functions that advance or set a sequence: a write, even inside a SELECT. */
const SEQUENCE_FUNCTIONS: ReadonlySet<string> = new Set(['NEXTVAL', 'SETVAL', 'GETNEXTVAL']);

export interface FunctionVerdict {
  /** Why calling it is not read-only, phrased to follow "calls NAME, which …". */
  hazard?: string;
  /** The function reads staged files (needs stage access in read-only sessions). */
  stageAccess?: boolean;
}

/**
 * What calling the function `name` (upper case, last part of a possibly qualified name) means.
 * `firstArgument` is the call's first argument when it is a plain string literal (unquoted value).
 */
export function judgeFunctionCall(name: string, dialect: SqlDialect, firstArgument?: string): FunctionVerdict {
  if (name.startsWith('SYSTEM$')) {
    if (READ_ONLY_SYSTEM_FUNCTIONS.has(name)) return {};
    const family = SYSTEM_FUNCTION_FAMILIES.find((f) => f.pattern.test(name));
    return { hazard: family ? family.reason : 'is not on the list of known read-only system functions' };
  }
  if (SEQUENCE_FUNCTIONS.has(name)) return { hazard: 'advances or sets a sequence, which is a write' };
  if (dialect === 'snowflake') {
    const action = SNOWFLAKE_ACTION_FUNCTIONS.get(name);
    if (action) return { hazard: action };
    if (name === 'FINETUNE' && !FINETUNE_READ_ACTIONS.has((firstArgument ?? '').trim().toUpperCase())) {
      return { hazard: "starts or cancels a Cortex fine-tuning job unless its first argument is 'SHOW' or 'DESCRIBE'" };
    }
    if (SNOWFLAKE_STAGE_FUNCTIONS.has(name)) return { stageAccess: true };
    return {};
  }
  const known = DUCKDB_FUNCTIONS.get(name);
  if (known) return { hazard: known };
  if (DUCKDB_FILE_PREFIXES.some((p) => name.startsWith(p)) || (name.endsWith('_SCAN') && !NOT_FILE_SCANS.has(name))) {
    return { hazard: 'reads files, URLs or other databases from the hub machine' };
  }
  return {};
}

/**
 * Whether `TABLE(<qualified name>(...))` in Snowflake is a known built-in table function. Snowflake
 * also accepts a stored procedure there (`SELECT * FROM TABLE(my_proc())`), and a procedure can write.
 */
export function isBuiltinTableFunction(qualifiedUpper: readonly string[]): boolean {
  const name = qualifiedUpper[qualifiedUpper.length - 1];
  if (name === undefined) return false;
  if (qualifiedUpper.length >= 2 && qualifiedUpper[qualifiedUpper.length - 2] === 'INFORMATION_SCHEMA') return true;
  // Built-ins are never qualified (INFORMATION_SCHEMA aside): `db.sch.FLATTEN` is a user function or procedure
  // that merely shares the name.
  if (qualifiedUpper.length >= 2) return false;
  if (name.startsWith('SYSTEM$')) return READ_ONLY_SYSTEM_FUNCTIONS.has(name);
  return SNOWFLAKE_BUILTIN_TABLE_FUNCTIONS.has(name);
}

/**
 * Every error code snowmux gives, in one registry: what it means, whose fault it is, and whether it is a
 * refusal by the hub's own rules. The sets the hub acts on (the breaker's infrastructure codes, the
 * retryable ones, the refusals counted apart from errors) are derived from it, never kept by hand.
 * `test/unit/error-codes.test.ts` fails when a code here is never given in src/, or is missing from
 * docs/errors.md.
 *
 * fault:
 *  - 'user'           the caller's request was wrong or not allowed; the warehouse is fine (no breaker)
 *  - 'infrastructure' the warehouse or the way to it failed (feeds the breaker; `transient` → retried)
 *  - 'cancelled'      the call was cancelled
 *  - 'hub'            the hub, shim or CLI itself (set-up, files, sockets, the audit log, bugs)
 */
export interface ErrorCodeFacts {
  fault: 'user' | 'infrastructure' | 'cancelled' | 'hub';
  /** A call refused by the hub's rules (counted as `refused`, not `error`, in status, audit and metrics). */
  refusal?: true;
  /** Infrastructure only: retrying soon may succeed. */
  transient?: boolean;
  /** Not infrastructure, yet the same call sent again soon may succeed (the next hub, a freed connection). */
  retry?: true;
  /** One line for docs/errors.md: what happened and what to do. */
  doc: string;
}

export const ERROR_CODES = {
  // ---- calls refused by the hub's rules -------------------------------------------------------
  SQL_REFUSED: { fault: 'user', refusal: true, doc: 'The statement is not allowed (a write, a session change, a hazard); the message names the rule. Rewrite it as one read.' },
  SQL_MULTI_STATEMENT: { fault: 'user', refusal: true, doc: 'More than one statement in one call. Send one statement per call.' },
  SQL_EMPTY: { fault: 'user', refusal: true, doc: 'The query holds no statement. Pass one SQL statement.' },
  SQL_UNPARSEABLE: { fault: 'user', refusal: true, doc: 'The hub cannot tell what the text does (unterminated string or comment, ambiguous syntax), so it refuses it. Fix the SQL.' },
  POLICY_DENIED: { fault: 'user', refusal: true, doc: 'Your role may not use this tool or object. Ask the hub\'s operator, or use `snowmux status` to see your role.' },
  RATE_LIMITED: { fault: 'user', refusal: true, doc: 'Too many calls for your rate limit; the message says when to retry, and which rule refused (`[roles.<name>.rate]` or `[limits.rate]`) for the hub\'s operator to raise. Over /mcp (HTTP 429 with Retry-After, `data.code`) also a key sending non-tool requests faster than the hub serves them, or one whose recent requests were refused as malformed: wait, and fix those requests.' },
  SCAN_LIMIT: { fault: 'user', refusal: true, doc: 'The engine estimates the query reads more than your role may scan per statement (max_scan_bytes, max_scan_partitions, max_scan_rows); the message gives the estimate and the limit. Filter on the columns the table is clustered or partitioned by, or select less.' },
  QUOTA_EXCEEDED: { fault: 'user', refusal: true, doc: 'Your quota for the window is spent; the message says when it resets (and in how long), and which key of `[roles.<name>.quota]` the hub\'s operator would raise.' },
  HUB_BUSY: { fault: 'user', refusal: true, doc: 'The hub\'s queue is full; retry after the time given.' },
  UNKNOWN_TOOL: { fault: 'user', refusal: true, doc: 'The client called a tool the hub does not have. List tools with tools/list.' },
  SESSION_BUSY: { fault: 'user', refusal: true, retry: true, doc: 'The session already had as many requests (or request bytes) unanswered as the hub allows, so the call was refused before it ran; over /mcp (HTTP 429 with Retry-After), your key had as many requests in flight on this replica as `hub.http_max_requests_per_identity` allows, or one batch held more. Wait for answers before sending more (smaller batches), or give each client its own key.' },
  INVALID_REQUEST: { fault: 'user', refusal: true, doc: 'The request itself was malformed (not a JSON-RPC message of the MCP shape, its params not of its method\'s shape, an id already in use, a batch where the session\'s revision has none, a second initialize, sent before the connection was opened, or in the other protocol version\'s form); the message says which. A tools/call refused so did not run. In a JSON-RPC error, `data.code`.' },
  PARSE_ERROR: { fault: 'user', refusal: true, doc: 'The message is not JSON, or not UTF-8 (JSON-RPC -32700, `data.code`). Send one UTF-8 JSON-RPC message per line (socket, stdio) or per POST body (/mcp).' },
  MESSAGE_TOO_LARGE: { fault: 'user', refusal: true, doc: 'The line was longer than the hub reads (`hub.max_line_bytes`) and was dropped unread (`data.code` of its -32600). Send a smaller message.' },
  PROTOCOL_VERSION_UNSUPPORTED: { fault: 'user', refusal: true, doc: 'The request names an MCP protocol version the hub (or this session) does not speak: a 2026-07-28 `_meta` envelope of another revision (-32022), an MCP-Protocol-Version header it does not know or that differs from what the session negotiated (HTTP 400). The message says which versions it speaks and how to reach each.' },
  SESSION_NOT_FOUND: { fault: 'user', refusal: true, doc: '/mcp: the Mcp-Session-Id names no session of this hub for your key (HTTP 404, -32001): it ended (its hub stopped or was replaced, it idled out, it was deleted). Initialize a new session.' },
  SESSION_REQUIRED: { fault: 'user', refusal: true, doc: '/mcp: a 2025 request other than initialize came without an Mcp-Session-Id header (HTTP 400). Start with initialize and send the session id it answers on every request.' },
  BAD_HTTP_REQUEST: { fault: 'user', refusal: true, doc: '/mcp refused the HTTP request for its method, headers or stream (HTTP 405, 406 Accept, 409 a second GET stream, 415 Content-Type or Content-Encoding): the message says what to send.' },
  TOO_MANY_SESSIONS: { fault: 'user', refusal: true, retry: true, doc: '/mcp: your key holds as many busy 2025 sessions, or notification streams, as the hub allows (HTTP 429, with Retry-After). End sessions you no longer use (HTTP DELETE) or close streams, or retry later.' },
  INVALID_ARGUMENTS: { fault: 'user', refusal: true, doc: 'The arguments do not match the tool\'s input schema; the message names the field (an argument the tool does not take, with the parameter it most likely meant, or one it needs).' },
  WAREHOUSE_CIRCUIT_OPEN: { fault: 'infrastructure', refusal: true, transient: false, doc: 'The warehouse failed repeatedly, so calls to it fail fast for a while; the message says when the hub tries again.' },

  // ---- the caller's request was wrong ---------------------------------------------------------
  SQL_ERROR: { fault: 'user', doc: 'The warehouse rejected the SQL; its own message follows. Fix the statement.' },
  OBJECT_NOT_FOUND: { fault: 'user', doc: 'No such database, schema, table or view (or your role cannot see it). Use the list_* tools.' },
  PERMISSION_DENIED: { fault: 'user', doc: 'The warehouse refused the object to your Snowflake role.' },
  INVALID_ARGUMENT: { fault: 'user', doc: 'A value is out of range or of the wrong form; the message says which.' },
  INVALID_IDENTIFIER: { fault: 'user', doc: 'A database, schema or object name is not a valid identifier.' },
  RESULT_NOT_FOUND: { fault: 'user', doc: 'fetch_results: the query id is unknown, expired or not yours. Run the query again.' },
  RESULT_ROWS_NOT_KEPT: { fault: 'user', doc: 'fetch_results: the hub did not keep rows that far into the result. Narrow the query or run it with a higher limit.' },
  POOL_EXHAUSTED: { fault: 'user', retry: true, doc: 'Every pooled warehouse connection was busy for longer than the wait allowed (local saturation, not an outage). Retry, or raise the pool size.' },
  UNSUPPORTED: { fault: 'user', doc: 'The warehouse or setting in use cannot do this; the message says what would.' },
  ANSWER_TOO_LARGE: { fault: 'user', doc: 'The answer to a request was larger than one message from the hub may be (the socket and stdio faces carry at most 32 MiB a line), so it was not sent and this error (-32603, `data.code`) took its place. Ask for less: a LIMIT, fewer columns, a narrower query, or a lower `hub.max_result_bytes`.' },
  TOOL_ERROR: { fault: 'user', doc: 'A tool answered with an error that carried no code of its own.' },

  // ---- the warehouse or the way to it -----------------------------------------------------------
  WAREHOUSE_UNAVAILABLE: { fault: 'infrastructure', transient: true, doc: 'The warehouse cannot be reached or opened now (also when, while a statement waited, the hub\'s reachability checks found the account\'s address refusing, or it or its statement endpoint answering 502/503/504: the message names the address and, when Snowflake had taken the statement, its query id); retried when it is a read, and counted by the breaker.' },
  RESULT_DOWNLOAD_FAILED: { fault: 'infrastructure', transient: false, doc: 'Snowflake ran the statement, but the later part of its large result could not be downloaded from the account\'s cloud storage (S3, Azure Blob or GCS: another host than the account\'s, which a firewall or proxy may block while small results arrive). Allow the STAGE hosts `SELECT SYSTEM$ALLOWLIST()` lists, then read the result with fetch_results and the query id the message gives (nothing runs again). Neither retried nor counted by the circuit breaker.' },
  WAREHOUSE_ERROR: { fault: 'infrastructure', transient: true, doc: 'The warehouse failed on its side (an internal error, an HTTP failure). An internal error of a statement Snowflake had taken (the message gives its query id) is most often that statement\'s own (too big for the warehouse): it is not sent again and not counted by the circuit breaker; narrow it or use a larger warehouse if it fails the same way again.' },
  WAREHOUSE_CLOSED: { fault: 'hub', doc: 'The warehouse was shut down (the hub is stopping or reloading). Retry once the hub is back.' },
  CONNECTION_LOST: { fault: 'infrastructure', transient: true, doc: 'The warehouse session was lost mid-call; a new one is opened for the next call. Also when the profile\'s settings changed (a rotated key, a reload) while the call waited: nothing was sent, and the call made again runs on the new settings (`details.settingsChanged`).' },
  // 'infrastructure' only when the warehouse never answered: a timeout of a statement it had taken (a Snowflake
  // query id, anything the embedded engine ran) carries details.infrastructure = false (see failure-kind.ts).
  QUERY_TIMEOUT: { fault: 'infrastructure', transient: false, doc: 'The call ran past its timeout and was cancelled in the warehouse too. Narrow the query or raise the setting the message names (the role\'s `statement_timeout`, `hub.call_timeout_ms`, or the profile\'s `statement_timeout_s`). Counted by the circuit breaker only when the warehouse never answered (Snowflake gave no query id for the statement, or a login did not finish): a statement the warehouse was running is the caller\'s heavy query, not an outage, and so is a Cortex call that timed out on a logged-in session. For a statement that may change data the message adds that a change completed before the cancel stays: check query_history before running it again. A call whose time went to waiting in the hub\'s queue for a slot says so instead, with what it waited behind: the hub was busy, not the query slow; retry later (its `retryAfterMs`), or an operator raises `limits.max_concurrent_queries` or `hub.call_timeout_ms`. A statement is not started with less than a tenth of the call timeout (at most 1 s) left: nothing is sent.' },
  AUTH_FAILED: { fault: 'infrastructure', transient: false, doc: 'Snowflake refused the profile\'s credentials. Fix the setting the message names: a password, key or token in connections.toml or a key/token file is used by the next call (`snowmux reload` names the profiles whose credentials changed); one in `[profiles.*]` of config.toml or the hub\'s environment needs `snowmux hub --replace`. The hub does not log in with refused credentials again for a while (15 s, growing to 30 min; the message says until when), so retrying cannot lock the user; a refusal Snowflake gives at login is not counted by the circuit breaker.' },

  // ---- cancellations -----------------------------------------------------------------------------
  ANSWER_NOT_READ: { fault: 'cancelled', retry: true, doc: '/mcp: the hub cut the answer to this request because its client did not read it within the bound of unread answers (all HTTP clients\' unread answers together past the hub\'s limit, this one waiting longest or alone over it); its call was cancelled. Also the answer to the next request of a session whose earlier answer was cut after its bytes were on the connection (its client saw the connection close): that request was not run. Read a streamed answer as it comes (or ask for less: a lower row limit, fetch_results pages), then send the request again.' },
  QUERY_CANCELLED: { fault: 'cancelled', doc: 'The client cancelled the call (or disconnected); it was stopped in the warehouse too (a change that completed before the cancel stays, which the message of a write says).' },
  HUB_STOPPING: { fault: 'cancelled', retry: true, doc: 'The hub stopped while the call ran (grace period over). Retry: the shim reaches the next hub.' },
  HUB_SHUTTING_DOWN: { fault: 'cancelled', retry: true, doc: 'The call was still queued when the hub began to stop. Retry: the shim reaches the next hub.' },

  // ---- the hub, the shim and the CLI ------------------------------------------------------------
  INTERNAL_ERROR: { fault: 'hub', doc: 'A snowmux bug; the hub log has the details. Please report it.' },
  USAGE: { fault: 'hub', doc: 'The command line is wrong; the message shows the right form (`snowmux <command> --help`).' },
  CONFIG_INVALID: { fault: 'hub', doc: 'config.toml (or connections.toml, or an environment setting) is wrong; the message names the file, key and fix.' },
  CONFIG_NOT_FOUND: { fault: 'hub', doc: 'A config file named explicitly (flag or SNOWMUX_CONFIG) does not exist.' },
  CONFIG_UNREADABLE: { fault: 'hub', doc: 'A config file exists but cannot be read (permissions), or is not a regular file (a FIFO, device or socket) or is larger than 1 MiB.' },
  CONFIG_UNSAFE: { fault: 'hub', doc: 'Another user could change or replace a file snowmux takes settings or credentials from — the config file, Snowflake\'s connections.toml or config.toml, a private key or token file, a remote shim\'s --key-file (every user may write it, or a directory on its path, symlinks included, is writable by all without the sticky bit or belongs to another user); snowmux does not use it. The message names the file or directory and what to change.' },
  HOME_UNUSABLE: { fault: 'hub', doc: 'The snowmux home cannot be created or used, or a path under your home directory (`~/…`: the default home, `--home ~/x`, a key file, an editor\'s or service manager\'s file) has none to go under: $HOME is relative, or empty or unset with no home directory in the system\'s user database. The message says which path and what to do.' },
  HOME_NOT_OWNED: { fault: 'hub', doc: 'The snowmux home belongs to another user, another user could replace it through its path (a symlink of theirs in a directory every user may write, such as /tmp; a directory on the way that they own, or that every user may write without the sticky bit), or a home others could write holds an entry another user owns (the message names it); snowmux refuses to use it.' },
  HOME_TOO_OPEN: { fault: 'hub', doc: 'The snowmux home is readable or writable by others; `chmod 700` it.' },
  RUNTIME_DIR_UNSAFE: { fault: 'hub', doc: 'The per-user runtime directory for the socket is a symlink, someone else\'s, open to others, or too long a path for a socket.' },
  SOCKET_NOT_OWNED: { fault: 'hub', doc: 'The hub socket belongs to another user; the shim sends it nothing.' },
  EDITOR_CONFIG_UNWRITABLE: { fault: 'hub', doc: '`snowmux setup --write` could not write the editor\'s config file (read-only, permissions), or would not: another user could replace it there (its directory, or one on its path, is writable by every user without the sticky bit, or belongs to another user); it is unchanged. Fix that, or paste the entry the command prints without --write.' },
  HUB_ALREADY_RUNNING: { fault: 'hub', doc: 'A hub already serves this home (it answers on the socket, or holds the home\'s claim `hub.pid`: the message names its pid); use it, or `snowmux hub --replace` (which refuses to downgrade a newer hub unless given `--allow-downgrade`, and to replace a hub a service manager runs unless given `--force`: the message names the manager\'s restart command).' },
  HUB_NOT_RUNNING: { fault: 'hub', doc: 'No hub answers for this home; start one with `snowmux hub` (a shim starts one by itself).' },
  HUB_LISTEN_FAILED: { fault: 'hub', doc: 'The hub could not listen on its socket, or, on `hub --replace`, a port of `hub.http_listen` or `hub.metrics_listen` is held by another program or cannot be listened on at all (an address no interface has, a privileged port: nothing is taken over; free the port or choose another), or by a previous hub that is stopped (SIGSTOP: resume it with `kill -CONT` or end it, then replace again); the message says which.' },
  HUB_START_FAILED: { fault: 'hub', doc: 'A hub the shim started exited at once; its own error follows.' },
  HUB_START_TIMEOUT: { fault: 'hub', doc: '`snowmux hub --replace` took the socket but did not finish starting (home claim, audit log, listeners) within 60 s: it gives the socket back and the running hub serves on (it takes the socket back itself a little later if the new hub cannot, frozen). The message names the step it was in; see the home\'s hub.log, fix it, and replace again.' },
  HUB_LOST: { fault: 'hub', doc: 'The hub went away (crashed, was killed, restarted, stopped answering, or ended the session) while the call ran: the shim answers it so (JSON-RPC -32001, `data.code`), and the call may or may not have completed. A read can be run again (`data.retryable`); for a write, check query_history (or the table) first. The shim reaches the next hub by itself.' },
  HUB_UNREACHABLE: { fault: 'hub', doc: 'The shim could not reach or start a hub in time; retry, or run `snowmux hub` in a terminal to see why.' },
  HUB_NO_ANSWER: { fault: 'hub', doc: 'The hub accepted the connection but did not answer a control request in time.' },
  HUB_NO_WELCOME: { fault: 'hub', doc: 'The hub accepted the shim\'s connection but never answered its hello.' },
  HUB_BAD_HANDSHAKE: { fault: 'hub', doc: 'Something that is not a snowmux hub answered on the socket, or a remote shim\'s --url is no /shim endpoint (it must end in /shim), or a --url (shim or `status`) answers with a redirect: snowmux follows none (the key would go with it); give the address it names as --url.' },
  HUB_TLS_FAILED: { fault: 'hub', doc: 'No trusted TLS connection to a wss:// or https:// --url (a remote shim, `status --url`): its certificate is not trusted on this machine (self-signed, a private CA: put the CA\'s PEM file in NODE_EXTRA_CA_CERTS), names another host, or is out of date; or the port does not speak TLS. snowmux never sends the key without checking the certificate; the message says which and what to do.' },
  HUB_DRAINING: { fault: 'hub', retry: true, doc: 'The hub is stopping and takes no new sessions; the shim reaches the next hub. Over /mcp, HTTP 503: retry in a moment, against the next hub.' },
  HUB_TOO_OLD: { fault: 'hub', doc: 'The running hub is older than this shim understands; `snowmux hub --replace` starts the new one.' },
  SHIM_TOO_OLD: { fault: 'hub', doc: 'This shim is older than the running hub accepts; update the package the editor launches.' },
  PROFILE_NOT_ALLOWED: { fault: 'user', doc: 'A remote shim (over /shim, with an API key) named a profile the hub does not let remote shims choose. Drop --profile, or ask the operator to list it in hub.http_shim_profiles.' },
  BAD_HELLO: { fault: 'hub', doc: 'A client sent the hub a malformed hello; the message names the field. Not a snowmux shim, or a broken one.' },
  KEYS_WRITE_FAILED: { fault: 'hub', doc: '`snowmux keys create|revoke|rotate` could not write the home\'s keys.json (a full or read-only disk, permissions): the message says the key was NOT created, revoked or rotated, and keys.json is unchanged. Fix what it names, then run the command again.' },
  TEAM_REDIS_UNREACHABLE: { fault: 'hub', refusal: true, retry: true, doc: 'A team hub replica could not ask its Redis (hub.redis_url) something a call must know and has no safe local answer for: who ran a query whose result the call reads (fetch_results, query_profile, RESULT_SCAN), when this replica did not run it. The call is refused rather than served to someone who may not own the result; retry once the replica is back on Redis (`snowmux status`: team.mode), or run the query again.' },
  TEAM_REDIS_FAILED: { fault: 'hub', doc: 'The team\'s Redis (hub.redis_url) failed or did not answer a `snowmux keys` command within 5 s; the message says whether the key was changed. Make Redis answer writes again, then run the command again.' },
  HTTP_UNAUTHORIZED: { fault: 'hub', doc: 'The hub\'s HTTP face refused the API key (missing, unknown, revoked or expired): create one with `snowmux keys create`; pass it in $SNOWMUX_KEY or a key file. Or it refused the request\'s Host or Origin: the message names the hub setting that admits it.' },
  BAD_REQUEST: { fault: 'hub', doc: 'A control request was not a JSON object, or was longer than 64 KiB (answered under its id when it had one).' },
  UNKNOWN_OP: { fault: 'hub', doc: 'A control request named an operation the hub does not know (a newer CLI against an older hub?).' },
  CONTROL_FAILED: { fault: 'hub', doc: 'The hub refused a control request without a code of its own.' },
  METRICS_LISTEN_FAILED: { fault: 'hub', doc: 'The metrics listener could not bind its address: a starting hub stops with it (editors are told why); one taking over from a hub that still drains serves on and retries the port.' },
  SAMPLE_BUILD_FAILED: { fault: 'hub', doc: 'The embedded sample warehouse could not be built (disk space, permissions).' },
  CLASSIFIER_FAILED: { fault: 'hub', doc: 'The SQL classifier failed on this text (a snowmux bug); the statement was refused.' },
  AUDIT_BAD_OPTIONS: { fault: 'hub', doc: 'The audit settings are invalid; the message names the key.' },
  AUDIT_BAD_ENTRY: { fault: 'hub', doc: 'An audit entry could not be serialised (a snowmux bug); it was not written.' },
  AUDIT_OPEN_FAILED: { fault: 'hub', doc: 'The audit log could not be opened (permissions, disk), or an entry named like an audit file is not a regular file (a FIFO, a directory): the message names it; move it out of the audit directory.' },
  AUDIT_DIR_UNSAFE: { fault: 'hub', doc: 'The audit directory (or the one its symlink names) belongs to another user or others may write it, or a directory above it lets another user replace it: they could rewrite the records, move them aside, or plant names the hub writes through. The message says what to change.' },
  AUDIT_WRITE_FAILED: { fault: 'hub', doc: 'An audit record could not be written (disk full, permissions).' },
  AUDIT_FSYNC_FAILED: { fault: 'hub', doc: 'An audit fsync failed; records since the last good one may not be durable.' },
  AUDIT_HEAD_WRITE_FAILED: { fault: 'hub', doc: 'The audit-head anchor could not be rewritten.' },
  AUDIT_ROTATE_FAILED: { fault: 'hub', doc: 'The next audit file could not be started.' },
  AUDIT_PRUNE_FAILED: { fault: 'hub', doc: 'Old audit files past the retention could not be removed.' },
  AUDIT_RECOVERY_FAILED: { fault: 'hub', doc: 'The audit log could not be reopened after an earlier failure.' },
  AUDIT_TAIL_CORRUPT: { fault: 'hub', doc: 'The last audit file ends in a broken record; `snowmux audit verify` says where.' },
  AUDIT_UNAVAILABLE: { fault: 'hub', refusal: true, retry: true, doc: 'Audit records cannot be written (a full disk, a failing device, a read-only filesystem, permissions) and `[audit] on_failure = "refuse"`: the call was refused before it reached a warehouse, or its answer was withheld because its record could not be written; a write whose `write_started` record cannot be written never runs. The message names the error and the audit directory: free space there or fix its permissions; the hub serves again by itself once a record is written.' },
  AUDIT_FILE_CHANGED: { fault: 'hub', doc: 'An audit file was truncated, moved or written to by something else while the hub wrote it (logrotate\'s copytruncate or create): the hub went on in a new file chained to its last record, and status warns. Put the moved records back under their file\'s name; do not rotate the audit directory externally.' },
  AUDIT_CLOSED: { fault: 'hub', doc: 'The audit log is closed (the hub is stopping).' },
} as const satisfies Record<string, ErrorCodeFacts>;

export type ErrorCode = keyof typeof ERROR_CODES;

function codesWhere(pick: (facts: ErrorCodeFacts) => boolean): ReadonlySet<string> {
  return new Set((Object.entries(ERROR_CODES) as [ErrorCode, ErrorCodeFacts][]).filter(([, f]) => pick(f)).map(([c]) => c));
}

/** Refused by the hub's rules: `refused`, not `error`, in status, audit and metrics. */
export const REFUSAL_CODES = codesWhere((f) => f.refusal === true);
/** The caller's fault: never trips the breaker, never retried. */
export const USER_CODES = codesWhere((f) => f.fault === 'user');
/** The warehouse's fault: feeds the breaker. */
export const INFRASTRUCTURE_CODES = codesWhere((f) => f.fault === 'infrastructure');
/** Infrastructure failures a prompt retry cannot fix (or must not try: repeated logins lock accounts). */
export const NOT_TRANSIENT_CODES = codesWhere((f) => f.fault === 'infrastructure' && f.transient === false);

/**
 * A call that failed with one of these may succeed sent again as it is (a tool result's `retryable`): a
 * transient infrastructure failure, or a code whose message says to retry. A refusal that gives a time
 * (rate limit, full queue, quota, open breaker) is retryable by its `retryAfterMs` instead.
 */
export const RETRYABLE_CODES = codesWhere((f) => f.retry === true || (f.fault === 'infrastructure' && f.transient !== false));

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

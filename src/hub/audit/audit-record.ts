/**
 * The audit record: one JSON line per tool call (plus a few hub lifecycle records), hash-chained.
 *
 *   hash = sha256_hex(prev + canonicalJson(record without `hash`))
 *
 * `prev` is the hash of the previous record in the chain (GENESIS_HASH for the very first record), so
 * editing, removing or reordering any record breaks a link that `verifyAudit` can point at.
 */
import { createHash } from 'node:crypto';

export type AuditKind = 'tool_call' | 'write_started' | 'hub_start' | 'hub_stop' | 'rotate' | 'config_reload' | 'auth_refused' | 'records_unwritten';
/** `started`: a write_started record's (the statement was about to run; its tool_call record says how it ended). */
export type AuditOutcome = 'ok' | 'error' | 'refused' | 'cancelled' | 'started';

export const AUDIT_KINDS: readonly AuditKind[] = ['tool_call', 'write_started', 'hub_start', 'hub_stop', 'rotate', 'config_reload', 'auth_refused', 'records_unwritten'];

/** `prev` of the first record of a brand-new log. */
export const GENESIS_HASH = '0'.repeat(64);

export interface AuditClient {
  name: string;
  version: string;
}

/** What the hub hands to `AuditLog.append()`: everything except the chain fields the log assigns. */
export interface AuditEntry {
  kind: Exclude<AuditKind, 'rotate'>;
  /** Who made the call: local user name or API key identity. */
  identity: string;
  sessionId: string;
  client: AuditClient;
  /** MCP tool name ('' for hub lifecycle records). */
  tool: string;
  /** SQL text of a query tool call (secrets the log knows about are scrubbed), at most AUDIT_MAX_TEXT_CHARS. */
  sql?: string | undefined;
  /** Present when `sql` is a prefix: the whole text's UTF-8 length and sha256. */
  sqlTruncated?: TruncatedText | undefined;
  /** The call's arguments (a query call's beside its SQL, which is not repeated); secret-looking keys are redacted at any depth. */
  request?: Record<string, unknown> | undefined;
  /** Present when `request` was too large and holds `{ truncatedJson }`: its canonical JSON's length and sha256. */
  requestTruncated?: TruncatedText | undefined;
  /** Snowflake query id, when the warehouse returned one. */
  queryId?: string | undefined;
  queueWaitMs: number;
  runMs: number;
  rows: number;
  bytes: number;
  outcome: AuditOutcome;
  /** Stable SnowmuxError code (never the message: messages may quote user data). */
  errorCode?: string | undefined;
  /** Warehouse profile name. */
  profile?: string | undefined;
  /** The team hub replica that wrote the record (each replica keeps its own chain). */
  replica?: string | undefined;
  /** The engine's pre-flight estimate of what the statement would read (bytes, partitions, rows). */
  scanEstimate?: { bytes?: number | undefined; partitions?: number | undefined; partitionsTotal?: number | undefined; rows?: number | undefined } | undefined;
  /** The call's W3C trace id (32 lowercase hex digits): joins the record to the editor's and the hub's trace and to QUERY_TAG. */
  traceId?: string | undefined;
  /** Free-form, secret-free facts for lifecycle records (version, pid, reason…). Redacted like `request`. */
  detail?: Record<string, unknown> | undefined;
  /** Present when `detail` was too large and holds `{ truncatedJson }`: its canonical JSON's length and sha256. */
  detailTruncated?: TruncatedText | undefined;
}

/** What a record keeps of a text it cut to its documented prefix: enough to tell which text it was. */
export interface TruncatedText {
  /** Length of the whole text in UTF-8 bytes. */
  bytes: number;
  /** sha256 (hex) of the whole text's UTF-8 bytes (after secret scrubbing). */
  sha256: string;
}

/** A record as stored: the entry plus the chain fields. `kind` may also be 'rotate' (written by the log). */
export interface AuditRecord extends Omit<AuditEntry, 'kind'> {
  seq: number;
  /** ISO-8601 time the log assigned the record. */
  ts: string;
  kind: AuditKind;
  /** Hash of the previous record in the chain (hex sha256). */
  prev: string;
  /** sha256(prev + canonicalJson(this record without `hash`)), hex. */
  hash: string;
}

/** The `detail` of a rotate record: it ties a file to its predecessor and acknowledges crash residue. */
export interface RotateDetail {
  /** Why this file was started: size limit, recovery from a torn tail, or a reopen that found the anchor ahead of the log. */
  reason: 'size' | 'torn_tail' | 'head_mismatch' | 'resume' | 'external';
  /** Name of the file this record opens (detects renamed files). */
  file: string;
  /** Name of the file before it (detects removed files). */
  previousFile: string;
  /** Oldest file kept after pruning to maxFiles: older files were deleted on purpose. */
  oldestKept?: string;
  /** Unterminated tails (crash residue) of earlier files that this record acknowledges. */
  torn?: TornAcknowledgement[];
  /** For reason 'head_mismatch': what audit-head said and where the log actually ended. */
  head?: { seq: number; hash: string };
  /** For reason 'external': how the previous file changed under the hub (logrotate), its size as written and as found. */
  external?: { how: 'truncated' | 'grown' | 'moved'; writtenBytes: number; foundBytes: number };
  lastSeq?: number;
}

export interface TornAcknowledgement {
  file: string;
  /** Byte offset where the unterminated tail starts. */
  offset: number;
  bytes: number;
  /** sha256 hex of the tail's raw bytes, so the residue cannot be swapped afterwards. */
  sha256: string;
}

/**
 * Stable serialisation for hashing: object keys sorted (UTF-16 order), no whitespace, undefined members
 * dropped, non-finite numbers as null. Exactly what JSON.parse(JSON.stringify(x)) would canonicalise to,
 * so the verifier, which only sees the parsed line, recomputes the same bytes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      // undefined, functions, symbols, bigint never reach here after redaction; JSON would drop/refuse them.
      return 'null';
  }
  if (Array.isArray(value)) {
    return `[${value.map((item) => (isDroppedByJson(item) ? 'null' : canonicalJson(item))).join(',')}]`;
  }
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const member = obj[key];
    if (isDroppedByJson(member)) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
  }
  return `{${parts.join(',')}}`;
}

function isDroppedByJson(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

/** Hash of a record given everything but its `hash` member (a `hash` member present is ignored). */
export function computeRecordHash(record: Readonly<Record<string, unknown>>): string {
  const { hash: _ignored, ...body } = record;
  const prev = typeof body.prev === 'string' ? body.prev : '';
  return createHash('sha256').update(prev, 'utf8').update(canonicalJson(body), 'utf8').digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;

export function isHex64(value: unknown): value is string {
  return typeof value === 'string' && HEX64.test(value);
}

/** Shape check for a parsed line (the verifier's gate before chain checks). Returns the first defect or undefined. */
export function recordShapeDefect(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 1) return 'seq is not a positive integer';
  if (typeof r.ts !== 'string') return 'ts is missing';
  if (typeof r.kind !== 'string' || !(AUDIT_KINDS as readonly string[]).includes(r.kind)) return 'kind is not an audit record kind';
  if (!isHex64(r.prev)) return 'prev is not a sha256 hex digest';
  if (!isHex64(r.hash)) return 'hash is not a sha256 hex digest';
  return undefined;
}

/** Field order of the written line: readable first, chain fields last. Hashing does not depend on it. */
export function orderedForWriting(record: AuditRecord): AuditRecord {
  const { seq, ts, kind, identity, sessionId, client, tool, sql, sqlTruncated, request, requestTruncated, queryId, queueWaitMs, runMs, rows, bytes, outcome, errorCode, profile, replica, scanEstimate, traceId, detail, detailTruncated, prev, hash } = record;
  return { seq, ts, kind, identity, sessionId, client, tool, sql, sqlTruncated, request, requestTruncated, queryId, queueWaitMs, runMs, rows, bytes, outcome, errorCode, profile, replica, scanEstimate, traceId, detail, detailTruncated, prev, hash };
}

/** Entry for a hub lifecycle record (hub_start / hub_stop), so the hub does not invent placeholder fields. */
export function hubLifecycleEntry(kind: 'hub_start' | 'hub_stop' | 'config_reload' | 'auth_refused' | 'records_unwritten', hub: { version: string; identity?: string; detail?: Record<string, unknown>; outcome?: AuditOutcome; errorCode?: string }): AuditEntry {
  return {
    kind,
    ...(hub.errorCode ? { errorCode: hub.errorCode } : {}),
    identity: hub.identity ?? 'hub',
    sessionId: '',
    client: { name: 'snowmux-hub', version: hub.version },
    tool: '',
    queueWaitMs: 0,
    runMs: 0,
    rows: 0,
    bytes: 0,
    outcome: hub.outcome ?? 'ok',
    detail: hub.detail,
  };
}

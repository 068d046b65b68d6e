/**
 * The "no secrets, ever" pass every audit entry goes through before it is hashed and written.
 *
 * Two mechanisms:
 *  1. Known secrets (profile passwords, tokens, private keys, passphrases handed to the log) are replaced by
 *     REDACTED wherever they occur in any string of the record, SQL included.
 *  2. Any member of `request` / `detail` whose key looks secret (password, token, private_key, passphrase,
 *     secret, authorization, api key, credential, cookie, passcode) is replaced by REDACTED whatever its value.
 *     Matching is deliberately broad (e.g. `max_tokens` is redacted too): a false positive costs a field,
 *     a false negative costs a credential.
 * Well-formed PEM private-key blocks are scrubbed from every string as well (see PEM_PRIVATE_KEY).
 *
 * Bound (docs/audit.md, "Size bounds"): SQL, request and detail keep at most AUDIT_MAX_TEXT_CHARS characters,
 * with the whole text's length and sha256 when cut.
 *
 * Limit (documented in docs/audit.md): SQL is the user's own text and is otherwise kept verbatim. A credential typed as a
 * literal given to a secret-looking name (`CREATE USER … PASSWORD = '…'`) is hidden before this pass, where the
 * call record is scrubbed (guard/sql/sql-credentials.ts, by the lexer); anywhere else in SQL it is recorded
 * unless it is one of the known secrets.
 * Secrets shorter than MIN_SECRET_LENGTH are not scrubbed, because replacing every occurrence of a two-letter
 * string would destroy the record without protecting anything.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, isHex64, type AuditEntry, type AuditKind, type TruncatedText } from './audit-record.js';

export const REDACTED = '[REDACTED]';

/**
 * The most characters (UTF-16 code units, as JavaScript counts them) of SQL one record keeps, and of the
 * canonical JSON of its `request` or `detail`. Longer text keeps this prefix, and the record says it was cut
 * and how to recognise the whole: `sqlTruncated` / `requestTruncated` / `detailTruncated` hold the whole
 * text's UTF-8 length and sha256 (docs/audit.md, "Size bounds"). Without the bound one client at the default
 * rate could write multi-megabyte records (a refused 4 MiB statement is still recorded) and fill the disk.
 */
export const AUDIT_MAX_TEXT_CHARS = 16_384;
export const MIN_SECRET_LENGTH = 4;
/** Nesting deeper than this in request/detail is cut (keeps a hostile argument from blowing the stack). */
const MAX_DEPTH = 32;

const SECRET_KEY_PARTS = ['password', 'passwd', 'pwd', 'passphrase', 'passcode', 'token', 'secret', 'privatekey', 'authorization', 'apikey', 'credential', 'cookie'];
/** Between the lines of a PEM body: whitespace, or the two-character `\n` / `\r` of a key pasted from JSON. */
const PEM_GAP = String.raw`(?:[ \t\r\n]|\\[rn])`;
/**
 * A PEM private-key block as a candidate: the BEGIN line, the legacy encryption headers in their fixed shape,
 * a body of base64 and gaps only (at most 16 K characters: an 8192-bit RSA key is ~6.5 K), and the END line
 * of the same label. `isPrivateKeyBody` then checks the body is key material (DER, or an OpenSSH key).
 * Text from any client passes here (SQL, tool arguments, hello fields): a BEGIN marker alone, or markers
 * around text that is not a key, must not blank it — they once let a client hide its statement from the
 * audit log, status and query_history, and swallow the rest of a hub.log line with its newline.
 */
const PEM_PRIVATE_KEY = new RegExp(
  String.raw`-----BEGIN ((?:[A-Z0-9]{1,16} ){0,3})PRIVATE KEY-----` +
    String.raw`(${PEM_GAP}{1,8}Proc-Type: 4,ENCRYPTED${PEM_GAP}{1,8}DEK-Info: [A-Z0-9-]{1,32},[0-9A-Fa-f]{8,64})?` +
    String.raw`((?:${PEM_GAP}|[A-Za-z0-9+/=]){16,16384})` +
    String.raw`-----END \1PRIVATE KEY-----`,
  'g',
);

/** Whether a PEM body decodes to a private key's encoding, not to text that merely sits between markers. */
function isPrivateKeyBody(label: string, legacyEncrypted: boolean, body: string): boolean {
  const b64 = body.replace(/\\[rn]|[ \t\r\n]/g, '');
  if (b64.length < 16 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return false;
  const bytes = Buffer.from(b64, 'base64');
  // Ciphertext (Proc-Type: 4,ENCRYPTED) has no structure to check beyond its block size.
  if (legacyEncrypted) return bytes.length % 8 === 0;
  if (label === 'OPENSSH ') return bytes.subarray(0, 15).toString('latin1') === 'openssh-key-v1\0';
  return isWholeDerSequence(bytes);
}

/** PKCS#1, PKCS#8 (plain or encrypted) and SEC1 keys are one DER SEQUENCE whose length is the whole body. */
function isWholeDerSequence(bytes: Buffer): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x30) return false;
  const first = bytes[1]!;
  if (first < 0x80) return 2 + first === bytes.length;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || bytes.length < 2 + octets) return false;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + bytes[2 + i]!;
  return 2 + octets + length === bytes.length;
}

/**
 * A snowmux API key (`smx_<id>_<secret>`, hub/keys/api-keys.ts), wherever it stands in a text: the id is its
 * public part (audit records of refusals name it), the 32 characters of secret are a bearer credential for
 * the hub, which a caller who pasted theirs into SQL once left in the audit log and its copies.
 */
const API_KEY_SECRET = /smx_([0-9a-f]{12})_[A-Za-z0-9_-]{32}/g;

/**
 * `text` with the credentials recognisable by their form removed, whoever's they are: every well-formed PEM
 * private-key block replaced by REDACTED, and the secret of every snowmux API key (`smx_<id>_[REDACTED]`);
 * anything else is left as it is.
 */
export function scrubPrivateKeys(text: string): string {
  if (text.includes('smx_')) text = text.replace(API_KEY_SECRET, `smx_$1_${REDACTED}`);
  if (!text.includes('PRIVATE KEY-----')) return text;
  return text.replace(PEM_PRIVATE_KEY, (block: string, label: string, headers: string | undefined, body: string) => (isPrivateKeyBody(label, headers !== undefined, body) ? REDACTED : block));
}

/** What a copy of a value is scrubbed with: SecretScrubber, or several applied in turn. */
export interface TextScrubber {
  scrub(text: string): string;
}

export function isSecretLookingKey(key: string): boolean {
  const normalised = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_KEY_PARTS.some((part) => normalised.includes(part));
}

/**
 * The secrets a URL setting carries (hub.redis_url, a proxy, an OTLP endpoint), as written and
 * percent-decoded: the password of its userinfo, a user name given alone (a token as the user), and the value
 * of every query parameter whose name looks secret (`?password=`, which ioredis honours). A URL the parser
 * refuses is read as text, userinfo up to the last `@`: a password with an unencoded `/` is no valid URL, yet
 * it is the password all the same. A proxy may be written without a scheme (`user:pw@proxy:3128`).
 */
export function urlCredentials(url: string): string[] {
  const found = new Set<string>();
  const add = (value: string) => {
    if (value === '') return;
    found.add(value);
    found.add(percentDecoded(value));
  };
  const addUserinfo = (user: string, password: string) => add(password === '' ? user : password);
  let query = '';
  try {
    const parsed = new URL(url.includes('://') ? url : `http://${url}`);
    addUserinfo(parsed.username, parsed.password);
    query = parsed.search.slice(1);
  } catch {
    const userinfo = /^(?:[a-z][a-z0-9+.-]*:)?\/*(\S*)@/i.exec(url)?.[1];
    if (userinfo !== undefined) {
      const colon = userinfo.indexOf(':');
      addUserinfo(colon === -1 ? userinfo : userinfo.slice(0, colon), colon === -1 ? '' : userinfo.slice(colon + 1));
    }
    query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  }
  for (const pair of query.split(/[&#]/)) {
    const eq = pair.indexOf('=');
    if (eq === -1 || !isSecretLookingKey(percentDecoded(pair.slice(0, eq)))) continue;
    const value = pair.slice(eq + 1);
    add(value);
    // A query string spells a space `+`.
    if (value.includes('+')) add(value.replace(/\+/g, ' '));
  }
  return [...found];
}

/** `text` with its %XX escapes decoded; as it is when they do not decode. */
export function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Scrubs known secret strings (and well-formed PEM private keys) out of text. */
export class SecretScrubber implements TextScrubber {
  /** Longest first, so a secret containing another is replaced whole. */
  private secrets: string[] = [];
  /** How each secret may be spelled inside a JSON line: as is, and JSON-escaped when that differs (`"`, `\\`, controls). */
  private spellings: string[] = [];

  constructor(secrets: readonly string[] = []) {
    this.add(secrets);
  }

  add(secrets: readonly string[]): void {
    const merged = new Set(this.secrets);
    for (const secret of secrets) {
      if (typeof secret === 'string' && secret.length >= MIN_SECRET_LENGTH) merged.add(secret);
    }
    if (merged.size === this.secrets.length) return;
    this.secrets = [...merged].sort((a, b) => b.length - a.length);
    this.spellings = [...new Set(this.secrets.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))];
  }

  /** The known secrets (for another scrubber, e.g. the audit log's). */
  list(): string[] {
    return [...this.secrets];
  }

  /** Whether `secret` is one of the known secrets. */
  knows(secret: string): boolean {
    return this.secrets.includes(secret);
  }

  get size(): number {
    return this.secrets.length;
  }

  /** Whether any known secret, in either spelling, occurs in `text` (a serialized JSON line, say). */
  occursIn(text: string): boolean {
    return this.spellings.some((s) => text.includes(s));
  }

  /**
   * `text` with the known secrets out, except those `keep` holds (what a caller sent: its SQL and arguments).
   * A text the hub wrote for a caller (a failure's message) may quote the hub's own secrets, which must not
   * reach it; but a secret the caller typed itself is its own, and scrubbing it would tell it that its
   * string is someone's secret (a guessing oracle).
   */
  scrubExcept(text: string, keep: string): string {
    let out = text;
    for (const secret of this.secrets) {
      if (out.includes(secret) && !keep.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  }

  scrub(text: string): string {
    // Keys first: a known secret inside a key's body would otherwise break the block, and the key leak.
    let out = scrubPrivateKeys(text);
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  }
}

/**
 * A JSON-safe, secret-free deep copy of an arbitrary value: plain objects and arrays only, strings scrubbed,
 * secret-looking keys redacted, bigint → string, Date → ISO string, binary → a size note, cycles and excessive
 * depth cut. The result survives JSON.stringify/parse unchanged, which the hash chain relies on.
 */
export function redactValue(value: unknown, scrubber: TextScrubber, depth = 0, seen: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case 'string':
      return scrubber.scrub(value);
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[binary ${obj.byteLength} bytes]`;
  if (depth >= MAX_DEPTH) return '[truncated: too deeply nested]';
  if (seen.has(obj)) return '[circular]';
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      return obj.map((item) => {
        const copy = redactValue(item, scrubber, depth + 1, seen);
        return copy === undefined ? null : copy;
      });
    }
    // Null prototype: a "__proto__" key from client input stays an ordinary member.
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [key, member] of Object.entries(obj)) {
      const safeKey = scrubber.scrub(key);
      if (isSecretLookingKey(key)) {
        if (member !== undefined) out[safeKey] = REDACTED;
        continue;
      }
      const copy = redactValue(member, scrubber, depth + 1, seen);
      if (copy !== undefined) out[safeKey] = copy;
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

function redactObject(value: Record<string, unknown> | undefined, scrubber: TextScrubber): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  const copy = redactValue(value, scrubber);
  if (copy === null || typeof copy !== 'object' || Array.isArray(copy)) return { value: copy ?? null };
  return copy as Record<string, unknown>;
}

/**
 * `text` as a record keeps it: whole when it is at most `max` characters, else its first `max` characters
 * (one fewer when the cut would split a surrogate pair) plus the whole text's UTF-8 length and sha256.
 * Scrub secrets before bounding, so a secret straddling the cut is never half kept.
 */
export function boundText(text: string, max = AUDIT_MAX_TEXT_CHARS): { text: string; truncated?: TruncatedText } {
  if (text.length <= max) return { text };
  const whole = Buffer.from(text, 'utf8');
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return { text: text.slice(0, end), truncated: { bytes: whole.length, sha256: createHash('sha256').update(whole).digest('hex') } };
}

/** A truncation note handed in with text already bounded (the call record's), if it has the right shape. */
function truncationOf(value: unknown): TruncatedText | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { bytes, sha256 } = value as Record<string, unknown>;
  return typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes >= 0 && isHex64(sha256) ? { bytes, sha256 } : undefined;
}

/** Bounded SQL: scrubbed, then cut to AUDIT_MAX_TEXT_CHARS; an incoming note is kept when the text needed no cut here. */
export function boundSql(text: string | undefined, note: unknown): { sql?: string; truncated?: TruncatedText } {
  if (text === undefined) return {};
  const bounded = boundText(text);
  const truncated = bounded.truncated ?? truncationOf(note);
  return truncated ? { sql: bounded.text, truncated } : { sql: bounded.text };
}

/**
 * A redacted request/detail object bounded by the size of its canonical JSON: within AUDIT_MAX_TEXT_CHARS it
 * is kept as is; beyond, it becomes `{ truncatedJson: <prefix of its canonical JSON> }` with the note.
 */
export function boundObject(value: Record<string, unknown> | undefined, note: unknown): { value?: Record<string, unknown>; truncated?: TruncatedText } {
  if (value === undefined) return {};
  const handed = truncationOf(note);
  // Already bounded upstream (the call record passes the same step before the audit sees it).
  if (handed && Object.keys(value).length === 1 && typeof value.truncatedJson === 'string' && value.truncatedJson.length <= AUDIT_MAX_TEXT_CHARS) {
    return { value, truncated: handed };
  }
  // Canonical JSON differs from JSON.stringify's only in key order, so the native one measures it (this runs
  // for every metadata call); the canonical text is made only when it has to be cut.
  if (fitsAsJson(value)) return { value };
  const json = canonicalJson(value);
  if (json.length <= AUDIT_MAX_TEXT_CHARS) return { value };
  const bounded = boundText(json);
  return { value: { truncatedJson: bounded.text }, ...(bounded.truncated ? { truncated: bounded.truncated } : {}) };
}

function fitsAsJson(value: Record<string, unknown>): boolean {
  try {
    return JSON.stringify(value).length <= AUDIT_MAX_TEXT_CHARS;
  } catch {
    return false; // what JSON refuses (a bigint) is measured the canonical way
  }
}

/** ES2024's String.prototype.toWellFormed (Node 20 has it; the ES2023 lib the build targets does not type it). */
type WellFormable = string & { isWellFormed(): boolean; toWellFormed(): string };

/** `text` with each lone surrogate replaced by U+FFFD; pairs, and text already well-formed, as they are. */
export function wellFormed(text: string): string {
  const t = text as WellFormable;
  return t.isWellFormed() ? text : t.toWellFormed();
}

function finiteOrZero(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

function scrubOptional(text: unknown, scrubber: TextScrubber): string | undefined {
  if (text === undefined || text === null) return undefined;
  return scrubber.scrub(String(text));
}

/**
 * Redacted, JSON-safe copy of an entry with only the known fields: an unexpected extra property on the
 * caller's object (a whole profile, say) never reaches the file.
 */
export function redactEntry<K extends AuditKind>(entry: Omit<AuditEntry, 'kind'> & { kind: K }, secrets: TextScrubber): Omit<AuditEntry, 'kind'> & { kind: K } {
  // Every string of the record passes this scrubber (request and detail keys too), so this is where client
  // text becomes well-formed: a lone UTF-16 surrogate (a client name or SQL with "\ud800") was written as
  // that escape, where jq and strict JSON-lines readers stop, hiding every later record from the review.
  const scrubber: TextScrubber = { scrub: (text) => wellFormed(secrets.scrub(text)) };
  // Secrets out first, then the size bound: a secret across the cut is never half kept.
  const sql = boundSql(scrubOptional(entry.sql, scrubber), entry.sqlTruncated);
  const request = boundObject(redactObject(entry.request, scrubber), entry.requestTruncated);
  const detail = boundObject(redactObject(entry.detail, scrubber), entry.detailTruncated);
  return {
    kind: entry.kind,
    identity: scrubber.scrub(String(entry.identity ?? '')),
    sessionId: scrubber.scrub(String(entry.sessionId ?? '')),
    client: {
      name: scrubber.scrub(String(entry.client?.name ?? '')),
      version: scrubber.scrub(String(entry.client?.version ?? '')),
    },
    tool: scrubber.scrub(String(entry.tool ?? '')),
    sql: sql.sql,
    sqlTruncated: sql.truncated,
    request: request.value,
    requestTruncated: request.truncated,
    queryId: scrubOptional(entry.queryId, scrubber),
    queueWaitMs: finiteOrZero(entry.queueWaitMs),
    runMs: finiteOrZero(entry.runMs),
    rows: finiteOrZero(entry.rows),
    bytes: finiteOrZero(entry.bytes),
    outcome: entry.outcome,
    errorCode: scrubOptional(entry.errorCode, scrubber),
    profile: scrubOptional(entry.profile, scrubber),
    replica: scrubOptional(entry.replica, scrubber),
    scanEstimate: scanEstimateOf(entry.scanEstimate),
    traceId: typeof entry.traceId === 'string' && /^[0-9a-f]{32}$/.test(entry.traceId) ? entry.traceId : undefined,
    detail: detail.value,
    detailTruncated: detail.truncated,
  };
}

/** Only the estimate's known, finite numbers. */
function scanEstimateOf(e: AuditEntry['scanEstimate']): AuditEntry['scanEstimate'] {
  if (e === null || typeof e !== 'object') return undefined;
  const out: NonNullable<AuditEntry['scanEstimate']> = {};
  for (const k of ['bytes', 'partitions', 'partitionsTotal', 'rows'] as const) {
    const v = e[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

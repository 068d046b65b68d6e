/**
 * Credentials typed into SQL text, hidden from every copy of the text the hub keeps or shows (the audit log,
 * status's recent calls, query_history, the team's audit stream): the literal given to a credential
 * parameter (`PASSWORD = '…'`, `CREDENTIALS = (AWS_SECRET_KEY = '…')`, `AZURE_SAS_TOKEN = '…'`,
 * `MASTER_KEY = '…'`, `SECRET_STRING = '…'`, `API_KEY = '…'`, DuckDB's `CREATE SECRET (… SECRET '…')`, a
 * comparison such as `api_token = '…'`), and inside any literal the user and password of a URL
 * (`'postgres://u:pw@h'`), a secret-named query parameter (`?sig=…`, `?token=…`) or a libpq
 * `password=…`, and every literal of a secret a known function takes by position (`ENCRYPT(x, '…')`,
 * `SYSTEM$AUTHORIZE_PRIVATELINK(id, '…')`) or an external function's `HEADERS = ('name' = '…')`. Snowflake itself masks such values in its query history; the hub kept them verbatim.
 *
 * The text is read with the SQL lexer, never searched with a pattern: a pattern would take a quote inside a
 * comment for a literal's start and blank real statement text — a client could then hide what it ran from
 * the audit log. A literal is replaced only where the Snowflake and the DuckDB readings agree it is one
 * literal (same start and end), so whichever engine runs the statement, what is hidden is a literal there
 * too. Where they disagree (a backslash before a quote), the text is kept as it is.
 */
import { hideUrlCredentials } from '../../../shown-text.js';
import { tokenize, type SqlDialect, type Token } from './lexer.js';

/** What replaces a hidden literal (quotes kept, so the statement still reads as SQL). */
export const HIDDEN_LITERAL = "'[REDACTED]'";

/** Parts of a parameter or column name that mark its value as a credential (ASCII upper, `_`/`-` removed). */
const CREDENTIAL_NAME_PARTS = ['PASSWORD', 'PASSWD', 'PWD', 'PASSPHRASE', 'PASSCODE', 'TOKEN', 'SECRET', 'PRIVATEKEY', 'APIKEY', 'CREDENTIAL', 'AUTHORIZATION', 'COOKIE', 'MASTERKEY', 'ACCESSKEY', 'ACCOUNTKEY', 'CLIENTKEY', 'ENCRYPTIONKEY'];
/** Key ids: not secrets on their own, but half of a pair, and masked by Snowflake too (`AWS_KEY_ID`, DuckDB's `KEY_ID`). */
const CREDENTIAL_NAMES = new Set(['KEYID', 'AWSKEYID']);

/** What CREDENTIAL_NAME_PARTS and CREDENTIAL_NAMES match, as text (any case, `_` optional). */
const NAME_PART = String.raw`(?:pass|pwd|token|secret|(?:master|access|account|client|api|private|encryption)_?key|key_?id|credential|authori[sz]ation|cookie)`;
/**
 * Cheap gates: a statement none of them matches holds nothing this module hides and is not lexed (most are
 * not: `o_orderkey = 5` is no credential's name). A name given a value (`=`, or a literal right after it), a
 * URL, or a name with a comment somewhere (which may stand between the name and its `=`).
 */
const MAY_HOLD = [new RegExp(String.raw`${NAME_PART}[\w$]*["']?\s*(?:=|'|\$|:)`, 'i'), /:[/\\]/, /\b(?:bearer|basic)\s|eyJ[\w-]{8,}\./i];
const NAME_ANYWHERE = new RegExp(NAME_PART, 'i');

/**
 * Functions that take a secret as a positional argument, and which arguments (from 0) carry it: every
 * literal inside such an argument is hidden, however it is built (`TO_BINARY('…', 'HEX')`, `X'…'`,
 * `'a' || 'b'`). Snowflake's ENCRYPT/DECRYPT family takes a passphrase or a key second (ENCRYPT_RAW's IV,
 * third, is not secret but is half of what a key needs to be brute-forced against: kept); the PrivateLink
 * authorisations take the cloud's federated or access token second.
 */
const SECRET_ARGUMENTS: ReadonlyMap<string, readonly number[]> = new Map([
  ['ENCRYPT', [1]],
  ['DECRYPT', [1]],
  ['TRY_DECRYPT', [1]],
  ['ENCRYPT_RAW', [1]],
  ['DECRYPT_RAW', [1]],
  ['TRY_DECRYPT_RAW', [1]],
  ['SYSTEM$AUTHORIZE_PRIVATELINK', [1]],
  ['SYSTEM$REVOKE_PRIVATELINK', [1]],
]);
/** The gate for SECRET_ARGUMENTS and an external function's HEADERS: one of the names (a comment may stand before its `(`). */
const SECRET_FUNCTION = /(?:^|[^\w$])(?:(?:try_)?(?:en|de)crypt(?:_raw)?|headers)(?![\w$])|system\$(?:authorize|revoke)_privatelink/i;
const COMMENT_START = /\/\*|--|\/\//;

function mayHold(sql: string): boolean {
  return MAY_HOLD.some((gate) => gate.test(sql)) || SECRET_FUNCTION.test(sql) || (COMMENT_START.test(sql) && NAME_ANYWHERE.test(sql));
}

function isCredentialName(token: Token): boolean {
  if (token.kind !== 'word' && token.kind !== 'quoted_ident') return false;
  const name = (token.upper ?? token.text.toUpperCase()).replace(/[^A-Z0-9]/g, '');
  return CREDENTIAL_NAMES.has(name) || CREDENTIAL_NAME_PARTS.some((part) => name.includes(part));
}

function isLiteral(token: Token | undefined): boolean {
  return token !== undefined && (token.kind === 'string' || token.kind === 'dollar_string');
}

/**
 * An HTTP credential as it is written whatever it is given to (a header value in a map, a function's
 * positional argument, a plain literal): `Bearer <token>` or `Basic <base64>`, and a JSON Web Token
 * (three base64url parts, the first a JSON object's `eyJ`), which is a bearer credential on its own.
 */
const HTTP_CREDENTIAL = new RegExp(
  // The value must look like a token (a digit, a symbol, or a capital inside a word), so prose is kept: 'Bearer Certificates', 'Basic information'.
  String.raw`\b([Bb]earer|BEARER|[Bb]asic|BASIC)(\s+)(?=[\w.~+/-]*(?:[0-9._~+/-]|[a-z][A-Z]))[\w.~+/-]{8,}=*|\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*`,
  'g',
);

/** Whether a literal's text may hold something hiddenInLiteral hides (its cheap gate). */
const IN_LITERAL = /[@=]|\b(?:bearer|basic)\s|eyJ|hook|\/bot\d/i;

/** A URL's user and password, a secret-named query parameter, a libpq `password=`, an HTTP credential inside a literal's text. */
function hiddenInLiteral(text: string): string {
  return hideUrlCredentials(text)
    .replace(/(^'|\s)((?:ssl)?(?:password|passwd|pwd|passphrase)\s*=\s*)[^\s']+/gi, '$1$2***')
    .replace(HTTP_CREDENTIAL, (_all, scheme: string | undefined, gap: string | undefined) => (scheme === undefined ? '***' : `${scheme}${gap}***`));
}

/** Replacements one dialect's reading finds, keyed by `start:end`; an open credential literal's key is `start:end:open`. */
function replacementsIn(sql: string, dialect: SqlDialect): Map<string, string> {
  const { tokens: all, error } = tokenize(sql, { dialect });
  const tokens = all.filter((t) => t.kind !== 'comment');
  const out = new Map<string, string>();
  /** Whether the value at index `i` (a literal, or where one starts) is what a credential name is given. */
  const givenToCredential = (i: number, valueKind: Token['kind'] | 'unterminated'): boolean => {
    const before = tokens[i - 1];
    if (before === undefined) return false;
    if (before.kind === 'punct' && (before.text === '=' || before.text === '=>')) {
      const name = tokens[i - 2];
      return name !== undefined && isCredentialName(name);
    }
    // A map or object literal's key: DuckDB's `MAP {'Authorization': 'Bearer …'}`, `{'password': '…'}` in either engine.
    if (before.kind === 'punct' && before.text === ':') {
      const key = tokens[i - 2];
      return key !== undefined && key.kind === 'string' && isCredentialName({ ...key, kind: 'word', upper: key.text.slice(1, -1).toUpperCase() });
    }
    // DuckDB's CREATE SECRET (TYPE s3, KEY_ID '…', SECRET '…'): the name, then the value, no `=`.
    return valueKind !== 'quoted_ident' && before.kind === 'word' && isCredentialName(before);
  };
  const positional = secretArgumentLiterals(tokens);
  const { literals: positionalLiterals } = positional;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const key = `${token.start}:${token.end}`;
    if (positionalLiterals.has(i)) {
      out.set(key, HIDDEN_LITERAL);
    } else if ((isLiteral(token) || token.kind === 'quoted_ident') && givenToCredential(i, token.kind)) {
      out.set(key, token.kind === 'quoted_ident' ? '"[REDACTED]"' : HIDDEN_LITERAL);
    } else if (isLiteral(token) && IN_LITERAL.test(token.text)) {
      const hidden = hiddenInLiteral(token.text);
      if (hidden !== token.text) out.set(key, hidden);
    }
  }
  // A refused statement whose credential literal is never closed: the rest of the text is that literal.
  if (error !== undefined && /^UNTERMINATED_(?:DOLLAR_)?STRING$/.test(error.code) && (givenToCredential(tokens.length, 'unterminated') || positional.openAtEnd)) {
    out.set(`${error.offset}:${sql.length}:open`, HIDDEN_LITERAL);
  }
  return out;
}

/**
 * Indexes of the literals standing in a secret argument of a SECRET_ARGUMENTS function (`ENCRYPT(x, '…')`),
 * at any depth inside that argument. The function is named by a word or a quoted identifier
 * (`"ENCRYPT"`), optionally qualified; its arguments are counted by the commas at its own depth.
 */
function secretArgumentLiterals(tokens: readonly Token[]): { literals: Set<number>; openAtEnd: boolean } {
  const out = new Set<number>();
  // Whether the text ends inside a secret argument (a refused statement whose literal there is never closed).
  let openAtEnd = false;
  for (let i = 0; i + 1 < tokens.length; i++) {
    const name = tokens[i]!;
    if ((name.kind !== 'word' && name.kind !== 'quoted_ident') || tokens[i + 1]!.text !== '(') continue;
    const secret = SECRET_ARGUMENTS.get(name.upper ?? name.text.toUpperCase());
    if (secret === undefined) continue;
    let depth = 0;
    let argument = 0;
    for (let j = i + 1; j < tokens.length; j++) {
      const t = tokens[j]!;
      if (t.kind === 'punct' && (t.text === '(' || t.text === '[' || t.text === '{')) depth++;
      else if (t.kind === 'punct' && (t.text === ')' || t.text === ']' || t.text === '}')) {
        if (--depth === 0) break;
      } else if (t.kind === 'punct' && t.text === ',' && depth === 1) argument++;
      else if (isLiteral(t) && secret.includes(argument) && !ENCODING_NAME.test(t.text)) out.add(j);
      if (j === tokens.length - 1 && depth > 0 && secret.includes(argument)) openAtEnd = true;
    }
  }
  // An external function's HEADERS = ('name' = 'value', …): what it sends to the remote service with every
  // call, an API key as often as not, whatever the header is named.
  for (let i = 0; i + 2 < tokens.length; i++) {
    const [name, eq, open] = [tokens[i]!, tokens[i + 1]!, tokens[i + 2]!];
    if (name.kind !== 'word' || name.upper !== 'HEADERS' || eq.text !== '=' || open.text !== '(') continue;
    let depth = 0;
    for (let j = i + 2; j < tokens.length; j++) {
      const t = tokens[j]!;
      if (t.kind === 'punct' && t.text === '(') depth++;
      else if (t.kind === 'punct' && t.text === ')') {
        if (--depth === 0) break;
      } else if (isLiteral(t) && tokens[j - 1]!.text === '=' && j - 1 > i + 2) out.add(j);
      if (j === tokens.length - 1 && depth > 0 && t.text === '=' && j > i + 2) openAtEnd = true;
    }
  }
  return { literals: out, openAtEnd };
}

/** An encoding's name inside a secret argument (`TO_BINARY('…', 'HEX')`): no secret, kept so the statement reads. */
const ENCODING_NAME = /^'(?:HEX|BASE64|UTF-?8)'$/i;

/**
 * `sql` with the credentials typed into it replaced (see the module comment); the text unchanged when it
 * has none, or when the two engines' readings of it do not agree where a literal is.
 *
 * `keep`: how many characters of the result are kept (the audit's bound); the rest is read only as far as
 * needed. Lexing a refused 4 MiB statement twice more cost the hub's thread seconds for a record that keeps
 * its first 16,384 characters: only the first `2 × keep` are read, unless the credentials hidden there
 * shortened them below `keep`. A credential literal still open where the reading stops is hidden to the end.
 */
export function hideSqlCredentials(sql: string, keep = Number.POSITIVE_INFINITY): string {
  if (!mayHold(sql)) return sql;
  const read = keep * 2;
  if (sql.length > read) {
    const head = hiddenIn(sql.slice(0, read));
    if (head.toEnd) return head.text;
    if (head.text.length > keep) return `${head.text}${sql.slice(read)}`;
  }
  return hiddenIn(sql).text;
}

/** A stretch of the text to replace, as both readings agree on it. */
interface Hidden {
  start: number;
  end: number;
  text: string;
  /** A credential literal never closed: it runs to the end of the text. */
  open: boolean;
}

/** The replacements both readings agree on, last first. */
function agreedReplacements(sql: string): Hidden[] {
  // Same length, so offsets hold: the lexer refuses a NUL or a lone surrogate outright, and the record keeps
  // its text all the same (the engine would see U+FFFD).
  const readable = (sql as string & { toWellFormed(): string }).toWellFormed().replace(/\u0000/g, ' ');
  const snowflake = replacementsIn(readable, 'snowflake');
  if (snowflake.size === 0) return [];
  const duckdb = replacementsIn(readable, 'duckdb');
  return [...snowflake]
    .filter(([key, text]) => duckdb.get(key) === text)
    .map(([key, text]) => {
      const [start, end] = key.split(':').map(Number) as [number, number];
      return { start, end, text, open: key.endsWith(':open') };
    })
    .sort((a, b) => b.start - a.start);
}

/**
 * The credentials hideSqlCredentials hides from `sql`, as they stand in it (a literal's text without its
 * quotes): what an engine's error quoting the statement (DuckDB's "LINE 1: …", a value Snowflake could not
 * convert) must not carry into hub.log either. Shorter than 4 characters: not returned (as known secrets).
 *
 * `keep` bounds the work as hideSqlCredentials' does: only the first `2 × keep` characters are read (a
 * failing 4 MiB statement was lexed whole, twice, for seconds of the hub's thread). A credential literal
 * still open where the reading stops is returned as far as it was read, in `cut`.
 */
export function sqlCredentialValues(sql: string, keep = Number.POSITIVE_INFINITY): string[] {
  const { values, cut } = credentialValuesIn(sql, keep);
  return cut === undefined ? values : [...values, cut];
}

/**
 * What takes the credentials typed into `sql` out of a text that may quote it (an engine's error, for the
 * hub.log line of a failed call): each replaced by [REDACTED]. The first `2 × keep` characters are lexed
 * (sqlCredentialValues); the rest is scanned (tailCredentialValues), since an error quotes where the
 * statement failed, which may be anywhere in it, and the text is then read for a URL's credentials. A
 * credential the lexed part cut is hidden from where it starts to the next quote. Undefined when the
 * statement has none.
 */
export function sqlCredentialHider(sql: string, keep = Number.POSITIVE_INFINITY): ((text: string) => string) | undefined {
  const { values: head, cut } = credentialValuesIn(sql, keep);
  // Past the part read, the statement is scanned, not lexed (see tailCredentialValues): an engine's error
  // quotes where it failed, which may be anywhere in it (a value it could not convert at character 40,000).
  const read = keep * 2;
  const tail = sql.length > read ? tailCredentialValues(sql.slice(Math.max(0, read - TAIL_OVERLAP))) : [];
  const values = tail.length === 0 ? head : [...new Set([...head, ...tail])].sort((a, b) => b.length - a.length);
  const unread = sql.length > read;
  if (values.length === 0 && cut === undefined && !unread) return undefined;
  return (text) => {
    // A URL's user and password, a libpq password= or a secret-named parameter of a literal not read: the
    // text quoting it is read for them instead (as the literals read are).
    let out = unread ? hiddenInLiteral(text) : text;
    if (cut !== undefined) {
      for (let at = out.indexOf(cut); at !== -1; at = out.indexOf(cut, at + HIDDEN_VALUE.length)) {
        let end = at + cut.length;
        while (end < out.length && out[end] !== "'" && out[end] !== '"' && out[end] !== '$') end++;
        out = `${out.slice(0, at)}${HIDDEN_VALUE}${out.slice(end)}`;
      }
    }
    for (const value of values) if (out.includes(value)) out = out.split(value).join(HIDDEN_VALUE);
    return out;
  };
}

/** What stands for a credential of a statement in a text that quotes it (as in the audit's copy of the SQL). */
const HIDDEN_VALUE = '[REDACTED]';

/** How far before the end of the part lexed the scan of the rest starts: a name cut by that end is still seen. */
const TAIL_OVERLAP = 256;
/** A gap between a credential's name and its value: blanks and short comments (bounded: the scan stays linear). */
const GAP = String.raw`(?:\s|/\*[^*]{0,64}\*/|--[^\n]{0,64}\n)*`;
/**
 * A word that names a credential (NAME_PART in it), optionally quoted (as an identifier, or as a map or
 * object literal's key: `{'Authorization': '…'}`), at the start of a word.
 */
const CREDENTIAL_WORD = String.raw`(?<![\w$])["']?(?=[\w$]*?${NAME_PART})[A-Za-z_][\w$]*["']?`;
/**
 * A dollar-quoted value, or a double-quoted one (an identifier given as the value), each to its end or the
 * text's; its groups follow the quoted literal's one (2: the dollar tag, 3 and 4: the values).
 */
const OTHER_VALUE = String.raw`\$([A-Za-z_0-9]*)\$([\s\S]*?)(?:\$\2\$|$)|"((?:[^"]|"")*)(?:"|$)`;
/**
 * A credential name given a value, as the two engines read a quoted literal: DuckDB ends it at the first
 * quote not doubled, Snowflake also skips a backslash-escaped one. Both are scanned, so whichever the
 * engine is, its literal is among the values.
 */
const NAMED_VALUES = [String.raw`'((?:[^']|'')*)(?:'|$)`, String.raw`'((?:[^'\\]|''|\\[\s\S])*)(?:'|$)`].map(
  (quoted) => new RegExp(String.raw`${CREDENTIAL_WORD}${GAP}(?:(?:=>?|:)${GAP})?(?:${quoted}|${OTHER_VALUE})`, 'gi'),
);

/**
 * The values given to credential names in a stretch of a statement past what the lexer reads
 * (`PASSWORD = '…'`, `SECRET '…'`, `=> $$…$$`). A scan, linear in the text: lexing a 4 MiB statement twice
 * more held the hub's thread for seconds. Where the scan starts inside a literal or a comment it may take
 * text that is no credential: these values only ever leave a log line's error text, never the SQL the
 * audit keeps, so hiding a few characters too many there costs nothing, while a credential missed leaks.
 */
function tailCredentialValues(text: string): string[] {
  const found = new Set<string>();
  if (!mayHold(text)) return [];
  // A call of a function that takes a secret by position: each literal of its arguments (the plain ones
  // too, as the scan cannot count arguments built of calls; a log line losing them costs nothing).
  if (SECRET_FUNCTION.test(text)) {
    // A call inside one already read (or within its CALL_READ) is not read again: the scan stays linear.
    let readUntil = 0;
    for (const call of text.matchAll(SECRET_CALL)) {
      if (call.index < readUntil) continue;
      const { values, end } = literalsOfCall(text, call.index + call[0].length);
      readUntil = end;
      for (const value of values) if (value.length >= 4 && !ENCODING_NAME.test(`'${value}'`)) found.add(value);
    }
  }
  // Without a backslash both readings are the same: one scan.
  for (const named of text.includes('\\') ? NAMED_VALUES : NAMED_VALUES.slice(0, 1)) {
    for (const m of text.matchAll(named)) {
      const value = m[1] ?? m[3] ?? m[4] ?? '';
      for (const v of [value, value.replace(/''/g, "'"), value.replace(/""/g, '"')]) if (v.length >= 4) found.add(v);
    }
  }
  return [...found];
}

/** A call of a SECRET_ARGUMENTS function, to its `(` (a short comment may stand between). */
const SECRET_CALL = new RegExp(String.raw`(?<![\w$])(?:(?:try_)?(?:en|de)crypt(?:_raw)?|system\$(?:authorize|revoke)_privatelink)${GAP}\(`, 'gi');
/** How far past its `(` a call's arguments are read in the scan (bounded: the scan stays linear). */
const CALL_READ = 4096;

/**
 * The single-quoted and dollar-quoted literals (their text) from `from` (just past a call's `(`) to the
 * `)` that closes the call, at most CALL_READ characters on (a literal runs to its end), and where the
 * reading stopped; `''` inside a literal stands for one quote.
 */
function literalsOfCall(text: string, from: number): { values: string[]; end: number } {
  const out: string[] = [];
  const end = Math.min(text.length, from + CALL_READ);
  let depth = 1;
  let i = from;
  for (; i < end && depth > 0; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === "'") {
      let j = i + 1;
      while (j < text.length && (text[j] !== "'" || text[j + 1] === "'")) j += text[j] === "'" ? 2 : 1;
      const inner = text.slice(i + 1, j);
      out.push(inner, inner.replace(/''/g, "'"));
      i = j;
    } else if (c === '$' && text[i + 1] === '$') {
      const close = text.indexOf('$$', i + 2);
      const j = close === -1 ? text.length : close;
      out.push(text.slice(i + 2, j));
      i = j + 1;
    }
  }
  return { values: out, end: i };
}

function credentialValuesIn(sql: string, keep: number): { values: string[]; cut: string | undefined } {
  if (!mayHold(sql)) return { values: [], cut: undefined };
  const read = keep * 2;
  const head = sql.length > read ? sql.slice(0, read) : sql;
  const values = new Set<string>();
  let cut: string | undefined;
  for (const r of agreedReplacements(head)) {
    const literal = head.slice(r.start, r.end);
    const inner = /^\$([A-Za-z_0-9]*)\$([\s\S]*)\$\1\$$/.exec(literal)?.[2] ?? literal.replace(/^[A-Za-z]?(['"])([\s\S]*?)\1?$/, '$2');
    if (r.open && head.length < sql.length) {
      if (inner.length >= 4) cut = inner;
      continue;
    }
    for (const value of [inner, inner.replace(/''/g, "'"), inner.replace(/""/g, '"')]) if (value.length >= 4) values.add(value);
  }
  return { values: [...values].sort((a, b) => b.length - a.length), cut };
}

/** `sql` with the replacements both readings agree on; `toEnd` when the last one runs to the end of the text. */
function hiddenIn(sql: string): { text: string; toEnd: boolean } {
  const agreed = agreedReplacements(sql);
  let out = sql;
  let limit = sql.length;
  for (const r of agreed) {
    if (r.end > limit) continue; // overlaps one already replaced (one reading never has two; kept safe)
    out = `${out.slice(0, r.start)}${r.text}${out.slice(r.end)}`;
    limit = r.start;
  }
  return { text: out, toEnd: agreed[0]?.open === true };
}

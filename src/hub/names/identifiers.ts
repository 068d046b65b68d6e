import { hasInvisible } from '../../shown-text.js';
import { SnowmuxError } from '../../errors.js';

/**
 * Snowflake identifier rules, applied the same way for every backend so a prompt that works on the
 * embedded warehouse works on Snowflake:
 * - a plain name (`customer`, `TPCH_SF1`) is an unquoted identifier: Snowflake resolves it upper-cased;
 * - a name already wrapped in double quotes (`"Mixed Case"`) is taken literally, inner `""` unescaped;
 * - anything else (spaces, dots, quotes, punctuation) is taken literally as a quoted identifier.
 * The result is always emitted double-quoted, so no input can break out of the identifier.
 *
 * Resolve once: a name a user typed is normalized exactly once, in the tool layer, before the policy judges
 * it; everything after (policy, governed warehouse, backends, session context) takes that resolved name and
 * only quotes it. normalizeIdentifier is not idempotent (`""X""` → `"X"` → `X`), so a second pass anywhere
 * would let a name the policy judged as `"X"` reach X.
 */
const UNQUOTED = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const MAX_IDENTIFIER_LENGTH = 255;

export function normalizeIdentifier(raw: string, what = 'identifier'): string {
  if (typeof raw !== 'string' || raw.length === 0) {
    throw new SnowmuxError('INVALID_IDENTIFIER', `The ${what} is empty. Pass a name such as "PUBLIC".`);
  }
  let name: string;
  if (UNQUOTED.test(raw)) name = raw.toUpperCase();
  else if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) name = raw.slice(1, -1).replace(/""/g, '"');
  else name = raw;
  if (name.length === 0 || name.length > MAX_IDENTIFIER_LENGTH) {
    throw new SnowmuxError('INVALID_IDENTIFIER', `The ${what} must be 1 to ${MAX_IDENTIFIER_LENGTH} characters long.`);
  }
  // A tab is the one control character a name may hold: both engines accept it in a quoted name, the
  // listings show such a table (a message escapes it, \u0009, so it never passes for a space), and a
  // name the catalog lists must be one the tools accept. Line breaks, other controls and invisible
  // characters stay refused: they can make one name look like another.
  if (hasInvisible(name.replaceAll('\t', ' '))) {
    throw new SnowmuxError('INVALID_IDENTIFIER', `The ${what} contains control or invisible characters (line separators, bidi or zero-width marks); pass a plain object name.`);
  }
  // Half a surrogate pair is no character: each engine reads it as U+FFFD, another name than the one judged.
  if (LONE_SURROGATE.test(name)) {
    throw new SnowmuxError('INVALID_IDENTIFIER', `The ${what} contains half of a UTF-16 surrogate pair (text cut inside an emoji or another character beyond U+FFFF); pass the whole name.`);
  }
  return name;
}

/** With the u flag only an unpaired surrogate is a \p{Cs} match: a pair reads as its one code point. */
const LONE_SURROGATE = /\p{Cs}/u;

const PART = /^(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")/;

/** Plain or double-quoted identifiers joined by dots, as written; undefined when the text is not that. */
function dottedParts(raw: string): string[] | undefined {
  const parts: string[] = [];
  let rest = raw;
  for (;;) {
    const part = PART.exec(rest)?.[0];
    if (part === undefined) return undefined;
    parts.push(part);
    rest = rest.slice(part.length);
    if (rest === '') return parts;
    if (!rest.startsWith('.')) return undefined;
    rest = rest.slice(1);
  }
}

/**
 * The parts of a qualified name as Snowflake reads one (`DB.SCHEMA.T`, `SCHEMA.T`, `"My DB".S."t.x"`):
 * two or three plain or double-quoted identifiers joined by dots, each still to be normalized. Undefined for
 * anything else, which stays one name (a quoted `"a.b"` is one name with a dot in it).
 */
export function qualifiedNameParts(raw: string): string[] | undefined {
  const parts = dottedParts(raw);
  return parts !== undefined && parts.length >= 2 && parts.length <= 3 ? parts : undefined;
}

/**
 * How many parts an unquoted dotted name has when it reads as more than a qualified name can hold
 * (`DB.SCHEMA.TABLE.COLUMN`, 4 or more plain or quoted parts), else undefined. Such a name is almost
 * always a path typed too long, not one object with dots in its name (that one is passed quoted).
 */
export function overlongQualifiedName(raw: string): number | undefined {
  const count = dottedParts(raw)?.length ?? 0;
  return count > 3 ? count : undefined;
}

/**
 * Whether the embedded engine (DuckDB) reads two names as the same identifier. Its binder compares names
 * ignoring the case of ASCII letters only: `"SALARİES"` (dotted capital I) or `"\u212AEYS"` (Kelvin sign)
 * name no table there, although Unicode lower-casing (SQL `lower()`, JS `toLowerCase`) makes them
 * `salaries` and `keys`. Every catalog look-up for that engine compares this way, so a name the policy
 * judged cannot find an object the engine itself would not.
 */
export function sameDuckDbName(a: string, b: string): boolean {
  return a.length === b.length && foldAscii(a) === foldAscii(b);
}

function foldAscii(name: string): string {
  return name.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** Quotes an already-normalized name. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** One identifier as a message or a listing shows it: plain when Snowflake would print it unquoted, else quoted. */
export function displayPart(name: string): string {
  return /^[A-Z_][A-Z0-9_$]*$/.test(name) ? name : quoteIdentifier(name);
}

/** A SQL string literal ('it''s'), for the few commands that take names as strings. */
export function stringLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * Object patterns of a role: `DATABASE.SCHEMA.OBJECT`, each part a name, a glob or a quoted name.
 *
 * Parts follow Snowflake's identifier rules, the same way the tools normalize names
 * (`normalizeIdentifier`): an unquoted part is upper-cased (`analytics` → `ANALYTICS`), a double-quoted
 * part is taken literally (`"Mixed Case"`, `"a.b"`, `"say ""hi"""`). In an unquoted part `*` matches
 * any run of characters and `?` one character; inside quotes they are ordinary characters. Missing
 * trailing parts mean "anything": `ANALYTICS` is `ANALYTICS.*.*`, `*.HR` is `*.HR.*`.
 *
 * Case: allow patterns compare names exactly (Snowflake semantics). Deny patterns compare ignoring case,
 * because the embedded DuckDB resolves `"salaries"` and `SALARIES` to the same table: a deny that
 * honoured case could be stepped around by quoting a name in lower case. The cost is that a deny of
 * `SALARIES` also hides a distinct Snowflake object named `"salaries"` — the safe direction.
 */
import { displayPart, normalizeIdentifier } from './identifiers.js';
import { globMatch, hasGlob, matchesEverything } from './glob.js';

export type NamePart =
  | { kind: 'any' }
  | { kind: 'literal'; value: string }
  | { kind: 'glob'; source: string };

export interface ObjectPattern {
  /** The pattern as written in the config. */
  text: string;
  parts: readonly [NamePart, NamePart, NamePart];
}

/** A (possibly partial) object name: database, database.schema, or database.schema.object. */
export interface NameRef {
  database: string;
  schema?: string | undefined;
  name?: string | undefined;
}

const ANY: NamePart = { kind: 'any' };
const GLOB_PART = /^[A-Za-z0-9_$*?]+$/;

/** Parses a pattern; returns a sentence-fragment problem ("expected …") when it is not valid. */
export function parseObjectPattern(text: string): ObjectPattern | { problem: string } {
  if (typeof text !== 'string' || text.trim() === '') return { problem: 'expected an object pattern such as "ANALYTICS.*.*"' };
  const raw = splitPattern(text.trim());
  if ('problem' in raw) return raw;
  if (raw.parts.length > 3) {
    return { problem: `expected at most three parts (DATABASE.SCHEMA.OBJECT), found ${raw.parts.length}; quote names that contain dots` };
  }
  const parts: NamePart[] = [];
  for (const part of raw.parts) {
    const compiled = compilePart(part);
    if ('problem' in compiled) return compiled;
    parts.push(compiled);
  }
  while (parts.length < 3) parts.push(ANY);
  return { text, parts: [parts[0]!, parts[1]!, parts[2]!] };
}

/** Every object matches `*.*.*`. */
export function isMatchAll(pattern: ObjectPattern): boolean {
  return pattern.parts.every((part) => part.kind === 'any');
}

interface RawPart {
  text: string;
  quoted: boolean;
}

function splitPattern(text: string): { parts: RawPart[] } | { problem: string } {
  const parts: RawPart[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= text.length) return { problem: 'expected a closing double quote' };
        if (text[j] === '"') {
          if (text[j + 1] === '"') {
            value += '"';
            j += 2;
            continue;
          }
          break;
        }
        value += text[j];
        j++;
      }
      parts.push({ text: value, quoted: true });
      i = j + 1;
      if (i < text.length && text[i] !== '.') {
        return { problem: 'expected "." after a quoted name; write a part either fully quoted or not quoted at all' };
      }
    } else {
      let j = i;
      while (j < text.length && text[j] !== '.') {
        if (text[j] === '"') return { problem: 'expected a part either fully quoted or not quoted at all' };
        j++;
      }
      parts.push({ text: text.slice(i, j), quoted: false });
      i = j;
    }
    if (i >= text.length) return { parts };
    i++; // the dot
    if (i >= text.length) return { problem: 'expected a name after the last "."' };
  }
}

function compilePart(part: RawPart): NamePart | { problem: string } {
  if (part.text === '') {
    return { problem: part.quoted ? 'expected a non-empty quoted name' : 'expected a name or * between the dots' };
  }
  if (part.quoted) {
    if (/[\u0000-\u001f]/.test(part.text)) return { problem: 'expected a name without control characters' };
    return { kind: 'literal', value: part.text };
  }
  if (hasGlob(part.text)) {
    if (!GLOB_PART.test(part.text)) {
      return { problem: `expected a glob made of letters, digits, _, $, * and ? in "${part.text}"; quote names with other characters` };
    }
    if (matchesEverything(part.text)) return ANY;
    return { kind: 'glob', source: asciiUpper(part.text) };
  }
  try {
    return { kind: 'literal', value: normalizeIdentifier(part.text, 'name') };
  } catch {
    return { problem: `expected a valid name in "${part.text}"` };
  }
}

function asciiUpper(text: string): string {
  return text.replace(/[a-z]+/g, (s) => s.toUpperCase());
}

/** Whether one part matches a concrete name; `fold` compares ignoring case (deny patterns). */
export function partMatches(part: NamePart, name: string, fold: boolean): boolean {
  switch (part.kind) {
    case 'any':
      return true;
    case 'literal':
      return fold ? part.value.toUpperCase() === name.toUpperCase() : part.value === name;
    case 'glob':
      // Folded, a character whose upper case is longer (ß → SS) no longer fits one `?`: `STRA?E` missed the
      // name "STRAßE" a deny meant (the engine's own comparison leaves ß alone). Each character folded on its
      // own is tried too; a deny matches when either reading does.
      return globMatch(part.source, name, { fold }) || (fold && globMatch(part.source, upperEach(name)));
  }
}

/** Each character upper-cased where that keeps it one character (ß, ŉ and ligatures stay as they are). */
function upperEach(name: string): string {
  let out = '';
  for (const ch of name) {
    const upper = ch.toUpperCase();
    out += Array.from(upper).length === 1 ? upper : ch;
  }
  return out;
}

/** The names of `ref`, in order, as far as it goes (1 to 3 entries). */
export function refNames(ref: NameRef): string[] {
  const names = [ref.database];
  if (ref.schema !== undefined) {
    names.push(ref.schema);
    if (ref.name !== undefined) names.push(ref.name);
  }
  return names;
}

/** Whether the pattern's leading parts match every name `ref` gives (the rest is not looked at). */
export function prefixMatches(pattern: ObjectPattern, ref: NameRef, fold: boolean): boolean {
  return refNames(ref).every((name, i) => partMatches(pattern.parts[i]!, name, fold));
}

/**
 * Whether every object the pattern `covered` can match is also matched by `cover` (ignoring case, as
 * `cover` is a deny pattern). Conservative: answers false when it cannot be sure.
 */
export function subsumes(cover: readonly NamePart[], covered: readonly NamePart[]): boolean {
  return cover.every((c, i) => partSubsumes(c, covered[i] ?? ANY));
}

function partSubsumes(cover: NamePart, covered: NamePart): boolean {
  if (cover.kind === 'any') return true;
  if (covered.kind === 'literal') return partMatches(cover, covered.value, true);
  if (covered.kind === 'glob' && cover.kind === 'glob') return cover.source.toUpperCase() === covered.source.toUpperCase();
  return false;
}

/** `pattern` with its leading parts replaced by the concrete names of `ref`. */
export function narrowed(pattern: ObjectPattern, ref: NameRef): NamePart[] {
  const names = refNames(ref);
  return pattern.parts.map((part, i) => {
    const name = names[i];
    return name === undefined ? part : { kind: 'literal', value: name };
  });
}

/** How a name is shown in messages: plain when Snowflake would print it unquoted, else quoted. */
export function displayName(ref: NameRef): string {
  return refNames(ref).map(displayPart).join('.');
}


/**
 * What a call's arguments add to or leave out of its tool's parameters, said so the next call can be right.
 * Every tool's input schema is strict: an argument the tool does not take is refused, not dropped — dropped,
 * `describe_table {table_name, schema_name}` described the default schema's table of that name, a confident
 * answer about another object. The SDK's own text for such a refusal names neither the key nor the one meant.
 */
import { closestName } from '../../closest-name.js';
import { shownName } from '../../shown-text.js';

export interface ToolParameters {
  /** Every parameter, in the schema's order. */
  names: readonly string[];
  required: ReadonlySet<string>;
}

/** The parameters of a zod object schema (what every tool registers); undefined for anything else. */
export function parametersOf(schema: unknown): ToolParameters | undefined {
  const shape = (schema as { shape?: unknown } | undefined)?.shape;
  if (typeof shape !== 'object' || shape === null) return undefined;
  const fields = Object.entries(shape as Record<string, { isOptional?: () => boolean }>);
  return {
    names: fields.map(([name]) => name),
    required: new Set(fields.filter(([, field]) => field.isOptional?.() === false).map(([name]) => name)),
  };
}

/** Spellings agents send for a parameter that edit distance does not find (`sql` is far from `query`). */
const USUAL_GUESSES: Readonly<Record<string, readonly string[]>> = {
  sql: ['query'],
  statement: ['query'],
  max_rows: ['limit'],
  rows: ['limit'],
  row_limit: ['limit'],
  db: ['database'],
};

/** A name without case, separators or a trailing "name": `schema_name`, `Schema` and `schema` agree. */
function stem(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '').replace(/name$/, '');
}

/** The parameter `key` most likely meant: a typo, the same word with or without `_name`, or a usual guess. */
export function meantParameter(key: string, names: readonly string[]): string | undefined {
  const close = closestName(key, names);
  if (close !== undefined) return close;
  const guessed = USUAL_GUESSES[key.toLowerCase()]?.find((name) => names.includes(name));
  if (guessed !== undefined) return guessed;
  const keyStem = stem(key);
  if (keyStem.length < 3) return undefined;
  return names.find((name) => stem(name) === keyStem);
}

/**
 * Keys a refusal names one by one (and looks for the parameter meant by); the others are counted. A call
 * with 49,000 unknown keys was answered with all of them, 1.5 MB of text, and the edit distance of each
 * to every parameter kept the hub's only thread busy for 0.4 s.
 */
const NAMED_KEYS = 5;

/**
 * The refusal for arguments with keys `tool` does not take or without one it needs; undefined when neither
 * is the case (the schema's own message says what else is wrong). A key sent in place of a missing
 * parameter is said once, as that parameter's spelling.
 */
export function argumentProblem(tool: string, args: Record<string, unknown>, params: ToolParameters, schema?: unknown): string | undefined {
  const names = new Set(params.names);
  const unknown: string[] = [];
  let unknownCount = 0;
  for (const key of Object.keys(args)) {
    if (names.has(key)) continue;
    unknownCount += 1;
    if (unknown.length < NAMED_KEYS) unknown.push(key);
  }
  const missing = [...params.required].filter((name) => args[name] === undefined);
  const others = otherIssues(schema, args, missing);
  if (unknownCount === 0 && missing.length === 0 && others.length === 0) return undefined;
  const said = new Set<string>();
  const problems: string[] = [];
  for (const name of missing) {
    const instead = unknown.find((key) => !said.has(key) && meantParameter(key, params.names) === name);
    if (instead === undefined) {
      problems.push(`${tool} needs "${name}".`);
      continue;
    }
    said.add(instead);
    problems.push(`${tool} needs "${name}"; it was sent as ${shownName(instead)}: pass it as "${name}".`);
  }
  for (const key of unknown) {
    if (said.has(key)) continue;
    const meant = meantParameter(key, params.names);
    problems.push(`${tool} does not take ${shownName(key)}${meant === undefined ? '' : ` (did you mean "${meant}"?)`}.`);
  }
  const unnamed = unknownCount - unknown.length;
  if (unnamed > 0) problems.push(`It does not take ${unnamed.toLocaleString('en-US')} more of the keys sent either.`);
  problems.push(...others.map((issue) => `${tool}: ${issue}`));
  const listed = params.names.map((name) => (params.required.has(name) ? `${name} (required)` : name));
  const takes = listed.length === 0 ? 'It takes no arguments.' : `Its parameters: ${listed.join(', ')}.`;
  const again = unknownCount === 0 && missing.length === 0 ? 'call it again with these values corrected' : 'call it again with these names';
  return `${problems.join(' ')} ${takes} Nothing was run; ${again}.`;
}

/** A zod issue, as much of it as the refusal reads. */
interface SchemaIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  values?: unknown[];
}

/** What a JSON value is, as a refusal names what was sent. */
function sentAs(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : `the string ${shownName(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
};

/**
 * One issue in the hub's words: which argument, what it must be, and what was sent ("limit must be a
 * whole number from 1 to 10000; it was -5"), so the next call can be right. The SDK's own text
 * ("Input validation error: … limit: Too small: expected number to be >=1") named neither the value nor,
 * for an optional argument sent as null, that leaving it out is the way to the default.
 */
function describeIssue(issue: SchemaIssue, args: Record<string, unknown>, optional: ReadonlySet<string>): string {
  const key = issue.path.map(String).join('.') || 'the arguments';
  let value: unknown = args;
  for (const part of issue.path) value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[part] : undefined;
  const sent = `; it was ${sentAs(value)}`;
  const bound = (n: number | bigint | undefined, inclusive: boolean | undefined, below: boolean) =>
    n === undefined ? '' : inclusive === false ? `${below ? 'more' : 'less'} than ${n}` : `${below ? 'at least' : 'at most'} ${n}`;
  switch (issue.code) {
    case 'invalid_type': {
      const leaveOut = value === null && issue.path.length === 1 && optional.has(String(issue.path[0])) ? ' (leave it out to use its default)' : '';
      return `"${key}" must be ${TYPE_NAMES[issue.expected ?? ''] ?? issue.expected ?? 'of another type'}${sent}${leaveOut}.`;
    }
    case 'too_small':
      if (issue.origin === 'string') return issue.minimum === 1 ? `"${key}" must not be empty.` : `"${key}" must be ${bound(issue.minimum, issue.inclusive, true)} characters long${sent}.`;
      if (issue.origin === 'array') return `"${key}" must have ${bound(issue.minimum, issue.inclusive, true)} items.`;
      return `"${key}" must be ${bound(issue.minimum, issue.inclusive, true)}${sent}.`;
    case 'too_big':
      if (issue.origin === 'string') return `"${key}" must be ${bound(issue.maximum, issue.inclusive, false)} characters long${sent}.`;
      if (issue.origin === 'array') return `"${key}" must have ${bound(issue.maximum, issue.inclusive, false)} items.`;
      return `"${key}" must be ${bound(issue.maximum, issue.inclusive, false)}${sent}.`;
    case 'invalid_value':
      return `"${key}" must be one of ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(', ')}${sent}.`;
    default:
      // A message of the hub's own (a regex's `error`), or the schema's: with the key it is about.
      return `${key}: ${issue.message}${sent}.`;
  }
}

/** What else the schema finds wrong with the arguments (a wrong type, a value out of range), in the hub's words. */
function otherIssues(schema: unknown, args: Record<string, unknown>, missing: readonly string[]): string[] {
  const check = (schema as { safeParse?: (value: unknown) => { success: boolean; error?: { issues: SchemaIssue[] } } } | undefined)?.safeParse;
  if (check === undefined) return [];
  const parsed = check.call(schema, args);
  if (parsed.success || parsed.error === undefined) return [];
  const optional = new Set(parametersOf(schema)?.names.filter((name) => !parametersOf(schema)!.required.has(name)) ?? []);
  return parsed.error.issues
    .filter((issue) => issue.code !== 'unrecognized_keys' && !missing.includes(String(issue.path[0])))
    .slice(0, NAMED_KEYS)
    .map((issue) => describeIssue(issue, args, optional));
}

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
  if (unknownCount === 0 && missing.length === 0) return undefined;
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
  problems.push(...otherIssues(schema, args, missing));
  const listed = params.names.map((name) => (params.required.has(name) ? `${name} (required)` : name));
  const takes = listed.length === 0 ? 'It takes no arguments.' : `Its parameters: ${listed.join(', ')}.`;
  return `${problems.join(' ')} ${takes} Nothing was run; call it again with these names.`;
}

/** What else the schema finds wrong with the arguments (a wrong type, a value out of range), as `key: message`. */
function otherIssues(schema: unknown, args: Record<string, unknown>, missing: readonly string[]): string[] {
  const check = (schema as { safeParse?: (value: unknown) => { success: boolean; error?: { issues: { code: string; path: PropertyKey[]; message: string }[] } } } | undefined)?.safeParse;
  if (check === undefined) return [];
  const parsed = check.call(schema, args);
  if (parsed.success || parsed.error === undefined) return [];
  return parsed.error.issues
    .filter((issue) => issue.code !== 'unrecognized_keys' && !missing.includes(String(issue.path[0])))
    .slice(0, NAMED_KEYS)
    .map((issue) => `${issue.path.map(String).join('.') || 'arguments'}: ${issue.message}.`);
}

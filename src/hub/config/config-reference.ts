/**
 * The configuration reference in docs/configuration.md, generated from the config schema: every key of
 * every table with its type, default and meaning, all read from the schema (config-schema.ts: the zod
 * types, and each key's `setting()` documentation). `npm run docs:config` writes it between the marker
 * comments; a unit test fails when the file and the schema disagree.
 */
import { z } from 'zod';
import { CONFIG_TABLES, type SettingDoc } from './config-schema.js';

export const REFERENCE_BEGIN = '<!-- BEGIN GENERATED config reference: edit src/hub/config/config-schema.ts, then run `npm run docs:config` -->';
export const REFERENCE_END = '<!-- END GENERATED config reference -->';

export function renderConfigReference(): string {
  const out = [REFERENCE_BEGIN];
  for (const { table, about, schema } of CONFIG_TABLES) {
    out.push('', `### \`${table}\``, '', about, '', '| key | type | default | meaning |', '|---|---|---|---|');
    for (const [key, field] of Object.entries(schema.shape)) {
      const inner = unwrapOptional(field as z.ZodType);
      const doc = inner.meta() as SettingDoc<unknown> | undefined;
      if (!doc?.description) throw new Error(`config key ${table} ${key} has no setting() documentation in config-schema.ts`);
      const type = doc.type ?? typeOf(z.toJSONSchema(inner, { unrepresentable: 'any' }) as JsonSchema);
      const fallback = doc.default !== undefined ? shownDefault(key, doc.default) : (doc.absent ?? '—');
      out.push(`| \`${key}\` | ${cell(type)} | ${cell(fallback)} | ${cell(doc.description)} |`);
    }
  }
  out.push('', REFERENCE_END);
  return out.join('\n');
}

/** The document with its generated part replaced by `reference` (the markers must be there, once). */
export function spliceReference(doc: string, reference: string): string {
  const begin = doc.indexOf(REFERENCE_BEGIN);
  const end = doc.indexOf(REFERENCE_END);
  if (begin < 0 || end < begin) throw new Error(`docs/configuration.md must contain the markers ${REFERENCE_BEGIN} and ${REFERENCE_END}`);
  return `${doc.slice(0, begin)}${reference}${doc.slice(end + REFERENCE_END.length)}`;
}

interface JsonSchema {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
}

function unwrapOptional(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? unwrapOptional(schema.unwrap() as z.ZodType) : schema;
}

function typeOf(js: JsonSchema): string {
  if (js.enum) return js.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  if (js.anyOf) return js.anyOf.map(typeOf).join(' or ');
  switch (js.type) {
    case 'integer': {
      // zod states every integer's safe-integer bound; only a bound of ours is worth a word.
      const most = js.maximum !== undefined && js.maximum < Number.MAX_SAFE_INTEGER ? js.maximum : undefined;
      if (js.exclusiveMinimum === 0) return most === undefined ? 'positive integer' : `positive integer ≤ ${most}`;
      if (js.minimum === 0) return most === undefined ? 'integer ≥ 0' : `integer from 0 to ${most}`;
      return 'integer';
    }
    case 'number':
      return js.exclusiveMinimum === 0 ? 'number > 0' : js.minimum === 0 ? 'number ≥ 0' : 'number';
    case 'boolean':
      return 'boolean';
    case 'string':
      return js.const !== undefined ? `\`${JSON.stringify(js.const)}\`` : 'string';
    case 'array':
      return js.items?.type === 'string' ? 'list of strings' : 'array';
    case 'object':
      return 'table';
    default:
      return 'value';
  }
}

function shownDefault(key: string, value: unknown): string {
  if (typeof value === 'number' && /bytes$/.test(key) && value >= 1024 && value % 1024 === 0) {
    const kib = value / 1024;
    return `\`${value}\` (${kib % 1024 === 0 ? `${kib / 1024} MiB` : `${kib} KiB`})`;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).map(([k, v]) => `\`${k} = ${JSON.stringify(v)}\``).join(', ');
  }
  return `\`${JSON.stringify(value)}\``;
}

/** Text safe in a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

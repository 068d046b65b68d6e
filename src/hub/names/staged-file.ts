/**
 * A file on a named stage as users write it — `@DB.SCHEMA.STAGE/path/file.yaml`, parts quoted or not, the
 * database and schema optional — resolved once into the stage's object reference and the path inside it.
 */
import { SnowmuxError } from '../../errors.js';
import { normalizeIdentifier } from './identifiers.js';

export interface StagedFileRef {
  stage: { database: string; schema: string; name: string };
  path: string;
}

/** Paths the hub passes on: plain segments only (no `..`, no query or fragment characters). */
const PATH = /^[A-Za-z0-9_\-.]+(?:\/[A-Za-z0-9_\-.]+)*$/;

export function parseStagedFile(text: string, defaults: { database: string; schema: string }, what = 'staged file'): StagedFileRef {
  const bad = (why: string): SnowmuxError =>
    new SnowmuxError('INVALID_ARGUMENT', `The ${what} "${text.slice(0, 200)}" ${why}. Write it as @DATABASE.SCHEMA.STAGE/path/file.yaml.`);
  if (!text.startsWith('@')) throw bad('does not start with @');
  const parts: string[] = [];
  let i = 1;
  let current = '';
  let quoted = false;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      current += ch;
      if (ch === '"') {
        if (text[i + 1] === '"') current += text[++i];
        else quoted = false;
      }
      continue;
    }
    if (ch === '"') {
      quoted = true;
      current += ch;
    } else if (ch === '.') {
      parts.push(current);
      current = '';
    } else if (ch === '/') {
      break;
    } else current += ch;
  }
  if (quoted) throw bad('has an unterminated quoted name');
  parts.push(current);
  if (parts.length > 3) throw bad('names more than database, schema and stage');
  const names = parts.map((p) => normalizeIdentifier(p, `stage name part of the ${what}`));
  const path = text.slice(i + 1);
  if (i >= text.length || !PATH.test(path) || path.split('/').some((s) => s === '.' || s === '..')) throw bad('has no plain file path after the stage');
  const [name, schema, database] = [...names].reverse();
  return { stage: { database: database ?? defaults.database, schema: schema ?? defaults.schema, name: name! }, path };
}

/**
 * `search_objects`: one call to find the right table — databases, schemas, tables, views and (with
 * `include_columns`) columns whose name or comment contains the search terms, ranked, paged, and only
 * what the caller's role may see. It walks the catalog through the governed warehouse, so every listing
 * is filtered by the role and answered from the shared metadata cache after the first time.
 */
import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import { normalizeIdentifier } from '../names/identifiers.js';
import { displayPart } from '../names/object-pattern.js';
import { renderTable } from './result-format.js';
import { cachedSchema } from './schema-cache.js';
import { runTool, type ToolEnv } from './tool-runtime.js';

/** Upper bound on objects visited per call, so a huge account cannot make one search unbounded. */
const MAX_VISITED = 20_000;
const MAX_DESCRIBED = 200;

interface Hit {
  kind: 'database' | 'schema' | 'table' | 'view' | 'column';
  database: string;
  schema: string | null;
  object: string | null;
  column: string | null;
  comment: string | null;
  score: number;
}

/** Every term must match the name or the comment; exact and prefix name matches rank first. */
export function scoreOf(terms: string[], name: string, comment: string | undefined): number {
  const n = name.toLowerCase();
  const c = (comment ?? '').toLowerCase();
  let score = 0;
  for (const t of terms) {
    if (n === t) score += 100;
    else if (n.startsWith(t)) score += 50;
    else if (n.includes(t)) score += 25;
    else if (c.includes(t)) score += 10;
    else return 0;
  }
  return score;
}

export function registerSearchObjects(server: McpServer, env: ToolEnv): void {
  server.registerTool(
    'search_objects',
    {
      title: 'Search databases, schemas, tables, views and columns',
      description:
        'Find objects by words in their name or comment, in one call: ranked matches among databases, schemas, tables and views ' +
        '(and columns with include_columns), limited to what your role may see. Narrow with database/schema; page with offset.',
      inputSchema: cachedSchema('search_objects.in', () =>
        z.object({
          query: z.string().min(1).max(200).describe('Words to look for in names and comments (all must match).'),
          database: z.string().min(1).max(255).optional().describe('Search only this database.'),
          schema: z.string().min(1).max(255).optional().describe('Search only this schema (needs database).'),
          include_columns: z.boolean().optional().describe(`Also search column names and comments (describes up to ${MAX_DESCRIBED} objects).`),
          limit: z.number().int().min(1).max(200).optional().describe('Matches to return (default 25).'),
          offset: z.number().int().min(0).optional().describe('Matches to skip (default 0).'),
        }),
      ),
      outputSchema: cachedSchema('search_objects.out', () =>
        z.object({
          matches: z.array(
            z.object({
              kind: z.enum(['database', 'schema', 'table', 'view', 'column']),
              database: z.string(),
              schema: z.string().nullable(),
              object: z.string().nullable(),
              column: z.string().nullable(),
              comment: z.string().nullable(),
            }),
          ),
          total: z.number(),
          partial: z.boolean(),
        }),
      ),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'search_objects', mcp, args, async ({ warehouse, ctx }) => {
      const terms = args.query.toLowerCase().split(/\s+/).filter(Boolean);
      const hits: Hit[] = [];
      const add = (hit: Omit<Hit, 'score'>, name: string, comment: string | undefined) => {
        const score = scoreOf(terms, name, comment);
        if (score > 0) hits.push({ ...hit, score });
      };
      let visited = 0;
      let described = 0;
      let partial = false;
      const onlyDb = args.database === undefined ? undefined : normalizeIdentifier(args.database, 'database name');
      const onlySchema = args.schema === undefined ? undefined : normalizeIdentifier(args.schema, 'schema name');
      const databases = onlyDb !== undefined ? [{ name: onlyDb, comment: undefined }] : await warehouse.listDatabases(ctx);
      for (const db of databases) {
        add({ kind: 'database', database: db.name, schema: null, object: null, column: null, comment: db.comment ?? null }, db.name, db.comment);
        const schemas = onlySchema !== undefined ? [{ name: onlySchema, comment: undefined }] : await warehouse.listSchemas(db.name, ctx);
        for (const s of schemas) {
          add({ kind: 'schema', database: db.name, schema: s.name, object: null, column: null, comment: s.comment ?? null }, s.name, s.comment);
          for (const kind of ['table', 'view'] as const) {
            for (const o of await warehouse.listObjects(db.name, s.name, kind, ctx)) {
              if (++visited > MAX_VISITED) {
                partial = true;
                break;
              }
              add({ kind, database: db.name, schema: s.name, object: o.name, column: null, comment: o.comment ?? null }, o.name, o.comment);
              if (args.include_columns) {
                if (described >= MAX_DESCRIBED) {
                  partial = true;
                  continue;
                }
                described++;
                for (const c of await warehouse.describeObject({ database: db.name, schema: s.name, name: o.name }, kind, ctx)) {
                  add({ kind: 'column', database: db.name, schema: s.name, object: o.name, column: c.name, comment: c.comment ?? null }, c.name, c.comment ?? undefined);
                }
              }
            }
          }
        }
      }
      hits.sort((a, b) => b.score - a.score || nameParts(a).join('.').localeCompare(nameParts(b).join('.')));
      const offset = args.offset ?? 0;
      const limit = args.limit ?? 25;
      const page = hits.slice(offset, offset + limit).map(({ score: _score, ...h }) => h);
      const more = offset + page.length < hits.length;
      const notes = [
        `${hits.length} match${hits.length === 1 ? '' : 'es'}${hits.length > page.length ? `, showing ${offset + 1}–${offset + page.length}` : ''}.`,
        ...(more ? [`More: call search_objects again with offset=${offset + page.length}.`] : []),
        ...(partial ? ['The search stopped early (too many objects): narrow it with database and schema.'] : []),
      ];
      const table = page.length === 0 ? 'No object matches.' : renderTable(['kind', 'name', 'comment'], page.map((h) => [h.kind, path(h), h.comment]));
      return {
        content: [{ type: 'text', text: `${table}\n\n${notes.join(' ')}` }],
        structuredContent: { matches: page, total: hits.length, partial },
      };
    }),
  );
}

/**
 * The hit's name as one would write it: each part quoted when Snowflake would print it quoted, so a table
 * named `my.table` or `a"b` is not shown as a path it is not.
 */
export function path(h: Pick<Hit, 'database' | 'schema' | 'object' | 'column'>): string {
  return nameParts(h).map(displayPart).join('.');
}

function nameParts(h: Pick<Hit, 'database' | 'schema' | 'object' | 'column'>): string[] {
  return [h.database, h.schema, h.object, h.column].filter((x): x is string => x !== null);
}

/**
 * `search_objects`: one call to find the right table — databases, schemas, tables, views and (with
 * `include_columns`) columns whose name or comment contains the search terms, ranked, paged, and only
 * what the caller's role may see. It walks the catalog through the governed warehouse, so every listing
 * is filtered by the role and answered from the shared metadata cache after the first time.
 */
import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import { SnowmuxError } from '../../errors.js';
import { normalizeIdentifier } from '../names/identifiers.js';
import { displayPart, stringLiteral } from '../names/identifiers.js';
import { renderTable } from './result-format.js';
import { cachedSchema } from './schema-cache.js';
import { runTool, type ToolEnv } from './tool-runtime.js';
import { searchCatalog, type Hit } from './catalog-search.js';
import { catalogDatabase, catalogSchema } from './catalog-names.js';

/** Upper bound on objects visited per call, so a huge account cannot make one search unbounded. */
const MAX_VISITED = 20_000;
const MAX_DESCRIBED = 200;

export function registerSearchObjects(server: McpServer, env: ToolEnv): void {
  server.registerTool(
    'search_objects',
    {
      title: 'Search databases, schemas, tables, views and columns',
      description:
        'Find objects by words in their name or comment, in one call: ranked matches among databases, schemas, tables and views ' +
        '(and columns with include_columns), limited to what your role may see. Narrow with database/schema; page with offset.',
      inputSchema: cachedSchema('search_objects.in', () =>
        z.strictObject({
          query: z.string().min(1).max(200).describe('Words to look for in names and comments (all must match).'),
          database: z.string().min(1).max(255).optional().describe('Search only this database.'),
          schema: z.string().min(1).max(255).optional().describe('Search only this schema: in the given database, else in every database that has one of this name.'),
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
          skipped: z.array(z.object({ where: z.string(), code: z.string() })).describe('Listings the warehouse refused (searched around them).'),
        }),
      ),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'search_objects', mcp, args, async ({ lookups, countReturned, ctx, role }) => {
      const terms = args.query.toLowerCase().split(/\s+/).filter(Boolean);
      if (terms.length === 0) throw new SnowmuxError('INVALID_ARGUMENT', 'The query has no words to look for (only spaces). Pass one or more words, e.g. "orders customer".');
      let onlyDb = args.database === undefined ? undefined : normalizeIdentifier(args.database, 'database name');
      let onlySchema = args.schema === undefined ? undefined : normalizeIdentifier(args.schema, 'schema name');
      // The matches name the scope as the catalog spells it, as an unscoped search shows it.
      if (onlyDb !== undefined && onlySchema !== undefined) ({ database: onlyDb, schema: onlySchema } = await catalogSchema(lookups, onlyDb, onlySchema, ctx));
      else if (onlyDb !== undefined) onlyDb = await catalogDatabase(lookups, onlyDb, ctx);
      // Every listing and description the walk reads is a look-up: the caller receives the page of matches.
      const { hits, partial, notDescribed, skipped, moreSkipped } = await searchCatalog(
        lookups,
        { terms, database: onlyDb, schema: onlySchema, includeColumns: args.include_columns === true, maxVisited: MAX_VISITED, maxDescribed: MAX_DESCRIBED },
        ctx,
      );
      hits.sort((a, b) => b.score - a.score || nameParts(a).join('.').localeCompare(nameParts(b).join('.')));
      const offset = args.offset ?? 0;
      const limit = args.limit ?? 25;
      const page = hits.slice(offset, offset + limit).map(({ score: _score, ...h }) => h);
      countReturned(page);
      const more = offset + page.length < hits.length;
      const notes = [
        hits.length > 0 && offset >= hits.length
          ? `Offset ${offset} is past the last of ${hits.length} match${hits.length === 1 ? '' : 'es'}: call again with an offset below ${hits.length}.`
          : `${hits.length} match${hits.length === 1 ? '' : 'es'}${hits.length > page.length ? `, showing ${offset + 1}–${offset + page.length}` : ''}.`,
        ...(more ? [`More: call search_objects again with offset=${offset + page.length}.`] : []),
        ...(partial ? [stoppedEarly(notDescribed, onlyDb, onlySchema, terms, lookups.info().kind)] : []),
        ...(skipped.length > 0 ? [`Not searched, because the warehouse refused to list them: ${skipped.map((k) => `${k.where} (${k.code}: ${k.reason})`).join('; ')}${moreSkipped > 0 ? `; and ${moreSkipped} more` : ''}. Your Snowflake role may lack USAGE on them; the other matches are complete.`] : []),
      ];
      const table = page.length === 0 ? 'No object matches.' : renderTable(['kind', 'name', 'comment'], page.map((h) => [h.kind, path(h), h.comment]), role);
      return {
        content: [{ type: 'text', text: `${table}\n\n${notes.join(' ')}` }],
        structuredContent: { matches: page, total: hits.length, partial, skipped: skipped.map(({ where, code }) => ({ where, code })) },
      };
    }),
  );
}

/**
 * Why a search is partial, and what reaches the rest. Narrowing to a database and schema is the advice only
 * while it is not done already: within one schema, what is left are the columns of the objects past the
 * ones described, and a query of INFORMATION_SCHEMA.COLUMNS searches them all at once.
 */
function stoppedEarly(notDescribed: number, database: string | undefined, schema: string | undefined, terms: readonly string[], engine: 'duckdb' | 'snowflake'): string {
  if (notDescribed === 0) return 'The search stopped early (too many objects): narrow it with database and schema.';
  const skipped = `The columns of ${notDescribed} object${notDescribed === 1 ? '' : 's'} were not searched (one call describes at most ${MAX_DESCRIBED}).`;
  if (database === undefined || schema === undefined) return `${skipped} Narrow it with database and schema, or search the columns with INFORMATION_SCHEMA.COLUMNS.`;
  // Snowflake's strings read a backslash as an escape (`'a\'` never ends), DuckDB's do not: each gets its own literal.
  const literal = (text: string) => (engine === 'snowflake' ? stringLiteral(text) : `'${text.replaceAll("'", "''")}'`);
  // The search matched the words as written: a `_` or `%` in one is no wildcard in the query either.
  const pattern = (term: string) => `${literal(`%${term.replace(/[\\%_]/g, '\\$&')}%`)} ESCAPE ${literal('\\')}`;
  const matching = terms.map((t) => ` AND column_name ILIKE ${pattern(t)}`).join('');
  return (
    `${skipped} To search every column of ${displayPart(database)}.${displayPart(schema)}, run execute_query with database=${JSON.stringify(database)} and: ` +
    `SELECT table_name, column_name FROM INFORMATION_SCHEMA.COLUMNS WHERE table_catalog = ${literal(database)} AND table_schema = ${literal(schema)}${matching}`
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

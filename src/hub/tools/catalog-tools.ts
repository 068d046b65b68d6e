/**
 * Metadata tools: list_databases, list_schemas, list_tables, list_views, describe_table, describe_view.
 * Names and parameters of the first five match the original Python snowflake-mcp-server, so prompts written
 * for it keep working. Identifiers are passed to the warehouse as values, never pasted into SQL here.
 */
import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import { escapeLine, shownName } from '../../shown-text.js';
import { displayPart, normalizeIdentifier, overlongQualifiedName, qualifiedNameParts } from '../names/identifiers.js';
import { SnowmuxError } from '../../errors.js';
import type { ObjectDetails, ObjectInfo, ObjectKind, Warehouse } from '../warehouse/types.js';
import { statementContext } from '../names/statement-context.js';
import { renderTable } from './result-format.js';
import { cachedSchema } from './schema-cache.js';
import { catalogDatabase, catalogObject, catalogSchema } from './catalog-names.js';
import { runTool, type ToolEnv } from './tool-runtime.js';

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

const databaseArg = z.string().min(1).max(255).optional().describe('Database name. Defaults to the hub\'s default database.');
const schemaArg = z.string().min(1).max(255).optional().describe('Schema name. Defaults to the default schema of the database.');

const objectRow = z.object({ schema: z.string(), name: z.string(), comment: z.string().nullable(), row_count: z.number().nullable() });
const columnRow = z.object({ name: z.string(), type: z.string(), nullable: z.boolean(), default: z.string().nullable(), comment: z.string().nullable() });

/**
 * The database a call means: the one it named, or the warehouse's default. A Snowflake profile may set no
 * default database: a call that names none is told so and what to pass, before anything is sent — sent,
 * it was Snowflake's "Database '' does not exist or not authorized … Check the name", about a name the
 * caller never gave. `qualified` says the call takes a name that may carry its database (DB.SCHEMA.NAME).
 */
export function targetDatabase(warehouse: Warehouse, database: string | undefined, qualified = false): string {
  if (database !== undefined) return normalizeIdentifier(database, 'database name');
  const info = warehouse.info();
  if (info.defaultDatabase !== '') return info.defaultDatabase;
  throw new SnowmuxError(
    'INVALID_ARGUMENT',
    `No database was given, and profile ${shownName(info.name)} sets no default database to use instead. ` +
      `Pass database (list_databases shows the ones you can use)${qualified ? ', or qualify the name (DATABASE.SCHEMA.NAME)' : ''}; ` +
      'or have the profile set one (SNOWFLAKE_DATABASE, or database in its connection) for calls that name none.',
    { details: { missing: 'database', profile: info.name } },
  );
}

/**
 * The schema a call means: the one it named, the default schema in the default database, else the schema
 * the engine lands in for another database (Snowflake's PUBLIC, DuckDB's main) — the statement context's
 * own rule, so a catalog tool and a query read the same schema.
 */
export function targetSchema(warehouse: Warehouse, database: string, schema: string | undefined, qualified = false): string {
  if (schema !== undefined) return normalizeIdentifier(schema, 'schema name');
  const info = warehouse.info();
  const landed = statementContext(info, database, undefined).schema;
  if (landed !== '') return landed;
  // The profile's default database without a default schema: which schema a session lands in is then the
  // login's (the user's default namespace), which the hub does not know. Said, rather than sent as "DB..NAME".
  throw new SnowmuxError(
    'INVALID_ARGUMENT',
    `No schema was given, and profile ${shownName(info.name)} sets no default schema for database ${displayPart(database)}. ` +
      `Pass schema (list_schemas shows the schemas of ${displayPart(database)})${qualified ? ', or qualify the name (SCHEMA.NAME)' : ''}; ` +
      'or have the profile set one (SNOWFLAKE_SCHEMA, or schema in its connection) for calls that name none.',
    { details: { missing: 'schema', profile: info.name, database } },
  );
}

/**
 * The object a call means when its name may be qualified: models often pass `DB.SCHEMA.TABLE` as the table
 * name, which Snowflake reads as three names; so does this (a name with a dot in it is passed quoted,
 * `"a.b"`). Parts the name gives must agree with the database/schema arguments when those are given too.
 */
export function targetObject(warehouse: Warehouse, args: { database?: string | undefined; schema?: string | undefined; name: string }, what: string): { database: string; schema: string; name: string } {
  const parts = qualifiedNameParts(args.name);
  const overlong = parts === undefined ? overlongQualifiedName(args.name) : undefined;
  if (overlong !== undefined) {
    throw new SnowmuxError(
      'INVALID_ARGUMENT',
      `The ${what} ${shownName(args.name)} has ${overlong} dot-separated parts; a name has at most three (database.schema.${what.replace(/ name$/, '')}). ` +
        'Pass the object itself (a column is not an object here), or double-quote a name that has dots in it ("a.b").',
    );
  }
  if (parts === undefined) {
    const name = normalizeIdentifier(args.name, what);
    const database = targetDatabase(warehouse, args.database, true);
    return { database, schema: targetSchema(warehouse, database, args.schema, true), name };
  }
  const name = normalizeIdentifier(parts[parts.length - 1]!, what);
  const schemaPart = normalizeIdentifier(parts[parts.length - 2]!, 'schema name');
  const databasePart = parts.length === 3 ? normalizeIdentifier(parts[0]!, 'database name') : undefined;
  const disagree = (arg: string | undefined, part: string | undefined, key: string, argWhat: string): void => {
    if (arg === undefined || part === undefined) return;
    const given = normalizeIdentifier(arg, argWhat);
    if (given !== part) {
      throw new SnowmuxError('INVALID_ARGUMENT', `The ${what} ${JSON.stringify(args.name)} names ${key} ${part}, but ${key} is ${given}. Pass the ${what} alone with database and schema, or leave them out.`);
    }
  };
  disagree(args.database, databasePart, 'database', 'database name');
  disagree(args.schema, schemaPart, 'schema', 'schema name');
  const database = databasePart ?? targetDatabase(warehouse, args.database, true);
  return { database, schema: schemaPart, name };
}

export function registerCatalogTools(server: McpServer, env: ToolEnv): void {
  server.registerTool(
    'list_databases',
    {
      title: 'List databases',
      description: 'List the databases you can query.',
      inputSchema: cachedSchema('list_databases.in', () => z.strictObject({})),
      outputSchema: cachedSchema('list_databases.out', () => z.object({ databases: z.array(z.object({ name: z.string(), comment: z.string().nullable() })) })),
      annotations: READ_ONLY,
    },
    (args, mcp) => runTool(env, 'list_databases', mcp, args, async ({ warehouse, ctx, role }) => {
      const dbs = await warehouse.listDatabases(ctx);
      const databases = dbs.map((d) => ({ name: d.name, comment: d.comment ?? null }));
      return {
        content: [{ type: 'text', text: `${renderTable(['name', 'comment'], databases.map((d) => [d.name, d.comment]), role)}\n\n${databases.length} database(s).` }],
        structuredContent: { databases },
      };
    }),
  );

  server.registerTool(
    'list_schemas',
    {
      title: 'List schemas',
      description: 'List the schemas of a database.',
      inputSchema: cachedSchema('list_schemas.in', () => z.strictObject({ database: databaseArg })),
      outputSchema: cachedSchema('list_schemas.out', () => z.object({ database: z.string(), schemas: z.array(z.object({ name: z.string(), comment: z.string().nullable() })) })),
      annotations: READ_ONLY,
    },
    (args, mcp) => runTool(env, 'list_schemas', mcp, args, async ({ warehouse, lookups, ctx, role }) => {
      const asked = targetDatabase(warehouse, args.database);
      const list = await warehouse.listSchemas(asked, ctx);
      const database = await catalogDatabase(lookups, asked, ctx);
      const schemas = list.map((s) => ({ name: s.name, comment: s.comment ?? null }));
      return {
        content: [{ type: 'text', text: `Schemas in ${database}:\n\n${renderTable(['name', 'comment'], schemas.map((s) => [s.name, s.comment]), role)}` }],
        structuredContent: { database, schemas },
      };
    }),
  );

  for (const kind of ['table', 'view'] as const) registerListObjects(server, env, kind);
  for (const kind of ['table', 'view'] as const) registerDescribe(server, env, kind);
}

function registerListObjects(server: McpServer, env: ToolEnv, kind: ObjectKind): void {
  const plural = `${kind}s`;
  server.registerTool(
    `list_${plural}`,
    {
      title: `List ${plural}`,
      description: `List the ${plural} in a database, in one schema or in all of its schemas.`,
      inputSchema: cachedSchema(`list_${plural}.in`, () => z.strictObject({
        database: databaseArg,
        schema: z.string().min(1).max(255).optional().describe(`Schema name. Omit to list ${plural} in every schema of the database.`),
      })),
      outputSchema: cachedSchema(`list_${plural}.out`, () => z.object({ database: z.string(), schema: z.string().nullable(), [plural]: z.array(objectRow) })),
      annotations: READ_ONLY,
    },
    (args, mcp) => runTool(env, `list_${plural}`, mcp, args, async ({ warehouse, lookups, ctx, role }) => {
      let database = targetDatabase(warehouse, args.database);
      let schema = args.schema === undefined ? null : normalizeIdentifier(args.schema, 'schema name');
      let objects: ObjectInfo[];
      if (schema !== null) {
        objects = await warehouse.listObjects(database, schema, kind, ctx);
        // Echoed as the catalog spells them, as the rows do (the embedded engine ignores case); an empty
        // listing has no row to say it, so the catalog is asked.
        const first = objects[0];
        ({ database, schema } = first === undefined ? await catalogSchema(lookups, database, schema, ctx) : { database: first.database, schema: first.schema });
      } else {
        database = await catalogDatabase(lookups, database, ctx);
        objects = [];
        // The schemas are walked, not returned: only the objects count as rows the caller received.
        for (const s of await lookups.listSchemas(database, ctx)) {
          if (s.name === 'INFORMATION_SCHEMA') continue;
          objects.push(...(await warehouse.listObjects(database, s.name, kind, ctx)));
        }
      }
      const rows = objects.map((o) => ({ schema: o.schema, name: o.name, comment: o.comment ?? null, row_count: o.rowCount ?? null }));
      const where = escapeLine(schema === null ? database : `${database}.${schema}`);
      const table = rows.length === 0
        ? `No ${plural} in ${where}.`
        : renderTable(['schema', 'name', 'rows', 'comment'], rows.map((r) => [r.schema, r.name, r.row_count, r.comment]), role);
      return {
        content: [{ type: 'text', text: `${kind === 'table' ? 'Tables' : 'Views'} in ${where}:\n\n${table}` }],
        structuredContent: { database, schema, [plural]: rows },
      };
    }),
  );
}

function registerDescribe(server: McpServer, env: ToolEnv, kind: ObjectKind): void {
  const nameKey = `${kind}_name` as const;
  server.registerTool(
    `describe_${kind}`,
    {
      title: `Describe a ${kind}`,
      description:
        `Show the columns of a ${kind} (name, type, nullability, default, comment), its comment` +
        `${kind === 'table' ? ' and clustering key' : ''}, and with include_tags its object tags and its columns' tags (Snowflake).`,
      inputSchema: cachedSchema(`describe_${kind}.in`, () => z.strictObject({
        database: databaseArg,
        [nameKey]: z.string().min(1).max(255).describe(`${kind === 'table' ? 'Table' : 'View'} name, or DATABASE.SCHEMA.NAME.`),
        schema: schemaArg,
        include_tags: z.boolean().optional().describe('Also read the object tags (Snowflake; needs a running warehouse). Default false.'),
      })),
      outputSchema: cachedSchema(`describe_${kind}.out`, () => z.object({
        database: z.string(),
        schema: z.string(),
        name: z.string(),
        comment: z.string().nullable(),
        clustering_key: z.string().nullable(),
        columns: z.array(columnRow),
        tags: z.array(z.object({ tag: z.string(), value: z.string(), column: z.string().nullable() })).nullable(),
        tags_note: z.string().nullable(),
      })),
      annotations: READ_ONLY,
    },
    (args, mcp) => runTool(env, `describe_${kind}`, mcp, args, async ({ warehouse, lookups, ctx, role }) => {
      const a = args as { database?: string; schema?: string; include_tags?: boolean } & Record<string, string>;
      const ref = targetObject(warehouse, { database: a.database, schema: a.schema, name: a[nameKey]! }, `${kind} name`);
      // Both at once: a describe costs one round trip of waiting, not two.
      const [cols, details] = await Promise.all([
        warehouse.describeObject(ref, kind, ctx),
        warehouse.objectDetails ? warehouse.objectDetails(ref, kind, { tags: a.include_tags === true }, ctx) : Promise.resolve({} as ObjectDetails),
      ]);
      const { database, schema, name } = await catalogObject(lookups, ref, kind, ctx);
      const columns = cols.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, default: c.default ?? null, comment: c.comment ?? null }));
      const tags = details.tags?.map((t) => ({ tag: `${t.tag.database}.${t.tag.schema}.${t.tag.name}`, value: t.value, column: t.column ?? null })) ?? null;
      const tagsNote = a.include_tags === true && tags === null ? (details.tagsUnavailable ?? 'This warehouse keeps no object tags.') : null;
      // The name as one line: a tab (the one control character a name may hold) shows escaped, as in a table cell.
      const lines = [`${escapeLine(`${database}.${schema}.${name}`)}${details.comment ? ` — ${details.comment}` : ''}`];
      if (details.clusteringKey) lines.push(`Clustering key: ${details.clusteringKey}`);
      lines.push('', renderTable(['column', 'type', 'nullable', 'default', 'comment'], columns.map((c) => [c.name, c.type, c.nullable ? 'YES' : 'NO', c.default, c.comment]), role));
      if (tags !== null) lines.push('', tags.length === 0 ? 'No tags you may see.' : renderTable(['tag', 'value', 'column'], tags.map((t) => [t.tag, t.value, t.column ?? `(the ${kind})`]), role));
      if (tagsNote) lines.push('', tagsNote);
      return {
        content: [{ type: 'text', text: lines.join('\n') }],
        structuredContent: { database, schema, name, comment: details.comment ?? null, clustering_key: details.clusteringKey ?? null, columns, tags, tags_note: tagsNote },
      };
    }),
  );
}

/**
 * Beyond tools: warehouse objects as MCP resources (`snowflake://{database}/{schema}/{object}` → columns and
 * comments as JSON), completions for their names, and a prompt for exploring a schema. Reads go through
 * runTool as `describe_table` (the role must allow that tool, its object rules apply, the read is audited);
 * completions pass the same pipeline and list only what the caller's role may see.
 */
import { ProtocolError, ProtocolErrorCode, ResourceNotFoundError, ResourceTemplate, type CallToolResult, type McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { ERROR_CODES } from '../../error-codes.js';
import { isSnowmuxError, SnowmuxError } from '../../errors.js';
import { displayPart, normalizeIdentifier } from '../names/identifiers.js';
import type { CallContext, Warehouse } from '../warehouse/types.js';
import { cachedSchema } from './schema-cache.js';
import { runTool, type ToolEnv } from './tool-runtime.js';
import { wrapSdkHandler } from './sdk-handler.js';

const MAX_COMPLETIONS = 100;
const COMPLETION_TIMEOUT_MS = 10_000;

export function registerObjectResources(server: McpServer, env: ToolEnv): void {
  const { session } = env;

  /**
   * Completions are calls too: they pass the pipeline as `describe_table` (what the resource they complete
   * needs), so the role's tool and object rules, the rate limit and the audit apply to them like to a read.
   */
  let completions = 0;
  const listed = async (argument: string, value: string, fn: (w: Warehouse, ctx: CallContext) => Promise<string[]>): Promise<string[]> => {
    let names: string[] = [];
    const request = { id: `complete-${++completions}`, signal: AbortSignal.timeout(COMPLETION_TIMEOUT_MS) };
    await env.pipeline.run(session, 'describe_table', request, { completion: argument, value }, async ({ lookups, countReturned, ctx }) => {
      // The listing is looked through; the caller receives the names that match.
      names = matching(await fn(lookups, ctx), value);
      countReturned(names);
      return { content: [{ type: 'text', text: `${names.length} completion(s)` }] };
    });
    return names;
  };
  const matching = (names: string[], prefix: string) =>
    names.filter((n) => n.toUpperCase().startsWith(prefix.replace(/^"/, '').toUpperCase())).slice(0, MAX_COMPLETIONS);

  server.registerResource(
    'warehouse-object',
    new ResourceTemplate('snowflake://{database}/{schema}/{object}', {
      list: undefined,
      complete: {
        database: (value) => listed('database', value, async (w, ctx) => (await w.listDatabases(ctx)).map((d) => d.name)),
        // The parts already filled in are read as the resource read reads them (percent-decoded, then
        // resolved once as identifiers): `snowmux_sample` or `"TPCH"` complete what they would read.
        schema: (value, context) =>
          listed('schema', value, async (w, ctx) => (await w.listSchemas(uriName(context?.arguments?.database, 'database name'), ctx)).map((s) => s.name)),
        object: (value, context) =>
          listed('object', value, async (w, ctx) => {
            const db = uriName(context?.arguments?.database, 'database name');
            const sch = uriName(context?.arguments?.schema, 'schema name');
            const objects = [...(await w.listObjects(db, sch, 'table', ctx)), ...(await w.listObjects(db, sch, 'view', ctx))];
            return objects.map((o) => o.name);
          }),
      },
    }),
    { title: 'A table or view', description: 'Columns (name, type, nullability, default, comment) of a table or view, as JSON.', mimeType: 'application/json' },
    async (uri, variables, mcp) => {
      let body: string | undefined;
      const result = await runTool(env, 'describe_table', mcp, { resource: uri.href }, async ({ warehouse, ctx: callCtx }) => {
        const ref = {
          database: uriName(variables.database, 'database name'),
          schema: uriName(variables.schema, 'schema name'),
          name: uriName(variables.object, 'object name'),
        };
        let kind: 'table' | 'view' = 'table';
        let columns;
        try {
          columns = await warehouse.describeObject(ref, 'table', callCtx);
        } catch (err) {
          if ((err as { code?: string }).code !== 'OBJECT_NOT_FOUND') throw err;
          kind = 'view';
          columns = await warehouse.describeObject(ref, 'view', callCtx).catch((viewErr: unknown) => {
            throw neitherTableNorView(viewErr);
          });
        }
        body = JSON.stringify({ ...ref, kind, columns }, null, 2);
        return { content: [{ type: 'text', text: body }] };
      });
      if (result.isError || body === undefined) throw readFailure(uri.href, result);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: body }] };
    },
  );

  server.registerPrompt(
    'explore_schema',
    {
      title: 'Explore a schema',
      description: 'Guides the model through a schema: its tables and views, their columns, and a first look at the data.',
      argsSchema: cachedSchema('explore_schema.args', () => z.object({ database: z.string().describe('Database name'), schema: z.string().describe('Schema name') })),
    },
    ({ database, schema }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            // The names are the client's (or a catalog's, through completion: anyone who may create a schema
            // names it): checked as the tools check them, and quoted so that a quote or a line break in one
            // cannot end the value and go on as instructions of the prompt's own.
            text:
              `Explore ${exploredName(database, schema)} in the Snowflake warehouse. First call list_tables and list_views with database ${JSON.stringify(database)} and schema ${JSON.stringify(schema)}. ` +
              'Then describe the tables that look central (describe_table), and sample a few rows of each with execute_query using a LIMIT. ' +
              'Summarise what the schema holds, how the tables join, and which questions it can answer. Run read-only queries only.',
          },
        },
      ],
    }),
  );

  // The prompt's arguments complete as the template's parts do. The SDK calls a prompt argument's completer
  // without the request, and the prompt's schema is built once per process (schema-cache), not per session:
  // so this session's completer goes in front of the SDK's handler (which answered [] for the prompt).
  wrapSdkHandler(server, 'completion/complete', (sdk) => async (request, ctx) => {
    const params = request.params as { ref?: { type?: unknown; name?: unknown }; argument?: { name?: unknown; value?: unknown }; context?: { arguments?: Record<string, unknown> } };
    if (params.ref?.type !== 'ref/prompt' || params.ref.name !== 'explore_schema') return sdk(request, ctx);
    const value = typeof params.argument?.value === 'string' ? params.argument.value : '';
    const database = params.context?.arguments?.database;
    let values: string[] = [];
    if (params.argument?.name === 'database') {
      values = await listed('database', value, async (w, c) => (await w.listDatabases(c)).map((d) => d.name));
    } else if (params.argument?.name === 'schema' && typeof database === 'string' && database !== '') {
      // Typed as the prompt takes it (an identifier, not a URI part): `snowmux_sample` completes SNOWMUX_SAMPLE's.
      values = await listed('schema', value, async (w, c) => (await w.listSchemas(normalizeIdentifier(database, 'database name'), c)).map((x) => x.name));
    }
    return { completion: { values, hasMore: false } };
  });
}

/**
 * The schema explore_schema names, as the tools will read it: each part checked as a tool checks a name
 * (not empty, no line break or other control or invisible character; INVALID_IDENTIFIER as a -32602 the
 * client can show), shown as a qualified name (`SNOWMUX_SAMPLE.TPCH`, `DB."a ""b"""`).
 */
function exploredName(database: string, schema: string): string {
  try {
    return `${displayPart(normalizeIdentifier(database, 'database name'))}.${displayPart(normalizeIdentifier(schema, 'schema name'))}`;
  } catch (err) {
    if (!isSnowmuxError(err)) throw err;
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `explore_schema: ${err.message}`, { code: err.code, retryable: false });
  }
}

/**
 * A failed read as the protocol error that says whose failure it was. An object that does not exist is
 * the spec's resource-not-found (`-32602` whose data is the `uri` alone, what SDK clients recognise as
 * `ResourceNotFoundError`); any other mistake or refusal of the caller's is `-32602` too, and a failure of
 * the warehouse or the hub `-32603` (it was reported as "invalid params": the caller's fault, never worth
 * a retry). Beside the `uri`, the data carries what a tool's error carries in `_meta["dev.snowmux/error"]`
 * (`code`, `retryable`, `retryAfterMs`), so a client can act without reading the message.
 */
function readFailure(uri: string, result: CallToolResult): ProtocolError {
  const message = (result.content?.[0] as { text?: string } | undefined)?.text ?? 'The resource could not be read.';
  const facts = (result._meta?.['dev.snowmux/error'] ?? {}) as { code?: string };
  if (facts.code === 'OBJECT_NOT_FOUND') return new ResourceNotFoundError(uri, message);
  const fault = (ERROR_CODES as Record<string, { fault: string } | undefined>)[facts.code ?? '']?.fault;
  return new ProtocolError(fault === 'user' ? ProtocolErrorCode.InvalidParams : ProtocolErrorCode.InternalError, message, { uri, ...facts });
}

/**
 * A resource is a table or a view: when neither exists (the database and schema do), the view's "View …
 * does not exist. Use list_views" would send the reader to the views alone.
 */
function neitherTableNorView(err: unknown): unknown {
  if (!isSnowmuxError(err, 'OBJECT_NOT_FOUND') || err.details?.['objectType'] !== 'view' || err.details['actualType'] !== undefined) return err;
  const { database, schema, name } = err.details as { database: string; schema: string; name: string };
  return new SnowmuxError(
    'OBJECT_NOT_FOUND',
    `No table or view ${[database, schema, name].map(displayPart).join('.')} exists. Use list_tables or list_views to see what ${displayPart(schema)} holds.`,
    { details: { ...err.details, objectType: 'table or view' } },
  );
}

/** One part of a resource URI as the name it resolves to (percent-decoded, then resolved once). */
function uriName(v: string | string[] | undefined, what: string): string {
  return normalizeIdentifier(uriPart(v, what), what);
}

/** One part of a resource URI, percent-decoded; a malformed escape (`%ZZ`) is the caller's mistake, said as such. */
function uriPart(v: string | string[] | undefined, what: string): string {
  const raw = String(Array.isArray(v) ? v[0] : v ?? '');
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new SnowmuxError('INVALID_IDENTIFIER', `The ${what} in the resource URI is not valid percent-encoding ("${raw.slice(0, 80)}"). Encode each part with encodeURIComponent.`);
  }
}

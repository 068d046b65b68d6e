/**
 * The catalog walk behind `search_objects`: databases → schemas → tables and views (→ columns), scoring
 * each name against the terms. Bounded: once `maxVisited` objects were seen (or `maxDescribed` described)
 * the walk stops listing — no further schema is listed. One listing the warehouse refuses (a schema the
 * Snowflake role may not read, an object dropped during the walk) is skipped and told, not the end of the
 * search; anything that concerns the call itself (a timeout, a cancel, a rate or quota refusal, an
 * unavailable warehouse) ends it, as does a failure of the scope the caller named.
 */
import { SnowmuxError, errorMessage, isSnowmuxError } from '../../errors.js';
import type { ErrorCode } from '../../error-codes.js';
import { displayPart } from '../names/identifiers.js';
import type { CallContext, ObjectInfo, Warehouse } from '../warehouse/types.js';

export interface Hit {
  kind: 'database' | 'schema' | 'table' | 'view' | 'column';
  database: string;
  schema: string | null;
  object: string | null;
  column: string | null;
  comment: string | null;
  score: number;
}

/** A listing the walk could not read, and why. */
export interface Skipped {
  /** What was being listed: `DB`, `DB.SCHEMA` or `DB.SCHEMA.OBJECT` (columns). */
  where: string;
  code: string;
  reason: string;
}

/** The part of a warehouse the walk uses (the governed one, in the tool). */
export type CatalogLister = Pick<Warehouse, 'listDatabases' | 'listSchemas' | 'listObjects' | 'describeObject'>;

export interface CatalogSearch {
  terms: string[];
  /** The scope the caller named: its failure ends the search. */
  database?: string | undefined;
  schema?: string | undefined;
  includeColumns: boolean;
  maxVisited: number;
  maxDescribed: number;
}

export interface CatalogSearchResult {
  hits: Hit[];
  /** True when a bound stopped the walk before it saw everything (objects, or the columns of some). */
  partial: boolean;
  /** Objects seen whose columns were not searched: the walk had described `maxDescribed` already. */
  notDescribed: number;
  skipped: Skipped[];
  /** Skipped listings past the ones kept in `skipped`. */
  moreSkipped: number;
}

/** Failures that concern one listing, not the call: the rest of the catalog is still worth searching. */
const ONE_LISTING: ReadonlySet<ErrorCode> = new Set(['OBJECT_NOT_FOUND', 'PERMISSION_DENIED', 'SQL_ERROR', 'POLICY_DENIED']);
const KEPT_SKIPS = 20;

/** Every term must match the name or the comment; exact and prefix name matches rank first. */
function scoreOf(terms: string[], name: string, comment: string | undefined): number {
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

export async function searchCatalog(catalog: CatalogLister, search: CatalogSearch, ctx: CallContext): Promise<CatalogSearchResult> {
  const { terms } = search;
  const hits: Hit[] = [];
  const skipped: Skipped[] = [];
  let moreSkipped = 0;
  let visited = 0;
  let described = 0;
  let notDescribed = 0;
  let partial = false;
  const add = (hit: Omit<Hit, 'score'>, name: string, comment: string | undefined | null): void => {
    const score = scoreOf(terms, name, comment ?? undefined);
    if (score > 0) hits.push({ ...hit, score });
  };
  /** The listing's items, or undefined when it was skipped (told in `skipped`). */
  const listing = async <T>(where: string, named: boolean, list: () => Promise<T[]>): Promise<T[] | undefined> => {
    try {
      return await list();
    } catch (err) {
      if (named || !isSnowmuxError(err) || !ONE_LISTING.has(err.code)) throw err;
      if (skipped.length < KEPT_SKIPS) skipped.push({ where, code: err.code, reason: errorMessage(err) });
      else moreSkipped++;
      return undefined;
    }
  };

  const databases = search.database !== undefined ? [{ name: search.database, comment: undefined }] : await catalog.listDatabases(ctx);
  // A schema named without its database is looked for in every database: one that has no schema of that
  // name is passed over (it failed the whole search, "Schema 'ANALYTICS.TPCH_SF1' does not exist", though
  // another database had it), and only where it exists is it a match.
  const everyDatabase = search.schema !== undefined && search.database === undefined;
  let absentIn = 0;
  walk: for (const db of databases) {
    add({ kind: 'database', database: db.name, schema: null, object: null, column: null, comment: db.comment ?? null }, db.name, db.comment);
    const schemas =
      search.schema !== undefined
        ? [{ name: search.schema, comment: undefined }]
        : await listing(shown(db.name), search.database !== undefined, () => catalog.listSchemas(db.name, ctx));
    for (const s of schemas ?? []) {
      let tables: ObjectInfo[] | undefined;
      if (everyDatabase) {
        try {
          tables = await catalog.listObjects(db.name, s.name, 'table', ctx);
        } catch (err) {
          if (isSnowmuxError(err) && err.code === 'OBJECT_NOT_FOUND') {
            absentIn++;
            continue;
          }
          // Any other refusal is that of a listing the caller did not name: skipped and said, as elsewhere.
          tables = await listing(shown(db.name, s.name), false, () => Promise.reject(err as Error));
          if (tables === undefined) continue;
        }
      }
      add({ kind: 'schema', database: db.name, schema: s.name, object: null, column: null, comment: s.comment ?? null }, s.name, s.comment);
      for (const kind of ['table', 'view'] as const) {
        const objects = kind === 'table' && tables !== undefined ? tables : await listing(shown(db.name, s.name), search.schema !== undefined && !everyDatabase, () => catalog.listObjects(db.name, s.name, kind, ctx));
        // A schema refused for its tables is refused for its views too: told once, not listed again.
        if (objects === undefined) break;
        for (const o of objects) {
          if (++visited > search.maxVisited) {
            partial = true;
            break walk;
          }
          add({ kind, database: db.name, schema: s.name, object: o.name, column: null, comment: o.comment ?? null }, o.name, o.comment);
          if (!search.includeColumns) continue;
          if (described >= search.maxDescribed) {
            partial = true;
            notDescribed++;
            continue;
          }
          described++;
          const columns = await listing(shown(db.name, s.name, o.name), false, () => catalog.describeObject({ database: db.name, schema: s.name, name: o.name }, kind, ctx));
          for (const c of columns ?? []) {
            add({ kind: 'column', database: db.name, schema: s.name, object: o.name, column: c.name, comment: c.comment ?? null }, c.name, c.comment);
          }
        }
      }
    }
  }
  if (everyDatabase && databases.length > 0 && absentIn === databases.length) {
    throw new SnowmuxError(
      'OBJECT_NOT_FOUND',
      `Schema ${displayPart(search.schema!)} does not exist in any of the ${databases.length} database${databases.length === 1 ? '' : 's'} you can see. ` +
        'Use list_schemas (with database) to see the schemas of a database, or search without schema.',
      { details: { schema: search.schema } },
    );
  }
  return { hits, partial, notDescribed, skipped, moreSkipped };
}

function shown(...parts: string[]): string {
  return parts.map(displayPart).join('.');
}

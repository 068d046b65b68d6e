/**
 * A role from the config, compiled: who it applies to, which tools and objects it grants, and how to
 * explain a refusal (which rule said no). Immutable; one instance per configured role.
 */
import { createHash } from 'node:crypto';
import type { ResultForm, ScanLimit } from '../config/config-schema.js';
import type { SqlPolicy } from '../guard/sql/policy.js';
import type { ClientInfo, Identity } from '../session/session.js';
import { globMatch } from '../names/glob.js';
import {
  isMatchAll,
  narrowed,
  prefixMatches,
  refNames,
  subsumes,
  type NameRef,
  type ObjectPattern,
} from '../names/object-pattern.js';

/** Normalized names (as Snowflake stores them: unquoted names upper-cased, quoted names literal). */
export interface ObjectRef {
  database: string;
  schema?: string;
  name?: string;
}

export interface EffectiveRole {
  name: string;
  write: boolean;
  stageListing: boolean;
  profile?: string;
  snowflakeRole?: string;
  warehouse?: string;
  maxRows?: number;
  /** Pre-flight scan limits per statement (EXPLAIN), where the engine gives the figure. */
  scanLimit?: ScanLimit;
  /** Server-side timeout per statement (below the hub's call timeout). */
  statementTimeoutMs?: number;
  /** Longest text cell returned. */
  maxCellChars?: number;
  /** Results computed only up to the row cap: a LIMIT goes into the statement, paging stops at the cap. */
  rowCapPushdown?: boolean;
  /** Whose calls query_history may show: the caller's own (default) or every identity's. */
  queryHistory?: 'own' | 'all';
  resultForm?: ResultForm;
  rate?: { perSecond: number; burst: number };
  quota?: { windowMs: number; queries?: number; rows?: number; bytes?: number; scanBytes?: number };
  toolAllowed(tool: string): boolean;
  /** For filtering metadata listings: may this role see anything inside ref (db, db.schema) or ref itself (db.schema.object)? */
  canSee(ref: ObjectRef): boolean;
  sqlPolicy(): SqlPolicy;
  /** False when the role may use every object (no deny patterns, allow matches all). */
  readonly objectsRestricted: boolean;
  /**
   * The role's object rules (allow and deny) as one short fingerprint: a result's owner keeps it, so a role
   * whose rules a reload changed no longer pages what it computed under the old ones.
   */
  readonly objectRules: string;
}

export interface CompiledRoleSpec {
  name: string;
  /** Globs over the identity name (case-sensitive); undefined = any identity. */
  identities?: readonly string[] | undefined;
  /** Globs over the client name (case-insensitive); undefined = any client. */
  clients?: readonly string[] | undefined;
  tools: readonly string[];
  allow: readonly ObjectPattern[];
  deny: readonly ObjectPattern[];
  write: boolean;
  stageListing: boolean;
  profile?: string | undefined;
  snowflakeRole?: string | undefined;
  warehouse?: string | undefined;
  maxRows?: number | undefined;
  scanLimit?: ScanLimit | undefined;
  statementTimeoutMs?: number | undefined;
  maxCellChars?: number | undefined;
  rowCapPushdown?: boolean | undefined;
  queryHistory?: 'own' | 'all' | undefined;
  resultForm?: ResultForm | undefined;
  rate?: { perSecond: number; burst: number } | undefined;
  quota?: { windowMs: number; queries?: number | undefined; rows?: number | undefined; bytes?: number | undefined; scanBytes?: number | undefined } | undefined;
}

/** A decision with the rule behind it, for refusal messages. */
/**
 * `spelling`: an object the allow patterns grant whose name differs from the one refused only in case
 * (`"Mixed"` where `Mixed`, read as MIXED, was asked), so the refusal can say how to write it.
 */
export type Verdict = { allowed: true } | { allowed: false; rule: string; spelling?: NameRef };

const ALLOWED: Verdict = { allowed: true };

export class CompiledRole implements EffectiveRole {
  readonly name: string;
  readonly write: boolean;
  readonly stageListing: boolean;
  readonly profile?: string;
  readonly snowflakeRole?: string;
  readonly warehouse?: string;
  readonly maxRows?: number;
  readonly scanLimit?: ScanLimit;
  readonly statementTimeoutMs?: number;
  readonly maxCellChars?: number;
  readonly rowCapPushdown?: boolean;
  readonly queryHistory?: 'own' | 'all';
  readonly resultForm?: ResultForm;
  readonly rate?: { perSecond: number; burst: number };
  readonly quota?: { windowMs: number; queries?: number; rows?: number; bytes?: number; scanBytes?: number };
  /** True when some object is out of reach (a deny pattern, or an allow list narrower than `*.*.*`). */
  readonly objectsRestricted: boolean;
  readonly objectRules: string;

  readonly #identities: readonly string[] | undefined;
  readonly #clients: readonly string[] | undefined;
  readonly #toolGrants: readonly string[];
  readonly #toolDenials: readonly string[];
  readonly #allow: readonly ObjectPattern[];
  readonly #deny: readonly ObjectPattern[];
  readonly #sqlPolicy: SqlPolicy;

  constructor(spec: CompiledRoleSpec) {
    this.name = spec.name;
    this.write = spec.write;
    this.stageListing = spec.stageListing;
    if (spec.profile !== undefined) this.profile = spec.profile;
    if (spec.snowflakeRole !== undefined) this.snowflakeRole = spec.snowflakeRole;
    if (spec.warehouse !== undefined) this.warehouse = spec.warehouse;
    if (spec.maxRows !== undefined) this.maxRows = spec.maxRows;
    if (spec.scanLimit !== undefined) this.scanLimit = Object.freeze({ ...spec.scanLimit });
    if (spec.statementTimeoutMs !== undefined) this.statementTimeoutMs = spec.statementTimeoutMs;
    if (spec.maxCellChars !== undefined) this.maxCellChars = spec.maxCellChars;
    if (spec.rowCapPushdown !== undefined) this.rowCapPushdown = spec.rowCapPushdown;
    if (spec.queryHistory !== undefined) this.queryHistory = spec.queryHistory;
    if (spec.resultForm !== undefined) this.resultForm = spec.resultForm;
    if (spec.rate !== undefined) this.rate = Object.freeze({ ...spec.rate });
    if (spec.quota !== undefined) {
      const quota: { windowMs: number; queries?: number; rows?: number; bytes?: number; scanBytes?: number } = { windowMs: spec.quota.windowMs };
      if (spec.quota.queries !== undefined) quota.queries = spec.quota.queries;
      if (spec.quota.rows !== undefined) quota.rows = spec.quota.rows;
      if (spec.quota.bytes !== undefined) quota.bytes = spec.quota.bytes;
      if (spec.quota.scanBytes !== undefined) quota.scanBytes = spec.quota.scanBytes;
      this.quota = Object.freeze(quota);
    }
    this.#identities = spec.identities ? [...spec.identities] : undefined;
    this.#clients = spec.clients ? [...spec.clients] : undefined;
    const denials = spec.tools.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
    const grants = spec.tools.filter((t) => !t.startsWith('!'));
    // A list of denials only ("!fetch_results") means "everything but these".
    this.#toolGrants = grants.length === 0 && denials.length > 0 ? ['*'] : grants;
    this.#toolDenials = denials;
    this.#allow = [...spec.allow];
    this.#deny = [...spec.deny];
    this.objectsRestricted = this.#deny.length > 0 || !this.#allow.some(isMatchAll);
    this.objectRules = rulesFingerprint(this.#allow, this.#deny);
    this.#sqlPolicy = Object.freeze({ allowWrite: this.write, allowStageListing: this.stageListing });
    // Callers pass these around as plain functions (`list.filter(role.canSee)`).
    this.toolAllowed = this.toolAllowed.bind(this);
    this.canSee = this.canSee.bind(this);
    this.sqlPolicy = this.sqlPolicy.bind(this);
    Object.freeze(this);
  }

  /** Whether the role applies to this identity and client (the caller decides the order roles are tried in). */
  matches(identity: Identity, client: ClientInfo | null): boolean {
    if (this.#identities === undefined && this.#clients === undefined) return false;
    if (this.#identities !== undefined && !this.#identities.some((g) => globMatch(g, identity.name))) return false;
    if (this.#clients !== undefined) {
      if (client === null) return false;
      if (!this.#clients.some((g) => globMatch(g, client.name, { fold: true }))) return false;
    }
    return true;
  }

  toolAllowed(tool: string): boolean {
    return this.explainTool(tool).allowed;
  }

  explainTool(tool: string): Verdict {
    const denial = this.#toolDenials.find((g) => globMatch(g, tool));
    if (denial !== undefined) return { allowed: false, rule: `tools "!${denial}"` };
    if (this.#toolGrants.some((g) => globMatch(g, tool))) return ALLOWED;
    return { allowed: false, rule: 'tools' };
  }

  canSee(ref: ObjectRef): boolean {
    return this.explainObject(ref).allowed;
  }

  /**
   * For a whole object: allowed by some allow pattern and not denied. For a database or schema (what a
   * filtered listing needs): some allow pattern could match inside it, and deny patterns do not cover
   * everything that pattern could match there.
   */
  explainObject(ref: NameRef): Verdict {
    if (!this.objectsRestricted) return ALLOWED;
    if (!validRef(ref)) return { allowed: false, rule: 'a complete object name' };
    const full = ref.schema !== undefined && ref.name !== undefined;
    if (full) {
      const deny = this.#deny.find((d) => prefixMatches(d, ref, true));
      if (deny) return { allowed: false, rule: `deny "${deny.text}"` };
      return this.#allow.some((a) => prefixMatches(a, ref, false)) ? ALLOWED : this.#noAllowRule(ref);
    }
    let blockedBy: ObjectPattern | undefined;
    for (const allow of this.#allow) {
      if (!prefixMatches(allow, ref, false)) continue;
      const inside = narrowed(allow, ref);
      const deny = this.#deny.find((d) => subsumes(d.parts, inside));
      if (!deny) return ALLOWED;
      blockedBy ??= deny;
    }
    return blockedBy ? { allowed: false, rule: `deny "${blockedBy.text}"` } : this.#noAllowRule(ref);
  }

  /**
   * For SQL that lists a database or schema (SHOW … IN SCHEMA, DESCRIBE SCHEMA): the output is not
   * filtered, so the role must be able to see everything in it — an allow pattern covering the whole
   * scope and no deny pattern that could match anything inside.
   */
  explainScope(ref: NameRef): Verdict {
    if (!this.objectsRestricted) return ALLOWED;
    if (!validRef(ref)) return { allowed: false, rule: 'a complete object name' };
    if (ref.schema !== undefined && ref.name !== undefined) return this.explainObject(ref);
    const depth = refNames(ref).length;
    const covered = this.#allow.some((a) => prefixMatches(a, ref, false) && a.parts.slice(depth).every((p) => p.kind === 'any'));
    // The rule that says no: a deny that could match inside, where the allow patterns cover the scope; where
    // they do not, a deny of the whole scope, else the allow list (a deny of a few objects elsewhere, named
    // for a scope no allow pattern covers, sent the admin to the wrong rule).
    const inside = (d: ObjectPattern): boolean => prefixMatches(d, ref, true);
    const deny = covered ? this.#deny.find(inside) : this.#deny.find((d) => inside(d) && d.parts.slice(depth).every((p) => p.kind === 'any'));
    if (deny) return { allowed: false, rule: `deny "${deny.text}"` };
    return covered ? ALLOWED : this.#noAllowRule();
  }

  sqlPolicy(): SqlPolicy {
    return { ...this.#sqlPolicy };
  }

  /** No allow pattern matches `ref` (given: the spelling of a granted name that differs only in case). */
  #noAllowRule(ref?: NameRef): Verdict {
    const list = this.#allow.map((a) => JSON.stringify(a.text)).join(', ');
    const verdict: Verdict = { allowed: false, rule: this.#allow.length === 0 ? 'allow [] — the role grants no objects' : `allow [${list}] — no pattern matches` };
    const spelling = ref === undefined ? undefined : this.#allow.map((a) => spelledAs(a, ref)).find((r) => r !== undefined);
    return spelling === undefined ? verdict : { ...verdict, spelling };
  }
}

/**
 * `ref` as the pattern spells its names, when the pattern matches it ignoring case and its literal parts
 * spell some name differently; undefined otherwise. The spelling is the admin's own (listed in the rule),
 * so telling it reveals nothing the refusal does not already show.
 */
function spelledAs(pattern: ObjectPattern, ref: NameRef): NameRef | undefined {
  if (!prefixMatches(pattern, ref, true)) return undefined;
  const names = refNames(ref).map((name, i) => {
    const part = pattern.parts[i]!;
    return part.kind === 'literal' ? part.value : name;
  });
  const spelled: NameRef = { database: names[0]!, ...(names[1] === undefined ? {} : { schema: names[1] }), ...(names[2] === undefined ? {} : { name: names[2] }) };
  // A glob part matched only ignoring case has no spelling to offer: the name would still be refused.
  return prefixMatches(pattern, spelled, false) ? spelled : undefined;
}

function validRef(ref: NameRef): boolean {
  if (ref === null || typeof ref !== 'object' || typeof ref.database !== 'string' || ref.database === '') return false;
  if (ref.schema === undefined) return ref.name === undefined;
  if (typeof ref.schema !== 'string' || ref.schema === '') return false;
  return ref.name === undefined || (typeof ref.name === 'string' && ref.name !== '');
}

/** The patterns as written, in a stable order (a reordered list allows the same objects), hashed short. */
function rulesFingerprint(allow: readonly ObjectPattern[], deny: readonly ObjectPattern[]): string {
  const texts = (list: readonly ObjectPattern[]) => list.map((p) => p.text).sort();
  return createHash('sha256').update(JSON.stringify([texts(allow), texts(deny)])).digest('base64url').slice(0, 16);
}

/**
 * `role` as a call's results are shaped for it with another result form (a session whose protocol revision
 * reads no structured content takes the text alone: see session/protocol-revision.ts); every other member
 * is the role's own, its methods called on the role itself (whose private state they read).
 */
export function withResultForm(role: EffectiveRole, resultForm: ResultForm): EffectiveRole {
  if (role.resultForm === resultForm) return role;
  // The proxy's target is a fresh object (the role its prototype, for `in`): a role is frozen, and a proxy of
  // it may not answer another value for any of its own members.
  return new Proxy(Object.create(role) as EffectiveRole, {
    get(_view, member) {
      if (member === 'resultForm') return resultForm;
      const value: unknown = Reflect.get(role, member, role);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(role) : value;
    },
  });
}

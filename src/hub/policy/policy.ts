/**
 * Who may run what: the roles of the config file, and which one applies to a session.
 *
 * A session gets the first role, in file order, whose `identities` globs match its identity name and
 * whose `clients` globs match the name its MCP client reported (a role must set at least one of the
 * two; an absent one matches anything). When none matches, the `[policy] default_role` applies, or the
 * built-in default: read-only, every tool, every object. How the identity was proven (Unix socket peer,
 * API key) does not matter here; only its name does.
 *
 * This module decides; it performs no I/O. The enforcement helpers are in enforce.ts.
 */
import { SnowmuxError } from '../../errors.js';
import { BUILTIN_DEFAULT_ROLE_NAME, ROLE_DEFAULTS, type HubConfig, type RoleSettings } from '../config/config-schema.js';
import type { ClientInfo, Identity } from '../session/session.js';
import { normalizeIdentifier } from '../names/identifiers.js';
import { parseObjectPattern, type ObjectPattern } from '../names/object-pattern.js';
import { CompiledRole, type EffectiveRole, type ObjectRef } from './role.js';

export type { EffectiveRole, ObjectRef } from './role.js';

/** Name of the role used when nothing matches and `[policy] default_role` is not set. */
export const BUILTIN_DEFAULT_ROLE = BUILTIN_DEFAULT_ROLE_NAME;

export interface PolicyDescription {
  /** Configured roles, in the order they are matched. */
  roles: string[];
  defaultRole: string;
}

export class Policy {
  readonly #roles: readonly CompiledRole[];
  readonly #byName: ReadonlyMap<string, CompiledRole>;
  readonly #default: CompiledRole;

  private constructor(roles: CompiledRole[], defaultRole: CompiledRole) {
    this.#roles = roles;
    this.#byName = new Map(roles.map((r) => [r.name, r]));
    this.#default = defaultRole;
  }

  /**
   * Compiles `[roles.*]` and `[policy]`. The config file loader has already validated them; this
   * re-checks what it relies on (so a config built in code fails the same way) and throws
   * CONFIG_INVALID naming `file` and the key.
   */
  static fromConfig(config: Pick<HubConfig, 'roles' | 'policy'>, file = 'the config'): Policy {
    const problems: string[] = [];
    const roles: CompiledRole[] = [];
    for (const [name, settings] of Object.entries(config.roles ?? {})) {
      const role = compileRole(name, settings, (key, message) => problems.push(`Config error in ${file} at roles.${name}.${key}: ${message}.`));
      if (role) roles.push(role);
    }
    const wanted = config.policy?.defaultRole;
    let defaultRole = roles.find((r) => r.name === (wanted ?? BUILTIN_DEFAULT_ROLE));
    if (defaultRole === undefined) {
      if (wanted !== undefined && wanted !== BUILTIN_DEFAULT_ROLE) {
        const known = Object.keys(config.roles ?? {}).join(', ') || 'none';
        problems.push(
          `Config error in ${file} at policy.default_role: no role named "${wanted}" (defined roles: ${known}). Add [roles.${wanted}] or name a defined role.`,
        );
      }
      defaultRole = builtinDefaultRole();
    }
    if (problems.length > 0) throw new SnowmuxError('CONFIG_INVALID', problems.join('\n'), { details: { path: file } });
    return new Policy(roles, defaultRole);
  }

  /** The built-in policy: everyone gets the read-only default role. */
  static permissive(): Policy {
    return new Policy([], builtinDefaultRole());
  }

  roleFor(identity: Identity, client: ClientInfo | null): EffectiveRole {
    return this.#roles.find((role) => role.matches(identity, client)) ?? this.#default;
  }

  /** A configured role (or the default one) by name. */
  role(name: string): EffectiveRole | undefined {
    return this.#byName.get(name) ?? (this.#default.name === name ? this.#default : undefined);
  }

  describe(): PolicyDescription {
    return { roles: this.#roles.map((r) => r.name), defaultRole: this.#default.name };
  }
}

/** The refusal every policy check throws. */
export function policyDenied(message: string, details?: Record<string, unknown>): SnowmuxError {
  return new SnowmuxError('POLICY_DENIED', message, details === undefined ? undefined : { details });
}

/** Builds an ObjectRef from names as a user typed them (unquoted → upper-case, "quoted" → literal). */
export function objectRefFrom(raw: { database: string; schema?: string | undefined; name?: string | undefined }): ObjectRef {
  const ref: ObjectRef = { database: normalizeIdentifier(raw.database, 'database name') };
  if (raw.schema !== undefined) ref.schema = normalizeIdentifier(raw.schema, 'schema name');
  if (raw.name !== undefined) ref.name = normalizeIdentifier(raw.name, 'object name');
  return ref;
}

function builtinDefaultRole(): CompiledRole {
  const all = parseObjectPattern('*.*.*') as ObjectPattern;
  return new CompiledRole({ name: BUILTIN_DEFAULT_ROLE, tools: ['*'], allow: [all], deny: [], write: false, stageListing: false });
}

function compileRole(name: string, settings: RoleSettings, problem: (key: string, message: string) => void): CompiledRole | undefined {
  let ok = true;
  const patterns = (key: 'allow' | 'deny', list: readonly string[]): ObjectPattern[] => {
    const out: ObjectPattern[] = [];
    list.forEach((text, i) => {
      const parsed = parseObjectPattern(text);
      if ('problem' in parsed) {
        problem(`${key}.${i}`, `${parsed.problem}, got ${JSON.stringify(text)}`);
        ok = false;
      } else out.push(parsed);
    });
    return out;
  };
  const allow = patterns('allow', settings.allow ?? ROLE_DEFAULTS.allow);
  const deny = patterns('deny', settings.deny ?? ROLE_DEFAULTS.deny);
  const tools = settings.tools ?? ROLE_DEFAULTS.tools;
  tools.forEach((tool, i) => {
    if (typeof tool !== 'string' || tool === '' || tool === '!') {
      problem(`tools.${i}`, `expected a tool name or glob, optionally after "!", got ${JSON.stringify(tool)}`);
      ok = false;
    }
  });
  const quota = settings.quota;
  if (quota !== undefined && (!Number.isInteger(quota.windowMs) || quota.windowMs < 1000)) {
    problem('quota.window', `expected a window of at least one second, got ${quota.windowMs} ms`);
    ok = false;
  }
  const rate = settings.rate;
  if (rate !== undefined && (!(rate.perSecond > 0) || !(rate.burst >= 1))) {
    problem('rate', 'expected per_second > 0 and burst >= 1');
    ok = false;
  }
  if (!ok) return undefined;
  return new CompiledRole({
    name,
    identities: settings.identities,
    clients: settings.clients,
    tools,
    allow,
    deny,
    write: settings.write ?? ROLE_DEFAULTS.write,
    stageListing: settings.stageListing ?? ROLE_DEFAULTS.stageListing,
    profile: settings.profile,
    snowflakeRole: settings.snowflakeRole,
    warehouse: settings.warehouse,
    maxRows: settings.maxRows,
    scanLimit: settings.scanLimit,
    statementTimeoutMs: settings.statementTimeoutMs,
    maxCellChars: settings.maxCellChars,
    rowCapPushdown: settings.rowCapPushdown,
    queryHistory: settings.queryHistory,
    resultForm: settings.resultForm,
    rate: settings.rate,
    quota: settings.quota,
  });
}

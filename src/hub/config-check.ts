/**
 * Everything a config file must pass before a hub serves with it, beyond its schema (which config-file.ts
 * applies): the roles compile, the team tools' SQL is read-only with matching placeholders, every name a
 * role's `tools` list gives matches a tool, every profile a role (or `hub.default_profile`) names is
 * defined, and API keys are off only on a loopback listener. One function, so `snowmux hub` (at start),
 * `snowmux reload` and `snowmux doctor` accept and refuse exactly the same files — a mistake stops the hub
 * (or is refused by the reload) naming the key, instead of failing every call later.
 */
import { SnowmuxError } from '../errors.js';
import type { LoadedConfig } from './config/config-file.js';
import { BUILTIN_DEFAULT_ROLE_NAME, ENGINE_SCAN_FIGURES, type HubConfig } from './config/config-schema.js';
import { clearTextSecretWarnings } from './config/clear-text-secrets.js';
import { suggestKey } from './config/config-issues.js';
import { loadSnowflakeConnections } from './config/connections-toml.js';
import { resolveProfile } from './config/resolve-profile.js';
import { parseListen } from './listen/listen-address.js';
import { isLoopbackHost } from '../wire/loopback.js';
import { globMatch } from './names/glob.js';
import { Policy } from './policy/policy.js';
import { BUILTIN_TOOL_NAMES, compileTeamTools, type TeamTool } from './tools/team-tools.js';

export interface CheckedConfig {
  policy: Policy;
  teamTools: TeamTool[];
}

export interface ConfigCheckOptions {
  /** The environment that finds Snowflake's connections.toml (SNOWFLAKE_HOME, XDG_CONFIG_HOME). */
  env: NodeJS.ProcessEnv;
  homedir?: string | undefined;
  /** `--http ADDR`, which overrides hub.http_listen. */
  httpListen?: string | undefined;
  /**
   * The hub's own choice of default profile, `--profile NAME` or `SNOWMUX_PROFILE` (the flag first), which
   * must be defined like `hub.default_profile`: a hub started with a misspelt name ran, and every call failed.
   */
  profile?: { name: string; from: string } | undefined;
}

/**
 * Throws CONFIG_INVALID listing every problem (file and key each), or returns what the hub serves with;
 * a file it accepts may gain warnings (`loaded.warnings`): a secret the hub would send in the clear, or a
 * scan limit the embedded warehouse it serves cannot apply.
 */
export function checkHubConfig(loaded: LoadedConfig, opts: ConfigCheckOptions): CheckedConfig {
  const file = loaded.shownPath;
  const config = loaded.config;
  const problems: string[] = [];
  const collect = <T>(build: () => T): T | undefined => {
    try {
      return build();
    } catch (err) {
      if (!(err instanceof SnowmuxError) || err.code !== 'CONFIG_INVALID') throw err;
      problems.push(err.message);
      return undefined;
    }
  };
  const policy = collect(() => Policy.fromConfig(config, file));
  const teamTools = collect(() => compileTeamTools(config.tools, file)) ?? [];

  const toolNames = [...BUILTIN_TOOL_NAMES, ...Object.keys(config.tools)];
  for (const [role, settings] of Object.entries(config.roles)) {
    for (const entry of settings.tools ?? []) {
      const glob = entry.startsWith('!') ? entry.slice(1) : entry;
      if (toolNames.some((tool) => globMatch(glob, tool))) continue;
      const near = suggestKey(glob, toolNames);
      problems.push(
        `Config error in ${file} at roles.${role}.tools: "${entry}" matches no tool${near === undefined ? '' : ` (did you mean "${entry.startsWith('!') ? '!' : ''}${near}"?)`}. ` +
          `Tools: ${toolNames.join(', ')}.`,
      );
    }
  }

  // A role matching no session is a restriction silently not applied (its tools, objects, quotas, rate):
  // security-model.md says a role sets identities or clients; only the default role needs neither.
  const defaultRole = config.policy.defaultRole ?? BUILTIN_DEFAULT_ROLE_NAME;
  for (const [role, settings] of Object.entries(config.roles)) {
    if (role === defaultRole) continue;
    if (settings.identities === undefined && settings.clients === undefined) {
      problems.push(
        `Config error in ${file} at roles.${role}: the role sets neither identities nor clients, so no session gets it and its limits apply to nobody. ` +
          `Add identities = ["*"] (every identity) or the names it is for, or make it the default role ([policy] default_role = "${role}").`,
      );
    }
    for (const [key, noun] of [['identities', 'identity'], ['clients', 'client']] as const) {
      if (settings[key]?.length !== 0) continue;
      problems.push(
        `Config error in ${file} at roles.${role}.${key}: an empty list matches no ${noun}, so no session gets the role. List the ${key} it is for (["*"]: every ${noun}), or remove the role.`,
      );
    }
  }

  const defined = definedProfiles(loaded, opts);
  if (defined !== undefined) {
    const named: [key: string, name: string][] = [];
    if (opts.profile !== undefined) named.push([opts.profile.from, opts.profile.name]);
    else if (config.hub.defaultProfile !== undefined) named.push(['hub.default_profile', config.hub.defaultProfile]);
    for (const [role, settings] of Object.entries(config.roles)) if (settings.profile !== undefined) named.push([`roles.${role}.profile`, settings.profile]);
    // A misspelt name here lets no remote shim choose the profile meant, and tells it to ask the operator.
    for (const name of config.hub.httpShimProfiles) named.push(['hub.http_shim_profiles', name]);
    for (const [key, name] of named) {
      if (defined.names.has(name)) continue;
      problems.push(
        `${opts.profile?.from === key ? `Error in ${key}` : `Config error in ${file} at ${key}`}: Snowflake profile "${name}" is not defined${didYouMean(name, defined.names)}. Add [profiles.${name}] to ${file} or [${name}] to ${defined.connectionsFile}` +
          (defined.names.size > 0 ? `, or name a defined profile: ${[...defined.names].join(', ')}.` : '.'),
      );
    }
  }

  const listen = opts.httpListen ?? config.hub.httpListen;
  if (listen !== undefined && !config.hub.httpAuth) {
    const host = collect(() => parseListen(listen).host);
    if (host !== undefined && !isLoopbackHost(host)) {
      problems.push(
        `Config error in ${file} at hub.http_auth: false is allowed only on a loopback listener, and ${listen}${opts.httpListen === undefined ? ' (hub.http_listen)' : ' (--http)'} ` +
          'is reachable from other machines. Remove http_auth = false and create keys (snowmux keys create --identity NAME), or listen on 127.0.0.1.',
      );
    }
  }

  if (problems.length > 0 || policy === undefined) throw new SnowmuxError('CONFIG_INVALID', problems.join('\n'), { details: { path: file } });
  // Not refused (a private network may be meant), but said wherever the file's warnings are: doctor, the
  // hub's terminal and status. Added here, where start, reload and doctor all pass, with the env they use.
  for (const warning of clearTextSecretWarnings(config.hub, opts.env, opts.httpListen)) if (!loaded.warnings.includes(warning)) loaded.warnings.push(warning);
  for (const warning of embeddedScanWarnings(loaded, opts)) if (!loaded.warnings.includes(warning)) loaded.warnings.push(warning);
  return { policy, teamTools };
}

/**
 * Roles whose byte or partition limits (max_scan_bytes, max_scan_partitions, quota scan_bytes) the embedded
 * warehouse cannot apply: DuckDB's plan estimates rows only, so such a role's calls there run as if those
 * keys were absent. Said when the role names no profile and the hub's own settings name no Snowflake account
 * (the embedded warehouse then serves every session without Snowflake settings of its own).
 */
function embeddedScanWarnings(loaded: LoadedConfig, opts: ConfigCheckOptions): string[] {
  const roles = Object.entries(loaded.config.roles).filter(([, r]) => r.profile === undefined);
  const inert = (r: (typeof roles)[number][1]): string[] =>
    [
      r.scanLimit?.bytes !== undefined && !ENGINE_SCAN_FIGURES.duckdb.includes('bytes') ? 'max_scan_bytes' : '',
      r.scanLimit?.partitions !== undefined && !ENGINE_SCAN_FIGURES.duckdb.includes('partitions') ? 'max_scan_partitions' : '',
      r.quota?.scanBytes !== undefined && !ENGINE_SCAN_FIGURES.duckdb.includes('bytes') ? 'quota.scan_bytes' : '',
    ].filter(Boolean);
  const concerned = roles.filter(([, r]) => inert(r).length > 0);
  if (concerned.length === 0 || !servesEmbedded(loaded, opts)) return [];
  return concerned.map(
    ([name, r]) =>
      `${loaded.shownPath} roles.${name}: ${inert(r).join(', ')} ${inert(r).length === 1 ? 'has' : 'have'} no effect on the embedded warehouse, which this hub serves to every session without Snowflake settings of its own: ` +
      `DuckDB estimates the rows a statement reads, not bytes or partitions, so role "${name}"'s calls there are not held to ${inert(r).length === 1 ? 'it' : 'them'}. ` +
      'Use max_scan_rows for the embedded warehouse, or give the role a Snowflake profile (roles.<name>.profile).',
  );
}

/** Whether the hub's own settings resolve to no Snowflake profile (a profile that fails to resolve is Snowflake's, reported elsewhere). */
function servesEmbedded(loaded: LoadedConfig, opts: ConfigCheckOptions): boolean {
  try {
    return resolveProfile({ name: opts.profile?.name, nameSource: opts.profile?.from, env: opts.env, configFile: loaded, homedir: opts.homedir }).profile === null;
  } catch {
    return false;
  }
}

/**
 * Problems of a reloaded file whose roles (applied at once) name what only a restart brings: a team tool or a
 * [profiles.<name>] table added in the same edit. checkHubConfig accepts the file (it is whole), but the
 * running hub keeps the tools and profiles it started with, so the role would offer no such tool or fail
 * every call "profile not defined" while the file plainly defines it. `restart` is the command that applies it.
 */
export function rolesNeedingRestart(next: HubConfig, running: HubConfig, file: string, restart: string): string[] {
  const problems: string[] = [];
  const runningTools = [...BUILTIN_TOOL_NAMES, ...Object.keys(running.tools)];
  const nextTools = Object.keys(next.tools).filter((name) => !(name in running.tools));
  for (const [role, settings] of Object.entries(next.roles)) {
    for (const entry of settings.tools ?? []) {
      if (entry.startsWith('!')) continue;
      if (runningTools.some((tool) => globMatch(entry, tool))) continue;
      const added = nextTools.filter((tool) => globMatch(entry, tool));
      if (added.length === 0) continue;
      problems.push(
        `Config error in ${file} at roles.${role}.tools: "${entry}" names team tool${added.length === 1 ? '' : 's'} ${added.join(', ')}, added in this edit, which the running hub gets only after a restart (${restart}). ` +
          'The reload is refused so the role does not apply without its tools: restart the hub, or reload the role after it.',
      );
    }
    const profile = settings.profile;
    if (profile !== undefined && profile in next.profiles && !(profile in running.profiles)) {
      problems.push(
        `Config error in ${file} at roles.${role}.profile: role ${role} names profile ${profile}, whose [profiles.${profile}] table is new in this edit and needs a restart (${restart}). ` +
          'The reload is refused so the role does not run without its profile: restart the hub, or reload the role after it.',
      );
    }
  }
  return problems;
}

function didYouMean(name: string, names: Set<string>): string {
  const near = suggestKey(name, [...names]);
  return near === undefined ? '' : ` (did you mean "${near}"?)`;
}

/** Profile names config.toml and Snowflake's connection file define; undefined when that file cannot be read (reported elsewhere). */
export function definedProfiles(loaded: LoadedConfig, opts: ConfigCheckOptions): { names: Set<string>; connectionsFile: string } | undefined {
  try {
    const conns = loadSnowflakeConnections({ env: opts.env, homedir: opts.homedir });
    return {
      names: new Set([...Object.keys(loaded.config.profiles), ...Object.keys(conns.connections)]),
      connectionsFile: conns.file?.shownPath ?? conns.shownConnectionsPath,
    };
  } catch {
    return undefined;
  }
}

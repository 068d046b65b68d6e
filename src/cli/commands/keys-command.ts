/**
 * `snowmux keys create|list|revoke|rotate` — API keys for the hub's HTTP face. A key is shown once, at creation;
 * the hub keeps only its hash. Revocation takes effect on the hub's next request.
 */
import { SnowmuxError } from '../../errors.js';
import { parseDurationMs } from '../../hub/config/config-schema.js';
import { existsSync } from 'node:fs';
import { loadConfigFile } from '../../hub/config/config-file.js';
import { createKey, findKey, keysPath, readKeys, revokeKey, rotateKey, type ApiKeyRecord } from '../../hub/keys/api-keys.js';
import { ensureHome, resolveHome, socketPathFor } from '../../wire/home.js';
import { controlRequest } from '../control-client.js';
import type { HubStatus } from '../../hub/hub.js';
import { hubPlace, snowmuxCommand, type HubPlace } from '../../snowmux-command.js';
import { resolve } from 'node:path';
import { shellWord } from '../../shell-word.js';
import { parseCommandArgs, unknownSubcommand } from '../args.js';
import type { CommandIo } from '../command-io.js';
import { escapeInvisibleJson, escapeLine, shownText } from '../../shown-text.js';

const USAGE = `Usage:
  snowmux keys create --identity NAME [--expires 30d]   create a key (printed once)
  snowmux keys list [--json]                            list keys (never the secrets)
  snowmux keys revoke ID                                revoke a key by id (or a unique prefix)
  snowmux keys rotate ID [--overlap 1h] [--expires 30d] a new key for the same identity (printed once);
                                                        the old one keeps working for --overlap, then expires

The identity is who the key's caller is for roles, limits, quotas and the audit log.
Clients send the key as "Authorization: Bearer <key>"; remote shims read it from SNOWMUX_KEY or --key-file.
Options: --home DIR, --config PATH
On a team hub (hub.redis_url in config.toml) new keys live in Redis, shared by every replica, and a
revocation reaches every replica at once. This home's keys.json still counts there (keys made before the
team had Redis): list shows both stores (team / local), revoke and rotate find an id in either.
--local acts on this home's keys.json only (create makes a key only this home's hub accepts).
`;

/** The options that apply to some subcommands only; --home, --config and --local apply to every one. */
const SUBCOMMAND_OPTIONS: Record<string, string[]> = { identity: ['create'], expires: ['create', 'rotate'], overlap: ['rotate'], json: ['list'] };
const ONLY_FOR_KNOWN = { create: true, list: true, revoke: true, rotate: true };

export async function keysCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('keys', argv, {
    identity: { type: 'string' },
    expires: { type: 'string' },
    overlap: { type: 'string' },
    json: { type: 'boolean' },
    local: { type: 'boolean' },
    config: { type: 'string' },
    home: { type: 'string' },
    help: { type: 'boolean' },
  }, true);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  const [sub, ...args] = positionals;
  // The options are taken once for every subcommand: one that does not apply to the subcommand named was
  // ignored (`keys revoke ID --expires 30d` revoked the key at once).
  for (const [option, appliesTo] of Object.entries(SUBCOMMAND_OPTIONS)) {
    if (values[option as keyof typeof values] === undefined || sub === undefined || !(sub in ONLY_FOR_KNOWN) || appliesTo.includes(sub)) continue;
    throw new SnowmuxError('USAGE', `--${option} does not apply to \`snowmux keys ${sub}\` (only to ${appliesTo.join(', ')}). Run \`snowmux keys --help\` for what each subcommand takes.`);
  }
  // A team hub (hub.redis_url) keeps its keys in Redis, shared by every replica; --local uses this home's file.
  const loaded = values.local || !existsSync(home) ? undefined : loadConfigFile({ home, explicitPath: values.config, env: process.env });
  const hub = loaded?.config.hub;
  // Every command this one advises names the same home and config (pasted bare, it acted on ~/.snowmux).
  const place = hubPlace(home, loaded?.path ?? (values.config === undefined ? undefined : resolve(values.config)));
  if (hub?.redisUrl !== undefined && (sub === 'create' || sub === 'list' || sub === 'revoke' || sub === 'rotate')) {
    const { withTeamKeys } = await import('../../hub/team/redis-keys.js');
    return withTeamKeys(hub.redisUrl, hub.teamNamespace, async (team) => {
      if (sub === 'create') {
        const { key, record } = await team.create(requireIdentity(values.identity), expiry(values.expires));
        (io.secretOut ?? io.stdout).write(`${key}\n`);
        io.stderr.write(`Team key ${record.id} for identity "${record.identity}" (every replica of namespace "${hub.teamNamespace}" accepts it). It is shown only now.\n`);
        return 0;
      }
      // The hub on this home still accepts its keys.json keys (RedisKeyStore checks them first): the
      // commands must see them too, or a leaked pre-team key is "not found" while it keeps working.
      const local = readKeys(keysPath(home)).records;
      if (sub === 'list') {
        printList(io, [...(await team.list()).map((r) => ({ ...r, store: 'team' as const })), ...local.map((r) => ({ ...r, store: 'local' as const }))], values.json === true, place);
        return 0;
      }
      const prefix = oneKey(args, sub);
      const store = storeOf(prefix, await team.list(), local);
      if (sub === 'rotate') {
        const overlapEnds = overlapEnd(values.overlap);
        const expiresAt = values.expires === undefined ? undefined : expiry(values.expires);
        if (store === 'local') {
          const rotated = rotateKey(home, prefix, overlapEnds, expiresAt, new Date(), place.config);
          await tellHub(home);
          (io.secretOut ?? io.stdout).write(`${rotated.key}\n`);
          io.stderr.write(`${rotatedNote(rotated, "Key (this home's keys.json)", place)} Only this home's hub accepts it; a team key works on every replica: ${snowmuxCommand(`keys create --identity ${shellWord(rotated.record.identity)}`, place)}\n`);
          return 0;
        }
        const rotated = await team.rotate(prefix, overlapEnds, expiresAt, place);
        (io.secretOut ?? io.stdout).write(`${rotated.key}\n`);
        io.stderr.write(`${rotatedNote(rotated, 'Team key', place)} Every replica of namespace "${hub.teamNamespace}" accepts it.\n`);
      } else if (store === 'local') {
        const record = revokeKey(home, prefix);
        io.stdout.write(`Key ${record.id} (${record.identity}) in this home's keys.json is revoked; this home's hub refuses it from its next request on${(await tellHub(home)) ? HELD_ENDED : ''}.\n`);
      } else {
        const record = await team.revoke(prefix);
        io.stdout.write(`Team key ${record.id} (${record.identity}) is revoked; every replica refuses it as soon as the change reaches it (pub/sub; at most 30 s if a replica missed it).\n`);
      }
      return 0;
    });
  }
  switch (sub) {
    case 'create': {
      const expiresAt = expiry(values.expires);
      const identity = requireIdentity(values.identity); // before the home is made: a usage error creates nothing
      if (loaded) await refuseLocalKeyBesideTeamHub(home, identity, loaded.shownPath);
      ensureHome(home);
      const { key, record } = createKey(home, identity, expiresAt);
      (io.secretOut ?? io.stdout).write(`${key}\n`);
      io.stderr.write(`Key ${record.id} for identity "${record.identity}"${expiresAt ? `, expires ${record.expiresAt}` : ''}. It is shown only now: store it in a secret manager or a 0600 file.\n`);
      return 0;
    }
    case 'list': {
      printList(io, readKeys(keysPath(home)).records, values.json === true, place);
      return 0;
    }
    case 'rotate': {
      const prefix = oneKey(args, 'rotate');
      const overlapEnds = overlapEnd(values.overlap);
      const expiresAt = values.expires === undefined ? undefined : expiry(values.expires);
      const rotated = rotateKey(home, prefix, overlapEnds, expiresAt, new Date(), place.config);
      await tellHub(home);
      (io.secretOut ?? io.stdout).write(`${rotated.key}\n`);
      io.stderr.write(`${rotatedNote(rotated, 'Key', place)}\n`);
      return 0;
    }
    case 'revoke': {
      if (args.length !== 1) throw new SnowmuxError('USAGE', 'Name one key: snowmux keys revoke ID');
      const record = revokeKey(home, args[0]!);
      io.stdout.write(`Key ${record.id} (${record.identity}) is revoked; the hub refuses it from its next request on${(await tellHub(home)) ? HELD_ENDED : ''}.\n`);
      return 0;
    }
    default:
      io.stderr.write(`${unknownSubcommand('keys', sub, ['create', 'list', 'revoke', 'rotate'])}\n\n${USAGE}`);
      return 2;
  }
}

/** What a revoke adds when the running hub was told: what the key held open ended with it. */
const HELD_ENDED = ", and has ended what the key held open (remote shims' links, /events and /mcp streams, and the calls they were running)";

/**
 * Tells this home's running hub that keys.json changed, so a revoked key's open links, streams and running calls
 * end now rather than at the hub's next 5 s check. True when the hub was told; no hub running (or one of a
 * version without the request) is not an error: the hub reads the file again at the next request anyway.
 */
async function tellHub(home: string): Promise<boolean> {
  try {
    await controlRequest(socketPathFor(home), 'keys-changed', 2_000, home);
    return true;
  } catch {
    return false;
  }
}

/**
 * A key made in keys.json while this home's running hub is a team replica is accepted by that one replica
 * only (the others answer 401, their readiness probes fail): the command read a config without
 * hub.redis_url — the hub's file was given to the hub alone (a container's --config) — so it is refused,
 * naming the hub's file. No hub, or one that does not answer at once, is not asked further.
 */
async function refuseLocalKeyBesideTeamHub(home: string, identity: string, configRead: string): Promise<void> {
  const socket = socketPathFor(home);
  if (!existsSync(socket)) return;
  const status = await controlRequest<HubStatus>(socket, 'status', 2_000, home).catch(() => undefined);
  const team = status?.team as { namespace?: string } | undefined;
  if (team?.namespace === undefined) return;
  const hubConfig = (status!.config as { path?: string } | undefined)?.path;
  throw new SnowmuxError(
    'CONFIG_INVALID',
    `The hub running on this home is a replica of team "${team.namespace}" (config ${hubConfig ?? 'unknown'}), but this command read ${configRead}, which has no hub.redis_url: ` +
      `the key would be this home's only, and the team's other replicas would refuse it. Give the hub's config: ` +
      `${snowmuxCommand(`keys create --identity ${shellWord(identity)}`, { home, config: hubConfig ?? 'PATH' })} (or set SNOWMUX_CONFIG), or add --local to make a key for this hub alone.`,
  );
}

/**
 * Which store of a team home holds the key an id (or prefix) names: Redis's team keys or this home's
 * keys.json. A prefix both stores match is refused, naming the ids, rather than acting on either.
 */
function storeOf(prefix: string, team: ApiKeyRecord[], local: ApiKeyRecord[]): 'team' | 'local' {
  const inTeam = team.filter((r) => r.id.startsWith(prefix));
  const inLocal = local.filter((r) => r.id.startsWith(prefix));
  if (inTeam.length > 0 && inLocal.length > 0) {
    throw new SnowmuxError(
      'INVALID_ARGUMENT',
      `"${shownText(prefix)}" names keys in the team's Redis (${inTeam.map((r) => r.id).join(', ')}) and in this home's keys.json (${inLocal.map((r) => r.id).join(', ')}). Give more of the id, or add --local to act on this home's keys.json only.`,
    );
  }
  // Not found, too short, or several in one store: findKey says which.
  return local.includes(findKey([...team, ...local], prefix)) ? 'local' : 'team';
}

function oneKey(args: string[], sub: string): string {
  if (args.length !== 1) throw new SnowmuxError('USAGE', `Name one key: snowmux keys ${sub} ID`);
  return args[0]!;
}

/** When the old key of a rotation stops working: --overlap from now (default 1h; 0 ends it at once). */
function overlapEnd(overlap: string | undefined): Date {
  const ms = overlap === undefined ? 60 * 60_000 : overlap === '0' ? 0 : parseDurationMs(overlap);
  if (ms === undefined) throw new SnowmuxError('USAGE', `--overlap must be a duration such as "15m", "1h" or "2d" (0 ends the old key at once); got "${overlap}".`);
  return fromNow('--overlap', overlap!, ms, 'give a shorter one');
}

/**
 * Now plus a duration the command line gave, or a usage error when that is past the last instant a Date
 * holds (about 273,790 years on): `new Date()` would be invalid, and writing it failed with "Invalid time value".
 */
function fromNow(flag: string, given: string, ms: number, instead: string): Date {
  const at = new Date(Date.now() + ms);
  if (Number.isNaN(at.getTime())) throw new SnowmuxError('USAGE', `${flag} "${shownText(given, 40)}" ends after the last date a clock can show; ${instead}.`);
  return at;
}

function rotatedNote(r: { record: ApiKeyRecord; old: ApiKeyRecord }, kind: string, place: HubPlace): string {
  const head = `${kind} ${r.record.id} for identity "${r.record.identity}"${r.record.expiresAt ? `, expires ${r.record.expiresAt}` : ''}, replaces ${r.old.id}, `;
  // --overlap 0 ends the old key as the new one is made: it does not "keep working", and there is nothing
  // left to end sooner.
  const endedNow = r.old.expiresAt !== null && Date.parse(r.old.expiresAt) <= Date.parse(r.record.createdAt);
  if (endedNow) {
    return `${head}which stopped working now (--overlap 0). The new key is shown only now: put it where clients read it (SNOWMUX_KEY, --key-file); until then they are refused.`;
  }
  return (
    `${head}which keeps working until ${r.old.expiresAt}. The new key is shown only now: put it where clients read it (SNOWMUX_KEY, --key-file), ` +
    `then end the old one sooner with: ${snowmuxCommand(`keys revoke ${r.old.id}`, place)}.`
  );
}

function requireIdentity(identity: string | undefined): string {
  if (!identity) throw new SnowmuxError('USAGE', 'Name who the key is for: snowmux keys create --identity NAME');
  return identity;
}

function expiry(expires: string | undefined): Date | null {
  if (expires === undefined) return null;
  const ms = parseDurationMs(expires);
  if (ms === undefined) throw new SnowmuxError('USAGE', `--expires must be a duration such as "12h", "30d" or "4w"; got "${expires}".`);
  return fromNow('--expires', expires, ms, 'give a shorter one, or leave --expires out for a key that does not expire');
}

/** Records of a team home carry where they live (team: Redis; local: this home's keys.json), shown with each. */
function printList(io: CommandIo, records: (ApiKeyRecord & { store?: 'team' | 'local' })[], json: boolean, place: HubPlace): void {
  const now = Date.now();
  const rows = records.map((r) => ({
    id: r.id,
    ...(r.store === undefined ? {} : { store: r.store }),
    identity: r.identity,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    state: r.revokedAt ? 'revoked' : r.expiresAt && Date.parse(r.expiresAt) <= now ? 'expired' : 'active',
  }));
  // The key file (or a team's Redis) is read as it is: its text is shown one line per key, acting on nothing.
  if (json) io.stdout.write(`${escapeInvisibleJson(JSON.stringify(rows, null, 2))}\n`);
  else if (rows.length === 0) io.stdout.write(`No API keys. Create one with: ${snowmuxCommand('keys create --identity NAME', place)}\n`);
  else for (const r of rows) io.stdout.write(`${escapeLine(`${r.id}  ${r.store === undefined ? '' : `${r.store.padEnd(5)}  `}${r.state.padEnd(7)}  ${r.identity}  created ${r.createdAt}${r.expiresAt ? `  expires ${r.expiresAt}` : ''}`)}\n`);
}

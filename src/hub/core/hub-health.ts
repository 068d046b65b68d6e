/**
 * Whether the hub can serve calls now, and if not why and what to do: the one judgement behind `/readyz`
 * (503 when not ok), `snowmux status` (exit 3, "unhealthy: …"; plain, --json and --url alike) and the
 * `health` section of status (so a remote reader need not judge again).
 *
 * Healthy: the hub is not draining, and at least one of its warehouses can serve — neither behind an
 * open circuit breaker nor unable to serve (WarehouseInfo.problem: its logins fail, its pool could not
 * be built, it is closed). A hub that has opened no warehouse yet is healthy: it opens one on first use.
 *
 * The embedded DuckDB sample does not count when a Snowflake warehouse is known. The hub picks one
 * warehouse per session (warehouse-registry.ts: the role's profile, else the shim's settings, else the
 * hub's own; the sample only when none of these names a Snowflake account), so a hub with a Snowflake
 * account configured uses the sample only for sessions that have no settings at all — a demo, not the
 * data its editors were pointed at. Such a hub whose every Snowflake warehouse is down cannot do its
 * job, even though the sample still answers: it is unhealthy, and says which account fails. A hub with
 * no Snowflake account is judged by the sample alone.
 *
 * The audit log: while its records cannot be written and `[audit] on_failure = "refuse"`, the hub refuses
 * every call, so it is unhealthy; under "serve" it warns.
 */
import { snowmuxCommand, type HubPlace } from '../../snowmux-command.js';
import { compareVersions } from '../../version-order.js';
import type { WarehouseInfo, WarehouseProblem } from '../warehouse/types.js';

export interface HealthReport {
  ok: boolean;
  /** Why the hub cannot serve (empty when ok), each saying what to do. */
  reasons: string[];
  /** Warehouses that cannot serve while others can (the hub is ok; their sessions' calls fail). */
  warnings: string[];
}

/** What the judgement reads of a status (`HubStatus`, local or fetched from another hub's /status). */
export interface HealthInput {
  state: string;
  /** The hub's home: its advice to restart it names it (and `hub`, given to assessHealth, its config file). */
  home?: string;
  warehouses: readonly Pick<WarehouseInfo, 'kind' | 'name' | 'problem' | 'id'>[];
  governance?: unknown;
  /** The audit section: its `failing` (AuditStats) while records cannot be written, `headStale` while audit-head cannot be. */
  audit?: unknown;
  /** Shims the hub refused at their hello (socket-face.ts): a recent version refusal is an editor whose calls fail. */
  refusedShims?: unknown;
  /** The hub's snowmux version, and its sessions (each shim's version): a shim of another snowmux is said. */
  version?: string;
  sessions?: readonly SessionFacts[];
}

interface SessionFacts {
  id?: unknown;
  client?: { name?: unknown } | null;
  shimVersion?: unknown;
}

interface BreakerFacts {
  kind?: string;
  /** Its warehouse's `id` (absent from older hubs' status: matched by kind and name then). */
  warehouseId?: number;
  profile: string;
  state: string;
  failures?: number;
  nextAttemptAt?: number | null;
  lastFailure?: { message: string } | null;
}

export function assessHealth(status: HealthInput, hub?: HubPlace): HealthReport {
  const place = hub ?? (typeof status.home === 'string' ? { home: status.home } : undefined);
  const reasons: string[] = [];
  if (status.state === 'draining') reasons.push('the hub is draining: it finishes its running calls, then exits; send new work to another hub');
  const breakers = ((status.governance as { breakers?: BreakerFacts[] } | undefined)?.breakers ?? []).filter((b) => typeof b?.profile === 'string');
  // A breaker is its warehouse's by id when both carry one: pools of one profile name (editors with
  // SNOWFLAKE_* settings of their own) each have theirs, and one account's open breaker said every pool of
  // the name was down, so the hub read unhealthy while the others served. Else by kind and name.
  const isFor = (b: BreakerFacts, w: Pick<WarehouseInfo, 'kind' | 'name' | 'id'>) =>
    typeof b.warehouseId === 'number' && typeof w.id === 'number' ? b.warehouseId === w.id : b.profile === w.name && (b.kind === undefined || w.kind === undefined || b.kind === w.kind);
  // Every warehouse the status names, with why it cannot serve (null: it can). A breaker whose warehouse
  // is not listed (an older hub's status) stands for its own.
  const entries: { kind: string | undefined; why: string | null }[] = status.warehouses.map((w) => {
    const breaker = breakers.find((b) => b.state === 'open' && isFor(b, w));
    return { kind: w.kind, why: w.problem ? problemText(w, w.problem, place) : breaker ? breakerText(breaker) : null };
  });
  for (const b of breakers) {
    if (!status.warehouses.some((w) => isFor(b, w))) entries.push({ kind: b.kind, why: b.state === 'open' ? breakerText(b) : null });
  }
  const snowflake = entries.filter((e) => e.kind !== 'duckdb');
  const judged = snowflake.length > 0 ? snowflake : entries;
  const down = judged.filter((e) => e.why !== null).map((e) => e.why!);
  const warnings: string[] = [];
  if (judged.length > 0 && down.length === judged.length) {
    // The note on the sample goes with the last warehouse's reason, not as a reason of its own: each reason
    // is one thing to fix (doctor makes each a failed check, and counted the note as one more).
    const sample = snowflake.length > 0 && snowflake.length < entries.length ? ' (The embedded sample warehouse still answers sessions without Snowflake settings, but it is not the data this hub is for.)' : '';
    reasons.push(...down.map((why, i) => `${i === 0 ? 'no warehouse can serve: ' : ''}${why}${i === down.length - 1 ? sample : ''}`));
  } else {
    warnings.push(...down);
  }
  // Under [audit] on_failure = "refuse" (the default; absent from older hubs' status: "serve") the hub
  // refuses calls while records fail: unhealthy. Under "serve" calls go on unrecorded: a warning, but one
  // that says it is happening now, which the cumulative FAILED APPENDS count cannot.
  const audit = status.audit as { dir?: unknown; onFailure?: unknown; failing?: AuditTrouble | null; headStale?: (AuditTrouble & { headSeq?: unknown }) | null; externalChange?: ExternalChange } | undefined;
  const failing = audit?.failing;
  if (failing && typeof failing.since === 'string') {
    const where = typeof audit?.dir === 'string' ? ` on the disk holding ${audit.dir}` : '';
    if (audit?.onFailure === 'refuse') {
      reasons.push(`audit records cannot be written since ${clock(failing.since)} (${String(failing.code)}: ${String(failing.message)}): new calls are refused with AUDIT_UNAVAILABLE ([audit] on_failure = "refuse") — free space${where} or fix the audit directory's permissions or mount; the hub serves again by itself once a record is written`);
    } else {
      warnings.push(`audit records are not being written since ${clock(failing.since)} (${String(failing.code)}: ${String(failing.message)}): calls are served but not recorded until it writes again — free space${where} or fix the audit directory`);
    }
  }
  // Records are still written, but the anchor that lets verify see a cut-off tail lags behind them.
  const stale = audit?.headStale;
  if (stale && typeof stale.since === 'string') {
    const names = typeof stale.headSeq === 'number' ? `it still names seq ${stale.headSeq}, so the records after it` : 'so the records written since';
    warnings.push(
      `the audit-head anchor could not be rewritten since ${clock(stale.since)} (${String(stale.code)}: ${String(stale.message)}): ${names} could be cut off the end of the log without \`snowmux audit verify\` noticing — free space or fix the audit directory (each new record tries the rewrite again)`,
    );
  }
  // An audit file rotated externally (logrotate) under the hub: it went on in a new file, chained, but
  // verify reports the moved records missing until they are back under their file's name.
  const moved = audit?.externalChange;
  if (moved && typeof moved.at === 'string') {
    const copies = Array.isArray(moved.copies) && moved.copies.length > 0 ? `; ${moved.copies.map(String).join(', ')} look${moved.copies.length === 1 ? 's' : ''} like the rotated copy` : '';
    warnings.push(
      `the audit file ${String(moved.file)} was ${moved.how === 'truncated' ? 'truncated' : moved.how === 'grown' ? 'written to by something else' : 'moved or replaced'} under the hub at ${clock(moved.at)} (logrotate?): it went on in ${String(moved.continuedIn)}, chained${copies}. \`snowmux audit verify\` reports ${String(moved.file)}'s records missing until they are back under that name; do not rotate the audit directory externally (the hub rotates it: [audit] max_file_mb, max_files)`,
    );
  }
  // Quota usage kept for the next start could not be written: nothing is refused now, but a restart would
  // give every identity back what it used since (the file it restores is the last one written).
  const quotaFile = (status.governance as { quotaUsageFile?: { path?: unknown; failing?: AuditTrouble | null; lostBefore?: { since?: unknown; to?: unknown; code?: unknown } } | null } | undefined)?.quotaUsageFile;
  // The hub before this one could not write it until it stopped: what this one restored is older than its usage.
  const lost = quotaFile?.lostBefore;
  if (lost && typeof lost.since === 'string' && typeof lost.to === 'string') {
    warnings.push(
      `quota usage was given back at this start: the hub that ran before this one could not write ${String(quotaFile.path)} from ${lost.since} until it stopped (last tried ${lost.to}; ${String(lost.code)}), so usage counted in that time is not in what this hub restored, and identities may use again what they used then — check the disk of the hub's home (this warning stays until this hub stops)`,
    );
  }
  const quotaFailing = quotaFile?.failing;
  if (quotaFailing && typeof quotaFailing.since === 'string') {
    warnings.push(
      `quota usage could not be written to ${String(quotaFile.path)} since ${clock(quotaFailing.since)} (${String(quotaFailing.code)}: ${String(quotaFailing.message)}): quotas hold while this hub runs, but a restart or \`hub --replace\` now would give every identity back what it used since — free space or fix the home's permissions (each change of usage tries again)`,
    );
  }
  warnings.push(...versionSkew(status, place));
  const refused = refusedShim(status, place);
  if (refused !== null) warnings.push(refused);
  return { ok: reasons.length === 0, reasons, warnings };
}

/**
 * Sessions whose shim is another snowmux than the hub (the same link version, so the hub served them without
 * a word): an editor that launches a newer snowmux gets the older hub's behaviour (its fixes and tools are
 * not there), one that launches an older snowmux an install left behind. One warning per shim version, with
 * what to do; the sessions named as status lists them (their id's first 8 characters and client).
 */
function versionSkew(status: HealthInput, hub: HubPlace | undefined): string[] {
  const hubVersion = status.version;
  if (typeof hubVersion !== 'string' || !Array.isArray(status.sessions)) return [];
  const byVersion = new Map<string, string[]>();
  for (const s of status.sessions) {
    if (typeof s?.shimVersion !== 'string' || s.shimVersion === '' || s.shimVersion === hubVersion) continue;
    const name = typeof s.client?.name === 'string' ? ` (${s.client.name.slice(0, 40)})` : '';
    const id = typeof s.id === 'string' ? `${s.id.slice(0, 8)}${name}` : name.trim();
    const list = byVersion.get(s.shimVersion) ?? [];
    list.push(id);
    byVersion.set(s.shimVersion, list);
  }
  const out: string[] = [];
  for (const [shim, ids] of byVersion) {
    const shown = shim.slice(0, 40);
    const which = `${ids.length === 1 ? '1 session' : `${ids.length} sessions`} (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`;
    const replace = hub ? snowmuxCommand('hub --replace', hub) : 'snowmux hub --replace';
    out.push(
      compareVersions(shim, hubVersion) > 0
        ? `${which} came through a snowmux ${shown} shim, newer than this hub (${hubVersion}): their editors get ${hubVersion}'s behaviour, not ${shown}'s. Run \`${replace}\` with the newer snowmux (the one those editors launch) to move the hub to it; editors stay connected`
        : `${which} came through a snowmux ${shown} shim, older than this hub (${hubVersion}): their editors launch an old snowmux install. Point their MCP config at this snowmux (\`snowmux setup <client>\` prints the entry), then restart their MCP server`,
    );
  }
  return out;
}

/** How long a shim refused for its link version is said: its editor retries (or is restarted) meanwhile. */
const REFUSED_SHIM_SAID_MS = 15 * 60_000;

/**
 * A shim refused for its link version in the last REFUSED_SHIM_SAID_MS: its editor's every call fails with the
 * refusal, while the hub itself looks healthy with no session to show for it. Said with what fixes it.
 */
function refusedShim(status: HealthInput, hub: HubPlace | undefined): string | null {
  const refused = status.refusedShims as { count?: unknown; last?: { at?: unknown; code?: unknown; shimVersion?: unknown } } | undefined;
  const last = refused?.last;
  if (typeof last?.at !== 'string' || (last.code !== 'HUB_TOO_OLD' && last.code !== 'SHIM_TOO_OLD')) return null;
  const at = Date.parse(last.at);
  if (!(Date.now() - at < REFUSED_SHIM_SAID_MS)) return null;
  const version = typeof last.shimVersion === 'string' ? ` snowmux ${last.shimVersion.slice(0, 40)}` : '';
  const count = typeof refused?.count === 'number' && refused.count > 1 ? ` (${refused.count} shims refused since the hub started)` : '';
  const ours = typeof status.version === 'string' ? ` (${status.version})` : '';
  const replace = hub ? snowmuxCommand('hub --replace', hub) : 'snowmux hub --replace';
  return last.code === 'HUB_TOO_OLD'
    ? `a${version} shim was refused at ${clock(at)} UTC [HUB_TOO_OLD]: it speaks a newer link version than this hub${ours}, so its editor's calls fail${count}. Run \`${replace}\` with the newer snowmux (the one that editor launches) to move the hub to it; editors stay connected`
    : `a${version} shim was refused at ${clock(at)} UTC [SHIM_TOO_OLD]: it speaks a link version older than this hub${ours} serves, so its editor's calls fail${count}. Upgrade the snowmux that editor launches (the path in its MCP config), then restart its MCP server`;
}

interface ExternalChange {
  at?: unknown;
  file?: unknown;
  how?: unknown;
  continuedIn?: unknown;
  copies?: unknown;
}

interface AuditTrouble {
  since?: unknown;
  code?: unknown;
  message?: unknown;
}

function who(w: Pick<WarehouseInfo, 'kind' | 'name'>): string {
  return w.kind === 'duckdb' ? 'the embedded warehouse' : `Snowflake profile "${w.name}"`;
}

function clock(iso: string | number): string {
  return new Date(iso).toISOString().slice(11, 19);
}

function problemText(w: Pick<WarehouseInfo, 'kind' | 'name'>, p: WarehouseProblem, hub: HubPlace | undefined): string {
  // The embedded warehouse has no login: it could not open (or build) its sample file, whose message says what to do.
  const verb = w.kind === 'duckdb' ? 'open' : 'log in';
  const what = p.code === 'WAREHOUSE_CLOSED' ? 'is closed' : p.code === 'CONFIG_INVALID' ? 'cannot be used' : p.failures > 1 ? `fails to ${verb} (${p.failures} times, last at ${clock(p.at)} UTC)` : `failed to ${verb} at ${clock(p.at)} UTC`;
  const code = p.snowflakeCode ? ` [${p.code} ${p.snowflakeCode}]` : ` [${p.code}]`;
  let next: string;
  if (p.code === 'WAREHOUSE_CLOSED') next = '';
  else if (w.kind === 'duckdb') next = ' The next call tries again.';
  else if (p.transient) next = ' The next call tries again.';
  // The profile is read when the hub resolves it: `snowmux reload` re-reads roles and limits, not profiles.
  else next = ` Fix that setting where it is set, then \`${hub ? snowmuxCommand('hub --replace', hub) : 'snowmux hub --replace'}\` to log in again (\`snowmux reload\` does not re-read profiles; settings from an editor's environment need that editor restarted).`;
  return `${who(w)} ${what}${code}: ${p.message}${next}`;
}

function breakerText(b: BreakerFacts): string {
  const last = b.lastFailure?.message ? ` (last failure: ${b.lastFailure.message.replace(/\s+/g, ' ').slice(0, 160)})` : '';
  const probe = typeof b.nextAttemptAt === 'number' ? ` until ${clock(b.nextAttemptAt)} UTC, when one call probes it` : '';
  const whose = b.kind === 'duckdb' ? 'the embedded warehouse' : `profile "${b.profile}"`;
  return `circuit breaker open for ${whose}: calls fail fast${probe}${last}. It closes by itself once the warehouse answers; check the warehouse and the network if it stays open.`;
}

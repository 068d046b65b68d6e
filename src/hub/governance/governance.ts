/**
 * The state behind the hub's rules: the policy (roles), rate buckets and quotas per identity and role
 * (local, or team-wide through Redis), the hub's fair queue (a pool in it per shared warehouse), a circuit breaker per shared warehouse, result ownership and
 * the shared metadata cache. The rules themselves — what is checked, in which order — are the stages of
 * hub/pipeline; this class only holds what they read and update, and answers status.
 */
import { DEFAULT_BREAKER_SETTINGS, DEFAULT_LIMIT_SETTINGS, type CircuitBreakerSettings, type LimitSettings } from '../config/config-schema.js';
import { WarehouseBreaker, type BreakerTransition } from '../guard/breaker.js';
import { systemClock, type Clock } from '../guard/clock.js';
import { classifyInProcessFailure } from '../guard/failure-kind.js';
import { FairScheduler, type SchedulerPool } from '../guard/fair-scheduler.js';
import { QuotaTracker, type QuotaAdmission, type QuotaRoom, type QuotaRule, type QuotaUsage } from '../guard/quota.js';
import { RateLimiter, type BucketLimit, type RateLimitSnapshotEntry, type TakeResult } from '../guard/rate-limit.js';
import type { EffectiveRole, Policy } from '../policy/policy.js';
import type { Logger } from '../observe/logger.js';
import type { Session } from '../session/session.js';
import type { Warehouse } from '../warehouse/types.js';
import { warehouseId } from '../warehouse/warehouse-id.js';
import type { CallMeter } from './call-meter.js';
import { MetadataCache } from './metadata-cache.js';
import { ResultOwnerStore, type OwnerGap, type ResultOwner } from './owner-store.js';
import { noteQuotaUnwritten, quotaUsagePath, readKeptQuotas, takeQuotaUnwritten, writeKeptQuotas, type QuotaUnwritten } from './quota-store.js';
import { LRUCache } from 'lru-cache';
import { SnowmuxError } from '../../errors.js';
import { shownText } from '../../shown-text.js';

export type { ResultOwner };

/**
 * Which identity, under which role, produced which query id: a result is paged only by its owner (see
 * stages/object-policy.ts). On a team hub the owner is also kept in Redis, so any replica applies the same rule.
 */
export interface ResultOwners {
  remember(queryId: string, owner: ResultOwner): Promise<void>;
  ownerOf(queryId: string): Promise<ResultOwner | undefined>;
  /**
   * While an id whose owner is unknown may still be one this hub issued and forgot (see owner-store.ts):
   * such an id is then paged by no one. Undefined when an unknown owner means the hub did not run it.
   */
  unknownGap?(): OwnerGap | undefined;
}

/** A held team-wide query slot. */
export interface TeamLease {
  release(): void;
}

/**
 * What a team hub shares through Redis (see hub/team). Every method answers undefined/false when Redis
 * cannot answer: the local state applies then, never "unlimited".
 */
export interface TeamRateLimits {
  take(holder: string, limit: BucketLimit): Promise<TakeResult | undefined>;
  /** `holder` (here and in quotaRecord and take) is budgetKey(identity, role): the team keeps each role's budget apart. */
  /** With `count` false, only reads the team's usage (reserved is then false): the quota stage's cheap check. */
  quotaAdmit(holder: string, rules: QuotaRule[], count: boolean): Promise<QuotaAdmission | undefined>;
  quotaRecord(holder: string, windowsMs: number[], usage: QuotaUsage, at?: number): Promise<boolean>;
  /** The holders with usage in an open window on any replica (undefined when Redis cannot answer). */
  quotaHolders?(): Promise<string[] | undefined>;
  /**
   * `owner` as encodeOwner writes it (an opaque string to the team). Never replaces an owner the team holds:
   * a query id never changes hands. `ttlMs`: what is left of the result's lifetime (default all of it, 24 h).
   */
  rememberOwner(queryId: string, owner: string, ttlMs?: number): Promise<boolean>;
  /**
   * Who ran a query on any replica: undefined when the team knows no owner; `{ unavailable }` (why) when
   * Redis cannot answer now, so an owner it holds cannot be known.
   */
  ownerOf(queryId: string): Promise<string | undefined | { unavailable: string }>;
  /** Waits for one of `limit` slots of `scope` across the team; undefined when Redis is unavailable. */
  acquireSlot(scope: string, limit: number, signal: AbortSignal): Promise<TeamLease | undefined>;
}

export interface GovernanceOptions {
  policy: Policy;
  limits?: Partial<LimitSettings>;
  breaker?: Partial<CircuitBreakerSettings>;
  /**
   * The longest a call may run (hub.call_timeout_ms): the breaker's window spans two of them, so a call that
   * fails slowly (a warehouse that hangs or answers 503 until the timeout) is counted in the window it started in.
   */
  callTimeoutMs?: number;
  logger: Logger;
  clock?: Clock;
  /**
   * The hub's home, where it keeps who ran which query (result-owners.jsonl) across restarts and replaces.
   * Absent (snowmux stdio, tests): in memory only.
   */
  ownersHome?: string | undefined;
  /**
   * The hub's home, where it keeps quota usage (quota-usage.json) across restarts and replaces, once
   * restoreQuotas() has read what the previous process left. Absent: in memory only.
   */
  quotaHome?: string | undefined;
  /** A team replica (hub.redis_url): usage kept by its previous process is the team's, not its own share. */
  teamReplica?: boolean;
}

/**
 * How long an HTTP session counts among its identity's editors (for rate shares and the queue's kept slot)
 * after it opened or last called: a client that went quiet leaves the others its share, while one that
 * calls now and then, or has just initialized, keeps it.
 */
export const ACTIVE_HTTP_SESSION_MS = 60_000;

/** How soon after a change quota usage is written to the home (a hub killed outright loses at most that). */
const QUOTA_SAVE_DELAY_MS = 1_000;
/** How often a team hub reads the team's usage of the budgets it holds, for status. */
const TEAM_QUOTA_REFRESH_MS = 5_000;
/** The budgets every call spends (its answer's rows and bytes): once one is spent, every call is refused. */
const EVERY_CALL_SPENDS = ['rows', 'bytes'] as const;

/** The breaker's rolling window: two call timeouts, within these bounds. */
const MIN_BREAKER_WINDOW_MS = 10_000;
const MAX_BREAKER_WINDOW_MS = 15 * 60_000;

export class Governance {
  #policy: Policy;
  /** How many reloads changed the rules (see policyGeneration). */
  #policyGeneration = 0;
  private limits: LimitSettings;
  private readonly breakerSettings: CircuitBreakerSettings;
  private readonly breakerWindowMs: number;
  /**
   * The hub's one fair queue: limits.max_concurrent_queries and max_queued bound every warehouse together
   * (an editor's own SNOWFLAKE_* settings open a pool of their own, which must not bring its own cap).
   */
  readonly scheduler: FairScheduler;
  /** Each shared warehouse's pool in it, sized to what that backend can run at once. */
  private readonly pools = new Map<Warehouse, SchedulerPool>();
  private readonly queueWaits = new WeakMap<Warehouse, number | undefined>();
  private readonly rateLimiter: RateLimiter;
  /**
   * Each identity's open sessions, from attach until they close, for fair shares of its rate. A session on
   * a link (socket, stdio, WebSocket) counts from attach, not from its first call: an editor that has not
   * called yet (or not lately) keeps its share, so another editor's burst cannot refuse its first call. An
   * HTTP session has no link to tell it is still there (a 2025 one lives until 30 idle minutes pass): it
   * counts only while it opened or called within ACTIVE_HTTP_SESSION_MS (see `counts`).
   */
  private readonly sessionsOfIdentity = new Map<string, Map<string, Session>>();
  /** Sessions on a link attached now, all identities: with the active HTTP ones, whether a queue keeps a slot for others. */
  private attachedLinks = 0;
  /** HTTP sessions attached now → each, and when it opened or last called (clock ms). */
  private readonly httpActiveAt = new Map<string, { session: Session; at: number }>();
  /** Per-session shares of an identity's rate, while the identity has several active sessions. */
  private readonly shareLimits = new LRUCache<string, BucketLimit>({ max: 50_000 });
  private readonly sessionShares: RateLimiter;
  private readonly quotas: QuotaTracker;
  private readonly breakers = new Map<Warehouse, WarehouseBreaker>();
  private readonly metadata: MetadataCache;
  private team: TeamRateLimits | null = null;
  private readonly quotaPath: string | undefined;
  private readonly teamReplica: boolean;
  /** Whether this process writes quota-usage.json: only once it has added what its predecessor left. */
  private persistingQuotas = false;
  private quotaSaveTimer: ReturnType<typeof setTimeout> | undefined;
  /** Since when, and why, quota-usage.json cannot be written (for status: a restart would give usage back). */
  private quotaSaveFailing: { since: string; code: string; message: string } | undefined;
  /** Quota usage the previous process could not write before it stopped (quota-usage.unwritten): given back at this start. */
  private quotaLostBefore: QuotaUnwritten | undefined;
  private teamQuotaTimer: ReturnType<typeof setInterval> | undefined;
  private refreshingQuotas = false;
  /** One id per shared warehouse instance: metadata cache keys never mix two pools' answers. */
  private readonly warehouseIds = new WeakMap<Warehouse, string>();
  private nextWarehouseId = 1;
  /**
   * The team-wide bucket (Redis) of each budgetKey, as this replica's last take from it found it, for status:
   * while Redis answers, the local bucket is never touched, and status listed no bucket at all for an identity
   * the team's limit was refusing.
   */
  private readonly teamBuckets = new LRUCache<string, { tokens: number; at: number; seenAt: string; limit: BucketLimit }>({ max: 50_000 });
  /** The limit of each budgetKey's bucket, as its latest call's role set it (read by the bucket on every take). */
  private readonly bucketLimits = new LRUCache<string, BucketLimit>({ max: 50_000 });
  private readonly logger: Logger;
  private readonly clock: Clock | undefined;
  readonly transitions: BreakerTransition[] = [];
  /** Told of every breaker transition (the hub's /events); must not throw. */
  private readonly transitionListeners: ((t: BreakerTransition) => void)[] = [];
  /** Query id → who ran it, for a result's lifetime (24 h), bounded, kept in the home across restarts. */
  private readonly owners: ResultOwnerStore;
  /**
   * Query id → the rows of a result whose statement ran with the row cap in it (row-cap stage) and had
   * more: pages stop there. Per process: a team replica that did not run the query pages it as it is.
   */
  readonly cappedResults = new LRUCache<string, number>({ max: 100_000 });
  /**
   * Query ids by their lower case: Snowflake's are UUIDs (lower-case hex), and an id written in another case
   * may name the same result, while only the exact string had an owner. Another user's unrestricted role then
   * found no owner for `fetch_results`/`RESULT_SCAN` of an upper-cased id, and the read went to the warehouse.
   */
  readonly resultOwners: ResultOwners = {
    remember: async (queryId, owner) => {
      const id = queryId.toLowerCase();
      this.owners.set(id, owner);
      // Awaited: the caller's next fetch_results may reach another replica at once.
      if (this.team) await this.team.rememberOwner(id, encodeOwner(owner));
    },
    ownerOf: async (given) => {
      const queryId = given.toLowerCase();
      const local = this.owners.get(queryId);
      if (local !== undefined || !this.team) return local;
      const shared = await this.team.ownerOf(queryId);
      // Not "no owner": the owner of a result run on another replica is in Redis, which cannot be asked now.
      // Taken for unknown, any unrestricted identity read another's result (and was recorded as its owner).
      if (typeof shared === 'object') {
        throw new SnowmuxError(
          'TEAM_REDIS_UNREACHABLE',
          `Cannot check who ran query ${shownText(given)}: this replica of the team hub cannot reach its Redis (${shownText(shared.unavailable, 200)}), where the owners of results run on other replicas are kept, and a result is read only by whoever ran it. Retry in a few seconds (the replica rejoins Redis by itself; \`snowmux status\` shows team.mode), or run the query again with execute_query.`,
          { details: { retryAfterMs: 5_000 } },
        );
      }
      return shared === undefined ? undefined : decodeOwner(shared);
    },
    // A team's Redis holds every replica's owners for 24 h: an id it does not know was not run by the team.
    unknownGap: () => (this.team ? undefined : this.owners.gap()),
  };

  constructor(opts: GovernanceOptions) {
    this.#policy = opts.policy;
    this.logger = opts.logger;
    this.clock = opts.clock;
    this.limits = { ...DEFAULT_LIMIT_SETTINGS, ...opts.limits };
    this.breakerSettings = { ...DEFAULT_BREAKER_SETTINGS, ...opts.breaker };
    this.quotaPath = opts.quotaHome === undefined ? undefined : quotaUsagePath(opts.quotaHome);
    this.teamReplica = opts.teamReplica === true;
    this.owners = new ResultOwnerStore({ home: opts.ownersHome, now: () => (opts.clock ?? systemClock).now(), warn: (warning) => opts.logger.warn({ warning }, 'result owners') });
    // A fixed 10 s window never opened for an outage that made calls fail at their timeout: opossum counts a
    // call where it started, which had left the window by the time it failed.
    this.breakerWindowMs = Math.min(MAX_BREAKER_WINDOW_MS, Math.max(MIN_BREAKER_WINDOW_MS, 2 * (opts.callTimeoutMs ?? 0)));
    this.metadata = new MetadataCache({ ttlMs: this.limits.metadataCacheTtlMs });
    this.scheduler = new FairScheduler({
      maxConcurrent: this.limits.maxConcurrentQueries,
      maxQueued: this.limits.maxQueued,
      maxQueuedPerSession: this.limits.maxQueuedPerSession,
      clock: opts.clock,
      // A lone editor may use every slot; with others connected, one is kept for them, and with another user's
      // connected, one is kept for that user whatever number of sessions this one opens.
      othersPresent: () => this.othersPresent(),
      otherIdentitiesPresent: (identity) => this.otherIdentitiesPresent(identity),
      presenceChangesInMs: () => this.httpPresenceChangesInMs(),
    });
    const rate = this.limits.defaultRate;
    this.sessionShares = new RateLimiter({
      limit: { capacity: 1, refillPerSecond: 1 },
      limitFor: (key) => this.shareLimits.get(key),
      maxIdentities: 50_000,
      clock: opts.clock,
    });
    this.rateLimiter = new RateLimiter({
      limit: { capacity: rate.burst, refillPerSecond: rate.perSecond },
      limitFor: (key) => this.bucketLimits.get(key),
      clock: opts.clock,
    });
    this.quotas = new QuotaTracker({
      rules: [],
      // The role by name from the policy in force, so a reload's new quota applies at once.
      rulesFor: (_identity, role) => {
        const q = role === undefined ? undefined : this.#policy.role(role)?.quota;
        return q ? [q as QuotaRule] : undefined;
      },
      clock: opts.clock,
    });
  }

  get policy(): Policy {
    return this.#policy;
  }

  /**
   * Counts the reloads that set new rules: a call keeps the number its role was taken at, so a statement of
   * it that waited for a slot across a reload is judged again under the rules as they are now (rules-current).
   */
  get policyGeneration(): number {
    return this.#policyGeneration;
  }

  /**
   * `snowmux reload`: new roles and the limits that can change under running sessions (default rate, retry
   * policy). Statements already running in the warehouse finish under the rules they were admitted with; one
   * still waiting for a slot is judged again under these before it is sent (stages/rules-current.ts). The
   * queue sizes are fixed for the process (a reload reports them as needing a restart).
   */
  reconfigure(policy: Policy, limits: Pick<LimitSettings, 'defaultRate' | 'retryAttempts' | 'retryBudgetMs'>): void {
    this.#policy = policy;
    this.#policyGeneration += 1;
    this.limits = { ...this.limits, defaultRate: limits.defaultRate, retryAttempts: limits.retryAttempts, retryBudgetMs: limits.retryBudgetMs };
    // Each bucket's limit is the one its role has now, not the one its last call had: status shows the rate that
    // applies from this moment (tokens clamped to a lowered burst), as the next call finds it. A bucket whose role
    // the reload removed is no one's any more (its identity's calls now take from another role's).
    for (const key of this.rateLimiter.holders()) {
      const { role } = holderOf(key);
      const now = role === undefined ? undefined : policy.role(role);
      if (now === undefined) {
        this.bucketLimits.delete(key);
        this.rateLimiter.forget(key);
      } else {
        this.bucketLimits.set(key, this.rateOf(now));
      }
    }
    // The team's buckets as status shows them: the same (Redis's script takes the new limit at the next call).
    for (const [key, b] of [...this.teamBuckets.entries()]) {
      const { role } = holderOf(key);
      const now = role === undefined ? undefined : policy.role(role);
      if (now === undefined) this.teamBuckets.delete(key);
      else b.limit = this.rateOf(now);
    }
    this.metadata.clear();
  }

  /**
   * A team hub's shared state (Redis): rate limits are then taken team-wide; while it is unreachable the
   * local buckets apply.
   */
  useTeam(team: TeamRateLimits | null): void {
    this.team = team;
    clearInterval(this.teamQuotaTimer);
    this.teamQuotaTimer = undefined;
    if (team) {
      // The owners this replica's previous process kept in its journal may never have reached Redis (it was
      // away when they ran, and the process stopped before it rejoined): handed to the team, they are
      // written now or at the rejoin (never over an owner Redis holds), else other replicas know no owner.
      for (const { queryId, owner, leftMs } of this.owners.held()) void team.rememberOwner(queryId, encodeOwner(owner), leftMs).catch(() => false);
      this.teamQuotaTimer = setInterval(() => void this.refreshTeamQuotas(), TEAM_QUOTA_REFRESH_MS);
      this.teamQuotaTimer.unref();
    }
  }

  /**
   * Reads the team's usage of every budget this replica holds, and of every one the team's other replicas
   * counted in an open window, from Redis, so status shows what governs (the team's count), not this
   * replica's part of it: an identity's calls on other replicas since its last call here are seen within
   * TEAM_QUOTA_REFRESH_MS. Checks do not wait for it (each reads Redis itself). It is also what this replica
   * starts from when Redis goes away: an identity that had only called other replicas got a whole budget
   * afresh on this one (3 of 10 spent, then 10 more on each other replica of the outage).
   */
  async refreshTeamQuotas(): Promise<void> {
    const team = this.team;
    if (!team || this.refreshingQuotas) return;
    this.refreshingQuotas = true;
    try {
      const holders = new Set(this.quotas.snapshot().map(({ identity, role }) => (role === undefined ? identity : holderKey(identity, role))));
      for (const key of (await team.quotaHolders?.()) ?? []) holders.add(key);
      for (const key of holders) {
        const { identity, role } = holderOf(key);
        if (role === undefined) continue;
        const rules = this.quotas.rulesOf(identity, role);
        if (rules.length === 0) continue;
        const seen = await team.quotaAdmit(holderKey(identity, role), rules, false);
        if (!seen) return; // Redis does not answer: what was last seen stays
        for (const [windowMs, usage] of seen.usage) this.quotas.noteTeamUsage(identity, windowMs, usage, role);
        this.quotasChanged();
      }
    } finally {
      this.refreshingQuotas = false;
    }
  }

  /**
   * Adds the quota usage the home's previous hub left (quota-usage.json) to this one's, then keeps it there
   * from now on. Called once this hub is the home's only writer: at start, or once the hub it replaced has
   * exited (which wrote its usage as it stopped). On a team replica that usage counts as the team's as last
   * seen (Redis's count replaces it once it answers), so a replica starting while Redis is down does not
   * hand out whole budgets. Answers how many windows were taken.
   */
  restoreQuotas(): number {
    const path = this.quotaPath;
    if (path === undefined || this.persistingQuotas) return 0;
    const kept = readKeptQuotas(path);
    this.quotaLostBefore = takeQuotaUnwritten(path);
    if (this.quotaLostBefore !== undefined) {
      const { since, to, error } = this.quotaLostBefore;
      this.logger.warn({ warning: `the hub that ran before this one could not write quota usage to ${path} from ${new Date(since).toISOString()} until it stopped (last tried ${new Date(to).toISOString()}; ${error}): usage counted in that time is not in it, so quotas go on from the usage written before and identities may use again what they used then. Check the disk of the hub's home.` }, 'quota usage');
    }
    let added = 0;
    if ('problem' in kept) {
      this.logger.warn({ warning: `${path}, where the hub keeps quota usage across restarts, ${kept.problem}: usage counted before this start is not known, so quotas start from zero. Remove it (rm ${path}); the hub writes it again.` }, 'quota usage');
    } else {
      added = this.quotas.importWindows(kept.windows, this.teamReplica);
      if (added > 0) this.logger.info({ windows: added, asTeamUsage: this.teamReplica }, 'quota usage kept by the previous hub process restored');
    }
    this.persistingQuotas = true;
    this.quotasChanged();
    return added;
  }

  /** Quota usage changed: written to the home within a second (when this hub keeps it). */
  private quotasChanged(): void {
    if (!this.persistingQuotas || this.quotaSaveTimer !== undefined) return;
    this.quotaSaveTimer = setTimeout(() => {
      this.quotaSaveTimer = undefined;
      this.saveQuotas();
    }, QUOTA_SAVE_DELAY_MS);
    this.quotaSaveTimer.unref();
  }

  private saveQuotas(): void {
    if (!this.persistingQuotas || this.quotaPath === undefined) return;
    try {
      writeKeptQuotas(this.quotaPath, this.quotas.exportWindows());
      if (this.quotaSaveFailing !== undefined) {
        this.logger.info({}, 'quota usage is written to the home again');
        noteQuotaUnwritten(this.quotaPath, undefined);
      }
      this.quotaSaveFailing = undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (this.quotaSaveFailing === undefined) {
        this.logger.warn({ err: (err as Error).message, file: this.quotaPath }, 'quota usage could not be written to the home: a restart now would give back what was used since; retrying at the next change');
        this.quotaSaveFailing = { since: new Date(this.now()).toISOString(), code: code ?? 'ERROR', message: (err as Error).message };
      }
      // Where the next start reads it: what it restores is older than the usage counted since.
      noteQuotaUnwritten(this.quotaPath, { since: Date.parse(this.quotaSaveFailing.since), to: this.now(), error: code ?? (err as Error).message });
    }
  }

  /** The caller's role. Rate limits and quotas take it from each call (takeToken, quotaRefusal, settle). */
  roleFor(session: Session): EffectiveRole {
    return this.#policy.roleFor(session.facts.identity, session.client);
  }

  /** The rate limit that applies to a role (its own, else the hub's default). */
  rateOf(role: EffectiveRole): BucketLimit {
    const rate = role.rate ?? this.limits.defaultRate;
    return { capacity: rate.burst, refillPerSecond: rate.perSecond };
  }

  /**
   * Takes one token for a call, from the bucket of its identity under the call's own role (each role its own
   * bucket, at that role's rate: a role's limit holds whatever its user's other editors, under other roles, do).
   * When several open sessions (editors) share that bucket, each first takes from its own share of the rate
   * (capacity and refill divided by the identity's open sessions under the role), so one editor cannot spend
   * the others' budget; then from the bucket: team-wide when a team answers, else locally. `sessions` is
   * how many editors share the bucket (1: this one alone), for the refusal to say so.
   */
  async takeToken(identity: string, role: EffectiveRole, session?: Session): Promise<TakeResult & { sessions: number; share?: BucketLimit }> {
    const limit = this.rateOf(role);
    if (session && this.httpActiveAt.has(session.id)) this.httpActiveAt.set(session.id, { session, at: this.now() });
    const share = session === undefined ? undefined : this.shareOf(identity, role, session, limit);
    const shareKey = share === undefined ? undefined : `${identity}\u0000${session!.id}`;
    if (shareKey !== undefined) {
      const own = this.sessionShares.tryTake(shareKey);
      if (!own.ok) return { ...own, sessions: share!.sessions, share: share!.limit };
    }
    const key = budgetKey(identity, role);
    this.bucketLimits.set(key, limit);
    const shared = this.team ? await this.team.take(key, limit) : undefined;
    // A refusal gives the wait for one token, so the bucket held what that wait does not refill.
    if (shared) this.teamBuckets.set(key, { tokens: shared.ok ? shared.remaining : Math.max(0, 1 - (shared.retryAfterMs / 1000) * limit.refillPerSecond), at: this.now(), seenAt: new Date().toISOString(), limit });
    else this.teamBuckets.delete(key);
    const take = shared ?? this.rateLimiter.tryTake(key);
    // Refused by the identity's bucket (the others spent it): the call did not run, so it costs this editor none
    // of its own share, which it would otherwise spend on refusals and find empty once the bucket refills.
    if (!take.ok && shareKey !== undefined) this.sessionShares.giveBack(shareKey);
    return { ...take, sessions: share?.sessions ?? 1 };
  }

  /** A session attached (any transport): it counts among its identity's editors until sessionEnded. */
  sessionStarted(session: Session): void {
    const identity = session.facts.identity.name;
    let open = this.sessionsOfIdentity.get(identity);
    if (!open) {
      open = new Map();
      this.sessionsOfIdentity.set(identity, open);
    }
    if (session.facts.transport === 'http') this.httpActiveAt.set(session.id, { session, at: this.now() });
    else if (!open.has(session.id)) this.attachedLinks += 1;
    open.set(session.id, session);
  }

  /**
   * A session closed: it no longer counts among its identity's sessions, so the editors still open get
   * their fair share back at once (of the rate, and the queue's slot kept for it), and a refusal never counts
   * editors long gone.
   */
  sessionEnded(identity: string, sessionId: string): void {
    const open = this.sessionsOfIdentity.get(identity);
    const client = open?.get(sessionId)?.client?.name;
    const had = open?.delete(sessionId) ?? false;
    if (had && !this.httpActiveAt.delete(sessionId)) this.attachedLinks -= 1;
    if (had && open!.size === 0) this.sessionsOfIdentity.delete(identity);
    const shareKey = `${identity}\u0000${sessionId}`;
    // What its share had left stays with its client: the same client's next session continues it (shareOf),
    // rather than starting with a full share taken from the identity's bucket, the other editors' part of it.
    const share = this.shareLimits.get(shareKey);
    if (client !== undefined && share !== undefined) {
      const left = leftShareKey(identity, client);
      this.shareLimits.set(left, share);
      this.sessionShares.move(shareKey, left);
    }
    this.shareLimits.delete(shareKey);
    // The slot kept for it goes to a call waiting for it now, not when some running query ends.
    if (had) this.scheduler.presenceChanged();
  }

  /**
   * This session's share of the identity's rate under `role`, when other open sessions of the identity are
   * under that role too (each session's role is read now: a client name can change it). Shares are rounded
   * down, so together they fit the bucket: an editor that has not spent its share finds tokens there.
   */
  private shareOf(identity: string, role: EffectiveRole, session: Session, limit: BucketLimit): { sessions: number; limit: BucketLimit } | undefined {
    const open = this.sessionsOfIdentity.get(identity);
    let sessions = open?.has(session.id) ? 0 : 1; // a session not attached (a caller of its own) counts too
    for (const other of open?.values() ?? []) if (this.counts(other) && this.#policy.roleFor(other.facts.identity, other.client).name === role.name) sessions++;
    if (sessions <= 1) return undefined;
    const share = { capacity: Math.max(1, Math.floor(limit.capacity / sessions)), refillPerSecond: limit.refillPerSecond / sessions };
    const shareKey = `${identity}\u0000${session.id}`;
    this.shareLimits.set(shareKey, share);
    // A client that closed a session and opened another (a restarted shim, an agent's session per task) goes on
    // with the share its last session left, not a full one: reconnecting buys no burst out of the others' part.
    if (session.client?.name !== undefined) this.sessionShares.move(leftShareKey(identity, session.client.name), shareKey);
    return { sessions, limit: share };
  }

  /**
   * Whether an attached session counts as present: on a link, always; over HTTP, while it opened or called
   * lately, unless its client hung up on an answer since (Session.away: a client gone mid-call, which never
   * sends DELETE, no longer shrinks the others' shares for that minute).
   */
  private counts(session: Session): boolean {
    const http = this.httpActiveAt.get(session.id);
    return http === undefined || this.presentOverHttp(http, this.now());
  }

  private presentOverHttp(http: { session: Session; at: number }, now: number): boolean {
    return !http.session.away && now - http.at < ACTIVE_HTTP_SESSION_MS;
  }

  /** Whether more than one session is present (links, and HTTP sessions active lately), for the queue's kept slot. */
  private othersPresent(): boolean {
    let present = this.attachedLinks;
    if (present > 1) return true;
    const now = this.now();
    for (const http of this.httpActiveAt.values()) if (this.presentOverHttp(http, now) && ++present > 1) return true;
    return false;
  }

  /** In how many ms the first HTTP session present now goes quiet and stops counting; undefined if none is present. */
  private httpPresenceChangesInMs(): number | undefined {
    const now = this.now();
    let soonest: number | undefined;
    for (const http of this.httpActiveAt.values()) {
      if (!this.presentOverHttp(http, now)) continue;
      const left = http.at + ACTIVE_HTTP_SESSION_MS - now;
      if (soonest === undefined || left < soonest) soonest = left;
    }
    return soonest;
  }

  /** Whether a session of another identity than `identity` is present, for the slot its sessions together keep. */
  private otherIdentitiesPresent(identity: string): boolean {
    for (const [other, open] of this.sessionsOfIdentity) {
      if (other === identity) continue;
      for (const session of open.values()) if (this.counts(session)) return true;
    }
    return false;
  }

  private now(): number {
    return (this.clock ?? systemClock).now();
  }

  /**
   * The refusals for an identity whose quota under the call's role is already spent, if any: the quota
   * stage's cheap check, before any login. `call`: a spent budget every call spends (`rows`, `bytes`: every
   * answer returns some); `query`: any spent budget, for a statement that carries SQL, which the `queries` and
   * `scan_bytes` budgets count (chargeQuota) — a listing or a page of an earlier result is charged neither,
   * so a spent `queries` budget does not refuse it. It counts nothing: a call is charged only once every rule
   * has passed (chargeQuota), so calls that a later rule refuses never hold any of the budget. On a team hub,
   * the team's usage as Redis has it now (one read for both); without Redis, this replica's own (and the
   * others' as last seen).
   */
  async quotaRefusal(identity: string, role: EffectiveRole): Promise<{ call?: SnowmuxError; query?: SnowmuxError }> {
    const rules = this.quotas.rulesOf(identity, role.name);
    let shared: ((windowMs: number) => QuotaUsage | undefined) | undefined;
    let sharedNow: number | undefined;
    if (this.team && rules.length > 0) {
      const admission = await this.team.quotaAdmit(budgetKey(identity, role), rules, false);
      if (admission) {
        for (const [windowMs, usage] of admission.usage) this.quotas.noteTeamUsage(identity, windowMs, usage, role.name);
        if (admission.reserved) return {};
        shared = (w) => admission.usage.get(w);
        sharedNow = admission.at;
      }
    }
    if (shared) this.quotasChanged();
    const call = this.quotas.exceeded(identity, role.name, shared, sharedNow, EVERY_CALL_SPENDS);
    const query = call ?? this.quotas.exceeded(identity, role.name, shared, sharedNow);
    return { ...(call ? { call } : {}), ...(query ? { query } : {}) };
  }

  /**
   * Charges the call's query to the identity's quota under its role, once per call, when its statement
   * has passed every rule and is about to reach the warehouse (the quota-charge statement stage). On a team
   * hub the check and the count are one atomic step in Redis (every replica's calls, those still running
   * included), so concurrent calls on several replicas are refused exactly at the limit; the count is
   * refunded at settle if the warehouse never ran the statement. Without a team, or while Redis does not answer,
   * the same against this hub's own count: the query is counted here at once (refunded at settle if it never ran),
   * so calls of one identity running at once cannot overshoot its `queries` limit either.
   */
  async chargeQuota(identity: string, role: EffectiveRole, meter: CallMeter): Promise<SnowmuxError | undefined> {
    if (meter.quotaCharged === true) return undefined;
    meter.quotaCharged = true;
    const rules = this.quotas.rulesOf(identity, role.name);
    if (this.team && rules.length > 0) {
      // The team's windows are on Redis's clock: the admission says when, for the refund of a query that never ran.
      const admission = await this.team.quotaAdmit(budgetKey(identity, role), rules, true);
      if (admission) {
        if (admission.reserved) meter.quotaReservedAt = admission.at;
        return this.teamRefusal(identity, role, admission);
      }
    }
    if (rules.length === 0) return undefined;
    const local = this.quotas.reserve(identity, role.name);
    if ('refusal' in local) return local.refusal;
    this.quotasChanged();
    meter.quotaReservedLocallyAt = local.at;
    return undefined;
  }

  /**
   * The rows and bytes the identity may still receive under the role in its current windows (the least over
   * them, with when that window refills); on a team hub the team's usage as Redis last reported it. What the
   * call itself has received so far (`meter`) is not recorded until it settles, so it is taken off here.
   */
  quotaRoom(identity: string, role: EffectiveRole, meter: CallMeter): Partial<Record<'rows' | 'bytes', QuotaRoom>> {
    const room = this.quotas.room(identity, role.name);
    if (room.rows) room.rows = { ...room.rows, left: Math.max(0, room.rows.left - meter.rows) };
    if (room.bytes) room.bytes = { ...room.bytes, left: Math.max(0, room.bytes.left - meter.bytes) };
    return room;
  }

  /** The refusal the team's usage calls for, noting that usage for the checks made while Redis does not answer. */
  private teamRefusal(identity: string, role: EffectiveRole, admission: QuotaAdmission): SnowmuxError | undefined {
    for (const [windowMs, usage] of admission.usage) this.quotas.noteTeamUsage(identity, windowMs, usage, role.name);
    this.quotasChanged();
    return admission.reserved ? undefined : this.quotas.exceeded(identity, role.name, (w) => admission.usage.get(w), admission.at);
  }

  /** How long a metadata answer is shared (limits.metadata_cache_ttl; 0: not at all). */
  get metadataCacheTtlMs(): number {
    return this.limits.metadataCacheTtlMs;
  }

  get retryPolicy(): { attempts: number; budgetMs: number } {
    return { attempts: this.limits.retryAttempts, budgetMs: this.limits.retryBudgetMs };
  }

  /**
   * A team-wide query slot for this warehouse's profile, when the team sets a cap (limits.
   * team_max_concurrent_queries); undefined when there is no cap, no team, or Redis cannot answer.
   */
  async teamSlot(warehouse: Warehouse, signal: AbortSignal): Promise<TeamLease | undefined> {
    const cap = this.limits.teamMaxConcurrentQueries;
    if (!this.team || cap === undefined) return undefined;
    return this.team.acquireSlot(warehouse.info().name, cap, signal);
  }

  /** The shared metadata cache and the scope naming this warehouse instance in its keys. */
  metadataFor(warehouse: Warehouse): { cache: MetadataCache; scope: string } {
    return { cache: this.metadata, scope: this.warehouseId(warehouse) };
  }

  /**
   * The warehouse's pool in the hub's fair queue: never more of its calls running than the backend itself runs
   * at once, so each session's share is decided here and not by the backend's FIFO.
   */
  poolFor(warehouse: Warehouse): SchedulerPool {
    let pool = this.pools.get(warehouse);
    if (!pool) {
      const info = warehouse.info();
      pool = this.scheduler.addPool(info.name, Math.max(1, Math.min(this.limits.maxConcurrentQueries, info.capacity ?? Infinity)));
      this.pools.set(warehouse, pool);
    }
    return pool;
  }

  /**
   * How long a call may wait in this warehouse's queue: the backend's own wait for one of its connections
   * (a Snowflake pool's acquire timeout) when those connections, not max_concurrent_queries, bound the
   * queue; undefined otherwise (the call waits until its deadline).
   */
  queueWaitMsFor(warehouse: Warehouse): number | undefined {
    if (this.queueWaits.has(warehouse)) return this.queueWaits.get(warehouse);
    const waitMs = warehouse.capacityWaitMs;
    const capacity = waitMs === undefined || warehouse.capacityBusy === undefined ? undefined : warehouse.info().capacity;
    const bound = capacity !== undefined && capacity <= this.limits.maxConcurrentQueries ? waitMs : undefined;
    this.queueWaits.set(warehouse, bound);
    return bound;
  }

  private warehouseId(warehouse: Warehouse): string {
    let id = this.warehouseIds.get(warehouse);
    if (id === undefined) {
      id = `w${this.nextWarehouseId++}`;
      this.warehouseIds.set(warehouse, id);
    }
    return id;
  }

  /**
   * After a call: what it used counts against the identity's quota under the role the call was admitted with
   * (never the role of whatever call of the identity came last: that one may have no quota at all).
   */
  async settle(identity: string, role: EffectiveRole, meter: CallMeter, ranQuery: boolean): Promise<void> {
    const windows = this.team ? this.quotas.windowsOf(identity, role.name) : [];
    const holder = budgetKey(identity, role);
    const reservedAt = meter.quotaReservedAt;
    // The team counted this call's query on admission: take it back, in the window it was counted in, if none ran.
    if (this.team && reservedAt !== undefined && !ranQuery && windows.length > 0) await this.team.quotaRecord(holder, windows, { queries: -1, rows: 0, bytes: 0, scanBytes: 0 }, reservedAt);
    // So did this hub's own count, when it reserved the query itself (chargeQuota).
    const localAt = meter.quotaReservedLocallyAt;
    if (localAt !== undefined && !ranQuery) this.quotas.refund(identity, localAt, role.name);
    if (localAt !== undefined || ranQuery || meter.rows > 0 || meter.bytes > 0) this.quotasChanged();
    // Only statements that ran spend their estimate from a scan budget (a refused one scanned nothing).
    const scanBytes = ranQuery ? (meter.scanEstimate?.bytes ?? 0) : 0;
    if (!ranQuery && meter.rows === 0 && meter.bytes === 0 && scanBytes === 0) return;
    const usage = { queries: ranQuery ? 1 : 0, rows: meter.rows, bytes: meter.bytes, scanBytes };
    // Locally always (the fallback when Redis goes away), and team-wide when there is a team.
    this.quotas.record(identity, localAt !== undefined ? { ...usage, queries: 0 } : usage, role.name);
    // Awaited, so the caller's next call (on any replica) sees this one's usage.
    const shared = reservedAt !== undefined ? { ...usage, queries: 0 } : usage;
    if (this.team && windows.length > 0) await this.team.quotaRecord(holder, windows, shared);
  }

  /** Calls `listener` on every circuit breaker transition of every warehouse, from now on. */
  onBreakerTransition(listener: (t: BreakerTransition) => void): void {
    this.transitionListeners.push(listener);
  }

  breakerFor(warehouse: Warehouse): WarehouseBreaker {
    let breaker = this.breakers.get(warehouse);
    if (!breaker) {
      const info = warehouse.info();
      breaker = new WarehouseBreaker({
        profile: info.name,
        backend: info.kind === 'snowflake' ? 'Snowflake' : 'The embedded warehouse',
        volumeThreshold: this.breakerSettings.volumeThreshold,
        errorThresholdPercentage: this.breakerSettings.errorThresholdPercentage,
        resetTimeoutMs: this.breakerSettings.resetTimeoutMs,
        rollingWindowMs: this.breakerWindowMs,
        clock: this.clock,
        ...(info.kind === 'duckdb' ? { classify: classifyInProcessFailure } : {}),
        probe: () => probeWarehouse(warehouse),
      });
      breaker.on('transition', (t) => {
        this.transitions.push(t);
        if (this.transitions.length > 50) this.transitions.shift();
        const level = t.to === 'open' ? 'warn' : 'info';
        this.logger[level]({ profile: t.profile, from: t.from, to: t.to, failures: t.failures, nextAttemptAt: t.nextAttemptAt }, 'circuit breaker transition');
        for (const listener of this.transitionListeners) listener(t);
      });
      this.breakers.set(warehouse, breaker);
    }
    return breaker;
  }

  /**
   * A warehouse closed for good while the hub runs on (its settings were superseded: a rotated key): its
   * breaker goes, and nothing here keeps it. The fair scheduler keeps the pool it was given (it has no way to
   * take one back), without a reference to the warehouse.
   */
  forgetWarehouse(warehouse: Warehouse): void {
    this.breakers.get(warehouse)?.shutdown();
    this.breakers.delete(warehouse);
    const pool = this.pools.get(warehouse);
    if (pool !== undefined) this.scheduler.removePool(pool);
    this.pools.delete(warehouse);
  }

  /** For `snowmux status`: limits, queue, breakers, rate buckets and remaining quota. */
  snapshot(): Record<string, unknown> {
    return {
      policy: this.#policy.describe(),
      queue: this.scheduler.snapshot(),
      // The kind beside the profile name, and which warehouse it is: health matches each breaker to its own.
      breakers: [...this.breakers].map(([warehouse, b]) => ({ kind: warehouse.kind, warehouseId: warehouseId(warehouse), ...b.snapshot() })),
      rateLimits: this.rateSnapshot().map(({ identity: key, ...bucket }) => ({ ...holderOf(key), ...bucket })),
      quotas: this.quotas.snapshot(),
      resultOwners: this.owners.snapshot(),
      // Shown by status as a warning: a restart while it fails gives every identity back what it used since.
      quotaUsageFile:
        this.quotaPath === undefined
          ? null
          : {
              path: this.quotaPath,
              failing: this.quotaSaveFailing ?? null,
              ...(this.quotaLostBefore === undefined ? {} : { lostBefore: { since: new Date(this.quotaLostBefore.since).toISOString(), to: new Date(this.quotaLostBefore.to).toISOString(), code: this.quotaLostBefore.error } }),
            },
      metadataCache: this.metadata.stats(),
    };
  }

  /**
   * The buckets not full, by budgetKey: on a team hub, the team's (as this replica last took from it, refilled
   * since, with when it was seen: calls on other replicas since are not in it); the local one where the last
   * take found Redis unavailable, or without a team.
   */
  private rateSnapshot(): (RateLimitSnapshotEntry & { team?: { seenAt: string } })[] {
    const now = this.now();
    const team: (RateLimitSnapshotEntry & { team: { seenAt: string } })[] = [];
    for (const [key, b] of [...this.teamBuckets.entries()]) {
      const tokens = Math.min(b.limit.capacity, b.tokens + ((now - b.at) / 1000) * b.limit.refillPerSecond);
      // A full bucket is not listed (as the local limiter forgets one): nothing limits its holder now.
      if (tokens >= b.limit.capacity) {
        this.teamBuckets.delete(key);
        continue;
      }
      team.push({ identity: key, tokens: Math.round(tokens * 1000) / 1000, capacity: b.limit.capacity, refillPerSecond: b.limit.refillPerSecond, team: { seenAt: b.seenAt } });
    }
    const local = this.rateLimiter.snapshot().filter((e) => !this.teamBuckets.has(e.identity));
    return [...team, ...local].sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  }

  close(): void {
    clearInterval(this.teamQuotaTimer);
    // What was used until now is kept for the next process (a restart, or the hub that replaced this one).
    clearTimeout(this.quotaSaveTimer);
    this.quotaSaveTimer = undefined;
    this.saveQuotas();
    this.persistingQuotas = false;
    for (const b of this.breakers.values()) b.shutdown();
    this.scheduler.close();
  }
}

/**
 * The key of an identity's rate bucket and quota under a role, locally and in Redis. NUL cannot occur in an
 * identity or role name, so two pairs never share a key.
 */
function budgetKey(identity: string, role: EffectiveRole): string {
  return holderKey(identity, role.name);
}

/** Where an ended session's share of its identity's rate waits for its client's next session (no session id starts with \u0001). */
function leftShareKey(identity: string, client: string): string {
  return `${identity}\u0000\u0001${client}`;
}

function holderKey(identity: string, role: string): string {
  return `${identity}\u0000${role}`;
}

/** A budgetKey's identity and role, for status (which is filtered by identity). */
function holderOf(key: string): { identity: string; role?: string } {
  const cut = key.lastIndexOf('\u0000');
  return cut < 0 ? { identity: key } : { identity: key.slice(0, cut), role: key.slice(cut + 1) };
}

/**
 * A result owner as one string for Redis: the identity, then NUL and the role, then NUL and the role's rules
 * fingerprint. An owner an older replica wrote lacks the later parts, which read back undefined (so only an
 * unrestricted role of that identity pages it).
 */
function encodeOwner(owner: ResultOwner): string {
  return [owner.identity, ...(owner.role === undefined ? [] : [owner.role, ...(owner.rules === undefined ? [] : [owner.rules])])].join('\u0000');
}

function decodeOwner(value: string): ResultOwner {
  const [identity = '', role, rules] = value.split('\u0000');
  return { identity, role, ...(rules === undefined ? {} : { rules }) };
}

/** Codes that mean "refused by a rule", not "failed". */
export { REFUSAL_CODES } from '../../error-codes.js';

/** How long the breaker's own probe may take: Snowflake answers `SELECT 1` from its cloud services, without a warehouse. */
const PROBE_TIMEOUT_MS = 10_000;

/** The half-open probe: the hub's own `SELECT 1` (tagged as such in the warehouse's query history). */
function probeWarehouse(warehouse: Warehouse): Promise<unknown> {
  return warehouse.query('SELECT 1', {
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    timeoutMs: PROBE_TIMEOUT_MS,
    maxRows: 1,
    tag: { sessionId: 'hub', requestId: 'breaker-probe', client: 'snowmux', tool: 'breaker-probe' },
  });
}

/**
 * Puts the HTTP face of a running hub on the network: checks the settings that make it safe (keys unless
 * loopback), opens the key store, and serves the face with the node:http engine.
 */
import { SnowmuxError, errorMessage } from '../../errors.js';
import type { HttpEngineChoice, HubSettings } from '../config/config-schema.js';
import type { Logger } from '../observe/logger.js';
import { ApiKeyStore, keysPath } from '../keys/api-keys.js';
import { createHttpFace, type HttpFace, type HttpFaceOptions, type ServedHub } from './http-face.js';
import { RedisKeyStore } from '../team/redis-keys.js';
import { serveWithNodeHttp, type EngineLimits, type HttpEndpoint } from './node-engine.js';
import { parseListen } from '../listen/listen-address.js';
import { isLoopbackHost } from '../../wire/loopback.js';
import { AnswerBudget, MAX_HELD_ANSWER_BYTES } from './answer-budget.js';
import { returnMemorySoon } from '../session/memory-return.js';

export interface HttpService {
  url: string;
  /** The engine serving it: uWebSockets.js (hyper-express) or node:http. */
  engine: 'uws' | 'node';
  /**
   * Auth on, and how many keys can authenticate now (0: nothing but /healthz is reachable); keysPending
   * says why the team's keys cannot be checked yet (Redis unreachable since start), else null.
   */
  auth: { enabled: boolean; activeKeys: number; keysPending: string | null };
  /** On a team hub, resolves once the team's keys are read from Redis (at once if they were at start). */
  keysLoaded: (() => Promise<void>) | undefined;
  /** Stop accepting connections (the next hub may take the port); requests in flight go on. */
  stopAccepting(): void;
  close(): Promise<void>;
}

export async function serveHttp(opts: {
  hub: ServedHub;
  home: string;
  address: string;
  settings: Pick<HubSettings, 'httpAuth' | 'httpAllowedOrigins' | 'httpHosts' | 'httpShimProfiles' | 'redisUrl' | 'teamNamespace' | 'httpEngine' | 'httpBodyTimeoutMs' | 'httpMaxRequestsPerIdentity'>;
  metrics: HttpFaceOptions['metrics'];
  logger: Logger;
  /** Where refused authentications are audited. */
  auditAuthRefusal?: HttpFaceOptions['auditAuthRefusal'];
}): Promise<HttpService> {
  const { host } = parseListen(opts.address);
  const loopback = isLoopbackHost(host);
  if (!opts.settings.httpAuth && !loopback) {
    throw new SnowmuxError('CONFIG_INVALID', `hub.http_auth = false is allowed only on a loopback listener; ${opts.address} is reachable from other machines. Keep keys on (snowmux keys create), or listen on 127.0.0.1.`);
  }
  const keyLog = opts.logger.child({ component: 'http' });
  const local = opts.settings.httpAuth
    ? new ApiKeyStore(keysPath(opts.home), Date.now, (problem, kept) => {
        if (problem && kept) keyLog.error({ problem }, 'API key file could not be read: the keys read last stay in force (before the first read, requests are answered 503) until it can be');
        else if (problem) keyLog.error({ problem }, 'API key file unusable: every key is refused until it is fixed');
        else keyLog.info('API key file usable again');
      })
    : null;
  // A team hub checks the team's keys (Redis) as well as its own file.
  const team = local && opts.settings.redisUrl !== undefined ? new RedisKeyStore(opts.settings.redisUrl, opts.settings.teamNamespace, local, opts.logger) : null;
  if (team) await team.refresh();
  const keys = team ?? local;
  // One bound on unread answers for the face (what the SDK's streams produced) and the engine (what its
  // sockets have not written) together; a cut answer's memory is given back soon (a full collection).
  const answers = unreadAnswerBudget(opts.hub);
  opts.metrics?.watchHttpAnswers?.(answers);
  const face = createHttpFace({
    answers,
    hub: opts.hub,
    keys,
    metrics: opts.metrics,
    logger: opts.logger.child({ component: 'http' }),
    hosts: opts.settings.httpHosts,
    shimProfiles: opts.settings.httpShimProfiles,
    loopbackOnly: loopback,
    allowedOrigins: opts.settings.httpAllowedOrigins,
    auditAuthRefusal: opts.auditAuthRefusal,
    maxRequestsPerIdentity: opts.settings.httpMaxRequestsPerIdentity,
  });
  let served: Awaited<ReturnType<typeof serveWithEngine>>;
  try {
    served = await serveWithEngine(face, opts.address, opts.settings.httpEngine, opts.logger, { bodyTimeoutMs: opts.settings.httpBodyTimeoutMs, answers });
  } catch (err) {
    // The face is already attached to the hub's events: a failed listen (retried during a take-over)
    // would otherwise leave one more set of listeners and timers behind each time.
    await face.close();
    team?.close();
    throw err;
  }
  const { endpoint, engine } = served;
  return {
    url: endpoint.url,
    engine,
    auth: { enabled: keys !== null, activeKeys: keys?.activeCount ?? 0, keysPending: team?.unavailable() ?? null },
    keysLoaded: team ? () => team.loaded() : undefined,
    stopAccepting: () => endpoint.stopAccepting(),
    async close() {
      await face.close();
      await endpoint.close();
      team?.close();
    },
  };
}

/**
 * The bound on unread answers of a hub's HTTP face and engine: a cut answer's memory is given back soon (a
 * full collection), and each cut, for the bound or for a client that took none of its answer, reaches the
 * hub's status (its totals and last cut), not only the log.
 */
export function unreadAnswerBudget(hub: Pick<ServedHub, 'noteAnswerCut'>, limit = MAX_HELD_ANSWER_BYTES): AnswerBudget {
  return new AnswerBudget(limit, {
    cut: (why, identity) => {
      returnMemorySoon();
      hub.noteAnswerCut(why, identity);
    },
    stalled: (why, identity) => hub.noteAnswerCut(why, identity),
  });
}

/**
 * `auto` serves with uWebSockets.js (hyper-express) when that optional dependency loads, else with
 * node:http after one log line; `uws` insists (an error saying how to install it); `node` never tries.
 */
async function serveWithEngine(face: HttpFace, address: string, choice: HttpEngineChoice, logger: Logger, limits: EngineLimits): Promise<{ endpoint: HttpEndpoint; engine: 'uws' | 'node' }> {
  if (choice !== 'node') {
    const uws = await loadUwsEngine();
    if (!(uws instanceof Error)) return { endpoint: await uws.serveWithUws(face, address, logger, limits), engine: 'uws' };
    if (choice === 'uws') {
      throw new SnowmuxError('CONFIG_INVALID', `hub.http_engine = "uws" but hyper-express (uWebSockets.js) does not load here: ${uws.message}. Reinstall with optional dependencies (npm ci --include=optional), or set hub.http_engine = "node".`);
    }
    logger.warn({ err: uws.message }, 'hyper-express (uWebSockets.js) does not load; serving HTTP with node:http');
  }
  return { endpoint: await serveWithNodeHttp(face, address, logger, limits), engine: 'node' };
}

async function loadUwsEngine(): Promise<typeof import('./uws-engine.js') | Error> {
  try {
    const engine = await import('./uws-engine.js');
    await import('hyper-express');
    return engine;
  } catch (err) {
    return err instanceof Error ? err : new Error(errorMessage(err));
  }
}

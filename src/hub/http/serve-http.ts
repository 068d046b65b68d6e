/**
 * Puts the HTTP face of a running hub on the network: checks the settings that make it safe (keys unless
 * loopback), opens the key store, and serves the face with the node:http engine.
 */
import { SnowmuxError } from '../../errors.js';
import type { HubSettings } from '../config/config-schema.js';
import type { Logger } from '../observe/logger.js';
import { ApiKeyStore, keysPath } from '../keys/api-keys.js';
import { createHttpFace, type HttpFaceOptions, type ServedHub } from './http-face.js';
import { RedisKeyStore } from '../team/redis-keys.js';
import { isLoopbackHost, parseListen, serveWithNodeHttp } from './node-engine.js';

export interface HttpService {
  url: string;
  /** Auth on, and how many keys can authenticate now (0: nothing but /healthz is reachable). */
  auth: { enabled: boolean; activeKeys: number };
  /** Stop accepting connections (the next hub may take the port); requests in flight go on. */
  stopAccepting(): void;
  close(): Promise<void>;
}

export async function serveHttp(opts: {
  hub: ServedHub;
  home: string;
  address: string;
  settings: Pick<HubSettings, 'httpAuth' | 'httpAllowedOrigins' | 'httpHosts' | 'redisUrl' | 'teamNamespace'>;
  metrics: HttpFaceOptions['metrics'];
  logger: Logger;
}): Promise<HttpService> {
  const { host } = parseListen(opts.address);
  const loopback = isLoopbackHost(host);
  if (!opts.settings.httpAuth && !loopback) {
    throw new SnowmuxError('CONFIG_INVALID', `hub.http_auth = false is allowed only on a loopback listener; ${opts.address} is reachable from other machines. Keep keys on (snowmux keys create), or listen on 127.0.0.1.`);
  }
  const local = opts.settings.httpAuth ? new ApiKeyStore(keysPath(opts.home)) : null;
  // A team hub checks the team's keys (Redis) as well as its own file.
  const team = local && opts.settings.redisUrl !== undefined ? new RedisKeyStore(opts.settings.redisUrl, opts.settings.teamNamespace, local, opts.logger) : null;
  if (team) await team.refresh();
  const keys = team ?? local;
  const face = createHttpFace({
    hub: opts.hub,
    keys,
    metrics: opts.metrics,
    logger: opts.logger.child({ component: 'http' }),
    hosts: opts.settings.httpHosts,
    loopbackOnly: loopback,
    allowedOrigins: opts.settings.httpAllowedOrigins,
  });
  const endpoint = await serveWithNodeHttp(face, opts.address, opts.logger);
  return {
    url: endpoint.url,
    auth: { enabled: keys !== null, activeKeys: keys?.activeCount ?? 0 },
    stopAccepting: () => endpoint.server.close(),
    async close() {
      await face.close();
      await endpoint.close();
      team?.close();
    },
  };
}

/**
 * Secrets that the hub's config sends over the network unencrypted: the OTLP collector's header values
 * (`hub.otel_headers`, an API key as a rule) to an `http://` endpoint, the team Redis password to a
 * `redis://` one (not `rediss://`), each to another machine, and the editors' API keys to an HTTP face other
 * machines reach (the hub speaks plain HTTP; TLS is a proxy's or an ingress's). Said, not refused: a private
 * network, or TLS terminated in front, may be meant, which the hub cannot know.
 */
import { isLoopbackHost } from '../../wire/loopback.js';
import { isListenAddress, parseListen } from '../listen/listen-address.js';
import { shownUrl } from '../../shown-text.js';
import { urlCredentials } from '../audit/audit-redact.js';
import type { HubSettings } from './config-schema.js';

/** One warning per secret that would travel in the clear, naming the key and what to change. */
export function clearTextSecretWarnings(hub: HubSettings, env: NodeJS.ProcessEnv, httpFlag?: string): string[] {
  const warnings: string[] = [];
  // The endpoint as the hub picks it (tracingSettings); the OTLP exporter also sends the headers the
  // standard variables give.
  const endpoint = hub.otelEndpoint ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined);
  const headerNames = Object.keys(hub.otelHeaders);
  const envHeaders = ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'].filter((name) => (env[name] ?? '') !== '');
  if (endpoint !== undefined && (headerNames.length > 0 || envHeaders.length > 0) && offMachine(endpoint, 'http:')) {
    const key = hub.otelEndpoint !== undefined ? 'hub.otel_endpoint' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
    const headers = [...(headerNames.length > 0 ? [`hub.otel_headers (${headerNames.join(', ')})`] : []), ...envHeaders].join(' and ');
    warnings.push(
      `${key} ${shownUrl(endpoint)} is plain http:// to another machine, and ${headers} go with every export: the collector's key travels in the clear. ` +
        'Use https://, unless the network between the hub and the collector is private.',
    );
  }
  if (hub.redisUrl !== undefined && urlCredentials(hub.redisUrl).length > 0 && offMachine(hub.redisUrl, 'redis:')) {
    warnings.push(
      `hub.redis_url ${shownUrl(hub.redisUrl)} sends its password over plain redis:// to another machine: it travels in the clear (so do the team's key hashes and quotas). ` +
        'Use rediss:// (TLS), unless the network between the hub and Redis is private.',
    );
  }
  const listen = httpFlag ?? hub.httpListen;
  if (listen !== undefined && isListenAddress(listen) && hub.httpAuth && !isLoopbackHost(parseListen(listen).host)) {
    warnings.push(
      `${httpFlag === undefined ? 'hub.http_listen' : '--http'} ${listen} serves plain HTTP to other machines: the editors' API keys and every result travel in the clear unless TLS is terminated in front. ` +
        'Put a TLS proxy or ingress in front (docs/http.md), unless the network between the editors and the hub is private.',
    );
  }
  return warnings;
}

/**
 * Whether `url` uses the plain `scheme` to a host that is not this machine. Read as leniently as the
 * clients read it: a user:password@ holding characters a URL may not (ioredis takes them) is set aside first.
 */
function offMachine(url: string, scheme: string): boolean {
  let u: URL;
  try {
    u = new URL(url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^?#]*@/i, '$1'));
  } catch {
    return false;
  }
  return u.protocol === scheme && !isLoopbackHost(u.hostname);
}


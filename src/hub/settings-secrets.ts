/**
 * The secrets the hub's own settings hold, as the hub learns them at start (runtime.ts) and `snowmux doctor`
 * masks them from what it prints: config.toml's profile secrets, hub.redis_url's and hub.otel_endpoint's
 * credentials and hub.otel_headers; the process environment's proxies, OTLP settings and SNOWFLAKE_*
 * secrets; the secret settings of connections.toml's sections.
 */
import { isSecretLookingKey, percentDecoded, urlCredentials } from './audit/audit-redact.js';
import type { LoadedConfig } from './config/config-file.js';
import { environmentSecrets } from './warehouse/warehouse-registry.js';

/** Secrets the config file holds, so the audit log can scrub them if they ever appear in SQL text. */
export function configSecrets(config: LoadedConfig): string[] {
  const out: string[] = [];
  for (const p of Object.values(config.config.profiles)) {
    for (const v of [p.password, p.passcode, p.privateKeyPassphrase, p.token]) if (v) out.push(v);
  }
  const hub = config.config.hub;
  // OTLP headers usually carry the collector's API key; the team's Redis password opens every replica's
  // shared state (API keys included).
  out.push(...Object.values(hub.otelHeaders));
  for (const url of [hub.redisUrl, hub.otelEndpoint]) if (url !== undefined) out.push(...urlCredentials(url));
  return out;
}

/**
 * Secrets of the hub process's own environment: its proxies' credentials (HTTPS_PROXY, ALL_PROXY…, used for
 * every login and Cortex call), the OTLP exporter's (its endpoint's userinfo, and the header values the
 * exporter adds from OTEL_EXPORTER_OTLP_HEADERS), and its Snowflake settings' secret values, known even when
 * the profile they belong to fails to resolve.
 */
export function processSecrets(env: NodeJS.ProcessEnv): string[] {
  const out = environmentSecrets(env);
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (/_proxy$/i.test(name) || /^OTEL_EXPORTER_OTLP_(?:TRACES_)?ENDPOINT$/.test(name)) out.push(...urlCredentials(value));
    if (/^OTEL_EXPORTER_OTLP_(?:TRACES_)?HEADERS$/.test(name)) {
      // `key=value,key2=value2`, values percent-encoded.
      for (const header of value.split(',')) {
        const headerValue = header.slice(header.indexOf('=') + 1).trim();
        if (header.includes('=') && headerValue !== '') out.push(headerValue, percentDecoded(headerValue));
      }
    }
  }
  return out;
}

/**
 * The secret settings of connections.toml's sections (password, token, a key's passphrase…, by the name of
 * the key, the key and token file paths aside), whether or not the section resolves to a profile.
 */
export function connectionsSecrets(connections: Record<string, Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const section of Object.values(connections)) {
    for (const [key, value] of Object.entries(section)) {
      if (typeof value === 'string' && value !== '' && isSecretLookingKey(key) && !/(?:file|path)$/i.test(key)) out.push(value);
    }
  }
  return out;
}

/**
 * `fetch` for the Snowflake REST calls the hub makes beside the driver (Cortex): through the proxy the
 * hub's environment names, by the rule the driver follows for logins and SQL (`hub.use_env_proxy`):
 * `https_proxy` for https URLs, `http_proxy` for http ones (lower case first, then upper), none for a host
 * NO_PROXY lists. Node's own fetch ignores these variables, so without this a hub behind a corporate
 * proxy would reach Snowflake for SQL and fail for Cortex. undici (Node's fetch, as a package) is loaded
 * only when a proxy applies.
 */
import type { Dispatcher } from 'undici';

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
}

/**
 * Whether NO_PROXY exempts a host, read exactly as the driver reads it (so SQL and Cortex never take
 * different paths): entries separated by commas (or `|`), each matched against the whole host name, `*`
 * matching anything and a leading `.` standing for "any prefix" — `*`, `*.example.com` and `.example.com`
 * cover subdomains, `example.com` only itself. No ports.
 */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  if (noProxy === undefined) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return noProxy
    .split(/[,|]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .some((entry) => {
      const pattern = [...entry].map((ch, i) => (ch === '*' || (ch === '.' && i === 0) ? '.*' : ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))).join('');
      return new RegExp(`^${pattern}$`).test(host);
    });
}

/** The proxy URL a request to `url` goes through, or undefined for a direct connection. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv): string | undefined {
  const proxy = envValue(env, url.protocol === 'https:' ? 'https_proxy' : 'http_proxy');
  if (proxy === undefined || bypassesProxy(url, envValue(env, 'no_proxy'))) return undefined;
  // The driver reads a proxy given without a scheme as http://.
  return proxy.includes('://') ? proxy : `http://${proxy}`;
}

/**
 * The proxy a request to `url` goes through, as a message may name it — its host and port and the variable
 * that set it (`127.0.0.1:3128 (HTTPS_PROXY)`), never its user or password — or undefined for a direct one.
 */
export function shownProxy(url: string, options: SnowflakeFetchOptions): string | undefined {
  const target = new URL(url);
  const proxy = options.useEnvProxy ? proxyFor(target, options.env ?? process.env) : undefined;
  if (proxy === undefined) return undefined;
  let host: string;
  try {
    host = new URL(proxy).host;
  } catch {
    host = 'that the variable names';
  }
  return `${host} (${target.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY'})`;
}

type ProxiedFetch = { fetch: typeof import('undici').fetch; dispatcher: Dispatcher };
const agents = new Map<string, Promise<ProxiedFetch>>();

function through(proxy: string): Promise<ProxiedFetch> {
  let agent = agents.get(proxy);
  if (!agent) {
    agent = import('undici').then(({ fetch, ProxyAgent }) => ({ fetch, dispatcher: new ProxyAgent(proxy) }));
    agents.set(proxy, agent);
  }
  return agent;
}

export interface SnowflakeFetchOptions {
  /** Whether the environment's proxy variables apply (`hub.use_env_proxy`). */
  useEnvProxy: boolean;
  /** Where the proxy variables are read; the hub process's environment by default. */
  env?: NodeJS.ProcessEnv | undefined;
}

export async function snowflakeFetch(url: string, init: RequestInit, options: SnowflakeFetchOptions): Promise<Response> {
  const proxy = options.useEnvProxy ? proxyFor(new URL(url), options.env ?? process.env) : undefined;
  if (proxy === undefined) return await fetch(url, init);
  const { fetch: proxiedFetch, dispatcher } = await through(proxy);
  // undici's Response is the class Node's fetch returns; only its declared type differs.
  return (await proxiedFetch(url, { ...(init as Parameters<typeof proxiedFetch>[1]), dispatcher })) as unknown as Response;
}

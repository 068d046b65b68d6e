/**
 * A small HTTP listener for operations: GET /metrics (Prometheus) and GET /healthz. Off unless
 * `hub.metrics_listen` is set. It stays up while the hub drains (/healthz then answers 503) until the hub
 * exits, or until the next hub comes up and wants the port. Bind it to loopback unless a scraper elsewhere
 * needs it (it exposes counts and profile names, never SQL or secrets).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SnowmuxError } from '../../errors.js';
import { releaseHttpServer } from './release-http-server.js';

export interface MetricsEndpoint {
  metrics(): Promise<string>;
  contentType: string;
  health(): { ok: boolean; body: Record<string, unknown> };
}

export interface MetricsListener {
  url: string;
  /** Let go of the port for the next hub (requests in flight finish). */
  release(): void;
  /** Resolves once the port is closed and every connection ended. */
  close(): Promise<void>;
}

export async function listenMetrics(address: string, endpoint: MetricsEndpoint): Promise<MetricsListener> {
  const split = address.lastIndexOf(':');
  const host = address.slice(0, split).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(split + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      endpoint.metrics().then(
        (text) => res.writeHead(200, { 'content-type': endpoint.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      const h = endpoint.health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h.body));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found. Try /metrics or /healthz.\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new SnowmuxError('METRICS_LISTEN_FAILED', `Cannot serve metrics on ${address}: ${err.message}. Change hub.metrics_listen or free the port.`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${shownHost}:${bound.port}`,
    release: () => releaseHttpServer(server),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

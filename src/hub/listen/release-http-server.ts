/**
 * Lets go of a `node:http` server's port for the next hub while requests in flight finish: no new
 * connections, and no kept-alive ones either — clients (a load balancer's health checks, a Prometheus
 * scraper) would otherwise go on asking this hub on their open connection instead of reaching the next.
 */
import type { Server } from 'node:http';

export function releaseHttpServer(server: Server): void {
  server.close();
  // Answers from here on say so, and their connection ends with them.
  server.prependListener('request', (_req, res) => res.setHeader('connection', 'close'));
  // Answers already under way: their connection ends as soon as they are sent.
  server.keepAliveTimeout = 1;
  server.closeIdleConnections();
}

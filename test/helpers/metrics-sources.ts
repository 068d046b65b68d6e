/** What HubMetrics reads from a hub, for tests: nothing running, nothing held; spread and override what a test needs. */
import type { MetricsSources } from '../../src/hub/observe/metrics.js';

export const IDLE_METRICS_SOURCES: MetricsSources = {
  sessions: () => [],
  sessionsCut: () => 0,
  queue: () => undefined,
  breakers: () => [],
  pools: () => [],
  auditSeq: () => undefined,
  auditFailedAppends: () => undefined,
  traceSpansDropped: () => undefined,
  metadataCache: () => undefined,
  team: () => undefined,
};

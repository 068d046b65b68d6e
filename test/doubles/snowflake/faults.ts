/**
 * Fault injection for the Snowflake double. A fault matches requests to one endpoint (or all) and can be
 * limited to its first `times` matches. Hung requests stay open until clearFaults()/releaseHung(),
 * then are processed normally — so a test never leaves the driver retrying after it ends.
 */

/** `chunk` is a large result's chunk download (cloud storage); `root` is the account's front page (the hub's reachability probe: HEAD /); `any` matches every endpoint. */
export type Endpoint = 'login' | 'query' | 'result' | 'abort' | 'heartbeat' | 'renew' | 'logout' | 'status' | 'telemetry' | 'cortex' | 'root' | 'chunk' | 'any';

export type SnowflakeFault =
  /** Delay the HTTP response of an endpoint. (Use `queryLatencyMs` for slow, abortable statements.) */
  | { kind: 'latency'; endpoint: Endpoint; ms: number; times?: number }
  /** Destroy the socket without answering (connection reset / refused). */
  | { kind: 'refuse'; endpoint?: Endpoint; times?: number }
  /** Never answer until the fault is cleared. */
  | { kind: 'hang'; endpoint: Endpoint; times?: number }
  /** Answer with an HTTP error status (the driver retries 5xx, 408 and 429). */
  | { kind: 'httpStatus'; endpoint: Endpoint; status: number; times?: number }
  /** Answer HTTP 200 with success:false and this Snowflake code (e.g. 390112, 390114, 390111). */
  /** `queryId`: the answer names a query id, as Snowflake's does for a statement it took and failed while running. */
  | { kind: 'error'; endpoint: Endpoint; code: string; message?: string; sqlState?: string; times?: number; queryId?: boolean };

interface ActiveFault {
  fault: SnowflakeFault;
  remaining: number;
}

export class FaultTable {
  private faults: ActiveFault[] = [];

  add(fault: SnowflakeFault): void {
    this.faults.push({ fault, remaining: fault.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.faults = [];
  }

  /** True when a refuse fault applies to every new connection (so sockets can be dropped on accept). */
  refusesAll(): boolean {
    return this.faults.some((f) => f.fault.kind === 'refuse' && (f.fault.endpoint ?? 'any') === 'any' && f.remaining > 0);
  }

  /** Takes (and counts) every fault matching this endpoint, in insertion order. */
  take(endpoint: Endpoint): SnowflakeFault[] {
    const matched: SnowflakeFault[] = [];
    for (const active of this.faults) {
      const target = active.fault.kind === 'refuse' ? (active.fault.endpoint ?? 'any') : active.fault.endpoint;
      if (active.remaining <= 0 || (target !== 'any' && target !== endpoint)) continue;
      active.remaining--;
      matched.push(active.fault);
    }
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return matched;
  }
}

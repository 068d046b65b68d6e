/**
 * A client that never reads (issue 9): the hub's RSS while one raw client sends N requests for full-size
 * answers (default settings: 200 rows filling max_result_bytes) and never reads a byte, and a bystander on
 * another connection calls `SELECT 42` in a closed loop; then the flooder leaves and the RSS is read again.
 *
 *   node dist/bench/flood.js [requests=2000] [baselineRoot]
 *
 * baselineRoot is another checkout, built, e.g. `git worktree add /tmp/smx-before 4ae7db9` (the build
 * before the hub bounded a session's output): it runs the same flood, after this checkout's. The flood
 * phase ends when the hub cuts the flooder off (its log says so) or after 15 s; the "after" figure is the
 * RSS 5 s after the flooder's connection closed. Clients speak plain MCP to the hub's socket (no hello),
 * which every build accepts.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_CONFIG, benchHome, fmt, machine, percentile, root, rssMiB, startHubProcess } from './lib.js';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/flood.js [requests=2000] [baselineRoot]';

const FULL_ANSWER = `SELECT ${Array.from({ length: 10 }, (_, i) => `repeat('x', 118) AS c${i}`).join(', ')} FROM range(200)`;
const FLOOD_WINDOW_MS = 15_000;
const AFTER_MS = 5_000;

/** A line client on the hub's socket: requests by id, answers matched by id. */
class LineClient {
  private buf = '';
  private readonly waiting = new Map<number | string, (m: Record<string, unknown>) => void>();

  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf += c.toString('utf8');
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(this.buf.slice(0, nl)) as Record<string, unknown>;
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting.get(m.id as number);
        if (w) {
          this.waiting.delete(m.id as number);
          w(m);
        }
      }
    });
  }

  static async open(path: string): Promise<LineClient> {
    const socket = connect(path);
    await once(socket, 'connect');
    const c = new LineClient(socket);
    await c.request('init', 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });
    socket.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    return c;
  }

  request(id: number | string, method: string, params: unknown): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }
}

interface Row {
  target: string;
  baselineMiB: number;
  peakGrowthMiB: number;
  afterGrowthMiB: number;
  cutAfterMs: number | null;
  bystanderCalls: number;
  p99ms: number;
  maxMs: number;
}

async function run(target: string, checkout: string, requests: number): Promise<Row> {
  const home = benchHome(BENCH_CONFIG.replace('max_queued = 5000', 'max_queued = 100000\nmax_queued_per_session = 100000'));
  const hub = await startHubProcess(home, { SNOWMUX_STALLED_OUTPUT_MS: '50000' }, join(checkout, 'bin', 'snowmux.js'));
  try {
    const pid = hub.pid!;
    const sock = join(home, 'hub.sock');
    const bystander = await LineClient.open(sock);
    let id = 0;
    const call = (query: string) => bystander.request(++id, 'tools/call', { name: 'execute_query', arguments: { query } });
    for (let i = 0; i < 20; i++) await call('SELECT 1');
    const baseline = rssMiB(pid);

    const flooder = await LineClient.open(sock);
    flooder.socket.pause(); // never reads again
    for (let i = 1; i <= requests; i++) {
      flooder.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'execute_query', arguments: { query: FULL_ANSWER } } })}\n`);
    }
    const started = performance.now();
    const latencies: number[] = [];
    let peak = baseline;
    let cutAfterMs: number | null = null;
    while (performance.now() - started < FLOOD_WINDOW_MS) {
      const t0 = performance.now();
      await call('SELECT 42');
      latencies.push(performance.now() - t0);
      peak = Math.max(peak, rssMiB(pid));
      if (latencies.length % 20 === 0 && readFileSync(join(home, 'hub.log'), 'utf8').includes('client does not read its answers')) {
        cutAfterMs = performance.now() - started;
        break;
      }
    }
    flooder.socket.destroy();
    const left = performance.now();
    while (performance.now() - left < AFTER_MS) {
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, rssMiB(pid));
    }
    const after = rssMiB(pid);
    bystander.socket.destroy();
    return {
      target,
      baselineMiB: baseline,
      peakGrowthMiB: peak - baseline,
      afterGrowthMiB: after - baseline,
      cutAfterMs,
      bystanderCalls: latencies.length,
      p99ms: percentile(latencies, 99),
      maxMs: Math.max(...latencies),
    };
  } finally {
    hub.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  }
}

const requests = numberArg(2, 2000, USAGE);
const baselineRoot = process.argv[3];
console.log(`# flood: ${requests} requests for full-size answers, never read; ${machine()}`);
const rows = [await run('this checkout', root, requests)];
if (baselineRoot) rows.push(await run(`baseline ${baselineRoot}`, baselineRoot, requests));
console.log('| hub | baseline RSS MiB | peak growth MiB | growth 5 s after the flooder left MiB | flooder cut off after | bystander calls | p99 ms | max ms |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.target} | ${fmt(r.baselineMiB, 0)} | ${fmt(r.peakGrowthMiB, 0)} | ${fmt(r.afterGrowthMiB, 0)} | ${r.cutAfterMs === null ? `not within ${FLOOD_WINDOW_MS / 1000} s` : `${fmt(r.cutAfterMs / 1000)} s`} | ${r.bystanderCalls} | ${fmt(r.p99ms)} | ${fmt(r.maxMs)} |`);
}

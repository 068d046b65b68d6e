/**
 * The hub alone: raw JSON-RPC clients on its Unix socket (plain MCP, no shim, no hello), closed loop, so
 * no hop and no client SDK shares the 2 cores with it — what one hub process can serve, and what it spends
 * per call. Targets run in the same interleaved rounds (order rotating), so machine noise hits each alike:
 * this checkout, a baseline checkout, and this checkout under other environment settings.
 *
 *   node dist/bench/hub-direct.js <tools/list|list_databases|SELECT 1> [seconds=3] [rounds=4] [baselineRoot[,baselineRoot…]|-] [clients=8] [ENV=value …]
 *
 * Each ENV=value argument adds a target: this checkout's hub started with that variable (for instance
 * UV_THREADPOOL_SIZE=8, which gives the embedded warehouse 6 statement slots instead of 2).
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { benchHome, cli, cpuMs, fmt, killHubs, machine, median, removeHome, startHubProcess } from './lib.js';
import { numberArg } from './args.js';

const USAGE = 'node dist/bench/hub-direct.js <tools/list|list_databases|SELECT 1> [seconds=3] [rounds=4] [baselineRoot[,baselineRoot…]|-] [clients=8] [ENV=value …]';

type Workload = 'tools/list' | 'list_databases' | 'SELECT 1';

interface Target {
  name: string;
  cli: string;
  env: Record<string, string>;
}

interface Running {
  target: Target;
  home: string;
  hubPid: number;
  clients: DirectClient[];
  stop(): Promise<void>;
}

/** One MCP session straight on the hub's socket, requests matched to answers by id. */
class DirectClient {
  readonly #socket: Socket;
  readonly #waiting = new Map<number, (message: Record<string, unknown>) => void>();
  #next = 1;
  #buffer = '';

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let nl: number;
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        const message = JSON.parse(line) as Record<string, unknown>;
        const waiter = typeof message.id === 'number' ? this.#waiting.get(message.id) : undefined;
        if (!waiter) continue;
        this.#waiting.delete(message.id as number);
        waiter(message);
      }
    });
  }

  static async open(socketPath: string, name: string): Promise<DirectClient> {
    const socket = connect(socketPath);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new DirectClient(socket);
    await client.request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name, version: '1' } });
    socket.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    return client;
  }

  request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method} unanswered for 10 s`)), 10_000);
      this.#waiting.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.#socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Answers the hub throttled (a session that sends non-tool requests faster than they are served), retried after the wait it names. */
let throttled = 0;

async function call(c: DirectClient, w: Workload): Promise<void> {
  for (;;) {
    const answer =
      w === 'tools/list'
        ? await c.request('tools/list', {})
        : await c.request('tools/call', w === 'list_databases' ? { name: 'list_databases', arguments: {} } : { name: 'execute_query', arguments: { query: 'SELECT 1' } });
    const wait = /Retry after ~(\d+) ms/.exec(String((answer.error as { message?: unknown } | undefined)?.message ?? ''));
    if (wait) {
      throttled += 1;
      await new Promise((r) => setTimeout(r, Number(wait[1])));
      continue;
    }
    const result = answer.result as { isError?: boolean } | undefined;
    if (answer.error !== undefined || result?.isError === true) throw new Error(`${w} failed: ${JSON.stringify(answer).slice(0, 300)}`);
    return;
  }
}

async function start(target: Target, clients: number): Promise<Running> {
  const home = benchHome();
  const hub = await startHubProcess(home, target.env, target.cli);
  const cs = await Promise.all(Array.from({ length: clients }, (_, i) => DirectClient.open(join(home, 'hub.sock'), `direct-${i}`)));
  return {
    target,
    home,
    hubPid: hub.pid!,
    clients: cs,
    async stop() {
      for (const c of cs) c.close();
      hub.kill('SIGTERM');
      await new Promise((r) => {
        hub.once('exit', r);
        setTimeout(r, 10_000).unref();
      });
      killHubs(home);
      await removeHome(home);
    },
  };
}

/** Every client in a closed loop for `ms`; calls/s and the hub's CPU per call. */
async function measure(r: Running, w: Workload, ms: number): Promise<{ callsPerSecond: number; cpuUsPerCall: number }> {
  const cpu0 = cpuMs(r.hubPid);
  const t0 = performance.now();
  const end = t0 + ms;
  let calls = 0;
  await Promise.all(
    r.clients.map(async (c) => {
      while (performance.now() < end) {
        await call(c, w);
        calls += 1;
      }
    }),
  );
  const elapsed = performance.now() - t0;
  return { callsPerSecond: (calls * 1000) / elapsed, cpuUsPerCall: ((cpuMs(r.hubPid) - cpu0) * 1000) / calls };
}

async function main(): Promise<void> {
  const workload = (process.argv[2] ?? 'SELECT 1') as Workload;
  if (!['tools/list', 'list_databases', 'SELECT 1'].includes(workload)) throw new Error(`unknown workload "${workload}": tools/list, list_databases or "SELECT 1"`);
  const seconds = numberArg(3, 3, USAGE);
  const rounds = numberArg(4, 4, USAGE);
  const baseline = process.argv[5];
  const clients = numberArg(6, 8, USAGE);
  const targets: Target[] = [{ name: 'snowmux hub (this checkout)', cli, env: {} }];
  if (baseline && baseline !== '-') {
    for (const root of baseline.split(',')) targets.push({ name: `snowmux hub (baseline ${root})`, cli: join(root, 'bin', 'snowmux.js'), env: {} });
  }
  for (const setting of process.argv.slice(7)) {
    // Split at the first '=' only: a value may hold its own (NODE_OPTIONS=--max-semi-space-size=64).
    const at = setting.indexOf('=');
    const key = at > 0 ? setting.slice(0, at) : '';
    const value = at > 0 ? setting.slice(at + 1) : undefined;
    if (!key || value === undefined) throw new Error(`expected ENV=value, got "${setting}"`);
    targets.push({ name: `snowmux hub (this checkout, ${key}=${value})`, cli, env: { [key]: value } });
  }
  for (const t of targets) readFileSync(t.cli); // fail early on a wrong baseline path

  const running: Running[] = [];
  try {
    for (const t of targets) running.push(await start(t, clients));
    // Warm-up: JIT, the first connection of each pool, the prepared statement.
    for (const r of running) await measure(r, workload, 1_500);
    const cells = new Map<Running, { callsPerSecond: number; cpuUsPerCall: number }[]>(running.map((r) => [r, []]));
    for (let round = 0; round < rounds; round++) {
      const order = running.map((_, i) => running[(i + round) % running.length]!);
      for (const r of order) cells.get(r)!.push(await measure(r, workload, seconds * 1_000));
    }
    console.log(`machine: ${machine()}; ${workload}, ${clients} direct clients per hub, ${rounds} interleaved rounds of ${seconds} s, medians${throttled ? `; ${throttled} answers throttled and retried (fewer clients send faster each)` : ''}`);
    console.log('| server | calls/s | hub CPU µs/call | calls/s per round |');
    console.log('|---|---|---|---|');
    for (const r of running) {
      const xs = cells.get(r)!;
      console.log(`| ${r.target.name} | ${fmt(median(xs.map((x) => x.callsPerSecond)), 0)} | ${fmt(median(xs.map((x) => x.cpuUsPerCall)), 0)} | ${xs.map((x) => fmt(x.callsPerSecond, 0)).join(' ')} |`);
    }
  } finally {
    for (const r of running) await r.stop();
  }
}

await main();

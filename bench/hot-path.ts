/**
 * The hub's hot path against a baseline build and a peer, interleaved in one run: 8 raw JSON-RPC clients
 * (no client SDK, whose own validation would dominate), each through its own `snowmux shim`, call one hub in
 * a closed loop; per workload we report calls/s, p50/p99, the hub's CPU per call (user + system from /proc)
 * and, apart, the shims' CPU per call. The same hub build behind the 20-line forwarder
 * (bench/minimal-forwarder.cjs) is the floor for the shim hop.
 *
 *   node dist/bench/hot-path.js [seconds=3] [rounds=3] [baselineRoot|-] [clients=8]
 *   node dist/bench/hot-path.js --profile <workload> [seconds=5] [traces|plain] [clients=8]
 *   node dist/bench/hot-path.js --traces [seconds=3] [rounds=3] [baselineRoot]
 *
 * --profile runs only this checkout's hub under `--cpu-prof` for one workload and prints its top cost
 * centres (self time by function), the way to find what to make cheaper next; BENCH_PROFILE_OUT=<file>
 * keeps the profile (for callers, or a flame chart in Chrome DevTools).
 *
 * baselineRoot is another checkout, built (`npm run build`), e.g. `git worktree add /tmp/base <ref>`:
 * its hub and shim run in the same rounds as this checkout's, alternating, so machine noise hits both.
 * The peers: a raw SDK v2 server with one echo tool on stdio (bench/peer-echo-server.ts), one per client,
 * its CPU per call summed over the 8 peer processes; and the two stdio-to-HTTP proxies editors use for
 * remote servers, mcp-remote and supergateway, one per client, in front of one Streamable HTTP echo server
 * (bench/peer-http-echo-server.ts), their CPU summed with the server's — what the hub's shim + hub pair is
 * up against when a team puts a server behind HTTP instead.
 *
 * --traces compares this checkout's hub with traces off and on (hub.otel_endpoint, spans exported over
 * OTLP/HTTP to a collector in this process that accepts everything), and the baseline when given, on
 * SELECT 1 and list_databases: what a call pays for its spans, and that traces off pays nothing.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_CONFIG, RawStdioClient, benchEnv, benchHome, cli, cpuMs, fmt, killHubs, machine, median, root, startHubProcess, summary } from './lib.js';
import { numberArg } from './args.js';

const USAGE = `node dist/bench/hot-path.js [seconds=3] [rounds=3] [baselineRoot|-] [clients=8]
       node dist/bench/hot-path.js --profile <workload> [seconds=5] [traces|plain] [clients=8]
       node dist/bench/hot-path.js --traces [seconds=3] [rounds=3] [baselineRoot]`;

/** Resolves the proxies' entry points (dev dependencies) the way Node would. */
const requireFrom = createRequire(import.meta.url);

type Workload = 'tools/list' | 'list_databases' | 'SELECT 1';
const WORKLOADS: Workload[] = ['tools/list', 'list_databases', 'SELECT 1'];

interface Target {
  name: string;
  /** Peers serve an echo tool only: no list_databases. */
  peer?: boolean;
  clients: RawStdioClient[];
  /** Processes whose CPU is the cost of serving (the hub; for the peer, every peer server). */
  servingPids: () => number[];
  /** The processes between each client and the hub (shims or forwarders), whose CPU is the hop's cost. */
  hopPids?: () => number[];
  call(c: RawStdioClient, w: Workload): Promise<unknown>;
  close(): Promise<void>;
}

interface Cell {
  target: string;
  workload: Workload;
  callsPerSecond: number;
  p50us: number;
  p99us: number;
  cpuUsPerCall: number;
  /** CPU of the shims (or forwarders) per call, when the target has a hop. */
  hopCpuUsPerCall?: number;
  /**
   * CPU of this bench process per call: the 8 raw clients writing requests and parsing answers. On 2 cores
   * the calls/s of any target is bounded by 2 s of CPU / (clients + hop + server CPU per call).
   */
  clientCpuUsPerCall: number;
}

/**
 * A hub of `checkout`, each client through its own hop: `snowmux shim`, or the 20-line `node:net` forwarder
 * (bench/minimal-forwarder.cjs), the floor any shim is measured against.
 */
async function hubTarget(name: string, checkout: string, clients: number, nodeArgs: string[] = [], config = BENCH_CONFIG, hop: 'shim' | 'forwarder' = 'shim'): Promise<Target> {
  const cliPath = join(checkout, 'bin', 'snowmux.js');
  const home = benchHome(config);
  const hub = await startHubProcess(home, {}, cliPath, nodeArgs);
  const hopArgs = hop === 'shim' ? [cliPath, 'shim', '--home', home] : [join(root, 'bench', 'minimal-forwarder.cjs'), join(home, 'hub.sock')];
  let cs: RawStdioClient[];
  try {
    cs = await RawStdioClient.startMany(clients, hopArgs, benchEnv(), (i) => `${name}-${i}`);
  } catch (err) {
    hub.kill('SIGKILL');
    killHubs(home);
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
  return {
    name,
    clients: cs,
    servingPids: () => [hub.pid!],
    hopPids: () => cs.map((c) => c.pid!),
    call: (c, w) => {
      if (w === 'tools/list') return c.request('tools/list');
      if (w === 'list_databases') return c.request('tools/call', { name: 'list_databases', arguments: {} });
      return c.request('tools/call', { name: 'execute_query', arguments: { query: 'SELECT 1' } });
    },
    async close() {
      for (const c of cs) c.close();
      // SIGTERM first: a hub under --cpu-prof writes its profile as it exits.
      hub.kill('SIGTERM');
      await new Promise((r) => { hub.once('exit', r); setTimeout(r, 10_000).unref(); });
      hub.kill('SIGKILL');
      killHubs(home);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

async function peerTarget(clients: number): Promise<Target> {
  const server = join(root, 'dist', 'bench', 'peer-echo-server.js');
  const cs = await RawStdioClient.startMany(clients, [server], benchEnv(), (i) => `peer-${i}`);
  return {
    name: 'raw SDK v2 echo server (stdio, one per client)',
    peer: true,
    clients: cs,
    servingPids: () => cs.map((c) => c.pid!),
    call: (c, w) => (w === 'tools/list' ? c.request('tools/list') : c.request('tools/call', { name: 'echo', arguments: { text: '1' } })),
    close: async () => {
      for (const c of cs) c.close();
    },
  };
}

/** mcp-remote or supergateway (one per client, as each editor would launch one) in front of one HTTP echo server. */
async function proxyTarget(kind: 'mcp-remote' | 'supergateway', clients: number): Promise<Target> {
  const server = spawn(process.execPath, [join(root, 'dist', 'bench', 'peer-http-echo-server.js')], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout!.setEncoding('utf8').once('data', (line: string) => resolve(line.trim()));
    server.once('exit', () => reject(new Error('the HTTP echo server exited')));
  });
  // mcp-remote keeps OAuth state in a directory of its own: a temporary one, removed with the target.
  const stateDir = mkdtempSync(join(tmpdir(), 'smx-bench-mcp-remote-'));
  const args =
    kind === 'mcp-remote'
      ? [requireFrom.resolve('mcp-remote/dist/proxy.js'), url, '--transport', 'http-only']
      : [requireFrom.resolve('supergateway/dist/index.js'), '--streamableHttp', url, '--logLevel', 'none'];
  let cs: RawStdioClient[];
  try {
    cs = await RawStdioClient.startMany(clients, args, { ...benchEnv(), MCP_REMOTE_CONFIG_DIR: stateDir }, (i) => `${kind}-${i}`);
  } catch (err) {
    server.kill('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  return {
    name: `${kind} → HTTP echo server (one proxy per client)`,
    peer: true,
    clients: cs,
    servingPids: () => [...cs.map((c) => c.pid!), server.pid!],
    call: (c, w) => (w === 'tools/list' ? c.request('tools/list') : c.request('tools/call', { name: 'echo', arguments: { text: '1' } })),
    close: async () => {
      for (const c of cs) c.close();
      server.kill('SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Longest one call may take in a closed loop before the run fails (a lost answer would hang it). */
const CALL_TIMEOUT_MS = 10_000;

async function closedLoop(t: Target, w: Workload, seconds: number): Promise<{ latencies: number[]; elapsed: number; cpu: number; hopCpu: number; clientCpu: number; errors: number; firstError: string | undefined }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const hopCpu = () => (t.hopPids?.() ?? []).reduce((a, p) => a + cpuMs(p), 0);
  const cpu0 = t.servingPids().reduce((a, p) => a + cpuMs(p), 0);
  const hop0 = hopCpu();
  const client0 = process.cpuUsage();
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(t.clients.map(async (c) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        // Bounded: a proxy that loses an answer must fail the run, saying so, not hang it.
        const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS)));
        const r = (await Promise.race([t.call(c, w), late])) as { isError?: boolean };
        if (r?.isError) {
          errors += 1;
          firstError ??= JSON.stringify(r).slice(0, 300);
        }
      } catch (err) {
        errors += 1;
        firstError ??= (err as Error).message;
      } finally {
        clearTimeout(timer);
      }
      latencies.push(performance.now() - t0);
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  const client = process.cpuUsage(client0);
  const cpu = t.servingPids().reduce((a, p) => a + cpuMs(p), 0) - cpu0;
  return { latencies, elapsed, cpu, hopCpu: hopCpu() - hop0, clientCpu: (client.user + client.system) / 1000, errors, firstError };
}

/**
 * Every target on every workload, `rounds` times, alternating (so machine noise hits all of them alike),
 * after a short warm-up; per cell the median calls/s and CPU per call and the pooled latencies' p50/p99.
 * Peers serve an echo tool only, so they sit out list_databases.
 */
async function interleaved(targets: Target[], workloads: Workload[], seconds: number, rounds: number): Promise<Cell[]> {
  const runs = new Map<string, { cps: number[]; lat: number[]; cpu: number[]; hop: number[]; client: number[] }>();
  const cells = (w: Workload) => targets.filter((t) => !(t.peer && w === 'list_databases'));
  for (const w of workloads) for (const t of cells(w)) await closedLoop(t, w, 0.5); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const w of workloads) {
      // Rotated each round: whichever target runs first after a change of workload runs measurably slower
      // (an A/B of one build against itself in both orders showed ~10% on SELECT 1).
      const order = cells(w);
      for (const t of [...order.slice(r % order.length), ...order.slice(0, r % order.length)]) {
        const { latencies, elapsed, cpu, hopCpu, clientCpu, errors, firstError } = await closedLoop(t, w, seconds);
        if (errors > 0) throw new Error(`${t.name} ${w}: ${errors} calls failed; the first: ${firstError}`);
        const key = `${t.name}\u0000${w}`;
        const run = runs.get(key) ?? { cps: [], lat: [], cpu: [], hop: [], client: [] };
        run.cps.push(latencies.length / elapsed);
        run.lat.push(...latencies);
        run.cpu.push((cpu * 1000) / latencies.length);
        if (t.hopPids) run.hop.push((hopCpu * 1000) / latencies.length);
        run.client.push((clientCpu * 1000) / latencies.length);
        runs.set(key, run);
      }
    }
  }
  return [...runs].map(([key, run]) => {
    const [target, workload] = key.split('\u0000') as [string, Workload];
    const s = summary(run.lat);
    return { target, workload, callsPerSecond: median(run.cps), p50us: s.p50 * 1000, p99us: s.p99 * 1000, cpuUsPerCall: median(run.cpu), hopCpuUsPerCall: run.hop.length > 0 ? median(run.hop) : undefined, clientCpuUsPerCall: median(run.client) };
  });
}

export async function hotPath(seconds: number, rounds: number, baselineRoot: string | undefined, clients = 8): Promise<Cell[]> {
  const targets: Target[] = [];
  try {
    targets.push(await hubTarget('snowmux hub (this checkout)', root, clients));
    if (baselineRoot) targets.push(await hubTarget(`snowmux hub (baseline ${baselineRoot})`, baselineRoot, clients));
    targets.push(await hubTarget('snowmux hub (this checkout) via the minimal forwarder', root, clients, [], BENCH_CONFIG, 'forwarder'));
    targets.push(await peerTarget(clients));
    targets.push(await proxyTarget('mcp-remote', clients));
    targets.push(await proxyTarget('supergateway', clients));
    return await interleaved(targets, WORKLOADS, seconds, rounds);
  } finally {
    for (const t of targets) await t.close();
  }
}

/** A collector that accepts every OTLP/HTTP export (and reads it whole, as a real one would). */
async function startCollector(): Promise<{ url: string; spansBytes: () => number; close(): Promise<void> }> {
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spansBytes: () => bytes,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const TRACE_WORKLOADS: Workload[] = ['SELECT 1', 'list_databases'];

async function traces(seconds: number, rounds: number, baselineRoot: string | undefined, clients = 8): Promise<{ cells: Cell[]; exportedBytes: number }> {
  const collector = await startCollector();
  const targets: Target[] = [];
  try {
    targets.push(await hubTarget('traces off (this checkout)', root, clients));
    targets.push(await hubTarget('traces on, OTLP/HTTP to a local collector (this checkout)', root, clients, [], `${BENCH_CONFIG}[hub]\notel_endpoint = "${collector.url}"\n`));
    if (baselineRoot) targets.push(await hubTarget(`baseline ${baselineRoot} (no tracing code)`, baselineRoot, clients));
    const cells = await interleaved(targets, TRACE_WORKLOADS, seconds, rounds);
    return { cells, exportedBytes: collector.spansBytes() };
  } finally {
    for (const t of targets) await t.close();
    await collector.close();
  }
}

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }

/** Self time per function (µs per call), from a V8 .cpuprofile. */
function topCostCentres(file: string, calls: number, top = 40): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  prof.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const where = f.url ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `${(us / calls).toFixed(1).padStart(8)} µs/call  ${k}`);
}

/** The same self time summed by where the code lives: a package, a folder of the hub, Node's internals. */
function costByArea(file: string, calls: number): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const area = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url)?.[1];
    const own = /\/dist\/((?:src\/hub|src)\/[^/]+)/.exec(f.url)?.[1];
    const key = pkg ?? own ?? (f.url.startsWith('node:') ? 'node internals' : f.url ? f.url : f.functionName.startsWith('(') ? f.functionName : 'native (called from JS)');
    const dt = prof.timeDeltas[i] ?? 0;
    area.set(key, (area.get(key) ?? 0) + dt);
    if (key !== '(idle)') total += dt;
  });
  return [`${(total / calls).toFixed(1).padStart(8)} µs/call  busy in total`, ...[...area].sort((a, b) => b[1] - a[1]).slice(0, 16).map(([k, us]) => `${(us / calls).toFixed(1).padStart(8)} µs/call  ${k}`)];
}

/**
 * Package time by who called into the package: each sample in node_modules is charged to the nearest frame
 * above it outside that package (the hub's own code, another package, Node's), so a package's cost shows
 * its reason.
 */
function packageCostByCaller(file: string, calls: number, top = 15): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const packageOf = (url: string) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  const charged = new Map<string, number>();
  prof.samples.forEach((id, i) => {
    const pkg = packageOf(byId.get(id)!.callFrame.url);
    if (pkg === undefined) return;
    let up = parent.get(id);
    while (up !== undefined && packageOf(byId.get(up)!.callFrame.url) === pkg) up = parent.get(up);
    const f = up === undefined ? undefined : byId.get(up)!.callFrame;
    const caller = f === undefined ? '(root)' : `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/')}:${f.lineNumber + 1}`;
    const key = `${pkg}  <-  ${caller}`;
    charged.set(key, (charged.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  return [...charged].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `${(us / calls).toFixed(1).padStart(8)} µs/call  ${k}`);
}

async function profile(w: Workload, seconds: number, traced: boolean, clients = 8): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'smx-prof-'));
  const collector = traced ? await startCollector() : undefined;
  try {
    const config = collector ? `${BENCH_CONFIG}[hub]\notel_endpoint = "${collector.url}"\n` : BENCH_CONFIG;
    const t = await hubTarget('profiled hub', root, clients, ['--cpu-prof', `--cpu-prof-dir=${dir}`], config);
    let calls = 0;
    try {
      await closedLoop(t, w, 0.5);
      calls = (await closedLoop(t, w, seconds)).latencies.length + 0;
    } finally {
      await t.close();
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('the hub wrote no profile');
    console.log(`top cost centres of the hub, ${w}, ${calls} calls measured (self time, including warm-up and start-up, per measured call)`);
    for (const line of topCostCentres(join(dir, file), calls)) console.log(line);
    console.log('by area:');
    for (const line of costByArea(join(dir, file), calls)) console.log(line);
    console.log('package time by the caller outside the package:');
    for (const line of packageCostByCaller(join(dir, file), calls)) console.log(line);
    // BENCH_PROFILE_OUT=<file> keeps the profile for a closer look (callers, a flame chart in DevTools).
    if (process.env.BENCH_PROFILE_OUT) copyFileSync(join(dir, file), process.env.BENCH_PROFILE_OUT);
  } finally {
    await collector?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--traces') {
  const seconds = numberArg(3, 3, USAGE);
  const rounds = numberArg(4, 3, USAGE);
  const { cells, exportedBytes } = await traces(seconds, rounds, process.argv[5]);
  console.log(`machine: ${machine()}; ${rounds} interleaved rounds of ${seconds} s per cell, 8 clients, medians; ${fmt(exportedBytes / 1e6, 1)} MB of OTLP JSON exported`);
  console.log('| workload | hub | calls/s | p50 µs | p99 µs | hub CPU µs/call |');
  console.log('|---|---|---|---|---|---|');
  for (const w of TRACE_WORKLOADS) {
    for (const c of cells.filter((x) => x.workload === w)) {
      console.log(`| ${w} | ${c.target} | ${fmt(c.callsPerSecond, 0)} | ${fmt(c.p50us, 0)} | ${fmt(c.p99us, 0)} | ${fmt(c.cpuUsPerCall, 0)} |`);
    }
  }
} else if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--profile') {
  const workload = (process.argv[3] ?? 'SELECT 1') as Workload;
  if (!WORKLOADS.includes(workload)) {
    process.stderr.write(`unknown workload "${workload}": ${WORKLOADS.join(', ')}\nusage: ${USAGE}\n`);
    process.exit(2);
  }
  await profile(workload, numberArg(4, 5, USAGE), process.argv[5] === 'traces', numberArg(6, 8, USAGE));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = numberArg(2, 3, USAGE);
  const rounds = numberArg(3, 3, USAGE);
  const baseline = process.argv[4] === '-' ? undefined : process.argv[4];
  const clients = numberArg(5, 8, USAGE);
  const cells = await hotPath(seconds, rounds, baseline, clients);
  console.log(`machine: ${machine()}; ${rounds} interleaved rounds of ${seconds} s per cell, ${clients} client(s), medians`);
  console.log(`cli: ${cli}`);
  console.log('| workload | server | calls/s | p50 µs | p99 µs | server CPU µs/call | hop (shim or forwarder) CPU µs/call | clients CPU µs/call |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const w of WORKLOADS) {
    for (const c of cells.filter((x) => x.workload === w)) {
      const hop = c.hopCpuUsPerCall === undefined ? '—' : fmt(c.hopCpuUsPerCall, 0);
      console.log(`| ${w} | ${c.target} | ${fmt(c.callsPerSecond, 0)} | ${fmt(c.p50us, 0)} | ${fmt(c.p99us, 0)} | ${fmt(c.cpuUsPerCall, 0)} | ${hop} | ${fmt(c.clientCpuUsPerCall, 0)} |`);
    }
  }
}

/** Small helpers shared by the benchmark scripts. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client as SdkClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as SdkStdioTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cli = join(root, 'bin', 'snowmux.js');

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
}

/** A minimal environment, as editors pass (NODE_EXTRA_CA_CERTS and friends add tens of ms to every start). */
export function benchEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), SNOWMUX_SHIM_QUIET: '1', ...extra };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Milliseconds from spawn to the first stdout line, after writing `input` at once. */
export function timeToFirstLine(args: string[], input: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) {
        const ms = performance.now() - t0;
        child.stdin.end();
        child.kill('SIGKILL');
        resolve(ms);
      }
    });
    child.on('error', reject);
    child.stdin.write(input);
  });
}

/** Milliseconds from spawn to exit. */
export function timeToExit(args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
    child.on('exit', () => resolve(performance.now() - t0));
    child.on('error', reject);
  });
}

export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

export function stopHub(home: string): void {
  spawnSync(process.execPath, [cli, 'stop', '--home', home], { env: benchEnv(), stdio: 'ignore' });
}

/** A bench is done with this home: its hub stopped (killed if it still runs) and the directory removed. */
export async function removeHome(home: string, hub?: ChildProcess): Promise<void> {
  stopHub(home);
  if (hub && hub.exitCode === null && hub.signalCode === null) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([once(hub, 'exit'), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
  }
  killHubs(home);
  rmSync(home, { recursive: true, force: true });
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

// ---- hubs and clients for bench/restart.ts and bench/load.ts -------------------------------------

/**
 * Benchmarks measure the hub, not the default per-user rate limit (50 calls/s shared by all of one user's
 * editors), so they run with it lifted; every other setting is the default.
 */
export const BENCH_CONFIG = `[limits]
max_queued = 5000
rate = { per_second = 1000000, burst = 1000000 }
`;

/** A temp home with the bench config. */
export function benchHome(config = BENCH_CONFIG): string {
  const home = tempDir('smx-bench-');
  writeFileSync(join(home, 'config.toml'), config, { mode: 0o600 });
  return home;
}

/** Starts `snowmux hub` in the foreground and resolves once it listens. */
export async function startHubProcess(home: string, env: Record<string, string> = {}, cliPath = cli, nodeArgs: string[] = []): Promise<ChildProcess> {
  const hub = spawn(process.execPath, [...nodeArgs, cliPath, 'hub', '--home', home], { env: benchEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    hub.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('listening on')) resolve();
    });
    hub.once('exit', (code) => reject(new Error(`hub exited (${code}) before listening:\n${err}`)));
  });
  return hub;
}

/** Pid of the hub answering in this home now (null when none does). */
export function hubPid(home: string): number | null {
  const r = spawnSync(process.execPath, [cli, 'status', '--json', '--home', home], { env: benchEnv(), encoding: 'utf8' });
  if (r.status !== 0) {
    if (process.env.BENCH_DEBUG) process.stderr.write(`status: ${r.status} ${r.signal} ${String(r.error)} ${r.stderr}\n`);
    return null;
  }
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

/** Kills every hub that ever started in this home (shims start them detached). */
export function killHubs(home: string): void {
  let log = '';
  try {
    log = readFileSync(join(home, 'hub.log'), 'utf8');
  } catch {
    return;
  }
  for (const line of log.split('\n')) {
    if (!line.includes('"msg":"hub started"')) continue;
    try {
      process.kill((JSON.parse(line) as { pid: number }).pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitForExit(pid: number, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

export interface BenchClient {
  client: SdkClient;
  /** pid of its shim */
  pid(): number | null;
}

/** A v1 SDK client (what most editors embed) launching `snowmux shim`. */
export async function connectShimClient(home: string, name: string, env: Record<string, string> = {}, cliPath = cli): Promise<BenchClient> {
  const transport = new SdkStdioTransport({ command: process.execPath, args: [cliPath, 'shim', '--home', home], env: benchEnv(env), stderr: process.env.BENCH_DEBUG ? 'inherit' : 'ignore' });
  const client = new SdkClient({ name, version: '1' });
  await client.connect(transport);
  return { client, pid: () => transport.pid };
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] is utime, fields[12] stime (fields 14 and 15 of proc(5), counted from the state field).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export function summary(xs: number[]): { n: number; p50: number; p99: number; max: number } {
  return { n: xs.length, p50: median(xs), p99: percentile(xs, 99), max: xs.length ? xs.reduce((a, b) => (b > a ? b : a), -Infinity) : NaN };
}

/** Ends the shims first (a shim that outlives its hub would start another one), then the clients. */
export async function closeShimClients(clients: BenchClient[]): Promise<void> {
  for (const c of clients) {
    const pid = c.pid();
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  await Promise.all(clients.map((c) => c.client.close().catch(() => {})));
}

/**
 * A JSON-RPC client over a child's stdio that does no validation of its own, so a bench measures the
 * server path rather than a client SDK (the v1 SDK client compiles a validator per tool on every
 * `tools/list`, which would dominate).
 */
/**
 * A JSON-RPC client on a child's stdio with no client SDK: the load generator of the throughput benches.
 * It reads what it needs of each answer — the id, and whether it is an error — and parses the rest only
 * when it must. A successful result in the SDK's member order (`{"result":…,"jsonrpc":"2.0","id":N}`, what
 * every SDK-based server here writes) resolves without parsing the result: parsing a 25 KB tool listing
 * cost the clients ~100 µs per call, CPU that on 2 cores was taken from the servers being measured, the
 * same for every target. Anything else (errors, other member orders) is parsed whole.
 */
export class RawStdioClient {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #next = 1;
  #held: Buffer[] = [];

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout!.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        const line = this.#held.length === 0 ? piece : Buffer.concat([...this.#held, piece]);
        this.#held = [];
        this.#answer(line);
      }
      if (start < chunk.length) this.#held.push(chunk.subarray(start));
    });
    child.once('exit', () => {
      for (const w of this.#pending.values()) w.reject(new Error('server exited'));
      this.#pending.clear();
    });
  }

  #answer(line: Buffer): void {
    if (line.length === 0) return;
    const fastId = resultId(line);
    if (fastId !== undefined) {
      const waiter = this.#pending.get(fastId);
      if (!waiter) return;
      this.#pending.delete(fastId);
      waiter.resolve({});
      return;
    }
    const text = line.toString('utf8');
    if (!text.trim()) return;
    const msg = JSON.parse(text) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
    const waiter = typeof msg.id === 'number' ? this.#pending.get(msg.id) : undefined;
    if (!waiter) return;
    this.#pending.delete(msg.id!);
    if (msg.error) waiter.reject(new Error(msg.error.message));
    else waiter.resolve(msg.result ?? {});
  }

  /** Spawns `command args` and runs the 2025-11-25 initialize handshake; a server that never answers it is killed. */
  static async start(args: string[], env: Record<string, string>, name: string, timeoutMs = 30_000): Promise<RawStdioClient> {
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', process.env.BENCH_DEBUG ? 'inherit' : 'ignore'] });
    const c = new RawStdioClient(child);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name, version: '1' } }),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not answer initialize within ${timeoutMs} ms (BENCH_DEBUG=1 shows its stderr)`)), timeoutMs))),
      ]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    return c;
  }

  /** `count` clients of `args`, or none: when one fails to start, the ones that did are killed. */
  static async startMany(count: number, args: string[], env: Record<string, string>, name: (i: number) => string): Promise<RawStdioClient[]> {
    const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => RawStdioClient.start(args, env, name(i))));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      for (const r of started) if (r.status === 'fulfilled') r.value.close();
      throw failed.reason;
    }
    return started.map((r) => (r as PromiseFulfilledResult<RawStdioClient>).value);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  request(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  close(): void {
    this.#child.kill('SIGKILL');
  }
}

const RESULT_OPEN = Buffer.from('{"result":');
const ID_TAIL = /,"id":(\d{1,15})\}\r?$/;

/** The integer id of a successful result written in the SDK's member order, read from the line's ends; else undefined. */
function resultId(line: Buffer): number | undefined {
  if (line.length < 20 || line.compare(RESULT_OPEN, 0, RESULT_OPEN.length, 0, RESULT_OPEN.length) !== 0) return undefined;
  const tail = ID_TAIL.exec(line.toString('latin1', Math.max(0, line.length - 32)));
  return tail ? Number(tail[1]) : undefined;
}

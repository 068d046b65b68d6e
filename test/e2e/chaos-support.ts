/**
 * Shared pieces of the chaos and load tests: seeded homes (sample database copied in, limits raised so
 * load is not refused by rate limits), status polls with a deadline, cleanup of every hub a home ever
 * had (shims start hubs detached), and reading the JSON-RPC error a client got.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSampleDatabase, sampleDatabasePath } from '../../src/hub/warehouse/duckdb/sample-database.js';
import type { HubStatus } from '../../src/hub/hub.js';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, connectClient, killEveryHub, startHub, runCli, type AnyClient, type Cleanup, type ConnectOptions, type HubProcess } from '../helpers/harness.js';

/** Rate limits are per identity and every local session is the same user: lift them for load. */
export const LOAD_CONFIG = `[limits]
max_queued = 5000
max_queued_per_session = 64
rate = { per_second = 1000000, burst = 1000000 }
`;

let sampleCache: Promise<string> | null = null;

/** Builds the sample database once per test process; each home gets a copy instead of generating its own. */
function sampleFile(): Promise<string> {
  if (!sampleCache) {
    const dir = mkdtempSync(join(tmpdir(), 'smx-sample-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    sampleCache = ensureSampleDatabase(dir).then(() => sampleDatabasePath(dir));
  }
  return sampleCache;
}

/**
 * A temp home with the sample database in place and the load config, plus everything started in it.
 * Cleanup order matters (shims start hubs): shims and spawned CLIs die first, then every hub the home
 * ever had, then the directory goes.
 */
export class ChaosHome {
  private readonly hooks: (() => unknown)[] = [];
  private readonly clients: AnyClient[] = [];
  private readonly procs: ChildProcess[] = [];
  private readonly loads: Load[] = [];
  /** Hands harness helpers a cleanup list that runs inside ours, in the right order. */
  readonly scope: Cleanup = { after: (fn) => this.hooks.push(fn) };

  private constructor(readonly home: string) {}

  static async create(t: Cleanup, config = LOAD_CONFIG): Promise<ChaosHome> {
    const home = mkdtempSync(join(tmpdir(), 'smx-c-'));
    const rig = new ChaosHome(home);
    t.after(() => rig.cleanup());
    const dataDir = join(home, 'warehouse');
    mkdirSync(dataDir, { mode: 0o700 });
    copyFileSync(await sampleFile(), sampleDatabasePath(dataDir));
    writeFileSync(join(home, 'config.toml'), config, { mode: 0o600 });
    return rig;
  }

  startHub(env: Record<string, string> = {}, args: string[] = []): Promise<HubProcess> {
    return startHub(this.scope, this.home, args, env);
  }

  /** Editors calling in a loop; stopped first at cleanup, before their clients go away. */
  load(clients: AnyClient[]): Load {
    const load = new Load(clients);
    this.loads.push(load);
    return load;
  }

  async client(kind: ConnectOptions['kind'], opts: Omit<ConnectOptions, 'home' | 'kind'> = {}): Promise<AnyClient> {
    const c = await connectClient(this.scope, { home: this.home, kind, ...opts });
    this.clients.push(c);
    return c;
  }

  /** Runs the CLI as a tracked child (stdout/stderr collected). */
  spawnCli(args: string[], env: Record<string, string> = {}): { proc: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const proc = spawn(process.execPath, [cliPath, ...args, '--home', this.home], { env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    this.procs.push(proc);
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = once(proc, 'exit').then(([code]) => code as number | null);
    return { proc, output: () => out, exited };
  }

  private async cleanup(): Promise<void> {
    const stopping = this.loads.map((l) => l.stop());
    for (const c of this.clients) signal(c.pid(), 'SIGKILL');
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const fn of this.hooks.reverse()) await Promise.resolve().then(fn).catch(() => {});
    await Promise.all(stopping);
    killEveryHub(this.home);
    rmSync(this.home, { recursive: true, force: true });
  }
}

function signal(pid: number | null | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

export { hubPids, killEveryHub } from '../helpers/harness.js';

export async function status(home: string): Promise<HubStatus> {
  const r = await runCli(['status', '--json', '--home', home]);
  if (r.code !== 0) throw new Error(`status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as HubStatus;
}

/** Polls status until `ok` holds; fails with the last status after the deadline. */
export async function statusUntil(home: string, what: string, ok: (s: HubStatus) => boolean, deadlineMs = 15_000): Promise<HubStatus> {
  const deadline = Date.now() + deadlineMs;
  let last: HubStatus | string = 'no answer';
  for (;;) {
    try {
      const s = await status(home);
      if (ok(s)) return s;
      last = s;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last status: ${typeof last === 'string' ? last : JSON.stringify({ pid: last.pid, sessions: last.sessions, totals: last.totals })}`);
    }
  }
}

export const runningCalls = (s: HubStatus) => s.sessions.reduce((n, x) => n + x.running, 0);

/** True while a process exists (a stopped one included). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface RpcError {
  code: number;
  message: string;
}

/** The JSON-RPC error a client call was rejected with (v1 McpError and v2 errors both carry `code`). */
export async function rpcError(call: Promise<unknown>): Promise<RpcError> {
  try {
    const value = await call;
    throw new Error(`expected the call to fail, it returned ${JSON.stringify(value).slice(0, 300)}`);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, message: String(e.message) };
  }
}

/** A query that runs for a long time (seconds per billion rows) and whose answer is known. */
export function countQuery(rows: number): { query: string; expected: number } {
  return { query: `SELECT COUNT(*) AS N FROM range(0, ${rows}) a(x) WHERE x % 7 = 3`, expected: Math.floor((rows - 4) / 7) + 1 };
}

/**
 * One call at a time in the hub: a blocker holds the only slot, so every other call waits in the hub's
 * queue — in flight, for exactly as long as the test wants (until it cancels the blocker).
 */
export const ONE_AT_A_TIME_CONFIG = LOAD_CONFIG.replace('[limits]\n', '[limits]\nmax_concurrent_queries = 1\n');

/** A call that will still be running when a test needs it to be: far longer than any test. */
export const FOREVER_QUERY = countQuery(200_000_000_000).query;

export function nationQuery(key: number): string {
  return `SELECT N_NATIONKEY, N_NAME FROM NATION WHERE N_NATIONKEY = ${key}`;
}

/** The answer a nation query must carry: this client's own key, or it got someone else's reply. */
export function checkNation(result: { isError?: boolean; content: { text?: string }[]; structuredContent?: Record<string, unknown> }, key: number): string | null {
  if (result.isError) return `tool error: ${result.content.map((c) => c.text).join(' ')}`;
  const rows = (result.structuredContent as { rows?: unknown[][] } | undefined)?.rows;
  return rows?.[0]?.[0] === key ? null : `crosstalk: asked for nation ${key}, got ${JSON.stringify(rows)}`;
}

/**
 * Editors working: each client calls in a loop (its own nation key, checked) until stopped. Every
 * failure is kept with the client and the time, so a test can say which calls failed and when.
 */
export class Load {
  private stopped = false;
  readonly done: number[];
  readonly failures: { client: number; at: number; error: string }[] = [];
  private readonly loops: Promise<void>[];
  private readonly waiters: { pred: () => boolean; resolve: () => void }[] = [];

  constructor(clients: AnyClient[], timeoutMs = 30_000) {
    this.done = clients.map(() => 0);
    this.loops = clients.map(async (c, i) => {
      const key = i % 25;
      while (!this.stopped) {
        try {
          const problem = checkNation(await c.callTool('execute_query', { query: nationQuery(key) }, { timeout: timeoutMs }), key);
          if (problem) this.failures.push({ client: i, at: Date.now(), error: problem });
        } catch (err) {
          this.failures.push({ client: i, at: Date.now(), error: errorText(err) });
          // A closed client fails at once: let timers and I/O run instead of spinning on microtasks.
          await new Promise((r) => setImmediate(r));
        }
        this.done[i]! += 1;
        this.wake();
      }
    });
  }

  get total(): number {
    return this.done.reduce((a, b) => a + b, 0);
  }

  /** Resolves once every client has completed at least `n` more calls than now. */
  eachDoes(n: number): Promise<void> {
    const base = [...this.done];
    return this.until(() => this.done.every((d, i) => d >= base[i]! + n));
  }

  until(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      if (w.pred()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return `${typeof e.code === 'number' ? `[${e.code}] ` : ''}${String(e.message ?? err)}`;
}

/** Resolves when a child's collected output matches (checked on every chunk). */
export function outputMatches(proc: ChildProcess, output: () => string, re: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = output().match(re);
      if (m) {
        proc.stdout?.off('data', check);
        proc.stderr?.off('data', check);
        resolve(m);
      }
    };
    proc.stdout?.on('data', check);
    proc.stderr?.on('data', check);
    proc.once('exit', (code) => {
      const m = output().match(re);
      if (m) resolve(m);
      else reject(new Error(`process exited (${code}) without printing ${re}:\n${output()}`));
    });
    check();
  });
}

/** Waits (polling with a deadline) until a process that is not our child has exited. */
export async function exitOf(pid: number, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not exit within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One control request on the hub socket (status, stop, disconnect…), as `snowmux` itself sends it. */
export async function control(home: string, request: Record<string, unknown>): Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }> {
  const { connect } = await import('node:net');
  const socket = connect(join(home, 'hub.sock'));
  socket.write(JSON.stringify({ snowmux: 'hello', wire: 1, version: '0.0.0-test', role: 'control', pid: process.pid }) + '\n');
  socket.write(JSON.stringify({ id: 1, ...request }) + '\n');
  let buf = '';
  try {
    for await (const chunk of socket) {
      buf += (chunk as Buffer).toString('utf8');
      const lines = buf.split('\n');
      if (lines.length >= 3) return JSON.parse(lines[1]!) as { ok: boolean };
    }
    throw new Error(`control connection closed early: ${buf}`);
  } finally {
    socket.destroy();
  }
}

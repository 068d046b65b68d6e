/**
 * End-to-end harness: temp homes, real hub processes, and real MCP clients (v2 in both eras, v1)
 * that launch the real built CLI as their stdio server. Everything started here is ended by t.after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cliPath } from './paths.js';
import { VERSION } from '../../src/version.js';
import { processStartTicks } from '../../src/wire/process-alive.js';

export interface Cleanup {
  after(fn: () => unknown): void;
}

const stacks = new WeakMap<Cleanup, (() => unknown)[]>();

/**
 * Registers a cleanup that runs in reverse order of registration (clients close before their hub is
 * killed, and the hub is gone before its home is removed), whatever order the test framework runs
 * `after` hooks in.
 */
export function defer(t: Cleanup, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const fresh: (() => unknown)[] = [];
    stack = fresh;
    stacks.set(t, fresh);
    t.after(async () => {
      while (fresh.length > 0) {
        try {
          await fresh.pop()!();
        } catch {
          /* keep cleaning up */
        }
      }
    });
  }
  stack.push(fn);
}

/** Kills `proc` (SIGKILL) when the test ends, if it still runs, and waits until it has exited. */
export function killAtEnd(t: Cleanup, proc: ChildProcess): void {
  const exited = once(proc, 'exit');
  exited.catch(() => {}); // a process that failed to spawn never exits; its 'error' is the test's to see
  defer(t, async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
}

/**
 * A draining hub, stood in for: a live process named in `home`'s audit-writer claim, as a hub that gave up
 * its socket (stopped, or replaced) names itself until it exits. Ended with the test, or by `exit()` (SIGKILL,
 * awaited): the claim then names a dead process.
 */
export async function plantDrainingHub(t: Cleanup, home: string): Promise<{ pid: number; exit: () => Promise<void> }> {
  const draining = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  killAtEnd(t, draining);
  await once(draining, 'spawn');
  const pid = draining.pid!;
  writeFileSync(join(home, 'audit-writer.pid'), `${pid} ${processStartTicks(pid) ?? ''}\n`, { mode: 0o600 });
  const exited = once(draining, 'exit');
  return {
    pid,
    exit: async () => {
      draining.kill('SIGKILL');
      await exited;
    },
  };
}

/** A short temp home (Unix socket paths must stay under ~100 bytes). */
export function tempHome(t: Cleanup, prefix = 'smx-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  defer(t, () => {
    // Whatever started a hub here (a shim in the background, a test that failed half-way), it ends with
    // the home: every hub that logged its start in this home is killed before the home goes.
    killEveryHub(dir);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  return dir;
}

/** Pids of every hub that ever started in this home (rotated logs first, so in order), shim-started ones too. */
export function hubPids(home: string): number[] {
  let files: string[];
  try {
    files = readdirSync(home).filter((f) => /^hub\.log(\.\d+)?$/.test(f));
  } catch {
    return [];
  }
  const age = (f: string) => Number(/\.(\d+)$/.exec(f)?.[1] ?? 0);
  return files
    .sort((a, b) => age(b) - age(a))
    .flatMap((f) => readFileSync(join(home, f), 'utf8').split('\n'))
    .filter((l) => l.includes('"msg":"hub started"'))
    .map((l) => (JSON.parse(l) as { pid: number }).pid);
}

export function killEveryHub(home: string): void {
  for (const pid of new Set([...hubPids(home), ...processesWithHome(home)])) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Snowmux processes whose command line names this home (Linux: /proc): a hub still starting has not
 * logged "hub started" yet, and must go with its home too.
 */
function processesWithHome(home: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--home');
      if (at >= 0 && args[at + 1] === home && args.some((a) => a.endsWith('snowmux.js') || a.endsWith('shim.cjs'))) pids.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

/** A TCP port free on loopback a moment ago (for a listener that must be told its port up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Environment for spawned CLIs: small and explicit, like an editor's. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), SNOWMUX_SHIM_QUIET: '1' };
  return { ...env, ...extra };
}

export interface HubProcess {
  proc: ChildProcess;
  pid: number;
  stderr: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `snowmux hub --home H` and resolves once it listens. */
export async function startHub(t: Cleanup, home: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<HubProcess> {
  const proc = spawn(process.execPath, [cliPath, 'hub', '--home', home, ...extraArgs], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const exited = once(proc, 'exit') as Promise<[number | null, string | null]>;
  defer(t, async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('listening on')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`hub exited with ${code} before listening:\n${err}`)));
  });
  return {
    proc,
    pid: proc.pid!,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}

export type ClientKind = 'v2-legacy' | 'v2-modern' | 'v2-auto' | 'v1';

export interface AnyClient {
  kind: ClientKind;
  listTools(): Promise<{ tools: { name: string; annotations?: Record<string, unknown>; outputSchema?: unknown }[] }>;
  /** `meta` goes into the request's `params._meta` (a W3C traceparent, say). */
  callTool(name: string, args?: Record<string, unknown>, options?: { signal?: AbortSignal; onprogress?: (p: unknown) => void; timeout?: number; meta?: Record<string, unknown> }): Promise<ToolResult>;
  close(): Promise<void>;
  /** pid of the spawned stdio server (the shim). */
  pid(): number | null;
}

export interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

export interface ConnectOptions {
  home: string;
  kind: ClientKind;
  /** `http`: straight to the hub's `/mcp` at `http.url` with the API key `http.key` (no shim). */
  command?: 'shim' | 'stdio' | 'http';
  http?: { url: string; key: string };
  env?: Record<string, string>;
  name?: string;
  args?: string[];
  /** The editor's working directory, which its shim starts in. */
  cwd?: string;
}

export async function connectClient(t: Cleanup, opts: ConnectOptions): Promise<AnyClient> {
  const args = [cliPath, opts.command ?? 'shim', '--home', opts.home, ...(opts.args ?? [])];
  const env = cliEnv(opts.env);
  const name = opts.name ?? `test-${opts.kind}`;
  const http = opts.command === 'http' ? opts.http : undefined;
  if (opts.command === 'http' && !http) throw new Error('connectClient: command "http" needs http.url and http.key');
  const endpoint = http ? new URL('/mcp', http.url) : undefined;
  const requestInit = http ? { headers: { authorization: `Bearer ${http.key}` } } : undefined;
  if (opts.kind === 'v1') {
    const transport = endpoint ? new HttpV1(endpoint, { requestInit }) : new StdioV1({ command: process.execPath, args, env, stderr: 'ignore', cwd: opts.cwd });
    const client = new ClientV1({ name, version: '1.0.0' });
    await client.connect(transport);
    const wrapped: AnyClient = {
      kind: opts.kind,
      listTools: () => client.listTools() as never,
      callTool: (n, a, o) => client.callTool({ name: n, arguments: a ?? {}, ...(o?.meta ? { _meta: o.meta } : {}) }, undefined, { signal: o?.signal, onprogress: o?.onprogress as never, timeout: o?.timeout }) as never,
      close: () => client.close(),
      pid: () => (transport instanceof StdioV1 ? transport.pid : null),
    };
    defer(t, () => wrapped.close().catch(() => {}));
    return wrapped;
  }
  const mode = opts.kind === 'v2-legacy' ? 'legacy' : opts.kind === 'v2-auto' ? 'auto' : { pin: '2026-07-28' };
  const transport = endpoint ? new HttpV2(endpoint, { requestInit }) : new StdioV2({ command: process.execPath, args, env, stderr: 'ignore', cwd: opts.cwd });
  const client = new ClientV2({ name, version: '2.0.0' }, { versionNegotiation: { mode } });
  await client.connect(transport);
  const wrapped: AnyClient = {
    kind: opts.kind,
    listTools: () => client.listTools() as never,
    callTool: (n, a, o) => client.callTool({ name: n, arguments: a ?? {}, ...(o?.meta ? { _meta: o.meta } : {}) }, { signal: o?.signal, onprogress: o?.onprogress as never, timeout: o?.timeout }) as never,
    close: () => client.close(),
    pid: () => (transport instanceof StdioV2 ? transport.pid : null),
  };
  defer(t, () => wrapped.close().catch(() => {}));
  return wrapped;
}

/** Runs the CLI once (in `cwd`, else this process's directory) and collects its output. */
export async function runCli(args: string[], env: Record<string, string> = {}, input?: string, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [cliPath, ...args], { env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'], cwd });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  proc.stdin.end(input ?? '');
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

export function textOf(result: ToolResult): string {
  return result.content.map((c) => c.text ?? '').join('\n');
}

/** A raw line client on the hub socket, for protocol-level tests. */
export interface RawLink {
  socket: import('node:net').Socket;
  send(line: string | Buffer): void;
  /** Next line from the hub, parsed. */
  next(): Promise<Record<string, unknown>>;
  /** Sends a JSON-RPC request and waits for the response with that id (skipping notifications). */
  request(id: number | string, method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

export async function rawLink(t: Cleanup, socketPath: string, opts: { hello?: boolean } = {}): Promise<RawLink> {
  const { connect } = await import('node:net');
  const socket = connect(socketPath);
  await once(socket, 'connect');
  defer(t, () => socket.destroy());
  // A hub that closes the link (it cuts a client that floods it or never reads) fails the writes still queued
  // here with EPIPE: what a real client sees, not a test failure. A test that cares listens for 'close'.
  socket.on('error', () => {});
  const queue: Record<string, unknown>[] = [];
  const waiters: ((v: Record<string, unknown>) => void)[] = [];
  let buf = '';
  socket.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      const w = waiters.shift();
      if (w) w(msg);
      else queue.push(msg);
    }
  });
  const next = () => new Promise<Record<string, unknown>>((resolve) => {
    const m = queue.shift();
    if (m) resolve(m);
    else waiters.push(resolve);
  });
  const link: RawLink = {
    socket,
    send: (line) => socket.write(typeof line === 'string' ? line : line),
    next,
    async request(id, method, params) {
      socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params: params ?? {} }) + '\n');
      for (;;) {
        const m = await next();
        if (m.id === id) return m;
      }
    },
    close: () => socket.destroy(),
  };
  if (opts.hello !== false) {
    socket.write(JSON.stringify({ snowmux: 'hello', wire: 1, version: VERSION, role: 'shim', pid: process.pid }) + '\n');
    const welcome = await next();
    if (welcome.snowmux !== 'welcome') throw new Error(`no welcome: ${JSON.stringify(welcome)}`);
  }
  return link;
}

export const INIT_PARAMS = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-test', version: '0.0.1' } };

/** initialize + initialized on a raw link (2025-era). */
export async function initialize(link: RawLink, params: Record<string, unknown> = INIT_PARAMS): Promise<Record<string, unknown>> {
  const res = await link.request('init', 'initialize', params);
  link.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
  return res;
}

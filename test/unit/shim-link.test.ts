/**
 * The shim's link logic against a fake hub (a Unix socket speaking hello/welcome), with the editor's
 * stdio as in-memory streams: session re-creation, in-flight errors, safe re-sends, cancellations that
 * must not reach a hub that never saw the request, draining hand-over, buffer bounds, dead-link detection
 * and version-skew refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { awaitWelcome, connectOrStartHub } from '../../src/shim/hub-link.js';
import { START_RETRY_MAX_MS, Shim, startRetryDelayMs, type ShimOptions } from '../../src/shim/shim.js';
import { WIRE_VERSION, checkHello, makeHello, type Hello, type Refusal } from '../../src/wire/hello.js';

type Msg = Record<string, unknown> & { id?: unknown; method?: string; params?: Record<string, unknown>; error?: { code: number; message: string; data?: { retryable?: boolean } } };

interface Cleanup {
  after(fn: () => unknown): void;
}

/** Lines from a stream, awaited one by one (optionally the next one matching a predicate). */
class Lines {
  private readonly queue: Msg[] = [];
  private readonly waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  private buf = '';
  readonly all: Msg[] = [];

  constructor(stream: NodeJS.ReadableStream, private readonly ignore: (m: Msg) => boolean = () => false) {
    stream.on('data', (c: Buffer) => {
      this.buf += c.toString('utf8');
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (line) this.push(JSON.parse(line) as Msg);
      }
    });
  }

  private push(m: Msg): void {
    if (this.ignore(m)) return;
    this.all.push(m);
    const i = this.waiters.findIndex((w) => w.pred(m));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    else this.queue.push(m);
  }

  next(pred: (m: Msg) => boolean = () => true): Promise<Msg> {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** Messages received and not consumed by next(). */
  get unread(): Msg[] {
    return [...this.queue];
  }
}

/** One shim connection as the fake hub sees it. */
class FakeLink {
  readonly lines: Lines;
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket, readonly hello: Hello, answerPings: () => boolean, first: Buffer) {
    const stream = new PassThrough();
    // Pings are answered (or not) here and never reach the test.
    this.lines = new Lines(stream, (m) => {
      if (m.snowmux === 'ping' && answerPings()) socket.write(JSON.stringify({ snowmux: 'pong', n: m.n }) + '\n');
      return m.snowmux === 'ping' || m.snowmux === 'pong';
    });
    socket.on('data', (c: Buffer) => stream.write(c));
    if (first.length > 0) stream.write(first);
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }

  send(message: unknown): void {
    this.socket.write(JSON.stringify(message) + '\n');
  }

  next(pred?: (m: Msg) => boolean): Promise<Msg> {
    return this.lines.next(pred);
  }
}

/** A stand-in hub: welcomes every shim (or refuses it), and hands each link to the test in order. */
class FakeHub {
  private server: Server | null = null;
  private readonly arrived: FakeLink[] = [];
  private readonly waiting: ((l: FakeLink) => void)[] = [];
  private n = 0;
  answerPings = true;
  refusal: ((hello: Hello) => Refusal) | null = null;
  /** Written right after the welcome, in the same write (the next frame arriving with it). */
  afterWelcome: unknown = null;
  /** Accepts connections and reads their hello, never answering it: a frozen hub. */
  silent = false;
  /** Connections accepted so far. */
  connections = 0;

  constructor(readonly path: string) {}

  async listen(): Promise<void> {
    const server = createServer((socket) => {
      this.connections += 1;
      let buf = Buffer.alloc(0);
      const onData = (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return;
        socket.off('data', onData);
        const hello = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Hello;
        if (this.silent) return;
        if (this.refusal) {
          socket.end(JSON.stringify(this.refusal(hello)) + '\n');
          return;
        }
        const next = this.afterWelcome === null ? '' : JSON.stringify(this.afterWelcome) + '\n';
        this.afterWelcome = null;
        socket.write(JSON.stringify({ snowmux: 'welcome', wire: hello.wire, version: 'fake', hubPid: 4242, sessionId: `fake-${++this.n}` }) + '\n' + next);
        const link = new FakeLink(socket, hello, () => this.answerPings, buf.subarray(nl + 1));
        const w = this.waiting.shift();
        if (w) w(link);
        else this.arrived.push(link);
      };
      socket.on('data', onData);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.server = server;
  }

  nextLink(): Promise<FakeLink> {
    const l = this.arrived.shift();
    return l ? Promise.resolve(l) : new Promise((r) => this.waiting.push(r));
  }

  /** Stops listening (new connections fail) without touching links already open. */
  close(): void {
    this.server?.close();
    this.server = null;
  }
}

interface Rig {
  hub: FakeHub;
  shim: Shim;
  /** What the editor receives on stdout. */
  editor: Lines;
  send(message: unknown): void;
  /** Raw bytes from the editor. */
  write(bytes: Buffer | string): void;
  /** The editor closes stdin. */
  end(): void;
  stderr(): string;
  home: string;
}

/** A call reaches the hub, then the hub goes away (listener closed, link cut) and the shim notices. */
async function loseTheHub({ hub, editor, send }: Pick<Rig, 'hub' | 'editor' | 'send'>): Promise<void> {
  const link = await hub.nextLink();
  send(call(30));
  assert.equal((await link.next()).id, 30);
  hub.close();
  link.socket.destroy();
  assert.equal((await editor.next(byId(30))).error?.code, -32001, 'the shim noticed the hub is gone');
}

async function rig(t: Cleanup, options: Partial<ShimOptions> = {}, setup?: (hub: FakeHub) => void): Promise<Rig> {
  const home = mkdtempSync(join(tmpdir(), 'smx-u-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const hub = new FakeHub(join(home, 'hub.sock'));
  setup?.(hub);
  await hub.listen();
  t.after(() => hub.close());
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const shim = new Shim({
    home,
    socketPath: hub.path,
    // Never a real hub: a "start" that exits at once, so a missing hub stays missing.
    hubCommand: ['-e', ''],
    stdin,
    stdout,
    stderr,
    env: { SNOWMUX_SHIM_QUIET: '1' },
    pingIntervalMs: 0,
    ...options,
  });
  shim.start();
  t.after(async () => {
    shim.close();
    await shim.exited;
  });
  return { hub, shim, editor: new Lines(stdout), send: (m) => stdin.write(JSON.stringify(m) + '\n'), write: (b) => stdin.write(b), end: () => stdin.end(), stderr: () => err, home };
}

const INIT = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'editor', version: '1.0' } };
const call = (id: number, query = 'SELECT 1') => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } });
const cancel = (requestId: number) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'user' } });
const ok = (id: unknown, result: unknown = { content: [] }) => ({ jsonrpc: '2.0', id, result });
const byId = (id: unknown) => (m: Msg) => m.id === id;

test('a 2025-era session is re-created on the new hub: initialize replayed under a private id, reply swallowed, then calls flow', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link1 = await hub.nextLink();
  assert.deepEqual(link1.hello.caps, ['drain-ack']);
  assert.equal(link1.hello.resumeOf, undefined);
  send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT });
  assert.equal((await link1.next()).method, 'initialize');
  link1.send(ok(1, { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'fake', version: '1' } }));
  await editor.next(byId(1));
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.equal((await link1.next()).method, 'notifications/initialized');

  link1.socket.destroy(); // the hub crashed
  const link2 = await hub.nextLink();
  assert.equal(link2.hello.resumeOf, 'fake-1', 'the new hub learns which session this continues');
  const replay = await link2.next();
  assert.equal(replay.method, 'initialize');
  assert.match(String(replay.id), /^snowmux-shim-replay-\d+$/);
  assert.deepEqual(replay.params, INIT);
  // A call made before the session is re-created waits for it.
  send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
  link2.send(ok(replay.id, { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'fake', version: '2' } }));
  assert.equal((await link2.next()).method, 'notifications/initialized');
  const list = await link2.next();
  assert.equal(list.id, 2);
  link2.send(ok(2, { tools: [] }));
  await editor.next(byId(2));
  assert.deepEqual(editor.all.map((m) => m.id), [1, 2], 'the editor saw only its own responses');
});

test('a lost call to a tool that only reads is answered "retry it" (retryable); one that may have written is not', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link = await hub.nextLink();
  send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'list_tables', arguments: { database: 'D', schema: 'S' } } });
  send(call(8, 'INSERT INTO t VALUES (1)'));
  assert.equal((await link.next()).id, 7);
  assert.equal((await link.next()).id, 8);
  link.socket.destroy();
  const read = await editor.next(byId(7));
  assert.match(read.error!.message, /may or may not have completed\. Retry it\.$/);
  assert.equal(read.error?.data?.retryable, true);
  const write = await editor.next(byId(8));
  assert.match(write.error!.message, /may or may not have completed\. A query that only reads can be run again; one that changes data may have been applied/);
  assert.equal(write.error?.data?.retryable, false);
});

test('a dropped link answers in-flight calls with a -32001 and re-sends the safe ones', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link1 = await hub.nextLink();
  send(call(5));
  send({ jsonrpc: '2.0', id: 6, method: 'tools/list', params: {} });
  assert.equal((await link1.next()).id, 5);
  assert.equal((await link1.next()).id, 6);
  link1.socket.destroy();
  const err = await editor.next(byId(5));
  assert.equal(err.error?.code, -32001);
  assert.match(err.error!.message, /the hub went away \(it crashed, was killed, or restarted\) while "tools\/call" was running/);
  // execute_query may have changed data before the hub went: not "retry it", but check first.
  assert.match(err.error!.message, /one that changes data may have been applied: check query_history/);
  assert.equal(err.error?.data?.retryable, false);
  const link2 = await hub.nextLink();
  const resent = await link2.next();
  assert.equal(resent.id, 6, 'tools/list is safe to send again');
  assert.equal(resent.method, 'tools/list');
  link2.send(ok(6, { tools: [] }));
  assert.ok((await editor.next(byId(6))).result);
  assert.equal(editor.all.filter((m) => m.id === 5).length, 1, 'exactly one answer for the lost call');
});

test('cancellations reach only the hub that has the request: never one that did not see it', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link1 = await hub.nextLink();
  send(call(10));
  assert.equal((await link1.next()).id, 10);
  hub.close(); // no hub will answer for a while
  link1.socket.destroy();
  assert.equal((await editor.next(byId(10))).error?.code, -32001);
  send(cancel(10)); // for a request the old hub had: nobody to tell
  send(call(11)); // buffered while no hub answers…
  send(cancel(11)); // …and cancelled before any hub saw it: dropped, no response
  await hub.listen();
  const link2 = await hub.nextLink();
  send(call(12));
  const first = await link2.next();
  assert.equal(first.id, 12, `the new hub's first message is the new call, got ${JSON.stringify(first)}`);
  send(cancel(12)); // positive control: a request this hub has does get its cancel
  const forwarded = await link2.next();
  assert.equal(forwarded.method, 'notifications/cancelled');
  assert.equal(forwarded.params?.requestId, 12);
  send(call(13));
  assert.equal((await link2.next()).id, 13, 'nothing else (no call 11, no cancel for 10 or 11) reached the new hub');
  assert.deepEqual(link2.lines.unread, []);
  assert.equal(editor.all.some((m) => m.id === 11), false, 'a cancelled request gets no response');
});

test('a draining hub finishes its calls on the old link while new calls go to the next hub; cancels follow their request', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link1 = await hub.nextLink();
  send(call(20));
  send(call(22));
  send(call(23));
  for (const id of [20, 22, 23]) assert.equal((await link1.next()).id, id);
  link1.send({ snowmux: 'draining', reason: 'test' });
  assert.equal((await link1.next()).snowmux, 'drained', 'the shim acknowledges after everything it sent');
  const link2 = await hub.nextLink();
  send(call(21));
  assert.equal((await link2.next()).id, 21, 'a new call goes to the next hub');
  send(cancel(23));
  const c = await link1.next();
  assert.equal(c.method, 'notifications/cancelled', 'the cancel goes to the draining hub that runs the call');
  assert.equal(c.params?.requestId, 23);
  link1.send(ok(20));
  link2.send(ok(21));
  assert.ok((await editor.next(byId(20))).result, 'the draining hub still answers');
  assert.ok((await editor.next(byId(21))).result);
  link1.socket.end(); // the old hub is done; 22 was still running there
  const lost = await editor.next(byId(22));
  assert.equal(lost.error?.code, -32001);
  assert.deepEqual(link2.lines.unread, [], 'the next hub saw neither the cancel nor the old calls');
  send(call(24));
  assert.equal((await link2.next()).id, 24);
  assert.equal(editor.all.some((m) => m.id === 23), false);
});

test('with no hub, buffered calls are answered after the reconnect deadline and the buffer is bounded', async (t) => {
  const { hub, editor, send, home } = await rig(t, { reconnectDeadlineMs: 300, maxPending: 2 });
  await loseTheHub({ hub, editor, send });
  send(call(31));
  send(call(32));
  send(call(33));
  const full = await editor.next();
  assert.equal(full.id, 33, 'beyond the buffer a call is refused at once');
  assert.equal(full.error?.code, -32002);
  assert.match(full.error!.message, /too many calls are waiting/);
  for (const id of [31, 32]) {
    const e = await editor.next(byId(id));
    assert.equal(e.error?.code, -32002);
    assert.match(e.error!.message, /no hub answered within 300 ms; the call was not run/);
  }
  assert.ok(existsSync(join(home, 'hub-stderr.log')), 'the shim tried to start a hub');
});

test('the reconnect deadline of a buffered call is measured on the monotonic clock: a wall clock stepped back 1 h does not hold the call for an hour', { timeout: 20_000 }, async (t) => {
  const { hub, editor, send } = await rig(t, { reconnectDeadlineMs: 300 });
  await loseTheHub({ hub, editor, send });
  send(call(34));
  // NTP steps the wall clock back an hour just after the editor sent the call.
  const real = Date.now.bind(Date);
  t.mock.method(Date, 'now', () => real() - 3_600_000);
  const e = await editor.next(byId(34));
  assert.equal(e.error?.code, -32002);
  assert.match(e.error!.message, /no hub answered within 300 ms; the call was not run/);
});

test('a call that found no hub says why the last attempt failed (a frozen hub), not only that none answered', async (t) => {
  const { editor, send } = await rig(t, { reconnectDeadlineMs: 400, handshakeTimeoutMs: 100 }, (h) => (h.silent = true));
  send(call(35));
  const e = await editor.next(byId(35));
  assert.equal(e.error?.code, -32002);
  assert.match(e.error!.message, /^snowmux: no hub answered within 400 ms \(last attempt: .*did not answer the handshake within 100 ms.*\); the call was not run\./s);
});

test('a hub that stops answering is declared dead within two ping intervals', async (t) => {
  const { hub, editor, send } = await rig(t, { pingIntervalMs: 50 }, (h) => (h.answerPings = false));
  const link1 = await hub.nextLink();
  send(call(40));
  assert.equal((await link1.next()).id, 40);
  const started = Date.now();
  const err = await editor.next(byId(40));
  assert.equal(err.error?.code, -32001);
  await link1.closed;
  assert.ok(Date.now() - started < 5_000, 'detected in bounded time');
  // It reconnects (this fake hub accepts), and a hub that answers pings keeps its link.
  hub.answerPings = true;
  const link2 = await hub.nextLink();
  send(call(41));
  assert.equal((await link2.next()).id, 41);
});

test('a profile the hub does not let this shim choose: calls are answered with the reason at once, not after the reconnect deadline', async (t) => {
  const message = 'The hub does not let a remote shim choose profile "admin". This hub lets remote shims choose no profile (hub.http_shim_profiles): drop --profile to use your role\'s profile or the hub\'s default, or ask the hub\'s operator.';
  const { editor, send } = await rig(t, { env: {}, reconnectDeadlineMs: 60_000 }, (h) => {
    h.refusal = () => ({ snowmux: 'refused', code: 'PROFILE_NOT_ALLOWED', message });
  });
  send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT });
  const refused = await editor.next(byId(1));
  assert.equal(refused.error?.code, -32002);
  assert.equal(refused.error?.data?.retryable, false);
  assert.match(refused.error!.message, /does not let a remote shim choose profile "admin".*drop --profile/);
});

test('version skew: the refusal is printed once, answers waiting calls, and later calls fail fast without starting a hub', async (t) => {
  const { editor, send, stderr, home } = await rig(t, { env: {} }, (h) => {
    // What a hub of this version answers a shim one wire version ahead.
    h.refusal = (hello) => checkHello({ ...hello, wire: WIRE_VERSION + 1, version: '9.9.9' })!;
  });
  send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT });
  const refused = await editor.next(byId(1));
  assert.equal(refused.error?.code, -32002);
  assert.match(refused.error!.message, /snowmux hub --replace/);
  assert.equal(refused.error?.data?.retryable, false);
  send(call(2));
  const again = await editor.next(byId(2));
  assert.match(again.error!.message, /snowmux hub --replace/);
  assert.match(stderr(), /older than this shim.*snowmux hub --replace/);
  assert.equal(stderr().match(/snowmux hub --replace/g)?.length, 1, 'said once, not on every retry');
  assert.equal(existsSync(join(home, 'hub-stderr.log')), false, 'a refusing hub is not a missing hub: none was started');
});

test('a shim that could never serve (refused for a reason no retry fixes) exits 1 once the editor closes stdin', async (t) => {
  const { editor, send, end, shim } = await rig(t, {}, (h) => {
    h.refusal = (hello) => checkHello({ ...hello, wire: WIRE_VERSION + 1, version: '9.9.9' })!;
  });
  send(call(1));
  assert.equal((await editor.next(byId(1))).error?.code, -32002);
  end();
  assert.equal(await shim.exited, 1);
});

test('an older shim is told to upgrade', async (t) => {
  const { editor, send } = await rig(t, {}, (h) => {
    h.refusal = (hello) => checkHello({ ...hello, wire: 0, version: '0.0.1' })!;
  });
  send(call(1));
  const refused = await editor.next(byId(1));
  assert.equal(refused.error?.code, -32002);
  assert.match(refused.error!.message, /Upgrade the snowmux your editor launches/);
  assert.doesNotMatch(refused.error!.message, /snowmux@|npx/, 'no advice to install from the npm registry, where snowmux is not (a squatter could be)');
});

test('a hub that dies while its link is backed up does not leave the editor unread', { timeout: 20_000 }, async (t) => {
  const { hub, editor, send } = await rig(t);
  const link1 = await hub.nextLink();
  link1.socket.pause(); // the hub stops reading: the shim's writes back up and it stops reading the editor
  const big = 'x'.repeat(256 * 1024);
  send(call(50, `SELECT '${big}'`));
  send(call(51, `SELECT '${big}'`));
  link1.socket.destroy(); // …and then the hub dies
  assert.equal((await editor.next(byId(50))).error?.code, -32001);
  const link2 = await hub.nextLink();
  send(call(52));
  const seen = await link2.next((m) => m.id === 52);
  assert.equal(seen.method, 'tools/call', 'the editor is read again after the backed-up link died');
});

test('a newer CLI may still use the control protocol (status, hand-over) of an older hub', () => {
  assert.equal(checkHello({ ...makeHello({ role: 'control', pid: 1 }), wire: WIRE_VERSION + 1, version: '9.9.9' }), null);
  assert.equal(checkHello({ ...makeHello({ role: 'shim', pid: 1 }), wire: WIRE_VERSION + 1, version: '9.9.9' })?.code, 'HUB_TOO_OLD');
});

test('requests sent before stdin ended are still answered (even while no hub answers yet), then the shim exits', async (t) => {
  const { hub, editor, send, end, shim } = await rig(t);
  const link1 = await hub.nextLink();
  send(call(60));
  assert.equal((await link1.next()).id, 60);
  hub.close();
  link1.socket.destroy(); // the hub goes away; the next call has to wait for a new one
  assert.equal((await editor.next(byId(60))).error?.code, -32001);
  send(call(61));
  end(); // …and the editor (a script) closes stdin right away
  await hub.listen();
  const link2 = await hub.nextLink();
  assert.equal((await link2.next()).id, 61, 'the buffered call still went out');
  let exited = false;
  void shim.exited.then(() => (exited = true));
  link2.send(ok(61));
  assert.ok((await editor.next(byId(61))).result);
  await link2.closed; // the shim ends its side once nothing is owed…
  assert.equal(await shim.exited, 0); // …and exits
  assert.ok(exited);
});

test('a hub line longer than the shim reads is dropped: its request gets an error, every other answer on the link arrives', async (t) => {
  const { hub, editor, send, stderr } = await rig(t, { maxHubLineBytes: 4096, env: {} });
  const link = await hub.nextLink();
  for (const id of [1, 2, 3]) send(call(id));
  for (const id of [1, 2, 3]) assert.equal((await link.next()).id, id);
  // As the SDK writes a response: result first, id last.
  link.send({ result: { content: [{ type: 'text', text: 'x'.repeat(10_000) }] }, jsonrpc: '2.0', id: 1 });
  link.send(ok(2));
  link.send({ jsonrpc: '2.0', method: 'notifications/message', params: { data: 'y'.repeat(10_000) } }); // whose? nobody's
  link.send(ok(3));
  const tooLarge = await editor.next(byId(1));
  assert.equal(tooLarge.error?.code, -32003);
  assert.match(tooLarge.error!.message, /the answer was \d+ bytes, more than the 4096-byte limit/);
  assert.equal(tooLarge.error?.data?.retryable, false);
  assert.ok((await editor.next(byId(2))).result);
  assert.ok((await editor.next(byId(3))).result, 'the stream stays in step after dropped lines');
  assert.match(stderr(), /answer to "tools\/call" \(id 1\) was \d+ bytes, more than the 4096 bytes the shim reads/);
  assert.match(stderr(), /sent a message of \d+ bytes, more than the 4096 bytes the shim reads; it was dropped/);
  send(call(4));
  assert.equal((await link.next()).id, 4, 'the link is still in use');
});

test('an editor line longer than the shim reads is answered under its own id and the editor goes on', async (t) => {
  const { hub, editor, send } = await rig(t, { maxLineBytes: 256 });
  const link = await hub.nextLink();
  send(call(5, `SELECT '${'x'.repeat(1000)}'`));
  const refused = await editor.next(byId(5));
  assert.equal(refused.error?.code, -32600);
  assert.match(refused.error!.message, /exceeds the 256-byte line limit/);
  send(call(6));
  assert.equal((await link.next()).id, 6, 'the dropped line never reached the hub; the next one does');
});

test('an editor line longer than the shim reads is answered under its id even when the id comes after params', async (t) => {
  const { hub, editor, send, write } = await rig(t, { maxLineBytes: 256 });
  const link = await hub.nextLink();
  write(`{"method":"tools/call","params":{"name":"execute_query","arguments":{"query":"SELECT '${'x'.repeat(1000)}'"}},"id":9,"jsonrpc":"2.0"}\n`);
  const refused = await editor.next(byId(9));
  assert.match(refused.error!.message, /exceeds the 256-byte line limit/);
  send(call(10));
  assert.equal((await link.next()).id, 10);
});

test('with no hub, the calls waiting are bounded in bytes too', async (t) => {
  const { hub, editor, send } = await rig(t, { maxPendingBytes: 1000 });
  await loseTheHub({ hub, editor, send });
  send(call(31, `SELECT '${'x'.repeat(600)}'`)); // alone, any accepted size waits
  send(call(32, `SELECT '${'x'.repeat(600)}'`));
  send(call(33));
  const full = await editor.next(byId(32));
  assert.equal(full.error?.code, -32002);
  assert.match(full.error!.message, /already hold \d+ bytes, and this one \(\d+ bytes\) would pass the shim's 1000-byte limit/);
  await hub.listen();
  const link2 = await hub.nextLink();
  assert.equal((await link2.next()).id, 31);
  assert.equal((await link2.next()).id, 33, 'a small call still fitted');
});

test('a resendable request is kept for re-sending only while small; a large one is answered when its hub goes', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link1 = await hub.nextLink();
  send({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: { pad: 'p'.repeat(100 * 1024) } });
  send({ jsonrpc: '2.0', id: 8, method: 'tools/list', params: {} });
  assert.equal((await link1.next()).id, 7);
  assert.equal((await link1.next()).id, 8);
  link1.socket.destroy();
  const lost = await editor.next(byId(7));
  assert.equal(lost.error?.code, -32001);
  const link2 = await hub.nextLink();
  assert.equal((await link2.next()).id, 8, 'the small one is re-sent');
});

test('an editor that does not read: the shim stops reading it once 1 MiB waits on stdout, and catches up when it reads', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'smx-u-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const hub = new FakeHub(join(home, 'hub.sock'));
  await hub.listen();
  t.after(() => hub.close());
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const shim = new Shim({ home, socketPath: hub.path, hubCommand: ['-e', ''], stdin, stdout, stderr: new PassThrough(), env: { SNOWMUX_SHIM_QUIET: '1' }, pingIntervalMs: 0, maxLineBytes: 16 });
  shim.start();
  t.after(async () => {
    shim.close();
    await shim.exited;
  });
  await hub.nextLink();
  // Every line is over the shim's 16-byte limit, so the shim itself answers each (~150 bytes).
  const n = 20_000;
  for (let id = 1; id <= n; id++) stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' })}\n`);
  while (!stdin.isPaused()) await new Promise((r) => setImmediate(r));
  const waiting = stdout.writableLength + stdout.readableLength;
  assert.ok(waiting > 1024 * 1024 && waiting < 1024 * 1024 + 64 * 1024, `answers waiting for the editor: ${waiting} bytes`);
  assert.ok(stdin.readableLength > 0, 'the rest waits in the editor\'s pipe, not in the shim');
  const answers = new Lines(stdout);
  await answers.next(byId(n));
  assert.equal(answers.all.length, n, 'every request was answered once the editor read');
  assert.equal(stdin.isPaused(), false);
});

test('a shim closed while it still waits for a hub to start stops waiting at once (no 15 s wait kept alive)', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'smx-u-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const shim = new Shim({
    home,
    socketPath: join(home, 'hub.sock'),
    // A "start" that exits at once with code 0 (a deliberate stop, so the shim would keep waiting).
    hubCommand: ['-e', ''],
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env: { SNOWMUX_SHIM_QUIET: '1' },
    pingIntervalMs: 0,
  });
  shim.start();
  // The connect loop is running (a hub was started and is being waited for).
  while (!existsSync(join(home, 'hub-stderr.log'))) await new Promise((r) => setImmediate(r));
  const connecting = (shim as unknown as { connecting: Promise<void> | null }).connecting;
  assert.ok(connecting, 'the shim is reaching for a hub');
  shim.close();
  await shim.exited;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([connecting.then(() => 'settled'), new Promise((r) => (timer = setTimeout(r, 5_000, 'still waiting')))]);
  clearTimeout(timer);
  assert.equal(outcome, 'settled', 'the connect-or-start loop ended with the shim');
});

test('a second request under an id still in flight is refused by the shim; the first still gets its error when its hub goes', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link = await hub.nextLink();
  send(call(40));
  assert.equal((await link.next()).id, 40);
  send(call(40, 'SELECT 2'));
  const refused = await editor.next(byId(40));
  assert.equal(refused.error?.code, -32600);
  assert.match(refused.error!.message, /id 40 is already used by a request that has not been answered/);
  hub.close();
  link.socket.destroy();
  const lost = await editor.next(byId(40));
  assert.equal(lost.error?.code, -32001, 'the first call is still tracked and answered');
  assert.equal(link.lines.unread.length, 0, 'the duplicate never reached the hub');
});

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const listen = (id: string) => ({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { _meta: META, notifications: { toolsListChanged: true } } });
const ack = (id: string) => ({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: { toolsListChanged: true }, _meta: { 'io.modelcontextprotocol/subscriptionId': id } } });
const changed = (id: string) => ({ jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': id } } });

test('a 2026-07-28 subscription (subscriptions/listen) moves to the next hub when its hub drains: the old hub is told to drop it, the editor keeps hearing', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link1 = await hub.nextLink();
  send(listen('listen:0'));
  assert.equal((await link1.next()).method, 'subscriptions/listen');
  link1.send(ack('listen:0'));
  assert.equal((await editor.next()).method, 'notifications/subscriptions/acknowledged');
  send(call(70));
  assert.equal((await link1.next()).id, 70);

  link1.send({ snowmux: 'draining', reason: 'test' });
  // The draining hub would otherwise hold the subscription as owed until its grace period ran out (and
  // then end it with an error): it is cancelled there, before `drained`.
  const dropped = await link1.next();
  assert.equal(dropped.method, 'notifications/cancelled', `got ${JSON.stringify(dropped)}`);
  assert.equal(dropped.params?.requestId, 'listen:0');
  assert.equal((await link1.next()).snowmux, 'drained');
  const link2 = await hub.nextLink();
  const moved = await link2.next();
  assert.equal(moved.method, 'subscriptions/listen', 'the subscription is opened again on the next hub');
  assert.equal(moved.id, 'listen:0');
  link2.send(ack('listen:0'));
  link2.send(changed('listen:0'));
  assert.equal((await editor.next()).method, 'notifications/tools/list_changed', 'the next hub\'s acknowledgement is not shown again; its notifications are');
  link1.send(ok(70));
  assert.ok((await editor.next(byId(70))).result, 'the call on the draining hub still finishes there');
  assert.equal(editor.all.filter((m) => m.method === 'notifications/subscriptions/acknowledged').length, 1);
  assert.equal(editor.all.some((m) => m.id === 'listen:0'), false, 'the subscription was never ended with an error');
});

test('a hub\'s answer reaches the editor only for a request that hub has, once: not a second answer, not one for a call buffered or moved to another hub', async (t) => {
  const { hub, editor, send, stderr } = await rig(t, { env: {} });
  const link1 = await hub.nextLink();
  send(listen('listen:9'));
  assert.equal((await link1.next()).method, 'subscriptions/listen');
  link1.send(ack('listen:9'));
  send(call(80));
  send(call(82));
  assert.equal((await link1.next()).id, 80);
  assert.equal((await link1.next()).id, 82);
  link1.send(ok(80, { content: [{ type: 'text', text: 'first' }] }));
  link1.send(ok(80, { content: [{ type: 'text', text: 'again' }] })); // answered twice
  assert.ok((await editor.next(byId(80))).result);

  // The hub drains: the subscription moves to the next hub, but this one ends it before it read the cancel.
  hub.close(); // the next hub is not there yet: a new call waits in the shim
  link1.send({ snowmux: 'draining', reason: 'test' });
  assert.equal((await link1.next()).method, 'notifications/cancelled');
  assert.equal((await link1.next()).snowmux, 'drained');
  link1.send({ jsonrpc: '2.0', id: 'listen:9', error: { code: -32603, message: 'the hub is stopping' } });
  send(call(81, 'INSERT INTO t VALUES (1)'));
  send(cancel(82)); // reaches the draining hub once the shim has taken call 81 in
  assert.equal((await link1.next()).params?.requestId, 82);
  link1.send(ok(81, { content: [{ type: 'text', text: 'not run here' }] })); // for a call this hub never got

  await hub.listen();
  const link2 = await hub.nextLink();
  const sent = [await link2.next(), await link2.next()];
  assert.deepEqual(sent.map((m) => m.id).sort(), [81, 'listen:9'], 'the buffered call and the subscription go to the next hub');
  link2.send(ok(81, { content: [{ type: 'text', text: 'ran here' }] }));
  assert.deepEqual((await editor.next(byId(81))).result, { content: [{ type: 'text', text: 'ran here' }] });
  // The shim has read every line the draining hub sent once it answers that hub's ping (lines are read in order).
  const pong = new Promise<void>((resolve) => link1.socket.on('data', function onData(c: Buffer) {
    if (!c.toString('utf8').includes('"snowmux":"pong"')) return;
    link1.socket.off('data', onData);
    resolve();
  }));
  link1.send({ snowmux: 'ping', n: 1 });
  await pong;
  assert.deepEqual(editor.all.filter((m) => m.id === 80).map((m) => m.result), [{ content: [{ type: 'text', text: 'first' }] }], 'one answer for 80');
  assert.equal(editor.all.filter((m) => m.id === 81).length, 1, 'one answer for 81, from the hub that ran it');
  assert.equal(editor.all.some((m) => m.id === 'listen:9'), false, 'the subscription the next hub holds was not ended');
  assert.match(stderr(), /hub pid 4242 answered request id 80, already answered; the answer was dropped/);
});

test('what a hub writes in its frames reaches stderr and the editor escaped, and a malformed frame does not end the shim', async (t) => {
  const { hub, editor, send, stderr } = await rig(t, { env: {} });
  const link1 = await hub.nextLink();
  send(call(89)); // (the shim has taken the link in: a draining frame in its welcome's chunk is another matter)
  assert.equal((await link1.next()).id, 89);
  link1.send(ok(89));
  await editor.next(byId(89));
  link1.send({ snowmux: 'draining', reason: '\u001b]0;owned\u0007\u001b[2J stopping' });
  assert.equal((await link1.next()).snowmux, 'drained');
  const link2 = await hub.nextLink();
  send(call(90));
  assert.equal((await link2.next()).id, 90);
  // A reason that is no string: reading it threw in the link's data handler, and the shim (the editor's MCP server) died.
  link2.send({ snowmux: 'cut', reason: { not: 'text' } });
  link2.socket.destroy();
  const lost = await editor.next(byId(90));
  assert.equal(lost.error?.code, -32001);
  assert.match(lost.error!.message, /the hub ended this session \(no reason given\)/);
  const link3 = await hub.nextLink();
  send(call(92));
  assert.equal((await link3.next()).id, 92, 'the shim lives on');
  link3.send({ snowmux: 'cut', reason: 'bye \u009b31m\u001b[31m red' });
  link3.socket.destroy();
  const cut = await editor.next(byId(92));
  assert.match(cut.error!.message, /\(bye \\u009b31m\\u001b\[31m red\)/);
  assert.ok(!/[\u001b\u0007\u009b]/.test(stderr()), `raw control characters on stderr: ${JSON.stringify(stderr())}`);
  assert.match(stderr(), /is draining \(\\u001b\]0;owned\\u0007\\u001b\[2J stopping\)/);
});

test('a hub\'s refusal is shown escaped; a welcome with no pid or a session id no hub gives is not a hub', async (t) => {
  const { editor, send, stderr } = await rig(t, { env: {} }, (hub) => {
    hub.refusal = () => ({ snowmux: 'refused', code: 'BAD_HELLO', message: 'no \u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007 here' });
  });
  send(call(93));
  const refused = await editor.next(byId(93));
  assert.match(refused.error!.message, /no \\u001b\]8;;https:\/\/evil\.example\\u0007link/);
  assert.ok(!/[\u001b\u0007]/.test(stderr() + refused.error!.message), JSON.stringify(stderr()));
  for (const welcome of [
    { snowmux: 'welcome', wire: 1, version: 'x', hubPid: '\u001b[2J', sessionId: 's' },
    { snowmux: 'welcome', wire: 1, version: 'x', hubPid: 7, sessionId: 'x'.repeat(5000) },
    { snowmux: 'welcome', wire: 1, version: 'x', hubPid: 7, sessionId: { a: 1 } },
  ]) {
    const stream = new PassThrough();
    const err = await new Promise<Error>((resolve, reject) => {
      awaitWelcome(stream, { welcome: () => reject(new Error(`taken: ${JSON.stringify(welcome)}`)), fail: resolve, notAHub: () => new Error('not a hub') });
      stream.write(JSON.stringify(welcome) + '\n');
    });
    assert.equal(err.message, 'not a hub');
  }
});

test('a hub that says it is draining in the same chunk as its welcome: the shim moves to the next hub at once', { timeout: 20_000 }, async (t) => {
  const { hub, editor, send } = await rig(t, {}, (h) => {
    h.afterWelcome = { snowmux: 'draining', reason: 'replaced' };
  });
  const link1 = await hub.nextLink();
  assert.equal((await link1.next()).snowmux, 'drained');
  // The draining hub keeps the link open (it may have calls of others to finish): the next hub is not waited for that.
  const link2 = await hub.nextLink();
  send(call(95));
  assert.equal((await link2.next()).id, 95);
  link2.send(ok(95));
  assert.ok((await editor.next(byId(95))).result);
  assert.deepEqual(link1.lines.unread, []);
});

test('a subscription survives a lost link too, and does not keep the shim alive once stdin ends', async (t) => {
  const { hub, editor, send, end, shim } = await rig(t);
  const link1 = await hub.nextLink();
  send(listen('listen:1'));
  assert.equal((await link1.next()).method, 'subscriptions/listen');
  link1.send(ack('listen:1'));
  await editor.next();
  link1.socket.destroy(); // the hub crashed
  const link2 = await hub.nextLink();
  assert.equal((await link2.next()).id, 'listen:1', 're-sent, not answered with -32001');
  link2.send(ack('listen:1'));
  send(call(71));
  assert.equal((await link2.next()).id, 71);
  end();
  link2.send(ok(71));
  assert.ok((await editor.next(byId(71))).result);
  await link2.closed; // nothing but the subscription is open: the shim ends its side…
  assert.equal(await shim.exited, 0); // …and exits, instead of waiting for its editor to be killed
  assert.equal(editor.all.some((m) => m.id === 'listen:1'), false);
  assert.equal(editor.all.filter((m) => m.method === 'notifications/subscriptions/acknowledged').length, 1);
});

test("a hub the shim started that exits before serving is quoted alone: a draining hub's lines in the shared log are not", async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'smx-u-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const log = join(home, 'hub-stderr.log');
  // The previous hub, started by a shim too, still draining: it writes through the descriptor it inherited.
  const previous = openSync(log, 'a');
  t.after(() => closeSync(previous));
  writeSync(previous, 'snowmux hub 0.1.0 listening on hub.sock\n');
  const release = join(home, 'release');
  // The started hub says why it fails, then waits for the test before it exits.
  const script = `process.stderr.write('snowmux hub: Config error in config.toml at hub: unknown key "max_row" [CONFIG_INVALID]\\n');
const { existsSync } = require('node:fs');
const wait = () => (existsSync(${JSON.stringify(release)}) ? process.exit(1) : setTimeout(wait, 10));
wait();`;
  const starting = connectOrStartHub({ home, socketPath: join(home, 'hub.sock'), hello: makeHello({ role: 'shim', pid: process.pid }), hubCommand: ['-e', script], deadlineMs: 15_000 });
  const failed = assert.rejects(starting, (err: Error) => {
    assert.match(err.message, /exited \(exit code 1\) before serving: Config error in config\.toml at hub: unknown key "max_row"/);
    assert.doesNotMatch(err.message, /stopped|listening/);
    return true;
  });
  while (!(existsSync(log) && readFileSync(log, 'utf8').includes('max_row'))) await new Promise((r) => setTimeout(r, 10));
  writeSync(previous, 'snowmux hub: stopped\n');
  writeFileSync(release, '');
  await failed;
});

test('a line opening with a UTF-8 byte-order mark is tracked as the hub reads it: its initialize is replayed, its call answered when its hub goes', async (t) => {
  const { hub, editor, write } = await rig(t);
  const bom = (m: unknown) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(m) + '\n')]);
  const link1 = await hub.nextLink();
  write(bom({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT }));
  assert.equal((await link1.next()).method, 'initialize');
  link1.send(ok(1, { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'fake', version: '1' } }));
  await editor.next(byId(1));
  write(bom(call(2)));
  assert.equal((await link1.next()).id, 2);
  link1.socket.destroy(); // the hub crashed
  assert.equal((await editor.next(byId(2))).error?.code, -32001, 'the call was in flight, not forwarded blind');
  const link2 = await hub.nextLink();
  const replay = await link2.next();
  assert.equal(replay.method, 'initialize', 'the session is re-created on the new hub');
  assert.deepEqual(replay.params, INIT);
});

test('a hub that drains after the editor closed stdin finishes the last call, and the shim links to no next hub (it would start one for nobody)', async (t) => {
  const { hub, editor, send, end, shim } = await rig(t);
  const link = await hub.nextLink();
  send(call(1));
  assert.equal((await link.next()).id, 1);
  end();
  link.send({ snowmux: 'draining', reason: 'snowmux stop' });
  assert.equal((await link.next()).snowmux, 'drained');
  link.send(ok(1));
  assert.ok((await editor.next(byId(1))).result);
  await link.closed;
  assert.equal(await shim.exited, 0);
  await new Promise((r) => setImmediate(r)); // a connection made meanwhile has been accepted by now
  assert.equal(hub.connections, 1, 'no second link was opened');
});

test('an id the hub cannot take (past 2^53, not finite, a fraction, null) is refused by the shim as by the hub: never held in flight, the shim still leaves at stdin end', async (t) => {
  const { hub, editor, write, send, end, shim } = await rig(t);
  const link = await hub.nextLink();
  write('{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}\n');
  write('{"jsonrpc":"2.0","id":1e400,"method":"ping"}\n');
  write('{"jsonrpc":"2.0","id":1.5,"method":"ping"}\n');
  write('{"jsonrpc":"2.0","id":null,"method":"ping"}\n');
  send({ jsonrpc: '2.0', id: 3, method: 'ping' });
  assert.equal((await link.next()).id, 3, 'none of them reached the hub');
  link.send(ok(3, {}));
  await editor.next(byId(3));
  const refused = editor.all.filter((m) => m.id !== 3);
  assert.deepEqual(refused.map((m) => m.id), [null, null, 1.5, null], 'answered under the id when it reads back as sent, else null');
  for (const m of refused) {
    assert.equal(m.error?.code, -32600);
    assert.match(m.error!.message, /"id" must be a string or an integer \(at most 2\^53 - 1 in size\)/);
  }
  end();
  assert.equal(await shim.exited, 0);
});

test('a hub that fails to start is tried again ever less often (4 s, 8 s… at most a minute), not every 2 s for ever', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map(startRetryDelayMs), [4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  assert.equal(START_RETRY_MAX_MS, 60_000);
});

test("an editor that stops reading (stdout EPIPE) ends the shim with code 1, said on stderr, and its running calls are cancelled on the hub", async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'smx-u-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const hub = new FakeHub(join(home, 'hub.sock'));
  await hub.listen();
  t.after(() => hub.close());
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  // Quiet, as editors run it: an abnormal end is said all the same.
  const shim = new Shim({ home, socketPath: hub.path, hubCommand: ['-e', ''], stdin, stdout, stderr, env: { SNOWMUX_SHIM_QUIET: '1' }, pingIntervalMs: 0 });
  shim.start();
  t.after(async () => {
    shim.close();
    await shim.exited;
  });
  const link = await hub.nextLink();
  stdin.write(JSON.stringify(call(40, 'SELECT SLOW')) + '\n');
  assert.equal((await link.next()).id, 40);
  // The editor's end of the pipe is gone: the next write fails with EPIPE.
  stdout.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
  assert.equal(await shim.exited, 1, 'ended abnormally');
  const cancelled = await link.next((m) => m.method === 'notifications/cancelled');
  assert.equal(cancelled.params?.requestId, 40);
  assert.match(String(cancelled.params?.reason), /the editor stopped reading the shim's answers \(stdout: EPIPE\)/);
  await link.closed;
  assert.match(err, /snowmux shim: the editor stopped reading the shim's answers \(stdout: EPIPE\); it is gone: the hub cancels the 1 call\(s\) still running for it; exiting \(code 1\)/);
});

test('an initialize still running on a hub that starts draining: once it answers there, the session is created on the next hub before any call goes to it', async (t) => {
  const { hub, editor, send } = await rig(t);
  const link1 = await hub.nextLink();
  send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT });
  assert.equal((await link1.next()).method, 'initialize');
  // `snowmux hub --replace` while the editor starts: the next hub is linked before this one answered.
  link1.send({ snowmux: 'draining', reason: 'replaced' });
  assert.equal((await link1.next()).snowmux, 'drained');
  const link2 = await hub.nextLink();
  link1.send(ok(1, { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'fake', version: '1' } }));
  assert.ok((await editor.next(byId(1))).result, 'the draining hub still answers the initialize');
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
  const first = await link2.next();
  assert.equal(first.method, 'initialize', `the next hub hears the session's initialize first, got ${JSON.stringify(first)}`);
  assert.match(String(first.id), /^snowmux-shim-replay-\d+$/);
  assert.deepEqual(first.params, INIT);
  link2.send(ok(first.id, { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'fake', version: '2' } }));
  // The editor's own notifications/initialized (once: the shim adds none of its own here), then the call.
  assert.equal((await link2.next()).method, 'notifications/initialized');
  assert.equal((await link2.next()).id, 2);
  link2.send(ok(2, { tools: [] }));
  assert.ok((await editor.next(byId(2))).result);
  assert.deepEqual(editor.all.map((m) => m.id), [1, 2], 'the editor saw only its own responses');
});

test("the shim's own error answers carry a stable data.code, as the hub's do (a refusal the shim makes in the hub's place gets the hub's code)", { timeout: 20_000 }, async (t) => {
  const { hub, editor, send, write } = await rig(t, { maxLineBytes: 256, reconnectDeadlineMs: 300 });
  const link = await hub.nextLink();
  const codeOf = async (id: unknown) => (await editor.next(byId(id))).error?.data as { code?: string; retryable?: boolean } | undefined;
  write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":"'), Buffer.from([0xff]), Buffer.from('"}}\n')]));
  assert.deepEqual(await codeOf(2), { code: 'PARSE_ERROR', retryable: false }, 'not UTF-8, as the hub answers it');
  send({ jsonrpc: '2.0', id: 2 ** 60, method: 'ping' });
  assert.deepEqual(await codeOf(2 ** 60), { code: 'INVALID_REQUEST', retryable: false }, 'an id the hub cannot take');
  send(call(3));
  assert.equal((await link.next()).id, 3);
  send(call(3, 'SELECT 2'));
  assert.deepEqual(await codeOf(3), { code: 'INVALID_REQUEST', retryable: false }, 'an id in flight');
  send(call(4, `SELECT '${'x'.repeat(1000)}'`));
  assert.deepEqual(await codeOf(4), { code: 'MESSAGE_TOO_LARGE', retryable: false }, 'a line past the shim\'s limit');
  hub.close();
  link.socket.destroy();
  assert.deepEqual(await codeOf(3), { code: 'HUB_LOST', retryable: false }, 'a call its hub took with it');
  send(call(5));
  assert.deepEqual(await codeOf(5), { code: 'HUB_UNREACHABLE', retryable: true }, 'a call no hub came back for');
});
